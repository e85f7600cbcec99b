use mock_okta::browser::Browser;
use mock_okta::{token_fingerprint, Faults, DEMO_CLIENT_ID, DEMO_USERNAME};

use crate::{get_json, http, post_form, sign_out_in, signed_in_tokens, start};

async fn get(mock: &mock_okta::MockOkta, path: &str) -> serde_json::Value {
    get_json(mock, mock.admin_url().join(path).unwrap()).await
}

#[tokio::test]
async fn admin_api_shows_sessions_tokens_revocations_and_logouts() {
    let mock = start().await;
    let index = get(&mock, "").await;
    assert!(index["endpoints"].as_array().unwrap().len() >= 7);

    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    let sessions = get(&mock, "sessions").await;
    assert_eq!(sessions[0]["user"], DEMO_USERNAME);
    assert!(sessions[0]["id"].as_str().unwrap().starts_with("102"));
    assert!(sessions[0]["created"].as_str().unwrap().contains('T'));
    assert_eq!(
        get(&mock, "sessions?user=ada@example.com")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(&mock, "sessions?user=grace@example.com").await,
        serde_json::json!([])
    );

    let listed = get(&mock, "tokens").await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3, "refresh, access and ID token");
    let access = listed
        .iter()
        .find(|t| t["fingerprint"] == token_fingerprint(&tokens.access_token))
        .unwrap();
    assert_eq!(access["kind"], "access");
    assert_eq!(access["state"], "active");
    assert_eq!(access["client_id"], DEMO_CLIENT_ID);
    assert_eq!(access["user"], DEMO_USERNAME);
    let body = serde_json::to_string(listed).unwrap();
    assert!(
        !body.contains(&tokens.access_token)
            && !body.contains(tokens.refresh_token.as_deref().unwrap()),
        "values never exposed"
    );

    post_form(
        &mock,
        "oauth2/default/v1/revoke",
        &[
            ("token", &tokens.access_token),
            ("token_type_hint", "access_token"),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    let revocations = get(&mock, "revocations").await;
    assert_eq!(
        revocations[0]["token_fingerprint"],
        token_fingerprint(&tokens.access_token)
    );
    assert_eq!(revocations[0]["token_type_hint"], "access_token");
    assert_eq!(revocations[0]["client_id"], DEMO_CLIENT_ID);
    assert_eq!(revocations[0]["result"], "revoked");
    assert!(revocations[0]["time"].is_string());
    let access_now = get(&mock, "tokens")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "access")
        .unwrap()
        .clone();
    assert_eq!(access_now["state"], "revoked");

    sign_out_in(&browser, &mock, &tokens, "st").await;
    let events = get(&mock, "logout-events").await;
    assert_eq!(events[0]["had_session"], true);
    assert_eq!(events[0]["state"], "st");
    assert_eq!(events[0]["outcome"], "redirected");
    assert_eq!(
        events[0]["post_logout_redirect_uri"],
        mock_okta::DEMO_POST_LOGOUT_REDIRECT_URI
    );
    assert!(events[0]["time"].is_string());
}

#[tokio::test]
async fn faults_and_lifetimes_are_readable_and_replaceable_and_reset_restores_them() {
    let mock = start().await;
    let faults = get(&mock, "faults").await;
    assert_eq!(
        serde_json::from_value::<Faults>(faults).unwrap(),
        Faults::default()
    );

    let client = http(&mock);
    let put = client
        .put(mock.admin_url().join("faults").unwrap())
        .json(&serde_json::json!({"token": {"status": 503}, "logout_interstitial": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(mock.faults().token.status, Some(503));
    assert!(mock.faults().logout_interstitial);
    let token = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[("client_id", DEMO_CLIENT_ID)],
    )
    .await;
    assert_eq!(token.status(), 503);
    let rejected = client
        .put(mock.admin_url().join("faults").unwrap())
        .json(&serde_json::json!({"tokn": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422, "unknown fields are refused");

    let lifetimes = client
        .put(mock.admin_url().join("lifetimes").unwrap())
        .json(&serde_json::json!({"id_token_secs": 60, "refresh_token_rotation": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(lifetimes.status(), 200);
    assert_eq!(mock.lifetimes().id_token_secs, 60);
    assert!(!mock.lifetimes().refresh_token_rotation);
    assert_eq!(get(&mock, "lifetimes").await["id_token_secs"], 60);

    let browser = Browser::for_mock(&mock).unwrap();
    mock.set_faults(Faults::default());
    signed_in_tokens(&mock, &browser).await;
    mock.set_faults(serde_json::from_value(serde_json::json!({"keys": {"status": 500}})).unwrap());
    let reset = client
        .post(mock.admin_url().join("reset").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert!(mock.sessions().is_empty() && mock.tokens().is_empty());
    assert_eq!(mock.faults(), Faults::default());
    assert_eq!(mock.lifetimes(), mock_okta::Lifetimes::default());
}

#[tokio::test]
async fn admin_api_is_on_the_browser_port_too_and_ignores_faults() {
    let mock = start().await;
    mock.update_faults(|faults| {
        for endpoint in mock_okta::Endpoint::ALL {
            faults.endpoint_mut(endpoint).status = Some(503);
        }
    });
    let response = http(&mock)
        .get(mock.browser_url().join("__admin/faults").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
