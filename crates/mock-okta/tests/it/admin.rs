use mock_okta::browser::Browser;
use mock_okta::{
    token_fingerprint, ClearedSessions, Faults, TokenState, DEMO_CLIENT_ID, DEMO_PASSWORD,
    DEMO_SECOND_USERNAME, DEMO_USERNAME,
};

use crate::{
    get_json, http, oauth_error, post_form, refresh, sign_out_in, signed_in_tokens, start,
};

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

#[tokio::test]
async fn clearing_a_user_s_sessions_ends_them_and_revokes_their_tokens() {
    let mock = start().await;
    let ada_here = Browser::for_mock(&mock).unwrap();
    let ada_there = Browser::for_mock(&mock).unwrap();
    let grace = Browser::new(mock.ca_certificate_pem())
        .unwrap()
        .with_credentials(DEMO_SECOND_USERNAME, DEMO_PASSWORD);
    let first = signed_in_tokens(&mock, &ada_here).await;
    let refreshed: crate::TokenResponse = refresh(&mock, first.refresh_token.as_deref().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let elsewhere = signed_in_tokens(&mock, &ada_there).await;
    let graces = signed_in_tokens(&mock, &grace).await;

    let response = http(&mock)
        .delete(
            mock.admin_url()
                .join("users/ada@example.com/sessions")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cleared: serde_json::Value = response.json().await.unwrap();
    // Two sessions; the rotated refresh token (still in its grace period), its access token,
    // the refreshed pair and the pair of the other browser.
    assert_eq!(cleared, serde_json::json!({"sessions": 2, "tokens": 6}));

    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].user, DEMO_SECOND_USERNAME);
    for tokens in [&first, &refreshed, &elsewhere] {
        let refresh_token = tokens.refresh_token.as_deref().unwrap();
        assert_eq!(
            mock.token(refresh_token).unwrap().state,
            TokenState::Revoked
        );
        assert_eq!(
            mock.token(&tokens.access_token).unwrap().state,
            TokenState::Revoked
        );
    }
    // The app learns it at its next refresh.
    let (status, error, _) =
        oauth_error(refresh(&mock, refreshed.refresh_token.as_deref().unwrap()).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let mut ada_here = ada_here;
    ada_here.clear_credentials();
    let landing = ada_here
        .open(crate::authorize_url(&mock, &crate::pkce(), &[]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&landing), "{landing:?}");
    // Someone else's session and tokens are untouched.
    assert_eq!(
        refresh(&mock, graces.refresh_token.as_deref().unwrap())
            .await
            .status(),
        200
    );

    assert_eq!(
        mock.clear_user_sessions(DEMO_SECOND_USERNAME),
        ClearedSessions {
            sessions: 1,
            tokens: 4
        },
        "the session; the first pair (its refresh token rotated, in its grace period) and the new one"
    );
    assert_eq!(
        mock.clear_user_sessions(DEMO_SECOND_USERNAME),
        ClearedSessions {
            sessions: 0,
            tokens: 0
        }
    );
}

#[tokio::test]
async fn clearing_the_sessions_of_an_unknown_user_is_404() {
    let mock = start().await;
    let response = http(&mock)
        .delete(
            mock.admin_url()
                .join("users/nobody@example.com/sessions")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000007");
    assert!(body["errorSummary"]
        .as_str()
        .unwrap()
        .contains("nobody@example.com"));
}

/// The console as a browser gets it.
async fn console_html(mock: &mock_okta::MockOkta) -> String {
    http(mock)
        .get(mock.browser_url().join("__admin/").unwrap())
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The faults version the console's form was rendered with.
fn shown_faults_version(html: &str) -> String {
    html.split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the faults form carries the version it shows")
        .to_owned()
}

#[tokio::test]
async fn a_browser_gets_the_console_and_its_forms_change_the_mock() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    let console = mock.browser_url().join("__admin/").unwrap();
    let page = http(&mock)
        .get(console.clone())
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    for shown in [
        "id=\"sessions\"",
        mock_okta::DEMO_USERNAME,
        "id=\"tokens\"",
        "/oauth2/default/v1/token",
        "id=\"faults-form\"",
        "name=\"revoke.count\"",
        "name=\"logout_error_page\"",
        "id=\"lifetimes-form\"",
    ] {
        assert!(html.contains(shown), "{shown} missing from the console");
    }
    for secret in [
        tokens.access_token.as_str(),
        tokens.refresh_token.as_deref().unwrap(),
        tokens.id_token.as_deref().unwrap(),
    ] {
        assert!(!html.contains(secret), "a token's text is on the console");
    }

    let version = shown_faults_version(&html);
    let applied = http(&mock)
        .post(mock.browser_url().join("__admin/console/faults").unwrap())
        .form(&[
            ("version", version.as_str()),
            ("revoke.status", "503"),
            ("revoke.count", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 303);
    assert_eq!(mock.faults().revoke.status, Some(503));
    assert_eq!(mock.faults().revoke.count, Some(2));
    let version = shown_faults_version(&console_html(&mock).await);
    let refused = http(&mock)
        .post(mock.browser_url().join("__admin/console/faults").unwrap())
        .form(&[("version", version.as_str()), ("revoke.status", "abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("revoke.status"));
    assert_eq!(
        mock.faults().revoke.status,
        Some(503),
        "a refused form changes nothing"
    );

    // Scripts still get JSON from the same URL.
    let json: serde_json::Value = http(&mock)
        .get(console)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(json["endpoints"].is_array());
}

#[tokio::test]
async fn the_console_refuses_a_stale_form_a_cross_site_post_and_a_count_of_0() {
    let mock = start().await;
    let console = |path: &str| mock.browser_url().join(path).unwrap();
    let version = shown_faults_version(&console_html(&mock).await);
    // A count runs out after the page was shown: its form is stale.
    mock.update_faults(|faults| {
        faults.revoke.status = Some(503);
        faults.revoke.count = Some(1);
    });
    crate::revoke(&mock, "t", "access_token").await;
    assert_eq!(mock.faults().revoke.status, None);
    let stale = http(&mock)
        .post(console("__admin/console/faults"))
        .form(&[
            ("version", version.as_str()),
            ("revoke.status", "503"),
            ("revoke.count", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 409);
    assert!(stale.text().await.unwrap().contains("Reload the console"));
    assert_eq!(
        mock.faults(),
        Faults::default(),
        "the used-up fault stays off"
    );

    let cross_site = http(&mock)
        .post(console("__admin/console/reset"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    let zero = http(&mock)
        .put(mock.admin_url().join("faults").unwrap())
        .json(&serde_json::json!({ "revoke": { "status": 503, "count": 0 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(zero.status(), 422);
    assert!(zero.text().await.unwrap().contains("revoke.count"));
}

#[tokio::test]
async fn the_console_shows_a_requested_path_as_text() {
    let mock = start().await;
    let hostile = mock
        .browser_url()
        .join("oauth2/default/v1/%3Cscript%3Ealert(1)%3C/script%3E")
        .unwrap();
    http(&mock).get(hostile).send().await.unwrap();
    let live = http(&mock)
        .get(mock.browser_url().join("__admin/console/live").unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(live.contains("%3Cscript%3E"), "{live}");
    assert!(!live.contains("<script>"), "{live}");
}
