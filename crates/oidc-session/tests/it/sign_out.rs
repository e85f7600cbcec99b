//! Sign-out against mock-okta over real HTTP(S), asserting through mock-okta's inspection of
//! its sessions, tokens and revocations, with the tokens in the real Secret Service.

use std::time::Duration;

use mock_okta::browser::Browser;
use mock_okta::{Endpoint, ExpiredHintPolicy, TokenState, UNREGISTERED_POST_LOGOUT_REDIRECT_URI};
use oidc_session::vault::QueuedToken;
use oidc_session::{
    Config, OutcomeKind, SessionView, SignOutMode, SignOutOutcome, SignOutStep, SignedOutReason,
};
use session_testkit::{
    assert_revoked_refresh_then_access, expect_app_redirect, query, Harness, Server, SCHEME,
};
use url::Url;

/// A harness with ada signed in through `browser`; returns the live token values.
async fn signed_in(test: &str, config: Config) -> (Harness, Browser, Vec<String>) {
    let mut harness = Harness::start_with(test, config).await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let stored = harness.vault().load().unwrap().unwrap();
    let tokens = vec![
        stored
            .tokens
            .refresh_token
            .as_ref()
            .unwrap()
            .secret()
            .to_owned(),
        stored.tokens.access_token.secret().to_owned(),
    ];
    assert_eq!(harness.mock.sessions().len(), 1, "ada's Okta session");
    (harness, browser, tokens)
}

fn token_state(harness: &Harness, token: &str) -> TokenState {
    harness
        .mock
        .token(token)
        .expect("a token mock-okta issued")
        .state
}

/// How long the ID tokens of tests that need an expired one live: long enough for a sign-in on
/// a busy machine (a 1 s token could expire before the app verified it), short enough to wait
/// out (expiry is in whole seconds: 1.1 s more).
const SHORT_ID_TOKEN: Duration = Duration::from_secs(4);

/// The `state` of the sign-out waiting on the browser: its preflight showed it to mock-okta
/// (the browser's page posts it, and its URL holds none).
fn sign_out_state(harness: &Harness) -> String {
    let events = harness.mock.logout_events();
    events
        .last()
        .and_then(|event| event.state.clone())
        .expect("a preflight")
}

/// The one outcome a finished sign-out reported.
fn only_outcome(harness: &Harness) -> SignOutOutcome {
    let outcomes = harness.app.events.outcomes();
    assert_eq!(
        outcomes.len(),
        1,
        "exactly one signed-out event: {outcomes:?}"
    );
    outcomes[0].clone()
}

/// The app session is gone: nothing in memory, nothing in the keychain's session entry.
fn assert_app_session_gone(harness: &Harness) {
    assert!(
        matches!(harness.app.manager.view(), SessionView::SignedOut { .. }),
        "{:?}",
        harness.app.manager.view()
    );
    assert!(
        harness.vault().load().unwrap().is_none(),
        "the keychain still holds the session"
    );
}

fn short_sign_out_timeout() -> Config {
    let mut config = Config::defaults(SCHEME);
    config.sign_out_timeout = Duration::from_secs(2);
    config
}

/// The values of `tokens`, in order.
fn values(tokens: &[QueuedToken]) -> Vec<String> {
    tokens
        .iter()
        .map(|queued| queued.token.secret().to_owned())
        .collect()
}

/// Has Okta answer revocations with 503 while `refuse` holds, so that what the app queued
/// stays queued for a test to see (its retries run all along).
fn refuse_revocations(harness: &Harness, refuse: bool) {
    harness
        .mock
        .update_faults(|faults| faults.revoke.status = refuse.then_some(503));
}

/// Waits until the app's revocation retries revoked `revoked` and nothing is queued any more.
async fn retry_revocations_until(harness: &Harness, revoked: &[String]) {
    harness
        .wait_until("the queued revocations", || {
            revoked
                .iter()
                .all(|token| token_state(harness, token) == TokenState::Revoked)
        })
        .await;
    harness
        .wait_until("the queue to empty", || {
            harness
                .pending()
                .is_none_or(|pending| pending.to_revoke.is_empty())
        })
        .await;
}

