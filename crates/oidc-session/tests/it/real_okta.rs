//! What a real Okta org does that a naive client gets wrong, with mock-okta behaving as Okta
//! does: the org authorization server's issuer, RFC 9207's `iss`, signing-key rotation, a
//! private CA, a fresh sign-in after an unconfirmed sign-out, the organization ending the
//! session, and a refresh that names another person.

use std::time::Duration;

use mock_okta::browser::{Browser, Landing};
use mock_okta::{
    Authentication, AuthorizationResponseIss, Endpoint, MockOkta, SessionInfo, TokenKind,
    TokenState, DEMO_PASSWORD, DEMO_SECOND_USERNAME, DEMO_USERNAME,
};
use oidc_session::provider::{DEFAULT_REQUEST_TIMEOUT, DISCOVERY_MAX_AGE};
use oidc_session::{
    Config, IdentityProvider, Issuer, OutcomeKind, SessionView, SignOutMode, SignedOutReason,
};
use session_testkit::{
    expect_app_redirect, identity_provider, platform_vault, query, Harness, RecordedEvents, Server,
    SessionSetup, TestSession, ISSUER_FORMS, SCHEME,
};

/// The view of a signed-out app that signed out by itself for `reason`.
fn signed_out_because(reason: SignedOutReason) -> SessionView {
    SessionView::SignedOut {
        reason: Some(reason),
        signing_out: false,
        password_required: false,
    }
}

#[tokio::test]
async fn the_org_server_signs_in_and_out_with_its_issuer_as_written() {
    let mut harness = Harness::start_on("org-server", Config::defaults(SCHEME), Server::Org).await;
    let issuer = harness.mock.org_issuer();
    assert!(!issuer.ends_with('/'), "Okta writes it without a slash");
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let stored = harness.vault().load().unwrap().unwrap();
    let access = harness
        .mock
        .token(stored.tokens.access_token.secret())
        .unwrap();
    assert_eq!(access.issuer, issuer);
    assert_eq!(
        stored.tokens.access_token.secret().split('.').count(),
        1,
        "the org server's access tokens are opaque"
    );

    let task = harness.app.begin_sign_out(SignOutMode::Full);
    let logout = harness.app.next_opened().await;
    let callback = expect_app_redirect(browser.open(logout).await.unwrap());
    // The org server's own end-session endpoint (`/oauth2/v1/logout`) ended the session.
    let ended = harness.mock.logout_events().pop().unwrap();
    assert_eq!(
        (ended.issuer.as_str(), ended.had_session),
        (issuer.as_str(), true)
    );
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    assert_eq!(
        harness.app.events.outcomes()[0].kind,
        OutcomeKind::Completed
    );
    assert!(harness.mock.sessions().is_empty());
    for token in harness.mock.tokens() {
        if token.kind != TokenKind::Id {
            assert_eq!(token.state, TokenState::Revoked, "{token:?}");
        }
    }
}

