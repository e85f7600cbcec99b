//! Crash safety: the app is killed (SIGKILL) right after each journaled step of a sign-out,
//! then started again. The restart must leave no usable token behind: the session is not
//! restored, it is gone from the keychain, and every token reaches mock-okta's revocation.
//!
//! The app is this test binary run again as a child process, so it can really be killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mock_okta::browser::{Browser, Landing};
use mock_okta::{MockOkta, TokenKind, TokenState, DEMO_CLIENT_ID};
use oidc_session::{
    Config, IdentityProvider, Journal, SessionEvents, SessionManager, SessionView, SignOutMode,
    SignOutOutcome, SignOutStep, SignedOutReason, SystemBrowser, TokenVault,
};
use url::Url;

const SCHEME: &str = "com.example.oktasignout";
/// Set in the child: the step after which it stops (and waits to be killed).
const STOP_AT_VAR: &str = "CRASH_TEST_STOP_AT";
const ISSUER_VAR: &str = "CRASH_TEST_ISSUER";
const CA_VAR: &str = "CRASH_TEST_CA_FILE";
const SERVICE_VAR: &str = "CRASH_TEST_SERVICE";
const DATA_DIR_VAR: &str = "CRASH_TEST_DATA_DIR";

/// Stops the process for good once the sign-out recorded `stop_at`.
struct StopAt {
    stop_at: SignOutStep,
}

impl SessionEvents for StopAt {
    fn changed(&self, _: &SessionView) {}

    fn signed_out(&self, outcome: &SignOutOutcome) {
        panic!("the sign-out ended before it was killed: {outcome:?}");
    }

    fn sign_out_step(&self, step: SignOutStep) {
        if step == self.stop_at {
            println!("reached {step:?}");
            loop {
                std::thread::park();
            }
        }
    }
}

/// The browser of the child: it only records where it was sent.
struct Recorder(std::sync::Mutex<Vec<Url>>);

impl SystemBrowser for Recorder {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0.lock().unwrap().push(url.clone());
        Ok(())
    }

    fn check_scheme_handler(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

fn manager(
    issuer: Url,
    ca_pem: Vec<u8>,
    service: &str,
    data_dir: &Path,
    browser: Arc<dyn SystemBrowser>,
    events: Arc<dyn SessionEvents>,
) -> SessionManager {
    SessionManager::new(
        Config::demo(SCHEME),
        IdentityProvider {
            issuer,
            client_id: DEMO_CLIENT_ID.to_owned(),
            extra_root_pem: Some(ca_pem),
            request_timeout: oidc_session::provider::DEFAULT_REQUEST_TIMEOUT,
        },
        TokenVault::platform(service).expect("a Secret Service (run through scripts/test)"),
        Journal::in_dir(data_dir),
        browser,
        events,
    )
    .unwrap()
}

/// The child: signs in, then signs out until it reaches the step it stops at.
async fn child(stop_at: SignOutStep) {
    let env = |name: &str| std::env::var(name).unwrap();
    let ca_pem = std::fs::read(env(CA_VAR)).unwrap();
    let recorder = Arc::new(Recorder(Default::default()));
    let manager = Arc::new(manager(
        Url::parse(&env(ISSUER_VAR)).unwrap(),
        ca_pem.clone(),
        &env(SERVICE_VAR),
        Path::new(&env(DATA_DIR_VAR)),
        recorder.clone(),
        Arc::new(StopAt { stop_at }),
    ));
    let browser = Browser::new(std::str::from_utf8(&ca_pem).unwrap())
        .unwrap()
        .with_credentials(mock_okta::DEMO_USERNAME, mock_okta::DEMO_PASSWORD);
    let signing_in = manager.clone();
    let task = tokio::spawn(async move { signing_in.sign_in().await });
    let authorize = loop {
        if let Some(url) = recorder.0.lock().unwrap().first().cloned() {
            break url;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let Landing::AppRedirect(callback) = browser.open(authorize).await.unwrap() else {
        panic!("sign-in did not come back");
    };
    assert!(manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    println!("signed in");
    manager.sign_out(SignOutMode::Full).await.unwrap();
    unreachable!("StopAt parks the sign-out");
}

#[derive(Default)]
struct Quiet;

impl SessionEvents for Quiet {
    fn changed(&self, _: &SessionView) {}
    fn signed_out(&self, _: &SignOutOutcome) {}
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
        let mut app = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_sign_out_killed_after_any_step_is_finished_at_the_next_start",
                "--nocapture",
            ])
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
        let vault = TokenVault::platform(&service).unwrap();
        let restarted = Arc::new(manager(
            mock.issuer(),
            mock.ca_certificate_pem().as_bytes().to_vec(),
            &service,
            &data_dir,
            Arc::new(Recorder(Default::default())),
            Arc::new(Quiet),
        ));
        let view = restarted.restore().await.unwrap();
        assert_eq!(
            view,
            SessionView::SignedOut {
                reason: Some(SignedOutReason::SignOutResumed),
                signing_out: false
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
        let retries = restarted.clone();
        let retrying = tokio::spawn(async move { retries.run_revocation_retries().await });
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
        while vault.load_pending().unwrap().is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{step}: pending entry left"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        retrying.abort();
    }
}
