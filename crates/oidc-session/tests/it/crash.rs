//! Crash safety: the app is killed (SIGKILL) right after each journaled step of a sign-out,
//! then started again. The restart must leave no usable token behind: the session is not
//! restored, it is gone from the keychain, and every token reaches mock-okta's revocation.
//!
//! The app is this test binary run again as a child process, so it can really be killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mock_okta::browser::Browser;
use mock_okta::{MockOkta, TokenKind, TokenState, DEMO_CLIENT_ID};
use oidc_session::provider::{DEFAULT_REQUEST_TIMEOUT, DISCOVERY_MAX_AGE};
use oidc_session::{
    Config, IdentityProvider, Issuer, Journal, SessionView, SignOutMode, SignOutStep,
    SignedOutReason,
};
use session_testkit::{
    identity_provider, observe_pending, platform_vault, RecordedEvents, SessionSetup, TestSession,
    SCHEME,
};

/// Set in the child: the step after which it stops (and waits to be killed).
const STOP_AT_VAR: &str = "CRASH_TEST_STOP_AT";
const ISSUER_VAR: &str = "CRASH_TEST_ISSUER";
const CA_VAR: &str = "CRASH_TEST_CA_FILE";
const SERVICE_VAR: &str = "CRASH_TEST_SERVICE";
const DATA_DIR_VAR: &str = "CRASH_TEST_DATA_DIR";

/// The app, keeping its state in keychain service `service` and in `data_dir`.
fn start_app(
    idp: IdentityProvider,
    service: &str,
    data_dir: &Path,
    events: RecordedEvents,
) -> TestSession {
    TestSession::start(SessionSetup {
        idp,
        config: Config::defaults(SCHEME),
        vault: platform_vault(service),
        data_dir,
        events,
    })
}

/// The child: signs in, then signs out until it reaches the step it stops at.
async fn child(stop_at: SignOutStep) {
    let env = |name: &str| std::env::var(name).unwrap();
    let ca_pem = std::fs::read(env(CA_VAR)).unwrap();
    let idp = IdentityProvider {
        issuer: Issuer::new(&env(ISSUER_VAR)).unwrap(),
        client_id: DEMO_CLIENT_ID.to_owned(),
        extra_root_pem: Some(ca_pem.clone()),
        request_timeout: DEFAULT_REQUEST_TIMEOUT,
        discovery_max_age: DISCOVERY_MAX_AGE,
    };
    let mut app = start_app(
        idp,
        &env(SERVICE_VAR),
        Path::new(&env(DATA_DIR_VAR)),
        RecordedEvents::parking_at(stop_at),
    );
    let browser = Browser::new(std::str::from_utf8(&ca_pem).unwrap())
        .unwrap()
        .with_credentials(mock_okta::DEMO_USERNAME, mock_okta::DEMO_PASSWORD);
    app.sign_in(&browser).await;
    println!("signed in");
    app.manager.sign_out(SignOutMode::Full).await.unwrap();
    unreachable!("the events park the sign-out");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_out_killed_after_any_step_is_finished_at_the_next_start() {
    if let Ok(stop_at) = std::env::var(STOP_AT_VAR) {
        let stop_at = serde_json::from_str(&format!("\"{stop_at}\"")).unwrap();
        return child(stop_at).await;
    }
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let ca_file = scratch.path().join("mock-okta-ca.pem");
    std::fs::write(&ca_file, mock.ca_certificate_pem()).unwrap();

    for (index, step) in ["started", "local_done", "revoked", "browser_opened"]
        .into_iter()
        .enumerate()
    {
        let service = format!("{SCHEME}.test.crash.{}.{index}", std::process::id());
        let data_dir = scratch.path().join(step);
        let mut app =
            crate::rerun("crash::a_sign_out_killed_after_any_step_is_finished_at_the_next_start")
                .env(STOP_AT_VAR, step)
                .env(ISSUER_VAR, mock.issuer().as_str())
                .env(CA_VAR, &ca_file)
                .env(SERVICE_VAR, &service)
                .env(DATA_DIR_VAR, &data_dir)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
        let stdout = BufReader::new(app.stdout.take().unwrap());
        let reached = tokio::task::spawn_blocking(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .find(|line| line.starts_with("reached "))
        })
        .await
        .unwrap();
        assert!(reached.is_some(), "the child never reached {step}");
        app.kill().unwrap(); // SIGKILL
        app.wait().unwrap();
        assert!(
            Journal::in_dir(&data_dir).read().unwrap().is_some(),
            "{step}: the journal survives the crash"
        );

        // The next start.
        let vault = platform_vault(&service);
        let restarted = start_app(
            identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT),
            &service,
            &data_dir,
            RecordedEvents::default(),
        );
        let view = restarted.manager.restored().await.unwrap();
        assert_eq!(
            view,
            SessionView::SignedOut {
                reason: Some(SignedOutReason::SignOutResumed),
                signing_out: false,
                // A full sign-out that Okta never confirmed.
                password_required: true,
            },
            "{step}"
        );
        assert!(
            vault.load().unwrap().is_none(),
            "{step}: no session in the keychain"
        );
        assert!(
            Journal::in_dir(&data_dir).read().unwrap().is_none(),
            "{step}"
        );
        // The retries of the restarted app revoke what the crash left queued.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while mock
            .tokens()
            .iter()
            .any(|token| token.kind != TokenKind::Id && token.state == TokenState::Active)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{step}: tokens still active"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while observe_pending(&vault).is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{step}: pending entry left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
