//! Every network step of a full sign-out, against every way Okta can fail it: the app session
//! ends before the network is touched, the outcome says what happened, and nothing of the
//! session stays in the keychain except tokens that the outcome says still wait for
//! revocation. One test per step; its cells run side by side, each against its own mock-okta.

use std::time::Duration;

use mock_okta::browser::Landing;
use mock_okta::{EndpointFault, TokenState};
use oidc_session::provider::DEFAULT_REQUEST_TIMEOUT;
use oidc_session::tokens::RevocableToken;
use oidc_session::{Config, OutcomeKind, SessionView, SignOutMode, SignOutStep};
use session_testkit::{expect_app_redirect, Harness, SCHEME};
use Fault::*;
use OutcomeKind::{Completed, Offline, PreflightFailed, TimedOut};
use Step::*;

/// A "slow" Okta answers after this long: far past any request timeout.
const HANG_MS: u64 = 600_000;
/// The request timeout in the slow cells, so that they end quickly.
const SHORT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The network steps of a full sign-out, in the order the app takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `/.well-known/openid-configuration` (a fresh start has not discovered Okta yet).
    Discovery,
    /// The JWKS that discovery fetches with it.
    Keys,
    /// RFC 7009 revocation of the refresh and access tokens.
    Revoke,
    /// The app's own check of the end-session request, before the browser opens.
    LogoutPreflight,
    /// The end-session request in the person's browser.
    EndSessionInBrowser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing listens: connections are refused (or dropped when already open).
    Unreachable,
    /// 503.
    ServerError,
    /// An answer far past the request timeout.
    Slow,
    /// The connection closes without an answer.
    ConnectionDropped,
    /// Okta's 400 page for a logout it will not do.
    ErrorPage,
    /// Discovery answers 200 with a document that is not metadata.
    MalformedDiscovery,
}

/// One cell: a fault at a step, and what the person must be told.
struct Cell {
    step: Step,
    fault: Fault,
    outcome: OutcomeKind,
    revocation_pending: bool,
}

const fn cell(step: Step, fault: Fault, outcome: OutcomeKind, revocation_pending: bool) -> Cell {
    Cell {
        step,
        fault,
        outcome,
        revocation_pending,
    }
}

impl Cell {
    fn name(&self) -> String {
        format!("{:?}-{:?}", self.step, self.fault).to_ascii_lowercase()
    }

    fn endpoint_fault(&self) -> Option<EndpointFault> {
        let fault = match self.fault {
            Fault::ServerError => EndpointFault {
                status: Some(503),
                ..EndpointFault::default()
            },
            Fault::Slow => EndpointFault {
                latency_ms: HANG_MS,
                ..EndpointFault::default()
            },
            Fault::ConnectionDropped => EndpointFault {
                drop_connection: true,
                ..EndpointFault::default()
            },
            // The open preflight request hangs until the listeners go away under it.
            Fault::Unreachable if self.step == Step::LogoutPreflight => EndpointFault {
                latency_ms: HANG_MS,
                ..EndpointFault::default()
            },
            Fault::Unreachable | Fault::ErrorPage | Fault::MalformedDiscovery => return None,
        };
        Some(fault)
    }

    /// Turns the fault on at mock-okta.
    async fn inject(&self, harness: &Harness) {
        let mock = &harness.mock;
        if let Some(fault) = self.endpoint_fault() {
            mock.update_faults(|faults| {
                let endpoint = match self.step {
                    Step::Discovery => &mut faults.discovery,
                    Step::Keys => &mut faults.keys,
                    Step::Revoke => &mut faults.revoke,
                    Step::LogoutPreflight | Step::EndSessionInBrowser => &mut faults.logout,
                };
                *endpoint = fault;
            });
        }
        match self.fault {
            Fault::Unreachable if self.step != Step::LogoutPreflight => mock.go_offline().await,
            Fault::ErrorPage => mock.update_faults(|faults| faults.logout_error_page = true),
            Fault::MalformedDiscovery => {
                mock.update_faults(|faults| faults.malformed_discovery = true)
            }
            _ => {}
        }
    }

