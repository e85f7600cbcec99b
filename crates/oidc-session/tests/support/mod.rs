//! What the session tests share: mock-okta in process, a scripted system browser, the real
//! Secret Service under a keychain service of each test's own, a journal in a temporary
//! directory, and every event the core reports.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_okta::browser::{Browser, Landing};
use mock_okta::{MockOkta, DEMO_CLIENT_ID};
use oidc_session::provider::DEFAULT_REQUEST_TIMEOUT;
use oidc_session::{
    Config, IdentityProvider, Journal, SessionError, SessionEvents, SessionManager, SessionView,
    SignOutOutcome, SignOutStep, SystemBrowser, TokenVault, UserClaims,
};
use tokio::sync::mpsc;
use url::Url;

pub const SCHEME: &str = "com.example.oktasignout";
/// A safety net against hangs, not a speed check.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The system browser as the core sees it: the URLs it was asked to open. Whether the
/// desktop hands the app's scheme back can be switched off.
pub struct OpenedUrls {
    sender: mpsc::UnboundedSender<Url>,
    scheme_registered: AtomicBool,
}

impl SystemBrowser for OpenedUrls {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.sender
            .send(url.clone())
            .map_err(|error| error.to_string())
    }

    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String> {
        if self.scheme_registered.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(format!("no application handles {scheme}: links"))
        }
    }
}

/// Everything the core reported, serialized as the window would receive it.
pub struct RecordedEvents {
    pub views: Mutex<Vec<String>>,
    pub outcomes: Mutex<Vec<SignOutOutcome>>,
    /// Each journaled sign-out step, with whether the keychain held the session entry then
    /// (not probed at the first step: its record is written while the entry is deleted).
    pub steps: Mutex<Vec<(SignOutStep, Option<bool>)>>,
    /// For each "signing out" view: whether the keychain still held the session entry then.
    pub session_at_signing_out: Mutex<Vec<bool>>,
    vault: TokenVault,
}

impl RecordedEvents {
    fn new(vault: TokenVault) -> Self {
        Self {
            views: Mutex::default(),
            outcomes: Mutex::default(),
            steps: Mutex::default(),
            session_at_signing_out: Mutex::default(),
            vault,
        }
    }
}

impl SessionEvents for RecordedEvents {
    fn changed(&self, view: &SessionView) {
        if matches!(
            view,
            SessionView::SignedOut {
                signing_out: true,
                ..
            }
        ) {
            let held = self.vault.load().unwrap().is_some();
            self.session_at_signing_out.lock().unwrap().push(held);
        }
        self.views
            .lock()
            .unwrap()
            .push(serde_json::to_string(view).unwrap());
    }

    fn signed_out(&self, outcome: &SignOutOutcome) {
        self.outcomes.lock().unwrap().push(outcome.clone());
    }

    fn sign_out_step(&self, step: SignOutStep) {
        let session_in_keychain =
            (step != SignOutStep::Started).then(|| self.vault.load().unwrap().is_some());
        self.steps.lock().unwrap().push((step, session_in_keychain));
    }
}

/// One app session against its own mock-okta.
pub struct Harness {
    pub mock: MockOkta,
    pub config: Config,
    /// A keychain service of this test's own, so tests run side by side.
    pub service: String,
    pub data_dir: tempfile::TempDir,
    pub manager: Arc<SessionManager>,
    pub opened: mpsc::UnboundedReceiver<Url>,
    pub events: Arc<RecordedEvents>,
    pub browser: Arc<OpenedUrls>,
    /// How long the app's requests to mock-okta may take; [`Harness::restart`] applies it.
    pub request_timeout: Duration,
}

impl Harness {
    pub async fn start(test: &str) -> Self {
        Self::start_with(test, Config::demo(SCHEME)).await
    }

    pub async fn start_with(test: &str, config: Config) -> Self {
        let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
        let service = format!("{SCHEME}.test.{test}.{}", std::process::id());
        let data_dir = tempfile::tempdir().unwrap();
        let (sender, opened) = mpsc::unbounded_channel();
        let browser = Arc::new(OpenedUrls {
            sender,
            scheme_registered: AtomicBool::new(true),
        });
        let events = Arc::new(RecordedEvents::new(platform_vault(&service)));
        let request_timeout = DEFAULT_REQUEST_TIMEOUT;
        let manager = manager_for(
            &mock,
            &config,
            &service,
            data_dir.path(),
            &browser,
            &events,
            request_timeout,
        );
        Self {
            mock,
            config,
            service,
            data_dir,
            manager,
            opened,
            events,
            browser,
            request_timeout,
        }
    }