#[tokio::test]
async fn an_issuer_discovery_does_not_name_is_a_configuration_error() {
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    for (configured, discovered) in [
        (format!("{}/", mock.org_issuer()), mock.org_issuer()),
        (format!("{}/", mock.issuer()), mock.issuer().to_string()),
    ] {
        let error = sign_in_failure("issuer-mismatch", &mock, &configured).await;
        assert_eq!(error.code(), "configuration", "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("`{configured}`"))
                && message.contains(&format!("write issuer = \"{discovered}\" in config.toml")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn an_address_without_discovery_is_a_configuration_error_and_a_busy_okta_is_not() {
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    // The org server's endpoints' prefix, taken for its issuer: nothing to discover there.
    let error = sign_in_failure(
        "not-an-issuer",
        &mock,
        &format!("{}/oauth2/v1", mock.org_issuer()),
    )
    .await;
    assert_eq!(error.code(), "configuration", "{error}");
    assert!(
        error
            .to_string()
            .contains("is not an Okta authorization server (HTTP 404 Not Found"),
        "{error}"
    );
    // Too many requests: the issuer is right, Okta asks to wait.
    mock.update_faults(|faults| faults.discovery.status = Some(429));
    let error = sign_in_failure("not-an-issuer", &mock, mock.issuer().as_str()).await;
    assert_eq!(error.code(), "discovery", "{error}");
}

/// Why a sign-in to `issuer`, as configured, fails at once (the browser is never opened), in
/// an app with the keychain service of `test`.
async fn sign_in_failure(test: &str, mock: &MockOkta, issuer: &str) -> oidc_session::SessionError {
    let service = format!("{SCHEME}.test.{test}.{}", std::process::id());
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = TestSession::start(SessionSetup {
        idp: IdentityProvider {
            issuer: Issuer::new(issuer).unwrap(),
            ..identity_provider(mock, DEFAULT_REQUEST_TIMEOUT)
        },
        config: Config::defaults(SCHEME),
        vault: platform_vault(&service),
        data_dir: data_dir.path(),
        events: RecordedEvents::default(),
    });
    let error = app.manager.sign_in().await.unwrap_err();
    app.stop().await;
    error
}

/// Signs in through `browser` with mock-okta answering as `mode`; returns the callback's
/// `iss` and the sign-in's result code (`None` on success).
async fn sign_in_with_iss(
    harness: &mut Harness,
    browser: &Browser,
    mode: AuthorizationResponseIss,
) -> (Option<String>, Option<&'static str>) {
    harness
        .mock
        .update_faults(|faults| faults.authorization_response_iss = mode);
    // A new start discovers again: what it advertises changes with the mode.
    harness.restart().await;
    let (url, task) = harness.app.begin_sign_in().await;
    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let result = task.await.unwrap();
    if result.is_ok() {
        harness.app.sign_out_now(SignOutMode::AppOnly).await;
    }
    (
        query(&callback, "iss"),
        result.err().map(|error| error.code()),
    )
}

#[tokio::test]
async fn a_sign_in_answer_must_name_the_issuer_it_was_asked_of() {
    for form in ISSUER_FORMS {
        let test = format!("response-iss-{form:?}");
        let mut harness = Harness::start_on_form(&test, form).await;
        let browser = harness.browser();
        let issuer = harness.idp.issuer.to_string();
        let other_server = match form.0 {
            Server::Org => Server::Default,
            Server::Default => Server::Org,
        };
        let other = other_server.issuer(&harness.mock).to_string();

        let (iss, failure) =
            sign_in_with_iss(&mut harness, &browser, AuthorizationResponseIss::Sent).await;
        assert_eq!((iss, failure), (Some(issuer), None), "{test}");

        // A forged answer that names the right issuer and another: refused at once.
        let (url, task) = harness.app.begin_sign_in().await;
        let mut forged = expect_app_redirect(browser.open(url).await.unwrap());
        forged.query_pairs_mut().append_pair("iss", &other);
        assert!(harness.app.manager.handle_deep_link(forged.as_str()));
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.code(), "response_issuer", "{test}");
        assert!(
            error.to_string().contains("named several issuers"),
            "{error}"
        );

        // A mix-up: the answer names another server of the org, which the app did not ask.
        let (iss, failure) = sign_in_with_iss(
            &mut harness,
            &browser,
            AuthorizationResponseIss::OtherIssuer,
        )
        .await;
        assert_eq!(
            (iss, failure),
            (Some(other), Some("response_issuer")),
            "{test}"
        );

        // Advertised but missing.
        let (iss, failure) =
            sign_in_with_iss(&mut harness, &browser, AuthorizationResponseIss::Omitted).await;
        assert_eq!((iss, failure), (None, Some("response_issuer")), "{test}");

        // An older org that does not support it: no `iss`, and that is fine.
        let (iss, failure) = sign_in_with_iss(
            &mut harness,
            &browser,
            AuthorizationResponseIss::NotSupported,
        )
        .await;
        assert_eq!((iss, failure), (None, None), "{test}");
        assert!(harness.vault().load().unwrap().is_none());
    }
}

#[tokio::test]
async fn a_rotated_signing_key_needs_no_restart() {
    for form in ISSUER_FORMS {
        let test = format!("key-rotation-{form:?}");
        let mut harness = Harness::start_on_form(&test, form).await;
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        let fetched = harness.mock.requests_served(Endpoint::Keys);

        harness.mock.rotate_signing_key(false).await;
        harness.app.manager.refresh_now().await.unwrap();
        assert_eq!(
            harness.mock.requests_served(Endpoint::Keys),
            fetched + 1,
            "{test}: the refreshed ID token's unknown key made the app fetch the keys again"
        );
        // The end-session hint is the refreshed ID token, signed with the new key.
        harness.app.sign_out(&browser).await;
        assert_eq!(
            harness.app.events.outcomes()[0].kind,
            OutcomeKind::Completed,
            "{test}"
        );
        harness.app.sign_in(&browser).await;
        assert_eq!(
            harness.mock.requests_served(Endpoint::Keys),
            fetched + 1,
            "{test}"
        );
    }
}

#[tokio::test]
async fn a_rotated_signing_key_okta_cannot_serve_yet_keeps_the_session() {
    for form in ISSUER_FORMS {
        let test = format!("key-rotation-keys-down-{form:?}");
        let mut harness = Harness::start_on_form(&test, form).await;
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        let fetched = harness.mock.requests_served(Endpoint::Keys);

        // Okta's keys endpoint fails just as the key rotates: the connection (TLS, or loopback
        // for an http issuer) vouches for the ID token that the token endpoint sent, and the
        // session goes on.
        harness.mock.rotate_signing_key(false).await;
        harness
            .mock
            .update_faults(|faults| faults.keys.status = Some(503));
        harness.app.manager.refresh_now().await.unwrap();
        assert_eq!(
            harness.mock.requests_served(Endpoint::Keys),
            fetched + 1,
            "{test}"
        );
        assert!(
            matches!(harness.app.manager.view(), SessionView::SignedIn { .. }),
            "{test}"
        );

        // Once Okta serves its keys again, the next ID token is checked against them.
        harness
            .mock
            .update_faults(|faults| faults.keys.status = None);
        harness.app.manager.refresh_now().await.unwrap();
        assert_eq!(
            harness.mock.requests_served(Endpoint::Keys),
            fetched + 2,
            "{test}"
        );
        harness.app.sign_out(&browser).await;
        assert_eq!(
            harness.app.events.outcomes()[0].kind,
            OutcomeKind::Completed,
            "{test}"
        );
    }
}

#[tokio::test]
async fn unknown_signing_keys_are_fetched_at_most_once_a_minute() {
    let mut harness = Harness::start("key-refetch-limit").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let fetched = harness.mock.requests_served(Endpoint::Keys);
    harness.mock.rotate_signing_key(false).await;
    harness.app.manager.refresh_now().await.unwrap();

    harness.mock.rotate_signing_key(false).await;
    let issued_before = harness.mock.tokens().len();
    let error = harness.app.manager.refresh_now().await.unwrap_err();
    assert_eq!(error.code(), "invalid_id_token", "{error}");
    assert_eq!(harness.mock.requests_served(Endpoint::Keys), fetched + 1);
    // Okta rotated the refresh token away with that answer: the session cannot go on, and
    // what Okta issued is revoked.
    assert_eq!(
        harness.app.manager.view(),
        signed_out_because(SignedOutReason::UnverifiedAnswer)
    );
    wait_until_tokens_are_dead(&harness, issued_before).await;
}

#[tokio::test]
async fn discovery_and_keys_are_fetched_again_once_older_than_their_maximum_age() {
    for form in ISSUER_FORMS {
        let test = format!("discovery-max-age-{form:?}");
        let mut harness = Harness::start_on_form(&test, form).await;
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        let fetches = |harness: &Harness| {
            [Endpoint::Discovery, Endpoint::Keys]
                .map(|endpoint| harness.mock.requests_served(endpoint))
        };
        // Younger than the maximum age (a day): the refresh and the replaced token's
        // revocation use what the sign-in fetched.
        let before = fetches(&harness);
        refresh_and_revoke_the_replaced(&harness).await;
        assert_eq!(fetches(&harness), before, "{test}");

        // Always too old: the refresh and the revocation each fetch both again.
        harness.idp.discovery_max_age = Duration::ZERO;
        harness.restart().await;
        harness.app.manager.restored().await.unwrap();
        let before = fetches(&harness);
        refresh_and_revoke_the_replaced(&harness).await;
        assert_eq!(fetches(&harness), before.map(|count| count + 2), "{test}");

        // Okta's discovery failing then is no outage: the older discovery serves both.
        harness
            .mock
            .update_faults(|faults| faults.discovery.status = Some(503));
        refresh_and_revoke_the_replaced(&harness).await;
        assert_eq!(
            fetches(&harness),
            [before[0] + 4, before[1] + 2],
            "{test}: a failed discovery fetches no keys"
        );
        assert!(
            matches!(harness.app.manager.view(), SessionView::SignedIn { .. }),
            "{test}"
        );
    }
}

/// Refreshes the tokens, then waits until the retries revoked the access token the refresh
/// replaced and took it off their queue (so that no revocation is left for later).
async fn refresh_and_revoke_the_replaced(harness: &Harness) {
    let replaced = harness.vault().load().unwrap().unwrap().tokens.access_token;
    harness.app.manager.refresh_now().await.unwrap();
    harness
        .wait_until("the replaced access token revoked", || {
            harness.mock.token(replaced.secret()).unwrap().state == TokenState::Revoked
                && harness
                    .pending()
                    .is_some_and(|pending| pending.to_revoke.is_empty())
        })
        .await;
}

/// Waits until no access or refresh token that mock-okta issued after the first `skipped`
/// is still usable.
async fn wait_until_tokens_are_dead(harness: &Harness, skipped: usize) {
    harness
        .wait_until("the access and refresh tokens revoked", || {
            harness.mock.tokens()[skipped..]
                .iter()
                .all(|token| token.kind == TokenKind::Id || token.state != TokenState::Active)
        })
        .await;
}

#[tokio::test]
async fn every_certificate_of_a_ca_bundle_is_trusted() {
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let other = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let bundle = format!(
        "{}{}",
        other.ca_certificate_pem(),
        mock.ca_certificate_pem()
    );
    let idp = IdentityProvider {
        extra_root_pem: Some(bundle.into_bytes()),
        ..identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT)
    };
    let client = idp.http_client().unwrap();
    for server in [&other, &mock] {
        let discovery = server
            .issuer()
            .join("default/.well-known/openid-configuration")
            .unwrap();
        let status = client.get(discovery).send().await.unwrap().status();
        assert_eq!(status, 200);
    }
    let not_pem = IdentityProvider {
        extra_root_pem: Some(b"not a certificate".to_vec()),
        ..idp
    };
    assert_eq!(not_pem.http_client().unwrap_err().code(), "configuration");
}

/// In the child of [`a_ca_only_the_system_store_knows_is_trusted`]: the issuer to sign in to.
const SYSTEM_STORE_ISSUER_VAR: &str = "REAL_OKTA_TEST_ISSUER";
/// In that child: mock-okta's CA certificate, for the scripted browser only.
const SYSTEM_STORE_CA_VAR: &str = "REAL_OKTA_TEST_CA";

#[tokio::test]
async fn a_ca_only_the_system_store_knows_is_trusted() {
    if let Ok(issuer) = std::env::var(SYSTEM_STORE_ISSUER_VAR) {
        return sign_in_trusting_the_system_store_only(&issuer).await;
    }
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("corporate-ca.pem");
    std::fs::write(&ca_file, mock.ca_certificate_pem()).unwrap();
    let child = |system_store: Option<&std::path::Path>| {
        let mut command = tokio::process::Command::from(crate::rerun(
            "real_okta::a_ca_only_the_system_store_knows_is_trusted",
        ));
        command
            .env(SYSTEM_STORE_ISSUER_VAR, mock.issuer().as_str())
            .env(SYSTEM_STORE_CA_VAR, &ca_file)
            .env_remove("SSL_CERT_DIR");
        match system_store {
            // On Linux the system store is the files these name.
            Some(file) => command.env("SSL_CERT_FILE", file),
            None => command.env_remove("SSL_CERT_FILE"),
        };
        command.output()
    };
    let trusted = child(Some(&ca_file)).await.unwrap();
    assert!(
        trusted.status.success(),
        "{}{}",
        String::from_utf8_lossy(&trusted.stdout),
        String::from_utf8_lossy(&trusted.stderr)
    );
    // The control: the machine's own store does not know mock-okta's CA.
    let untrusted = child(None).await.unwrap();
    assert!(!untrusted.status.success());
    let output = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        output.contains("Okta's certificate at") && output.contains("is not trusted"),
        "{output}"
    );
}

/// A whole sign-in with no `ca_file`: only the operating system's store can make Okta's
/// certificate trusted.
async fn sign_in_trusting_the_system_store_only(issuer: &str) {
    let ca = std::fs::read_to_string(std::env::var(SYSTEM_STORE_CA_VAR).unwrap()).unwrap();
    let service = format!("{SCHEME}.test.system-store.{}", std::process::id());
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = TestSession::start(SessionSetup {
        idp: IdentityProvider {
            issuer: Issuer::new(issuer).unwrap(),
            client_id: mock_okta::DEMO_CLIENT_ID.to_owned(),
            extra_root_pem: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            discovery_max_age: DISCOVERY_MAX_AGE,
        },
        config: Config::defaults(SCHEME),
        vault: platform_vault(&service),
        data_dir: data_dir.path(),
        events: RecordedEvents::default(),
    });
    let signed_in = async {
        let browser = Browser::new(&ca)
            .unwrap()
            .with_credentials(DEMO_USERNAME, DEMO_PASSWORD);
        let mut task = tokio::spawn({
            let manager = app.manager.clone();
            async move { manager.sign_in().await }
        });
        let url = tokio::select! {
            url = app.next_opened() => url,
            result = &mut task => panic!("{}", oidc_session::error_chain(&result.unwrap().unwrap_err())),
        };
        let callback = expect_app_redirect(browser.open(url).await.unwrap());
        assert!(app.manager.handle_deep_link(callback.as_str()));
        task.await.unwrap().unwrap();
    };
    signed_in.await;
    app.manager.restored().await.unwrap();
    app.sign_out_now(SignOutMode::AppOnly).await;
    app.stop().await;
}

/// Signs in through `browser`, whose Okta session must not let it in without a password:
/// `prompt=login` is sent, and the form shows even with a live session. Returns Okta's
/// session afterwards.
async fn sign_in_with_a_password(harness: &mut Harness, browser: &mut Browser) -> SessionInfo {
    let (url, task) = harness.app.begin_sign_in().await;
    assert_eq!(query(&url, "prompt").as_deref(), Some("login"));
    browser.clear_credentials();
    assert!(matches!(
        browser.open(url.clone()).await.unwrap(),
        Landing::Page { status: 200, .. }
    ));
    browser.set_credentials(DEMO_USERNAME, DEMO_PASSWORD);
    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    let sessions = harness.mock.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].authenticated_by, Authentication::Password);
    sessions[0].clone()
}

