//! DPoP (RFC 9449) against mock-okta with the app's Okta client set to require it, as Okta's
//! "Require Demonstrating Proof of Possession (DPoP) header in token requests" does: tokens
//! bound to a key made at sign-in and kept in the keychain beside them, the server's nonce
//! followed, and the key gone with the session.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mock_okta::{Endpoint, MockOkta, TokenKind, TokenState, DEMO_CLIENT_ID};
use oidc_session::{Config, DpopKey, OutcomeKind, SessionView, SignOutMode, SignedOutReason};
use session_testkit::{Harness, Server, ISSUER_FORMS, SCHEME};

/// The app with `dpop = true`.
fn dpop_config() -> Config {
    Config {
        dpop: true,
        ..Config::defaults(SCHEME)
    }
}

/// mock-okta with the app's client requiring DPoP; its issuers on plain HTTP when asked.
fn requiring_dpop(plain_http_issuer: bool) -> mock_okta::Config {
    mock_okta::Config {
        plain_http_issuer,
        ..mock_okta::Config::default()
    }
    .with_dpop_required(true)
}

/// The outcomes mock-okta journaled for token requests since `since`.
fn token_outcomes(mock: &MockOkta, since: u64) -> Vec<String> {
    mock.requests(since)
        .into_iter()
        .filter(|entry| entry.endpoint == Some(Endpoint::Token))
        .map(|entry| entry.outcome)
        .collect()
}

/// The key the stored session's tokens are bound to.
fn stored_key(harness: &Harness) -> DpopKey {
    let stored = harness.vault().load().unwrap().expect("a stored session");
    stored.dpop_key.expect("a DPoP session keeps its key")
}

/// The thumbprint mock-okta bound `token` to.
fn bound_to(mock: &MockOkta, token: &str) -> Option<String> {
    mock.token(token)
        .expect("a token mock-okta issued")
        .dpop_jkt
}

/// A token request made outside the app, as someone holding `key` and the form's grant would
/// make it: with a proof of `key`, once more with the nonce the server asks for. Returns the
/// status and the JSON answer.
async fn token_request(
    harness: &Harness,
    key: &DpopKey,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let (http, endpoint) =
        session_testkit::token_endpoint(harness.app.manager.identity_provider()).await;
    let mut nonce = None;
    loop {
        let proof = key.proof("POST", &endpoint, nonce.as_deref()).unwrap();
        let response = http
            .post(endpoint.clone())
            .header("DPoP", proof)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let given = response
            .headers()
            .get("dpop-nonce")
            .map(|value| value.to_str().unwrap().to_owned());
        let answer: serde_json::Value = response.json().await.unwrap();
        if answer["error"] == "use_dpop_nonce" && nonce.is_none() {
            nonce = Some(given.expect("use_dpop_nonce comes with a nonce"));
            continue;
        }
        return (status, answer);
    }
}