    pub fn vault(&self) -> TokenVault {
        platform_vault(&self.service)
    }

    pub fn journal(&self) -> Journal {
        Journal::in_dir(self.data_dir.path())
    }

    /// Changes mock-okta's token lifetimes for the tokens it issues from now on.
    pub fn update_lifetimes(&self, change: impl FnOnce(&mut mock_okta::Lifetimes)) {
        let mut lifetimes = self.mock.lifetimes();
        change(&mut lifetimes);
        self.mock.set_lifetimes(lifetimes);
    }

    pub fn set_scheme_registered(&self, registered: bool) {
        self.browser
            .scheme_registered
            .store(registered, Ordering::SeqCst);
    }

    /// The app restarted: a new manager over the same keychain entries and journal.
    pub fn restart(&mut self) {
        let (sender, opened) = mpsc::unbounded_channel();
        self.browser = Arc::new(OpenedUrls {
            sender,
            scheme_registered: AtomicBool::new(true),
        });
        self.opened = opened;
        self.events = Arc::new(RecordedEvents::new(self.vault()));
        self.manager = manager_for(
            &self.mock,
            &self.config,
            &self.service,
            self.data_dir.path(),
            &self.browser,
            &self.events,
            self.request_timeout,
        );
    }

    /// The next URL the app sent the browser to.
    pub async fn next_opened(&mut self) -> Url {
        tokio::time::timeout(LIMIT, self.opened.recv())
            .await
            .expect("the browser was never opened")
            .unwrap()
    }

    /// Starts a sign-in and returns the authorization URL the browser was sent to.
    pub async fn begin_sign_in(
        &mut self,
    ) -> (
        Url,
        tokio::task::JoinHandle<Result<UserClaims, SessionError>>,
    ) {
        let manager = self.manager.clone();
        let task = tokio::spawn(async move { manager.sign_in().await });
        (self.next_opened().await, task)
    }

    /// A full sign-in: the browser fills in mock-okta's form and hands the redirect back.
    pub async fn sign_in(&mut self, browser: &Browser) -> UserClaims {
        let (url, task) = self.begin_sign_in().await;
        let callback = expect_app_redirect(browser.open(url).await.unwrap());
        assert!(self.manager.handle_deep_link(callback.as_str()));
        task.await.unwrap().expect("sign-in succeeds")
    }

    pub fn views(&self) -> Vec<String> {
        self.events.views.lock().unwrap().clone()
    }

    pub fn outcomes(&self) -> Vec<SignOutOutcome> {
        self.events.outcomes.lock().unwrap().clone()
    }

    /// Waits until `probe` holds, polling.
    pub async fn wait_until(&self, what: &str, mut probe: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !probe() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Ok(vault) = TokenVault::platform(&self.service) {
            let _ = vault.delete();
            let _ = vault.delete_pending();
        }
    }
}

fn manager_for(
    mock: &MockOkta,
    config: &Config,
    service: &str,
    data_dir: &std::path::Path,
    browser: &Arc<OpenedUrls>,
    events: &Arc<RecordedEvents>,
    request_timeout: Duration,
) -> Arc<SessionManager> {
    let idp = IdentityProvider {
        issuer: mock.issuer(),
        client_id: DEMO_CLIENT_ID.to_owned(),
        extra_root_pem: Some(mock.ca_certificate_pem().as_bytes().to_vec()),
        request_timeout,
    };
    let manager = SessionManager::new(
        config.clone(),
        idp,
        platform_vault(service),
        Journal::in_dir(data_dir),
        browser.clone(),
        events.clone(),
    )
    .unwrap();
    Arc::new(manager)
}

fn platform_vault(service: &str) -> TokenVault {
    TokenVault::platform(service).expect("a Secret Service (run through scripts/test)")
}

pub fn expect_app_redirect(landing: Landing) -> Url {
    match landing {
        Landing::AppRedirect(url) => url,
        Landing::Page { status, body } => panic!("the browser stayed on a page ({status}): {body}"),
    }
}

pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