#[tokio::test]
async fn full_sign_out_ends_both_sessions_and_revokes_both_tokens() {
    let (mut harness, browser, tokens) = signed_in("full", Config::defaults(SCHEME)).await;
    let signed_in_at = harness.mock.journal_position();
    let task = harness.app.begin_sign_out(SignOutMode::Full);

    // The browser gets a one-time page on this machine, whose URL (the browser's command line,
    // its history) holds no token; the page posts the end-session request to Okta.
    let logout = harness.app.next_opened().await;
    assert_eq!(logout.host_str(), Some("127.0.0.1"), "{logout}");
    assert_eq!(logout.query(), None, "{logout}");
    // By the time the browser opens, the app session is gone and the tokens are revoked.
    assert_app_session_gone(&harness);
    assert!(
        harness.journal().read().unwrap().is_some(),
        "the sign-out is journaled"
    );
    for token in &tokens {
        assert_eq!(token_state(&harness, token), TokenState::Revoked);
    }

    let callback = expect_app_redirect(browser.open(logout).await.unwrap());
    // openidconnect's RP-initiated logout request, as a form POST to the advertised
    // end-session endpoint, with our state and redirect URI.
    // (After the app's cookie-less preflight GET, which had no session to end.)
    let logouts = harness.mock.logout_events();
    let methods: Vec<_> = logouts
        .iter()
        .map(|event| (event.method.as_str(), event.had_session))
        .collect();
    assert_eq!(methods, [("GET", false), ("POST", true)], "{logouts:?}");
    assert!(logouts[1].issuer.ends_with("/oauth2/default"));
    assert_eq!(
        logouts[1].post_logout_redirect_uri.as_deref(),
        Some("com.example.oktasignout:/logout/callback")
    );
    let state = logouts[1].state.clone().expect("a state");
    assert_eq!(query(&callback, "state").as_deref(), Some(state.as_str()));
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));

    task.await.unwrap().unwrap();

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Completed, "{outcome:?}");
    assert!(!outcome.revocation_pending);
    assert_app_session_gone(&harness);
    assert!(harness.pending().is_none(), "nothing left to revoke");
    assert!(
        harness.journal().read().unwrap().is_none(),
        "the journal is cleared"
    );
    assert!(harness.mock.sessions().is_empty(), "Okta's session ended");
    assert_revoked_refresh_then_access(&harness.mock, signed_in_at, &tokens, "/oauth2/default");
    // A replay of the callback finds nothing waiting, and reports nothing more.
    assert!(!harness.app.manager.handle_deep_link(callback.as_str()));
    assert_eq!(harness.app.events.outcomes().len(), 1);
    let views = harness.app.events.views();
    assert!(
        views
            .iter()
            .any(|view| view.contains("\"signingOut\":true")),
        "the window heard of the local sign-out first: {views:?}"
    );
}

#[tokio::test]
async fn app_only_sign_out_keeps_the_okta_session_for_silent_sso() {
    let (mut harness, browser, tokens) = signed_in("app-only", Config::defaults(SCHEME)).await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::SignedOutOfAppOnly, "{outcome:?}");
    assert_app_session_gone(&harness);
    assert!(harness.pending().is_none());
    assert!(
        harness.app.opened.try_recv().is_err(),
        "no browser for an app-only sign-out"
    );
    for token in &tokens {
        assert_eq!(token_state(&harness, token), TokenState::Revoked);
    }
    assert_eq!(
        harness.mock.sessions().len(),
        1,
        "Okta's session is still alive"
    );

    // The next sign-in needs no password: the browser's Okta session signs in silently.
    let mut silent = browser.clone();
    silent.clear_credentials();
    let user = harness.app.sign_in(&silent).await;
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn signing_out_twice_or_while_signed_out_is_harmless() {
    let (mut harness, browser, _) = signed_in("twice", Config::defaults(SCHEME)).await;
    let first = harness.app.begin_sign_out(SignOutMode::Full);
    let _logout = harness.app.next_opened().await;
    // A double click, and a sign-in while the sign-out runs.
    harness.app.sign_out_now(SignOutMode::Full).await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    let busy = harness.app.manager.sign_in().await.unwrap_err();
    assert_eq!(busy.code(), "busy");
    harness.app.manager.cancel();
    first.await.unwrap().unwrap();
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::Cancelled);
    harness.app.sign_out_now(SignOutMode::Full).await;
    assert_eq!(
        harness.app.events.outcomes().len(),
        1,
        "signed out already: no second event"
    );
    drop(browser);
}