/// The outcome of the last sign-out says the next sign-in asks for a password.
fn assert_password_required_after(harness: &Harness, kind: OutcomeKind) {
    let outcome = harness.app.events.outcomes().pop().unwrap();
    assert_eq!(outcome.kind, kind);
    assert!(outcome.password_required, "{}", outcome.message);
    assert!(outcome
        .message
        .contains("next sign-in here asks you to sign in to Okta again"));
}

#[tokio::test]
async fn after_a_sign_out_okta_did_not_confirm_the_next_sign_in_asks_for_a_password() {
    let mut harness = Harness::start("fresh-login").await;
    let mut browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let first = harness.mock.sessions();

    // Okta's end-session page hangs (the app's preflight went through), and the person stops
    // waiting: the browser's Okta session lives on.
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    let logout = harness.app.next_opened().await;
    let reached = harness.mock.requests_served(Endpoint::Logout);
    harness
        .mock
        .update_faults(|faults| faults.logout.latency_ms = 3_600_000);
    let hung = tokio::spawn({
        let browser = browser.clone();
        async move { browser.open(logout).await }
    });
    harness
        .wait_until("the browser to reach Okta's end-session page", || {
            harness.mock.requests_served(Endpoint::Logout) > reached
        })
        .await;
    harness.app.manager.cancel();
    task.await.unwrap().unwrap();
    assert_password_required_after(&harness, OutcomeKind::Cancelled);
    hung.abort();
    harness
        .mock
        .update_faults(|faults| faults.logout.latency_ms = 0);
    assert_eq!(harness.mock.sessions(), first, "Okta's session lives on");

    // The app remembers across a restart, and says so.
    harness.restart().await;
    assert_eq!(
        harness.app.manager.restored().await.unwrap(),
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: true,
        }
    );
    let second = sign_in_with_a_password(&mut harness, &mut browser).await;
    assert_ne!(second.id, first[0].id, "a new Okta session");

    // The browser never gets to Okta at all: its Okta session lives on, and still the next
    // sign-in needs the password.
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness.app.next_opened().await;
    harness.app.manager.cancel();
    task.await.unwrap().unwrap();
    assert_password_required_after(&harness, OutcomeKind::Cancelled);
    assert_eq!(harness.mock.sessions(), std::slice::from_ref(&second));
    let third = sign_in_with_a_password(&mut harness, &mut browser).await;
    assert_ne!(third.id, second.id, "a new Okta session");

    // Once a password was typed, sign-in is silent again.
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            password_required: false,
            ..
        }
    ));
    let (url, task) = harness.app.begin_sign_in().await;
    assert_eq!(query(&url, "prompt"), None);
    browser.clear_credentials();
    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    assert_eq!(harness.mock.sessions(), [third], "silent SSO");
}