/// The claims of a JWT access token (a custom server's), unverified.
fn jwt_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn every_issuer_form_signs_in_refreshes_and_signs_out_with_bound_tokens() {
    for (server, plain_http_issuer) in ISSUER_FORMS {
        let test = format!("dpop-{server:?}-{plain_http_issuer}");
        let mut harness = Harness::start_against(
            &test,
            dpop_config(),
            requiring_dpop(plain_http_issuer),
            server,
        )
        .await;
        let browser = harness.browser();

        // Sign-in: the first token request meets the server's nonce, the second is bound.
        let since = harness.mock.journal_position();
        harness.app.sign_in(&browser).await;
        assert_eq!(
            token_outcomes(&harness.mock, since),
            ["use_dpop_nonce", "issued"],
            "{test}"
        );
        let key = stored_key(&harness);
        let signed_in = harness.vault().load().unwrap().unwrap().tokens;
        let refresh_token = signed_in.refresh_token.clone().unwrap();
        for token in [signed_in.access_token.secret(), refresh_token.secret()] {
            assert_eq!(
                bound_to(&harness.mock, token).as_deref(),
                Some(key.thumbprint()),
                "{test}"
            );
        }
        if server == Server::Default {
            let claims = jwt_claims(signed_in.access_token.secret());
            assert_eq!(claims["cnf"]["jkt"], key.thumbprint(), "{test}");
        }

        // The key survives a restart with the session, and a refresh proves with it; the
        // nonce kept from the sign-in is used at once.
        harness.restart().await;
        harness.app.manager.restored().await.unwrap();
        let since = harness.mock.journal_position();
        harness.app.manager.refresh_now().await.unwrap();
        assert_eq!(
            token_outcomes(&harness.mock, since),
            ["use_dpop_nonce", "issued"],
            "{test}: a restarted app learns the nonce again"
        );
        let since = harness.mock.journal_position();
        harness.app.manager.refresh_now().await.unwrap();
        assert_eq!(token_outcomes(&harness.mock, since), ["issued"], "{test}");
        let refreshed = harness.vault().load().unwrap().unwrap();
        assert_eq!(
            refreshed.dpop_key.unwrap().thumbprint(),
            key.thumbprint(),
            "{test}"
        );
        assert_eq!(
            bound_to(&harness.mock, refreshed.tokens.access_token.secret()).as_deref(),
            Some(key.thumbprint()),
            "{test}"
        );

        // Full sign-out: every token revoked (without a proof, as Okta revokes), the key
        // gone from the keychain with the session, and what it could prove for is dead.
        let tokens = refreshed.tokens;
        harness.app.sign_out(&browser).await;
        assert!(harness.vault().load().unwrap().is_none(), "{test}");
        assert!(harness.pending().is_none(), "{test}: nothing left queued");
        for token in [
            tokens.access_token.secret(),
            tokens.refresh_token.as_ref().unwrap().secret(),
        ] {
            assert_eq!(
                harness.mock.token(token).unwrap().state,
                TokenState::Revoked,
                "{test}"
            );
        }
        let (status, answer) = token_request(
            &harness,
            &key,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                (
                    "refresh_token",
                    tokens.refresh_token.as_ref().unwrap().secret(),
                ),
            ],
        )
        .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("invalid_grant")),
            "{test}: the old key proves for nothing: {answer}"
        );
    }
}

#[tokio::test]
async fn a_refresh_token_copied_out_of_the_keychain_is_useless_with_another_key() {
    let mut harness = Harness::start_against(
        "dpop-copied",
        dpop_config(),
        requiring_dpop(false),
        Server::Org,
    )
    .await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let stored = harness.vault().load().unwrap().unwrap();
    let copied = stored.tokens.refresh_token.unwrap();

    let thief = DpopKey::generate().unwrap();
    let (status, answer) = token_request(
        &harness,
        &thief,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
            ("refresh_token", copied.secret()),
        ],
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{answer}"
    );
    assert!(answer.get("access_token").is_none());
    // The app, which holds the key, still renews its session.
    harness.app.manager.refresh_now().await.unwrap();
}

#[tokio::test]
async fn a_nonce_the_server_renews_mid_session_is_followed() {
    let mut harness = Harness::start_against(
        "dpop-nonce",
        dpop_config(),
        requiring_dpop(false),
        Server::Default,
    )
    .await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;

    // A renewal that keeps the old nonce valid (Okta's three days) costs nothing.
    harness.mock.rotate_dpop_nonce(true).await;
    let since = harness.mock.journal_position();
    harness.app.manager.refresh_now().await.unwrap();
    assert_eq!(token_outcomes(&harness.mock, since), ["issued"]);

    // One that ends it at once: the refresh meets `use_dpop_nonce`, and goes again with the
    // new nonce, which the next refresh uses straight away.
    harness.mock.rotate_dpop_nonce(false).await;
    let since = harness.mock.journal_position();
    harness.app.manager.refresh_now().await.unwrap();
    harness.app.manager.refresh_now().await.unwrap();
    assert_eq!(
        token_outcomes(&harness.mock, since),
        ["use_dpop_nonce", "issued", "issued"]
    );
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    assert!(harness.vault().load().unwrap().is_none());
}