#[tokio::test]
async fn with_the_idp_hung_the_app_session_is_gone_before_any_network_step_ends() {
    let (harness, _browser, tokens) = signed_in("hung", Config::defaults(SCHEME)).await;
    harness
        .mock
        .update_faults(|faults| faults.revoke.latency_ms = 600_000);
    let task = harness.app.begin_sign_out(SignOutMode::Full);

    // The view turns "signing out" as the sign-out starts, a moment before the keychain
    // entry goes: wait for the journaled end of the local part instead.
    harness
        .wait_until("the local sign-out", || {
            let steps = harness.app.events.steps();
            steps
                .iter()
                .any(|(step, _)| *step == SignOutStep::LocalDone)
        })
        .await;
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: None,
            signing_out: true,
            password_required: false,
        }
    );
    assert!(
        harness.vault().load().unwrap().is_none(),
        "the keychain entry is gone"
    );
    let pending = harness.pending().expect("tokens queued");
    assert_eq!(pending.to_revoke.len(), 2);
    assert!(!task.is_finished(), "the revocation is still hanging");
    assert!(harness.app.events.outcomes().is_empty());
    for token in &tokens {
        assert_eq!(
            token_state(&harness, token),
            TokenState::Active,
            "not revoked yet"
        );
    }

    harness.app.manager.cancel();
    task.await.unwrap().unwrap();
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Cancelled);
    assert!(outcome.revocation_pending, "{outcome:?}");
    assert_app_session_gone(&harness);
}

#[tokio::test]
async fn offline_sign_out_queues_the_revocations_until_okta_is_back() {
    let (harness, _browser, tokens) = signed_in("offline", Config::defaults(SCHEME)).await;
    harness.mock.go_offline().await;
    harness.app.sign_out_now(SignOutMode::Full).await;

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Offline, "{outcome:?}");
    assert!(outcome.revocation_pending);
    assert!(
        outcome.message.contains("Okta cannot be reached"),
        "{}",
        outcome.message
    );
    assert_app_session_gone(&harness);
    assert_eq!(harness.pending().unwrap().to_revoke.len(), 2);
    assert!(harness.journal().read().unwrap().is_none());

    harness.mock.go_online().await.unwrap();
    retry_revocations_until(&harness, &tokens).await;
    assert!(harness.pending().is_none());
}

#[tokio::test]
async fn a_5xx_at_revoke_still_ends_the_okta_session_and_retries_later() {
    let (mut harness, browser, tokens) = signed_in("revoke-5xx", Config::defaults(SCHEME)).await;
    harness
        .mock
        .update_faults(|faults| faults.revoke.status = Some(503));
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness.app.browser_completes_logout(&browser).await;
    task.await.unwrap().unwrap();

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Completed, "{outcome:?}");
    assert!(outcome.revocation_pending);
    assert!(harness.mock.sessions().is_empty());
    assert_eq!(token_state(&harness, &tokens[0]), TokenState::Active);

    harness
        .mock
        .update_faults(|faults| faults.revoke.status = None);
    retry_revocations_until(&harness, &tokens).await;
}

#[tokio::test]
async fn an_unregistered_sign_out_redirect_fails_the_preflight_with_what_to_fix() {
    let mut config = Config::defaults(SCHEME);
    config.post_logout_redirect_uri = Url::parse("com.example.oktasignout:/bye").unwrap();
    let (mut harness, _browser, tokens) = signed_in("unregistered", config).await;
    harness.app.sign_out_now(SignOutMode::Full).await;

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::PreflightFailed, "{outcome:?}");
    // Okta's own words, from its error page's fields: they say where to fix it.
    assert!(
        outcome.message.contains(&format!(
            "invalid_request: {UNREGISTERED_POST_LOGOUT_REDIRECT_URI}"
        )),
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains("com.example.oktasignout:/bye"),
        "{}",
        outcome.message
    );
    assert!(
        harness.app.opened.try_recv().is_err(),
        "no browser sent to an error page"
    );
    assert_app_session_gone(&harness);
    for token in &tokens {
        assert_eq!(token_state(&harness, token), TokenState::Revoked);
    }
}