#[tokio::test]
async fn use_another_account_asks_for_a_password_whatever_session_the_browser_has() {
    let mut harness = Harness::start("another-account").await;
    let mut browser = harness.browser();
    harness.app.sign_in(&browser).await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;

    let manager = harness.app.manager.clone();
    let task = tokio::spawn(async move { manager.sign_in_with_another_account().await });
    let url = harness.app.next_opened().await;
    assert_eq!(query(&url, "prompt").as_deref(), Some("login"));
    // Ada's Okta session lives in the browser, yet Okta shows the form.
    browser.clear_credentials();
    assert!(matches!(
        browser.open(url.clone()).await.unwrap(),
        Landing::Page { status: 200, .. }
    ));
    browser.set_credentials(DEMO_SECOND_USERNAME, DEMO_PASSWORD);
    let callback = expect_app_redirect(browser.open(url).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let user = task.await.unwrap().unwrap();
    assert_eq!(user.email.as_deref(), Some(DEMO_SECOND_USERNAME));
}

#[tokio::test]
async fn the_app_signs_out_when_the_organization_ends_the_session() {
    let mut harness = Harness::start("organization-ended").await;
    // Short-lived access tokens: the app renews them in the background, about every second.
    harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 2);
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let issued = harness.mock.requests_served(Endpoint::Token);
    harness
        .wait_until("a background refresh", || {
            harness.mock.requests_served(Endpoint::Token) > issued
        })
        .await;
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedIn { .. }
    ));

    // An administrator clears Ada's sessions in the Okta admin console.
    let cleared = harness.mock.clear_user_sessions(DEMO_USERNAME);
    assert!(cleared.tokens > 0);
    let ended = signed_out_because(SignedOutReason::EndedByOrganization);
    harness
        .wait_until("the app to sign out", || {
            harness.app.manager.view() == ended
        })
        .await;
    assert!(harness.vault().load().unwrap().is_none());
    assert!(harness
        .app
        .events
        .views()
        .last()
        .unwrap()
        .contains("ended_by_organization"));
}