#[tokio::test]
async fn a_server_without_dpop_is_refused_at_start_and_at_sign_in() {
    let mut mock_config = requiring_dpop(false);
    mock_config.faults.dpop_unsupported = true;
    let harness = Harness::start_against(
        "dpop-unsupported",
        dpop_config(),
        mock_config.clone(),
        Server::Org,
    )
    .await;
    let error = harness.app.manager.restored().await.unwrap_err();
    assert_eq!(error.code(), "configuration");
    let message = error.to_string();
    assert!(
        message.contains("does not offer DPoP with ES256")
            && message.contains("dpop = false")
            && message.contains(&harness.mock.org_issuer()),
        "{message}"
    );

    // Okta out of reach at start: the sign-in finds it out itself, before any browser opens.
    mock_config.faults.discovery.status = Some(503);
    mock_config.faults.discovery.count = Some(1);
    let harness = Harness::start_against(
        "dpop-unsupported-late",
        dpop_config(),
        mock_config,
        Server::Org,
    )
    .await;
    harness.app.manager.restored().await.unwrap();
    let error = harness.app.manager.sign_in().await.unwrap_err();
    assert_eq!(error.code(), "configuration", "{error}");
    assert!(error.to_string().contains("does not offer DPoP"), "{error}");
    assert!(
        harness
            .mock
            .requests(0)
            .iter()
            .all(|entry| entry.endpoint != Some(Endpoint::Authorize)),
        "no browser was sent to sign in"
    );
}

#[tokio::test]
async fn a_bound_session_is_still_signed_out_of_when_okta_stops_offering_dpop() {
    let mut harness = Harness::start_against(
        "dpop-dropped",
        dpop_config(),
        requiring_dpop(false),
        Server::Default,
    )
    .await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let tokens = harness.vault().load().unwrap().unwrap().tokens;
    harness
        .mock
        .update_faults(|faults| faults.dpop_unsupported = true);

    // Restarted, the app shows the session, and the sign-out (revocation and Okta's end of
    // session need no proof) ends everything; only a new sign-in is refused.
    harness.restart().await;
    assert!(matches!(
        harness.app.manager.restored().await.unwrap(),
        SessionView::SignedIn { .. }
    ));
    harness.app.sign_out(&browser).await;
    assert_eq!(
        harness.app.events.outcomes()[0].kind,
        OutcomeKind::Completed
    );
    for token in [
        tokens.access_token.secret(),
        tokens.refresh_token.as_ref().unwrap().secret(),
    ] {
        assert_eq!(
            harness.mock.token(token).unwrap().state,
            TokenState::Revoked
        );
    }
    let error = harness.app.manager.sign_in().await.unwrap_err();
    assert_eq!(error.code(), "configuration", "{error}");
}

#[tokio::test]
async fn a_key_okta_refuses_ends_the_session_saying_so() {
    let mut harness = Harness::start_against(
        "dpop-refused",
        dpop_config(),
        requiring_dpop(false),
        Server::Default,
    )
    .await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    // The keychain now holds another key than the one the tokens are bound to.
    harness.app.stop().await;
    let mut stored = harness.vault().load().unwrap().unwrap();
    stored.dpop_key = Some(DpopKey::generate().unwrap());
    harness.vault().save(&stored).unwrap();
    harness.restart().await;
    harness.app.manager.restored().await.unwrap();

    let error = harness.app.manager.refresh_now().await.unwrap_err();
    assert_eq!(error.code(), "idp_error");
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: Some(SignedOutReason::KeyRefused),
            signing_out: false,
            password_required: false,
        }
    );
    assert!(harness.vault().load().unwrap().is_none());
}

#[tokio::test]
async fn bearer_tokens_fail_the_sign_in_and_are_revoked() {
    // The app asks for DPoP, but its Okta client does not require it: Okta answers with
    // bearer tokens, which anyone holding them could use.
    let mut harness = Harness::start_against(
        "dpop-bearer",
        dpop_config(),
        mock_okta::Config::default(),
        Server::Default,
    )
    .await;
    let browser = harness.browser();
    let (authorization, task) = harness.app.begin_sign_in().await;
    let callback = session_testkit::expect_app_redirect(browser.open(authorization).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "configuration");
    assert!(
        error
            .to_string()
            .contains("Require Demonstrating Proof of Possession (DPoP) header in token requests"),
        "{error}"
    );
    assert!(harness.vault().load().unwrap().is_none());
    harness
        .wait_until("the unbound tokens are revoked", || {
            let issued: Vec<_> = harness
                .mock
                .tokens()
                .into_iter()
                .filter(|token| token.kind != TokenKind::Id)
                .collect();
            issued.len() == 2
                && issued
                    .iter()
                    .all(|token| token.state == TokenState::Revoked)
        })
        .await;
}