#[tokio::test]
async fn a_logout_error_page_fails_the_preflight() {
    let (harness, _browser, _) = signed_in("error-page", Config::defaults(SCHEME)).await;
    harness
        .mock
        .update_faults(|faults| faults.logout_error_page = true);
    harness.app.sign_out_now(SignOutMode::Full).await;
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::PreflightFailed, "{outcome:?}");
    assert_app_session_gone(&harness);
}

#[tokio::test]
async fn an_unregistered_scheme_fails_the_preflight() {
    let (harness, _browser, _) = signed_in("scheme", Config::defaults(SCHEME)).await;
    harness.app.desktop.set_scheme_registered(false);
    harness.app.sign_out_now(SignOutMode::Full).await;
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::PreflightFailed, "{outcome:?}");
    assert!(
        outcome.message.contains("com.example.oktasignout: links"),
        "{}",
        outcome.message
    );
    assert_eq!(
        harness.mock.sessions().len(),
        1,
        "Okta's session was not touched"
    );
}

#[tokio::test]
async fn a_logout_interstitial_is_followed_to_completion() {
    let (mut harness, browser, _) = signed_in("interstitial", Config::defaults(SCHEME)).await;
    harness
        .mock
        .update_faults(|faults| faults.logout_interstitial = true);
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness.app.browser_completes_logout(&browser).await;
    task.await.unwrap().unwrap();
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::Completed);
    assert!(harness.mock.sessions().is_empty());
}

#[tokio::test]
async fn a_logout_that_never_redirects_times_out_with_a_plain_message() {
    let (mut harness, browser, _) = signed_in("never", short_sign_out_timeout()).await;
    let task = harness.begin_unconfirmed_sign_out(&browser).await;
    task.await.unwrap().unwrap();
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert!(
        outcome.message.starts_with(
            "Signed out of this app; Okta did not confirm — your browser may still be signed in"
        ),
        "{}",
        outcome.message
    );
    assert_app_session_gone(&harness);
}

#[tokio::test]
async fn forged_states_are_ignored_while_waiting_for_okta() {
    let (mut harness, browser, _) = signed_in("forged", Config::defaults(SCHEME)).await;
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    let logout = harness.app.next_opened().await;
    for forged in [
        format!("{SCHEME}:/logout/callback?state=forged"),
        format!("{SCHEME}:/logout/callback"),
        format!(
            "{SCHEME}:/callback?code=x&state={}",
            sign_out_state(&harness)
        ),
    ] {
        assert!(!harness.app.manager.handle_deep_link(&forged), "{forged}");
    }
    assert!(harness.app.events.outcomes().is_empty(), "still waiting");
    let callback = expect_app_redirect(browser.open(logout).await.unwrap());
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::Completed);
}