#[tokio::test]
async fn offline_the_session_stays_and_the_refresh_is_tried_again() {
    let mut harness = Harness::start("refresh-offline").await;
    harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 2);
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;

    // Okta's token endpoint out of reach: each background refresh loses its connection.
    let since = harness.mock.journal_position();
    harness
        .mock
        .update_faults(|faults| faults.token.drop_connection = true);
    let failed_refreshes = |harness: &Harness| {
        harness
            .mock
            .requests(since)
            .iter()
            .filter(|entry| {
                entry.endpoint == Some(Endpoint::Token)
                    && entry.outcome == "fault: connection dropped"
            })
            .count()
    };
    harness
        .wait_until("a failed background refresh", || {
            failed_refreshes(&harness) >= 1
        })
        .await;
    // The refresh loop is sequential: whatever it did before has landed by now.
    let stored = harness.vault().load().unwrap().unwrap();
    let heard = harness.app.events.views().len();
    harness
        .wait_until("the refresh tried again", || {
            failed_refreshes(&harness) >= 2
        })
        .await;
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedIn { .. }
    ));
    assert_eq!(
        harness.vault().load().unwrap().unwrap().tokens.access_token,
        stored.tokens.access_token
    );
    assert_eq!(
        harness.app.events.views().len(),
        heard,
        "the window heard of nothing"
    );
    assert!(harness.app.events.outcomes().is_empty());

    harness
        .mock
        .update_faults(|faults| faults.token.drop_connection = false);
    harness
        .wait_until("the refreshed tokens in the keychain", || {
            harness
                .vault()
                .load()
                .unwrap()
                .is_some_and(|session| session.tokens.access_token != stored.tokens.access_token)
        })
        .await;
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedIn { .. }
    ));
}