    async fn run(&self) {
        let name = self.name();
        let mut config = Config::defaults(SCHEME);
        config.sign_out_timeout = Duration::from_secs(2);
        let mut harness = Harness::start_with(&format!("fault-{name}"), config).await;
        // Access tokens inside the refresh margin: restoring refreshes them, which discovers
        // Okta, so that every step after discovery meets an already discovered Okta.
        harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 30);
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        // The restore's refresh replaces this access token and queues it.
        let replaced = harness.vault().load().unwrap().unwrap().tokens.access_token;

        // A fresh start of the app, which has not discovered Okta yet.
        harness.idp.request_timeout = if self.fault == Fault::Slow {
            SHORT_REQUEST_TIMEOUT
        } else {
            DEFAULT_REQUEST_TIMEOUT
        };
        // The fault meets the start's restore: it is there before the app starts.
        if matches!(self.step, Step::Discovery | Step::Keys) {
            self.inject(&harness).await;
        }
        harness.restart().await;
        // With discovery failing, the restored session is kept as it is (offline start).
        let view = harness.app.manager.restored().await.unwrap();
        assert!(
            matches!(view, SessionView::SignedIn { .. }),
            "{name}: {view:?}"
        );
        let stored = harness
            .vault()
            .load()
            .unwrap()
            .expect("the restored session");
        let tokens = stored.tokens.revocable();
        // The queue may also hold the access token the restore replaced, if the retries have
        // not revoked it yet.
        let queueable: Vec<_> = tokens
            .iter()
            .cloned()
            .chain([RevocableToken::Access(replaced)])
            .collect();
        let first_view = harness.app.events.views().len();
        if matches!(self.step, Step::Revoke | Step::LogoutPreflight) {
            self.inject(&harness).await;
        }

        let manager = harness.app.manager.clone();
        let sign_out = tokio::spawn(async move { manager.sign_out(SignOutMode::Full).await });
        let mut navigation = None;
        match (self.step, self.outcome) {
            (Step::LogoutPreflight, _) if self.fault == Fault::Unreachable => {
                harness
                    .wait_until("the preflight", || {
                        recorded_steps(&harness).contains(&SignOutStep::Revoked)
                    })
                    .await;
                harness.mock.go_offline().await;
            }
            (Step::EndSessionInBrowser, _) => {
                let logout = harness.app.next_opened().await;
                self.inject(&harness).await;
                let browser = browser.clone();
                navigation = Some(tokio::spawn(async move { browser.open(logout).await }));
            }
            (_, OutcomeKind::Completed) => {
                let logout = harness.app.next_opened().await;
                let callback = expect_app_redirect(browser.open(logout).await.unwrap());
                assert!(
                    harness.app.manager.handle_deep_link(callback.as_str()),
                    "{name}"
                );
            }
            _ => {}
        }
        sign_out.await.unwrap().unwrap();

        // The app session ended first: the window heard "signed out" before anything else,
        // and the keychain had lost the session when the first network step began.
        let views = harness.app.events.views();
        assert!(
            views[first_view].contains("\"signingOut\":true"),
            "{name}: {views:?}"
        );
        assert_eq!(
            harness.app.events.session_at_signing_out(),
            [false],
            "{name}: the window heard \"signing out\" before the keychain lost the session"
        );
        let steps = harness.app.events.steps();
        assert_eq!(
            steps[..2],
            [
                (SignOutStep::Started, None),
                (SignOutStep::LocalDone, Some(false))
            ],
            "{name}"
        );

        let outcomes = harness.app.events.outcomes();
        assert_eq!(outcomes.len(), 1, "{name}: {outcomes:?}");
        let outcome = &outcomes[0];
        assert_eq!(outcome.kind, self.outcome, "{name}: {outcome:?}");
        assert_eq!(
            outcome.revocation_pending, self.revocation_pending,
            "{name}: {outcome:?}"
        );
        // The live status tells of pending revocations: the message, which stays, does not.
        assert!(
            !outcome.message.contains("revoke"),
            "{name}: {}",
            outcome.message
        );
        assert!(
            outcome.message.starts_with("Signed out of this app")
                || outcome.kind == OutcomeKind::Completed,
            "{name}: {}",
            outcome.message
        );