#[tokio::test]
async fn an_error_on_the_way_back_is_okta_s_message() {
    let (mut harness, _browser, _) = signed_in("idp-error", Config::defaults(SCHEME)).await;
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness.app.next_opened().await;
    let state = sign_out_state(&harness);
    let error = format!("{SCHEME}:/logout/callback?state={state}&error=server_error&error_description=The+session+could+not+be+ended.");
    assert!(harness.app.manager.handle_deep_link(&error));
    task.await.unwrap().unwrap();
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::IdpError);
    assert!(
        outcome
            .message
            .contains("Okta reported: The session could not be ended."),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn an_expired_id_token_is_refreshed_before_okta_sees_it() {
    // Also with DPoP: the sign-out's refresh proves with the key that left the keychain at
    // its first step.
    for dpop in [false, true] {
        let test = format!("expired-refresh-dpop-{dpop}");
        let mock_config = mock_okta::Config::default().with_dpop_required(dpop);
        let config = Config {
            dpop,
            ..Config::defaults(SCHEME)
        };
        let mut harness = Harness::start_against(&test, config, mock_config, Server::Default).await;
        harness.update_lifetimes(|lifetimes| lifetimes.id_token_secs = SHORT_ID_TOKEN.as_secs());
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        let stored = harness.vault().load().unwrap().unwrap();
        let refresh_token = stored.tokens.refresh_token.unwrap().secret().to_owned();
        harness
            .mock
            .update_faults(|faults| faults.expired_id_token_hint = ExpiredHintPolicy::Reject);
        tokio::time::sleep(SHORT_ID_TOKEN + Duration::from_millis(1100)).await;
        harness.update_lifetimes(|lifetimes| lifetimes.id_token_secs = 3600);

        let task = harness.app.begin_sign_out(SignOutMode::Full);
        harness.app.browser_completes_logout(&browser).await;
        task.await.unwrap().unwrap();
        let outcome = only_outcome(&harness);
        assert_eq!(outcome.kind, OutcomeKind::Completed, "{test}: {outcome:?}");
        assert!(!outcome.expired_id_token_hint, "{test}");
        // The refresh gave new tokens; they are revoked with the old ones.
        assert_eq!(
            token_state(&harness, &refresh_token),
            TokenState::Revoked,
            "{test}"
        );
        assert!(
            harness
                .mock
                .tokens()
                .iter()
                .filter(|token| token.kind != mock_okta::TokenKind::Id)
                .all(|token| token.state != TokenState::Active && token.dpop_jkt.is_some() == dpop),
            "{test}: {:#?}",
            harness.mock.tokens()
        );
    }
}

#[tokio::test]
async fn an_expired_id_token_without_refresh_is_sent_and_said() {
    let mut config = Config::defaults(SCHEME);
    config.scopes = vec!["openid".into(), "profile".into(), "email".into()];
    let mut harness = Harness::start_with("expired-hint", config).await;
    harness.update_lifetimes(|lifetimes| lifetimes.id_token_secs = SHORT_ID_TOKEN.as_secs());
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    tokio::time::sleep(SHORT_ID_TOKEN + Duration::from_millis(1100)).await;

    // This org accepts expired hints (mock-okta's default).
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness.app.browser_completes_logout(&browser).await;
    task.await.unwrap().unwrap();
    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Completed, "{outcome:?}");
    assert!(outcome.expired_id_token_hint);
    assert!(outcome.message.contains("expired"), "{}", outcome.message);
    assert!(harness.mock.sessions().is_empty());
}

/// The session timeouts sign out of the app by themselves (and revoke the tokens); the
/// validated configuration allows a minute at least, the test sets seconds directly.
async fn signed_out_by_timeout(test: &str, config: Config, reason: SignedOutReason) {
    let (harness, _browser, tokens) = signed_in(test, config).await;
    harness
        .wait_until("the timeout's sign-out", || {
            !harness.app.events.outcomes().is_empty()
        })
        .await;
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::SignedOutOfAppOnly);
    assert_eq!(
        harness.app.manager.view(),
        SessionView::SignedOut {
            reason: Some(reason),
            signing_out: false,
            password_required: false,
        }
    );
    assert_app_session_gone(&harness);
    for token in &tokens {
        assert_eq!(token_state(&harness, token), TokenState::Revoked);
    }
    assert_eq!(
        harness.mock.sessions().len(),
        1,
        "the browser's Okta session is left alone"
    );
}

#[tokio::test]
async fn the_absolute_timeout_signs_out_of_the_app() {
    let mut config = Config::defaults(SCHEME);
    config.absolute_timeout = Some(Duration::from_secs(2));
    signed_out_by_timeout("absolute-timeout", config, SignedOutReason::Expired).await;
}

#[tokio::test]
async fn the_idle_timeout_signs_out_of_the_app() {
    let mut config = Config::defaults(SCHEME);
    config.idle_timeout = Some(Duration::from_secs(2));
    signed_out_by_timeout("idle-timeout", config, SignedOutReason::Idle).await;
}

