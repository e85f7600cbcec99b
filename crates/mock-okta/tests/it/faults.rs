use std::time::{Duration, Instant};

use mock_okta::browser::{Browser, Landing};
use mock_okta::{Endpoint, EndpointFault, Faults, LogoutOutcome, TokenState, DEMO_CLIENT_ID};

use crate::{
    authorize_url, http, logout_url, pkce, post_form, sign_out_in, signed_in_tokens, start,
};

/// A request that reaches `endpoint`'s route (the fault answers before any validation).
fn request_to(mock: &mock_okta::MockOkta, endpoint: Endpoint) -> reqwest::RequestBuilder {
    let client = http(mock);
    let base = mock.base_url();
    match endpoint {
        Endpoint::Authorize => client.get(authorize_url(mock, &pkce(), &[])),
        Endpoint::Logout => client.get(logout_url(mock, &[])),
        Endpoint::Keys => client.get(base.join("oauth2/default/v1/keys").unwrap()),
        Endpoint::Userinfo => client.get(base.join("oauth2/default/v1/userinfo").unwrap()),
        Endpoint::Discovery => client.get(
            base.join("oauth2/default/.well-known/openid-configuration")
                .unwrap(),
        ),
        Endpoint::Token | Endpoint::Revoke | Endpoint::Introspect => client
            .post(base.join(&format!("oauth2/default/v1/{endpoint}")).unwrap())
            .form(&[("client_id", DEMO_CLIENT_ID)]),
    }
}

#[tokio::test]
async fn forced_status_applies_to_each_endpoint_alone() {
    let mock = start().await;
    for endpoint in Endpoint::ALL {
        let mut faults = Faults::default();
        faults.endpoint_mut(endpoint).status = Some(503);
        mock.set_faults(faults);
        let response = request_to(&mock, endpoint).send().await.unwrap();
        assert_eq!(response.status(), 503, "{endpoint}");
        // Another endpoint is unaffected.
        let other = if endpoint == Endpoint::Keys {
            Endpoint::Discovery
        } else {
            Endpoint::Keys
        };
        assert_eq!(
            request_to(&mock, other).send().await.unwrap().status(),
            200,
            "{other} while {endpoint} faulted"
        );
    }
}

#[tokio::test]
async fn dropped_connections_get_no_response_on_either_port() {
    let mock = start().await;
    for endpoint in Endpoint::ALL {
        let mut faults = Faults::default();
        faults.endpoint_mut(endpoint).drop_connection = true;
        mock.set_faults(faults);
        let error = request_to(&mock, endpoint)
            .send()
            .await
            .expect_err("no response");
        assert!(
            error.is_request() || error.is_connect(),
            "{endpoint}: {error:?}"
        );
    }
    mock.set_faults(Faults::default());
    assert_eq!(
        request_to(&mock, Endpoint::Discovery)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn latency_delays_the_answer_and_a_huge_one_is_a_hang() {
    let mock = start().await;
    mock.update_faults(|faults| faults.token.latency_ms = 300);
    let started = Instant::now();
    let response = request_to(&mock, Endpoint::Token).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        response.status(),
        400,
        "after the delay the real answer comes"
    );

    mock.update_faults(|faults| faults.discovery.latency_ms = 3_600_000);
    let hang = tokio::time::timeout(
        Duration::from_millis(300),
        request_to(&mock, Endpoint::Discovery).send(),
    )
    .await;
    assert!(hang.is_err(), "the request hangs");
}

#[tokio::test]
async fn revoke_failure_leaves_the_token_alive() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    mock.update_faults(|faults| {
        faults.revoke = EndpointFault {
            status: Some(500),
            ..EndpointFault::default()
        }
    });
    let refresh = tokens.refresh_token.unwrap();
    let response = post_form(
        &mock,
        "oauth2/default/v1/revoke",
        &[
            ("token", &refresh),
            ("token_type_hint", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(response.status(), 500);
    assert_eq!(mock.token(&refresh).unwrap().state, TokenState::Active);
}

#[tokio::test]
async fn logout_error_page_fault_always_shows_the_400_page() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    mock.update_faults(|faults| faults.logout_error_page = true);
    let landing = sign_out_in(&browser, &mock, &tokens, "s").await;
    assert!(
        matches!(landing, Landing::Page { status: 400, .. }),
        "{landing:?}"
    );
    assert_eq!(mock.sessions().len(), 1);
    assert_eq!(mock.logout_events()[0].outcome, LogoutOutcome::Rejected);
}

#[tokio::test]
async fn never_redirecting_logout_ends_the_session_on_a_dead_end_page() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    mock.update_faults(|faults| faults.logout_never_redirects = true);
    let landing = sign_out_in(&browser, &mock, &tokens, "s").await;
    let Landing::Page { status, body } = landing else {
        panic!("{landing:?}")
    };
    assert_eq!(status, 200);
    assert!(
        body.contains("signed out") && !body.contains("refresh") && !body.contains("href"),
        "{body}"
    );
    assert!(mock.sessions().is_empty());
    assert_eq!(
        mock.logout_events()[0].outcome,
        LogoutOutcome::NeverRedirected
    );
}

#[tokio::test]
async fn malformed_discovery_is_not_json() {
    let mock = start().await;
    mock.update_faults(|faults| faults.malformed_discovery = true);
    let response = request_to(&mock, Endpoint::Discovery).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.json::<serde_json::Value>().await.is_err());
}

#[tokio::test]
async fn faults_come_from_the_config_file() {
    let mut config = mock_okta::Config::from_toml_str(
        "[faults.keys]\nstatus = 502\n[faults]\nlogout_interstitial = true",
    )
    .unwrap();
    config.signing_key_pem = Some(crate::SIGNING_KEY_PEM.to_owned());
    let mock = crate::start_with(config).await;
    assert_eq!(
        request_to(&mock, Endpoint::Keys)
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    assert!(mock.faults().logout_interstitial);
}

#[tokio::test]
async fn offline_refuses_connections_and_online_restores_the_same_state() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    // A hanging request on an open connection is dropped by going offline.
    mock.update_faults(|faults| faults.discovery.latency_ms = 3_600_000);
    let hanging = tokio::spawn(request_to(&mock, Endpoint::Discovery).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    mock.go_offline().await;
    assert!(!mock.is_online().await);
    assert!(
        hanging.await.unwrap().is_err(),
        "open connections are dropped"
    );
    mock.set_faults(Faults::default());
    let refused = request_to(&mock, Endpoint::Discovery)
        .send()
        .await
        .expect_err("offline");
    assert!(refused.is_connect(), "{refused:?}");
    let refused = http(&mock)
        .get(mock.browser_url())
        .send()
        .await
        .expect_err("offline");
    assert!(refused.is_connect(), "{refused:?}");

    mock.go_online().await.unwrap();
    let (port, browser_port) = (mock.base_url().port(), mock.browser_url().port());
    assert_eq!(
        request_to(&mock, Endpoint::Discovery)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        (mock.base_url().port(), mock.browser_url().port()),
        (port, browser_port)
    );
    // Same state: the session still gives silent SSO, and the tokens still work.
    let mut same_browser = browser.clone();
    same_browser.clear_credentials();
    let landing = same_browser
        .open(authorize_url(&mock, &pkce(), &[]))
        .await
        .unwrap();
    assert!(matches!(landing, Landing::AppRedirect(_)), "{landing:?}");
    let userinfo = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/userinfo").unwrap())
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    mock.shutdown().await;
}
