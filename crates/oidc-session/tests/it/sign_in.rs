//! Sign-in and restore against mock-okta over real HTTP(S), with a scripted browser that
//! submits mock-okta's sign-in form, and the tokens in the real Secret Service (the test
//! command provides a D-Bus session with an unlocked gnome-keyring).

use std::time::Duration;

use mock_okta::{TokenState, DEMO_CLIENT_ID};
use oidc_session::{Config, SessionError, SessionView, SignedOutReason};
use session_testkit::{expect_app_redirect, query, Harness, SCHEME};
use url::Url;

#[tokio::test]
async fn signs_in_through_the_browser_and_keeps_the_tokens_in_the_keychain() {
    let mut harness = Harness::start("success").await;
    let browser = harness.browser();
    let (url, task) = harness.app.begin_sign_in().await;

    // The request Okta sees: code flow with PKCE S256, state, nonce, the app's redirect.
    assert_eq!(query(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query(&url, "client_id").as_deref(), Some(DEMO_CLIENT_ID));
    assert_eq!(
        query(&url, "redirect_uri").as_deref(),
        Some("com.example.oktasignout:/callback")
    );
    assert!(query(&url, "state").is_some_and(|state| state.len() >= 16));
    assert!(query(&url, "nonce").is_some());
    let scopes = query(&url, "scope").unwrap();
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(scopes.split(' ').any(|s| s == scope), "{scopes}");
    }
    assert_eq!(harness.app.manager.view(), SessionView::SigningIn);

    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let user = task.await.unwrap().unwrap();
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(user.name.as_deref(), Some("Ada Lovelace"));

    let SessionView::SignedIn {
        user: shown,
        expires_at,
    } = harness.app.manager.view()
    else {
        panic!("not signed in: {:?}", harness.app.manager.view());
    };
    assert_eq!(shown, user);
    assert!(expires_at.is_some());

    // The keychain holds the tokens mock-okta issued, and they are live there.
    let stored = harness.vault().load().unwrap().expect("a stored session");
    let access = harness
        .mock
        .token(stored.tokens.access_token.secret())
        .expect("known to mock-okta");
    assert_eq!(access.state, TokenState::Active, "{access:?}");
    let refresh = stored
        .tokens
        .refresh_token
        .as_ref()
        .expect("offline_access gives a refresh token");
    assert_eq!(
        harness.mock.token(refresh.secret()).unwrap().state,
        TokenState::Active
    );

    // What the window received: the views, with claims and no token.
    let events = harness.app.events.views();
    assert!(events[0].contains("\"state\":\"signing_in\""), "{events:?}");
    assert!(
        events.last().unwrap().contains("\"state\":\"signed_in\""),
        "{events:?}"
    );
    for secret in [
        stored.tokens.access_token.secret(),
        refresh.secret(),
        stored.tokens.id_token.secret(),
    ] {
        assert!(events.iter().all(|event| !event.contains(secret)));
        assert!(!serde_json::to_string(&user).unwrap().contains(secret));
    }
}

#[tokio::test]
async fn a_forged_or_missing_state_is_ignored_and_the_real_callback_still_works() {
    let mut harness = Harness::start("state").await;
    let browser = harness.browser();
    let (url, task) = harness.app.begin_sign_in().await;
    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    let code = query(&callback, "code").unwrap();

    for forged in [
        format!("{SCHEME}:/callback?code={code}&state=forged"),
        format!("{SCHEME}:/callback?code={code}"),
        format!(
            "{SCHEME}:/logout/callback?state={}",
            query(&callback, "state").unwrap()
        ),
        format!(
            "{SCHEME}://callback?code={code}&state={}",
            query(&callback, "state").unwrap()
        ),
    ] {
        assert!(!harness.app.manager.handle_deep_link(&forged), "{forged}");
        assert_eq!(
            harness.app.manager.view(),
            SessionView::SigningIn,
            "{forged}"
        );
    }
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    // A replay of the accepted callback finds nothing waiting.
    assert!(!harness.app.manager.handle_deep_link(callback.as_str()));
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedIn { .. }
    ));
}

#[tokio::test]
async fn an_error_callback_is_a_clear_error() {
    let mut harness = Harness::start("denied").await;
    let (url, task) = harness.app.begin_sign_in().await;
    let denied = Url::parse_with_params(
        &format!("{SCHEME}:/callback"),
        [
            ("state", query(&url, "state").unwrap().as_str()),
            ("error", "access_denied"),
            (
                "error_description",
                "User is not assigned to the client application.",
            ),
            ("iss", harness.mock.issuer().as_str()),
        ],
    )
    .unwrap();
    assert!(harness.app.manager.handle_deep_link(denied.as_str()));
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "idp_error");
    assert_eq!(
        error.to_string(),
        "Okta refused: User is not assigned to the client application."
    );
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
    assert!(harness.vault().load().unwrap().is_none());
}

#[tokio::test]
async fn the_wait_for_the_browser_times_out_and_a_late_callback_is_ignored() {
    let mut config = Config::defaults(SCHEME);
    config.browser_timeout = Duration::from_secs(1);
    let mut harness = Harness::start_with("timeout", config).await;
    let browser = harness.browser();
    let (url, task) = harness.app.begin_sign_in().await;
    let error = task.await.unwrap().unwrap_err();
    assert!(matches!(error, SessionError::TimedOut(1)), "{error:?}");
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
    let late = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(!harness.app.manager.handle_deep_link(late.as_str()));
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
}