#[tokio::test]
async fn activity_keeps_an_idle_session_alive() {
    let mut config = Config::defaults(SCHEME);
    config.idle_timeout = Some(Duration::from_secs(2));
    let (harness, _browser, _) = signed_in("activity", config).await;
    for _ in 0..8 {
        harness.app.manager.record_activity();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        harness.app.events.outcomes().is_empty(),
        "{:?}",
        harness.app.events.outcomes()
    );
    assert!(matches!(
        harness.app.manager.view(),
        SessionView::SignedIn { .. }
    ));
}

#[tokio::test]
async fn tokens_queued_by_an_offline_sign_out_survive_the_next_sign_out() {
    let (mut harness, browser, first) = signed_in("queued-twice", Config::defaults(SCHEME)).await;
    harness.mock.go_offline().await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::Offline);
    // Back, but refusing revocations: the first tokens still wait when the person signs in
    // again, and the next sign-out queues its own beside them.
    refuse_revocations(&harness, true);
    harness.mock.go_online().await.unwrap();
    harness.app.sign_in(&browser).await;
    for token in &first {
        assert_eq!(token_state(&harness, token), TokenState::Active);
    }
    refuse_revocations(&harness, false);
    let stored = harness.vault().load().unwrap().unwrap();
    let second = [
        stored.tokens.refresh_token.unwrap().secret().to_owned(),
        stored.tokens.access_token.secret().to_owned(),
    ];
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    assert_eq!(
        harness.app.events.outcomes()[1].kind,
        OutcomeKind::SignedOutOfAppOnly
    );
    for token in first.iter().chain(&second) {
        assert_eq!(token_state(&harness, token), TokenState::Revoked);
    }
    assert!(harness.pending().is_none());
}

#[tokio::test]
async fn stopping_while_the_id_token_is_refreshed_still_revokes_the_fresh_tokens() {
    let mut harness = Harness::start("cancel-refresh").await;
    harness.update_lifetimes(|lifetimes| lifetimes.id_token_secs = SHORT_ID_TOKEN.as_secs());
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    tokio::time::sleep(SHORT_ID_TOKEN + Duration::from_millis(1100)).await;
    // The refresh is slow: the person stops waiting while Okta is issuing new tokens. Okta
    // refuses revocations meanwhile, so that the retries, woken by the cancelled sign-out,
    // cannot revoke the refresh token while it is being used.
    harness
        .mock
        .update_faults(|faults| faults.token.latency_ms = 1_000);
    refuse_revocations(&harness, true);
    let renewals = harness.mock.requests_served(Endpoint::Token);
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness
        .wait_until("the renewal to reach Okta", || {
            harness.mock.requests_served(Endpoint::Token) > renewals
        })
        .await;
    harness.app.manager.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(only_outcome(&harness).kind, OutcomeKind::Cancelled);

    // Okta answers the refresh after the cancel: a second pair of tokens exists, and the
    // retries, already running, revoke it with the first once Okta takes revocations again.
    harness
        .wait_until("the refresh to be answered and queued", || {
            harness.revocable_token_states().len() == 4
                && harness
                    .pending()
                    .is_some_and(|pending| pending.to_revoke.len() == 4)
        })
        .await;
    refuse_revocations(&harness, false);
    harness
        .wait_until("every access and refresh token revoked", || {
            harness
                .revocable_token_states()
                .iter()
                .all(|state| *state != TokenState::Active)
        })
        .await;
    harness
        .wait_until("the queue to empty", || harness.pending().is_none())
        .await;
}