        // Nothing of the session in the keychain; queued tokens only when the outcome says so.
        assert!(harness.vault().load().unwrap().is_none(), "{name}");
        let pending = harness.pending();
        match &pending {
            Some(pending) if self.revocation_pending => {
                assert!(pending.id_token.is_none(), "{name}: the ID token stayed");
                assert!(
                    pending
                        .to_revoke
                        .iter()
                        .all(|queued| queueable.contains(&queued.token)),
                    "{name}: only the session's own tokens wait"
                );
            }
            None if !self.revocation_pending => {}
            other => panic!("{name}: pending-revocation entry {other:?}"),
        }
        assert!(harness.journal().read().unwrap().is_none(), "{name}");

        // mock-okta agrees: the tokens are dead unless they wait; its session ended only
        // when the outcome says so.
        for token in &tokens {
            let state = harness.mock.token(token.secret()).unwrap().state;
            let expected = if self.revocation_pending {
                TokenState::Active
            } else {
                TokenState::Revoked
            };
            assert_eq!(state, expected, "{name}");
        }
        assert_eq!(
            harness.mock.sessions().is_empty(),
            self.outcome == OutcomeKind::Completed,
            "{name}"
        );
        if let Some(navigation) = navigation {
            if navigation.is_finished() {
                let landing = navigation.await.unwrap();
                assert!(
                    !matches!(landing, Ok(Landing::AppRedirect(_))),
                    "{name}: {landing:?}"
                );
            } else {
                navigation.abort();
            }
        }
    }
}

fn recorded_steps(harness: &Harness) -> Vec<SignOutStep> {
    let steps = harness.app.events.steps();
    steps.iter().map(|(step, _)| *step).collect()
}

/// Runs `cells` side by side and fails with the first failing cell.
async fn run_all(cells: &'static [Cell]) {
    let running: Vec<_> = cells.iter().map(|cell| tokio::spawn(cell.run())).collect();
    for task in running {
        if let Err(error) = task.await {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_faults() {
    // Revocation waits for a discovered Okta: the tokens stay queued.
    static CELLS: [Cell; 5] = [
        cell(Discovery, Unreachable, Offline, true),
        cell(Discovery, ServerError, Offline, true),
        cell(Discovery, Slow, Offline, true),
        cell(Discovery, ConnectionDropped, Offline, true),
        cell(Discovery, MalformedDiscovery, Offline, true),
    ];
    run_all(&CELLS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_faults() {
    static CELLS: [Cell; 3] = [
        cell(Keys, ServerError, Offline, true),
        cell(Keys, Slow, Offline, true),
        cell(Keys, ConnectionDropped, Offline, true),
    ];
    run_all(&CELLS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_faults() {
    // Okta answered with an error: it is there, so its session still ends in the browser,
    // and the tokens are retried later. No answer at all: the browser is not sent to an
    // Okta that cannot be reached.
    static CELLS: [Cell; 4] = [
        cell(Revoke, Unreachable, Offline, true),
        cell(Revoke, ServerError, Completed, true),
        cell(Revoke, Slow, Offline, true),
        cell(Revoke, ConnectionDropped, Offline, true),
    ];
    run_all(&CELLS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_preflight_faults() {
    // The tokens are revoked by then; the browser is not sent to a failing end-session page.
    static CELLS: [Cell; 5] = [
        cell(LogoutPreflight, Unreachable, Offline, false),
        cell(LogoutPreflight, ServerError, Offline, false),
        cell(LogoutPreflight, Slow, Offline, false),
        cell(LogoutPreflight, ConnectionDropped, Offline, false),
        cell(LogoutPreflight, ErrorPage, PreflightFailed, false),
    ];
    run_all(&CELLS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn end_session_in_the_browser_faults() {
    // The browser never comes back: the app stops waiting and says the browser may still be
    // signed in.
    static CELLS: [Cell; 5] = [
        cell(EndSessionInBrowser, Unreachable, TimedOut, false),
        cell(EndSessionInBrowser, ServerError, TimedOut, false),
        cell(EndSessionInBrowser, Slow, TimedOut, false),
        cell(EndSessionInBrowser, ConnectionDropped, TimedOut, false),
        cell(EndSessionInBrowser, ErrorPage, TimedOut, false),
    ];
    run_all(&CELLS).await;
}