#[tokio::test]
async fn a_refresh_that_names_another_person_ends_the_session() {
    let mut harness = Harness::start("refresh-subject").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    harness
        .mock
        .update_faults(|faults| faults.refresh_changes_subject = true);
    let error = harness.app.manager.refresh_now().await.unwrap_err();
    assert_eq!(error.code(), "identity_changed", "{error}");
    assert_identity_change_ended_the_session(&harness).await;
}

#[tokio::test]
async fn a_refresh_that_names_another_issuer_ends_the_session() {
    let mut harness = Harness::start("refresh-issuer").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    harness
        .mock
        .update_faults(|faults| faults.refresh_changes_issuer = true);
    let error = harness.app.manager.refresh_now().await.unwrap_err();
    assert_eq!(error.code(), "identity_changed", "{error}");
    assert_identity_change_ended_the_session(&harness).await;
}

/// The app signed out for a refresh that named another person or issuer: nothing is left in
/// the keychain, every token (those of that answer too) is revoked, and the next sign-in asks
/// for a password.
async fn assert_identity_change_ended_the_session(harness: &Harness) {
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: Some(SignedOutReason::IdentityChanged),
            signing_out: false,
            password_required: true,
        }
    );
    assert!(harness.vault().load().unwrap().is_none());
    wait_until_tokens_are_dead(harness, 0).await;
}