/// The retries, already running, revoke the queued tokens while the sign-out waits for Okta to
/// renew an expired ID token, and the person stops waiting then: the queue is empty, but the
/// renewal may still issue tokens, so the outcome must not say that nothing waits.
#[tokio::test]
async fn stopping_while_the_retries_empty_the_queue_and_a_renewal_is_under_way_is_not_done() {
    let mut harness = Harness::start("stop-mid-renewal").await;
    harness.update_lifetimes(|lifetimes| lifetimes.id_token_secs = SHORT_ID_TOKEN.as_secs());
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let tokens: Vec<String> = harness
        .vault()
        .load()
        .unwrap()
        .unwrap()
        .tokens
        .revocable()
        .iter()
        .map(|token| token.secret().to_owned())
        .collect();
    tokio::time::sleep(SHORT_ID_TOKEN + Duration::from_millis(1100)).await;
    harness
        .mock
        .update_faults(|faults| faults.token.latency_ms = 5_000);
    let renewals = harness.mock.requests_served(Endpoint::Token);
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness
        .wait_until("the renewal to reach Okta", || {
            harness.mock.requests_served(Endpoint::Token) > renewals
        })
        .await;
    harness.app.manager.retry_revocations();
    harness
        .wait_until("the retries to revoke the queued tokens", || {
            tokens
                .iter()
                .all(|token| token_state(&harness, token) == TokenState::Revoked)
                && harness
                    .pending()
                    .is_some_and(|pending| pending.to_revoke.is_empty())
        })
        .await;
    harness.app.manager.cancel();
    task.await.unwrap().unwrap();

    let outcome = only_outcome(&harness);
    assert_eq!(outcome.kind, OutcomeKind::Cancelled);
    assert!(
        outcome.revocation_pending,
        "the renewal under way may still issue tokens: {outcome:?}"
    );
    // Whatever it brings is revoked, without a restart.
    harness
        .wait_until("nothing left to revoke", || {
            harness
                .pending()
                .is_none_or(|pending| pending.to_revoke.is_empty())
                && harness
                    .revocable_token_states()
                    .iter()
                    .all(|state| *state != TokenState::Active)
        })
        .await;
}

#[tokio::test]
async fn a_sign_out_cut_short_after_its_delete_revokes_the_tokens_at_the_next_start() {
    let (mut harness, _browser, tokens) =
        signed_in("cut-after-delete", Config::defaults(SCHEME)).await;
    let pending = harness.pending().expect("staged");
    assert_eq!(values(&pending.staged), tokens, "staged at sign-in");
    assert!(
        pending.to_revoke.is_empty(),
        "nothing queued while signed in"
    );

    // A sign-out's first keychain step (the session entry deleted), then the app dies. Okta
    // refuses revocations for a while, so that the queue can be seen.
    harness.vault().delete().unwrap();
    refuse_revocations(&harness, true);
    harness.restart().await;
    let view = harness.app.manager.restored().await.unwrap();
    assert_eq!(
        view,
        SessionView::SignedOut {
            reason: None,
            signing_out: false,
            password_required: false,
        }
    );
    let pending = harness.pending().expect("queued");
    assert_eq!(values(&pending.to_revoke), tokens);
    assert!(pending.staged.is_empty());
    refuse_revocations(&harness, false);
    retry_revocations_until(&harness, &tokens).await;
    assert!(harness.pending().is_none());
}

#[tokio::test]
async fn a_sign_in_over_orphaned_tokens_queues_them_and_keeps_its_own_live() {
    let (mut harness, browser, orphans) = signed_in("orphans", Config::defaults(SCHEME)).await;
    harness.vault().delete().unwrap();
    refuse_revocations(&harness, true);
    harness.restart().await;
    harness.app.sign_in(&browser).await;
    let stored = harness.vault().load().unwrap().unwrap();
    let live = vec![
        stored.tokens.refresh_token.unwrap().secret().to_owned(),
        stored.tokens.access_token.secret().to_owned(),
    ];
    let pending = harness.pending().unwrap();
    assert_eq!(values(&pending.to_revoke), orphans);
    assert_eq!(values(&pending.staged), live);

    // The next start restores the session and revokes only the orphans.
    refuse_revocations(&harness, false);
    harness.restart().await;
    assert!(matches!(
        harness.app.manager.restored().await.unwrap(),
        SessionView::SignedIn { .. }
    ));
    retry_revocations_until(&harness, &orphans).await;
    for token in &live {
        assert_eq!(token_state(&harness, token), TokenState::Active);
    }
    let pending = harness.pending().unwrap();
    assert_eq!(
        values(&pending.staged),
        live,
        "still staged for the sign-out"
    );
}