#[tokio::test]
async fn cancel_ends_the_wait_and_one_sign_in_runs_at_a_time() {
    let mut harness = Harness::start("cancel").await;
    let (url, task) = harness.app.begin_sign_in().await;
    let second = harness.app.manager.sign_in().await.unwrap_err();
    assert!(matches!(second, SessionError::Busy), "{second:?}");
    harness.app.manager.cancel();
    let error = task.await.unwrap().unwrap_err();
    assert!(matches!(error, SessionError::Cancelled), "{error:?}");
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
    // The cancelled flow's callback no longer counts.
    let state = query(&url, "state").unwrap();
    assert!(!harness
        .app
        .manager
        .handle_deep_link(&format!("{SCHEME}:/callback?code=x&state={state}")));
}

#[tokio::test]
async fn a_restart_restores_the_session_and_refreshes_an_expired_access_token() {
    let mut harness = Harness::start("restore").await;
    // Access tokens that are already inside the refresh margin when issued.
    harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 30);
    let browser = harness.browser();
    let user = harness.app.sign_in(&browser).await;
    let before = harness.vault().load().unwrap().unwrap();

    harness.restart().await;
    let view = harness.app.manager.restored().await.unwrap();
    let SessionView::SignedIn { user: restored, .. } = view else {
        panic!("not restored: {view:?}");
    };
    assert_eq!(restored, user);
    // The window heard of the restored session, and of nothing before it.
    let views = harness.app.events.views();
    assert_eq!(views.len(), 1, "{views:?}");
    assert!(views[0].contains("\"state\":\"signed_in\""), "{views:?}");
    let after = harness.vault().load().unwrap().unwrap();
    assert_ne!(
        after.tokens.access_token.secret(),
        before.tokens.access_token.secret(),
        "refreshed"
    );
    assert_eq!(
        harness
            .mock
            .token(after.tokens.access_token.secret())
            .unwrap()
            .state,
        TokenState::Active
    );
    // The refreshed tokens replace the old ones as those staged for the sign-out. The old
    // access token is revoked; the old refresh token is not (revoking a rotated refresh token
    // could end the new tokens' grant).
    let state_of = |token: &str| harness.mock.token(token).unwrap().state;
    harness
        .wait_until("the replaced access token revoked", || {
            state_of(before.tokens.access_token.secret()) == TokenState::Revoked
        })
        .await;
    harness
        .wait_until("the queue to empty", || {
            harness.pending().unwrap().to_revoke.is_empty()
        })
        .await;
    let pending = harness.pending().unwrap();
    let staged: Vec<_> = pending
        .staged
        .iter()
        .map(|queued| queued.token.secret())
        .collect();
    assert_eq!(
        staged,
        [
            after.tokens.refresh_token.as_ref().unwrap().secret(),
            after.tokens.access_token.secret()
        ]
    );
    assert_ne!(
        state_of(before.tokens.refresh_token.as_ref().unwrap().secret()),
        TokenState::Revoked
    );
    for token in [
        &after.tokens.access_token.secret(),
        &after.tokens.refresh_token.as_ref().unwrap().secret(),
    ] {
        assert_eq!(state_of(token), TokenState::Active);
    }
    // The restored session also keeps its original sign-in time (absolute timeout).
    assert_eq!(after.signed_in_at, before.signed_in_at);
    assert!(harness
        .app
        .manager
        .sign_in()
        .await
        .is_err_and(|error| matches!(error, SessionError::AlreadySignedIn)));
}

#[tokio::test]
async fn a_revoked_refresh_token_means_signed_out_on_restore() {
    let mut harness = Harness::start("revoked").await;
    harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 30);
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let stored = harness.vault().load().unwrap().unwrap();

    // Revoked elsewhere (an admin, another device): RFC 7009 at mock-okta.
    let revoke = harness
        .mock
        .base_url()
        .join("oauth2/default/v1/revoke")
        .unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(harness.mock.ca_certificate_pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let status = http
        .post(revoke)
        .form(&[
            (
                "token",
                stored.tokens.refresh_token.as_ref().unwrap().secret(),
            ),
            ("token_type_hint", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    harness.restart().await;
    let view = harness.app.manager.restored().await.unwrap();
    assert_eq!(
        view,
        SessionView::SignedOut {
            reason: Some(SignedOutReason::EndedByOrganization),
            signing_out: false,
            password_required: false,
        }
    );
    assert!(
        harness.vault().load().unwrap().is_none(),
        "the dead session is wiped"
    );
}

#[tokio::test]
async fn a_session_past_its_absolute_timeout_is_wiped_on_restore() {
    let mut harness = Harness::start("absolute").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let mut stored = harness.vault().load().unwrap().unwrap();
    stored.signed_in_at -= Duration::from_secs(13 * 60 * 60);
    harness.vault().save(&stored).unwrap();

    harness.restart().await;
    let view = harness.app.manager.restored().await.unwrap();
    assert_eq!(
        view,
        SessionView::SignedOut {
            reason: Some(SignedOutReason::Expired),
            signing_out: false,
            password_required: false,
        }
    );
    assert!(harness.vault().load().unwrap().is_none());
}

#[tokio::test]
async fn an_unreachable_idp_is_a_clear_error() {
    let mut harness = Harness::start("offline").await;
    harness.mock.go_offline().await;
    let manager = harness.app.manager.clone();
    let error = manager.sign_in().await.unwrap_err();
    assert_eq!(error.code(), "discovery");
    assert!(
        error
            .to_string()
            .starts_with("cannot reach Okta at https://127.0.0.1:"),
        "{error}"
    );
    assert!(
        harness.app.opened.try_recv().is_err(),
        "no browser without an IdP"
    );
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
}
