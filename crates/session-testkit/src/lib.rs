//! The session core's test kit, shared by oidc-session's tests and benches: the real
//! [`SessionManager`], started, with its ports doubled (a desktop that records the URLs it was
//! asked to open, and every event recorded as the window would receive it), against an
//! in-process mock-okta whose scripted browser plays the person.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_okta::browser::{Browser, Landing};
use mock_okta::{MockOkta, DEMO_CLIENT_ID};
use oidc_session::provider::{DEFAULT_REQUEST_TIMEOUT, DISCOVERY_MAX_AGE};
use oidc_session::vault::PendingSignOut;
use oidc_session::{
    Config, DesktopLinks, IdentityProvider, Issuer, Journal, RevocationStatus, Session,
    SessionError, SessionEvents, SessionManager, SessionParts, SessionView, SignOutMode,
    SignOutOutcome, SignOutStep, SystemBrowser, TokenVault, UserClaims, VaultError,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use url::Url;

mod keychain;

pub use keychain::FaultyKeychain;

/// The app's private-use URI scheme.
pub const SCHEME: &str = "com.example.oktasignout";
/// A safety net against hangs, not a speed check.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The desktop as the core sees it: the URLs it asked the browser to open go to a channel,
/// and whether the desktop hands the app's scheme back can be switched off.
pub struct TestDesktop {
    opened: mpsc::UnboundedSender<Url>,
    scheme_registered: AtomicBool,
}

impl TestDesktop {
    /// Whether the desktop hands the app's links back to it from now on.
    pub fn set_scheme_registered(&self, registered: bool) {
        self.scheme_registered.store(registered, Ordering::SeqCst);
    }
}

impl SystemBrowser for TestDesktop {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.opened
            .send(url.clone())
            .map_err(|error| error.to_string())
    }
}

impl DesktopLinks for TestDesktop {
    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String> {
        if self.scheme_registered.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(format!("no application handles {scheme}: links"))
        }
    }
}

/// One event the core reported.
#[derive(Debug, Clone)]
pub enum Event {
    /// The session changed: the view serialized as the window receives it, and, for a view
    /// that says "signing out", whether the keychain still held the session entry then.
    Changed {
        /// The view's JSON.
        view: String,
        /// Probed only for a "signing out" view, and only with a probe vault.
        session_in_keychain: Option<bool>,
    },
    /// A sign-out ended.
    SignedOut(SignOutOutcome),
    /// The tokens still to revoke changed.
    Revocations(RevocationStatus),
    /// A sign-out journaled a step, with whether the keychain held the session entry then
    /// (probed with a probe vault, after the first step: its record is written while the
    /// entry is deleted).
    Step {
        /// The step.
        step: SignOutStep,
        /// Whether the keychain held the session entry.
        session_in_keychain: Option<bool>,
    },
}

/// Every event the core reported, with when it arrived.
#[derive(Default)]
pub struct RecordedEvents {
    events: Mutex<Vec<(Instant, Event)>>,
    /// Probed at the moments [`Event`] names, when set.
    probe: Option<TokenVault>,
    /// The process stops for good at this step (for a test that kills it there).
    park_at: Option<SignOutStep>,
}

impl RecordedEvents {
    /// Records events, probing `vault` for the session entry at the moments that matter.
    pub fn probing(vault: TokenVault) -> Self {
        Self {
            probe: Some(vault),
            ..Self::default()
        }
    }

    /// Records events and, at `step`, prints `reached {step:?}` and parks the reporting
    /// thread for good, so that the process can be killed right after that step.
    pub fn parking_at(step: SignOutStep) -> Self {
        Self {
            park_at: Some(step),
            ..Self::default()
        }
    }

    fn record(&self, event: Event) {
        let now = Instant::now();
        self.events.lock().unwrap().push((now, event));
    }

    fn session_in_keychain(&self) -> Option<bool> {
        let vault = self.probe.as_ref()?;
        Some(vault.load().unwrap().is_some())
    }

    /// Every event so far, with when it arrived.
    pub fn all(&self) -> Vec<(Instant, Event)> {
        self.events.lock().unwrap().clone()
    }

    /// The views, as the window received them.
    pub fn views(&self) -> Vec<String> {
        self.filter(|event| match event {
            Event::Changed { view, .. } => Some(view.clone()),
            _ => None,
        })
    }

    /// The sign-out outcomes.
    pub fn outcomes(&self) -> Vec<SignOutOutcome> {
        self.filter(|event| match event {
            Event::SignedOut(outcome) => Some(outcome.clone()),
            _ => None,
        })
    }

    /// Every revocation status the window was told of, in order.
    pub fn revocations(&self) -> Vec<RevocationStatus> {
        self.filter(|event| match event {
            Event::Revocations(status) => Some(status.clone()),
            _ => None,
        })
    }

    /// The journaled steps, with whether the keychain held the session entry then.
    pub fn steps(&self) -> Vec<(SignOutStep, Option<bool>)> {
        self.filter(|event| match event {
            Event::Step {
                step,
                session_in_keychain,
            } => Some((*step, *session_in_keychain)),
            _ => None,
        })
    }

    /// For each "signing out" view: whether the keychain still held the session entry then.
    pub fn session_at_signing_out(&self) -> Vec<bool> {
        self.filter(|event| match event {
            Event::Changed {
                session_in_keychain,
                ..
            } => *session_in_keychain,
            _ => None,
        })
    }

    fn filter<T>(&self, pick: impl Fn(&Event) -> Option<T>) -> Vec<T> {
        let events = self.events.lock().unwrap();
        events.iter().filter_map(|(_, event)| pick(event)).collect()
    }
}

/// Whether `view` says the app session is gone while the sign-out goes on.
fn is_signing_out(view: &SessionView) -> bool {
    matches!(
        view,
        SessionView::SignedOut {
            signing_out: true,
            ..
        }
    )
}

impl SessionEvents for RecordedEvents {
    fn changed(&self, view: &SessionView) {
        let session_in_keychain = if is_signing_out(view) {
            self.session_in_keychain()
        } else {
            None
        };
        self.record(Event::Changed {
            view: serde_json::to_string(view).unwrap(),
            session_in_keychain,
        });
    }

    fn signed_out(&self, outcome: &SignOutOutcome) {
        self.record(Event::SignedOut(outcome.clone()));
    }

    fn revocations(&self, status: &RevocationStatus) {
        self.record(Event::Revocations(status.clone()));
    }

    fn sign_out_step(&self, step: SignOutStep) {
        let session_in_keychain = if step == SignOutStep::Started {
            None
        } else {
            self.session_in_keychain()
        };
        self.record(Event::Step {
            step,
            session_in_keychain,
        });
        if self.park_at == Some(step) {
            println!("reached {step:?}");
            loop {
                std::thread::park();
            }
        }
    }
}

/// One app session under test: the real manager, started, its ports doubled.
pub struct TestSession {
    /// The manager, to share with the tasks that drive it.
    pub manager: Arc<SessionManager>,
    /// The desktop it opens URLs on.
    pub desktop: Arc<TestDesktop>,
    /// The URLs it asked the browser to open.
    pub opened: mpsc::UnboundedReceiver<Url>,
    /// What it reported.
    pub events: Arc<RecordedEvents>,
    /// Its background work, stopped when this is dropped or [`TestSession::stop`]ped.
    session: Option<Session>,
}

/// Where a [`TestSession`] keeps its state and whom it signs in with.
pub struct SessionSetup<'a> {
    /// The identity provider.
    pub idp: IdentityProvider,
    /// The app's configuration.
    pub config: Config,
    /// Its keychain entries.
    pub vault: TokenVault,
    /// Its data directory (the sign-out journal).
    pub data_dir: &'a Path,
    /// Who records its events.
    pub events: RecordedEvents,
}

impl TestSession {
    /// Starts a session as the app does.
    pub fn start(setup: SessionSetup<'_>) -> Self {
        let (sender, opened) = mpsc::unbounded_channel();
        let desktop = Arc::new(TestDesktop {
            opened: sender,
            scheme_registered: AtomicBool::new(true),
        });
        let events = Arc::new(setup.events);
        let session = SessionManager::start(SessionParts {
            config: setup.config,
            idp: setup.idp,
            vault: setup.vault,
            journal: Journal::in_dir(setup.data_dir),
            browser: desktop.clone(),
            desktop_links: desktop.clone(),
            events: events.clone(),
        })
        .expect("a started session");
        Self {
            manager: session.manager().clone(),
            desktop,
            opened,
            events,
            session: Some(session),
        }
    }

    /// A session against `mock`'s default authorization server, with the default
    /// configuration, its tokens in `keychain`, its journal in `data_dir`.
    pub fn over_keychain(mock: &MockOkta, keychain: &Arc<FaultyKeychain>, data_dir: &Path) -> Self {
        Self::start(SessionSetup {
            idp: identity_provider(mock, DEFAULT_REQUEST_TIMEOUT),
            config: Config::defaults(SCHEME),
            vault: TokenVault::with_store(keychain.store(), SCHEME),
            data_dir,
            events: RecordedEvents::default(),
        })
    }

    /// Stops the session's background work and waits until no keychain write of it is
    /// under way, as when the app quits.
    pub async fn stop(&mut self) {
        if let Some(session) = self.session.take() {
            session.stop().await;
        }
    }

    /// The next URL the app sent the browser to.
    pub async fn next_opened(&mut self) -> Url {
        tokio::time::timeout(LIMIT, self.opened.recv())
            .await
            .expect("the browser was never opened")
            .expect("the desktop is still there")
    }

    /// Starts a sign-in; returns the authorization URL the browser was sent to.
    pub async fn begin_sign_in(&mut self) -> (Url, JoinHandle<Result<UserClaims, SessionError>>) {
        let manager = self.manager.clone();
        let task = tokio::spawn(async move { manager.sign_in().await });
        (self.next_opened().await, task)
    }

    /// A full sign-in: `browser` fills in mock-okta's form and hands the redirect back.
    pub async fn sign_in(&mut self, browser: &Browser) -> UserClaims {
        let (url, task) = self.begin_sign_in().await;
        self.browse(browser, url).await;
        task.await.unwrap().expect("sign-in succeeds")
    }

    /// Starts a sign-out in the background.
    pub fn begin_sign_out(&self, mode: SignOutMode) -> JoinHandle<Result<(), SessionError>> {
        let manager = self.manager.clone();
        tokio::spawn(async move { manager.sign_out(mode).await })
    }

    /// Signs out, and returns when the sign-out is over.
    pub async fn sign_out_now(&self, mode: SignOutMode) {
        self.manager
            .sign_out(mode)
            .await
            .expect("a sign-out outside a sign-in goes ahead");
    }

    /// A full sign-out that `browser` completes at Okta.
    pub async fn sign_out(&mut self, browser: &Browser) {
        let task = self.begin_sign_out(SignOutMode::Full);
        self.browser_completes_logout(browser).await;
        task.await.unwrap().expect("sign-out succeeds");
    }

    /// `browser` loads Okta's end-session request and hands the redirect to the app.
    pub async fn browser_completes_logout(&mut self, browser: &Browser) -> Url {
        let logout = self.next_opened().await;
        self.browse(browser, logout).await
    }

    /// `browser` loads `url` and hands the redirect it ends at to the app, which must take it.
    async fn browse(&self, browser: &Browser, url: Url) -> Url {
        let callback = expect_app_redirect(browser.open(url).await.unwrap());
        assert!(self.manager.handle_deep_link(callback.as_str()));
        callback
    }
}

/// One app session against its own mock-okta, its tokens in the real Secret Service under a
/// keychain service of the test's own (so tests run side by side), its journal in a temporary
/// directory.
pub struct Harness {
    /// The identity provider.
    pub mock: MockOkta,
    /// The app's configuration.
    pub config: Config,
    /// The keychain service of this test.
    pub service: String,
    /// The app's data directory.
    pub data_dir: tempfile::TempDir,
    /// The authorization server the app signs in to, and how; [`Harness::restart`] applies a
    /// change.
    pub idp: IdentityProvider,
    /// The app.
    pub app: TestSession,
}

/// Which of mock-okta's authorization servers the app signs in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The custom authorization server `default`: `https://127.0.0.1:P/oauth2/default`.
    Default,
    /// The org authorization server: `https://127.0.0.1:P`, no path, no trailing slash.
    Org,
}

/// Every issuer form the app accepts, as which server and whether its issuer is plain http on
/// 127.0.0.1: the org server and a custom one over HTTPS, and the org server over http.
pub const ISSUER_FORMS: [(Server, bool); 3] = [
    (Server::Org, false),
    (Server::Default, false),
    (Server::Org, true),
];

impl Server {
    /// This server's issuer at `mock`, as Okta writes it.
    pub fn issuer(self, mock: &MockOkta) -> Issuer {
        let issuer = match self {
            Self::Default => mock.issuer().to_string(),
            Self::Org => mock.org_issuer(),
        };
        Issuer::new(&issuer).expect("mock-okta's issuers are valid")
    }
}

impl Harness {
    /// A signed-out app with the default configuration.
    pub async fn start(test: &str) -> Self {
        Self::start_with(test, Config::defaults(SCHEME)).await
    }

    /// A signed-out app with `config`.
    pub async fn start_with(test: &str, config: Config) -> Self {
        Self::start_on(test, config, Server::Default).await
    }

    /// A signed-out app with `config` that signs in to `server`.
    pub async fn start_on(test: &str, config: Config, server: Server) -> Self {
        Self::start_against(test, config, mock_okta::Config::default(), server).await
    }

    /// A signed-out app with the default configuration that signs in to one of the
    /// [`ISSUER_FORMS`].
    pub async fn start_on_form(test: &str, (server, plain_http_issuer): (Server, bool)) -> Self {
        let mock_config = mock_okta::Config {
            plain_http_issuer,
            ..mock_okta::Config::default()
        };
        Self::start_against(test, Config::defaults(SCHEME), mock_config, server).await
    }

    /// A signed-out app with `config` that signs in to `server` of a mock-okta started with
    /// `mock_config`.
    pub async fn start_against(
        test: &str,
        config: Config,
        mock_config: mock_okta::Config,
        server: Server,
    ) -> Self {
        let mock = MockOkta::start(mock_config).await.unwrap();
        let service = format!("{SCHEME}.test.{test}.{}", std::process::id());
        let data_dir = tempfile::tempdir().unwrap();
        let idp = IdentityProvider {
            issuer: server.issuer(&mock),
            ..identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT)
        };
        let app = Self::start_app(&idp, &config, &service, data_dir.path());
        Self {
            mock,
            config,
            service,
            data_dir,
            idp,
            app,
        }
    }

    fn start_app(
        idp: &IdentityProvider,
        config: &Config,
        service: &str,
        data_dir: &Path,
    ) -> TestSession {
        TestSession::start(SessionSetup {
            idp: idp.clone(),
            config: config.clone(),
            vault: platform_vault(service),
            data_dir,
            events: RecordedEvents::probing(platform_vault(service)),
        })
    }

    /// The app quits and starts again: a new session over the same keychain entries and
    /// journal, once the old one's background work has stopped.
    pub async fn restart(&mut self) {
        self.app.stop().await;
        self.app = Self::start_app(&self.idp, &self.config, &self.service, self.data_dir.path());
    }

    /// The app's keychain entries.
    pub fn vault(&self) -> TokenVault {
        platform_vault(&self.service)
    }

    /// The app's pending-revocation entry, read as [`observe_pending`] reads it.
    pub fn pending(&self) -> Option<PendingSignOut> {
        observe_pending(&self.vault())
    }

    /// The app's sign-out journal.
    pub fn journal(&self) -> Journal {
        Journal::in_dir(self.data_dir.path())
    }

    /// Changes mock-okta's token lifetimes for the tokens it issues from now on.
    pub fn update_lifetimes(&self, change: impl FnOnce(&mut mock_okta::Lifetimes)) {
        self.mock.update_lifetimes(change);
    }

    /// Starts a full sign-out whose end-session page never sends the browser back (mock-okta's
    /// `logout_never_redirects`); returns once `browser` stopped at that page.
    pub async fn begin_unconfirmed_sign_out(
        &mut self,
        browser: &Browser,
    ) -> JoinHandle<Result<(), SessionError>> {
        self.mock
            .update_faults(|faults| faults.logout_never_redirects = true);
        let task = self.app.begin_sign_out(SignOutMode::Full);
        let logout = self.app.next_opened().await;
        let landing = browser.open(logout).await.unwrap();
        assert!(
            matches!(landing, Landing::Page { status: 200, .. }),
            "{landing:?}"
        );
        task
    }

    /// The states mock-okta gives the access and refresh tokens it issued, in issue order.
    pub fn revocable_token_states(&self) -> Vec<mock_okta::TokenState> {
        self.mock
            .tokens()
            .iter()
            .filter(|token| token.kind != mock_okta::TokenKind::Id)
            .map(|token| token.state)
            .collect()
    }

    /// A scripted browser that signs in to this mock-okta as its demo user.
    pub fn browser(&self) -> Browser {
        Browser::for_mock(&self.mock).unwrap()
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

/// `mock`'s default authorization server as the app's identity provider, its certificate
/// trusted, with the demo client.
pub fn identity_provider(mock: &MockOkta, request_timeout: Duration) -> IdentityProvider {
    IdentityProvider {
        issuer: Server::Default.issuer(mock),
        client_id: DEMO_CLIENT_ID.to_owned(),
        extra_root_pem: Some(mock.ca_certificate_pem().as_bytes().to_vec()),
        request_timeout,
        discovery_max_age: DISCOVERY_MAX_AGE,
    }
}

/// The token endpoint that `idp`'s discovery names, with the HTTP client the app reaches it
/// with: for requests made outside the app, as someone holding its tokens would make them.
pub async fn token_endpoint(idp: &IdentityProvider) -> (reqwest::Client, Url) {
    let http = idp.http_client().unwrap();
    let discovery: serde_json::Value = http
        .get(format!("{}/.well-known/openid-configuration", idp.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = Url::parse(discovery["token_endpoint"].as_str().unwrap()).unwrap();
    (http, endpoint)
}

/// The pending-revocation entry in `vault`, read while the app may be writing it. The Secret
/// Service finds an item and then reads it in two calls, so a read that meets the app's
/// delete of the entry in between fails; it is read again then.
pub fn observe_pending(vault: &TokenVault) -> Option<PendingSignOut> {
    let mut attempts = 0;
    loop {
        match vault.load_pending() {
            Ok(pending) => return pending,
            Err(VaultError::Failed(_) | VaultError::Unavailable(_)) if attempts < 5 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("the pending-revocation entry cannot be read: {error:?}"),
        }
    }
}

/// The Secret Service's entries of keychain service `service`.
pub fn platform_vault(service: &str) -> TokenVault {
    TokenVault::platform(service).expect("a Secret Service (run through scripts/test)")
}

/// The redirect to the app that the browser ended at; panics on a page.
pub fn expect_app_redirect(landing: Landing) -> Url {
    match landing {
        Landing::AppRedirect(url) => url,
        Landing::Page { status, body } => panic!("the browser stayed on a page ({status}): {body}"),
    }
}

/// The value of query parameter `name`.
pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Asserts, from mock-okta's request journal after position `since`, that the app revoked the
/// refresh token among `tokens` first and then their access token, each at
/// `{server_path}/v1/revoke` with the app's `client_id` and the matching `token_type_hint`,
/// and sent no other revocation.
pub fn assert_revoked_refresh_then_access(
    mock: &MockOkta,
    since: u64,
    tokens: &[String],
    server_path: &str,
) {
    let of_kind = |kind| {
        let token = tokens
            .iter()
            .find(|token| mock.token(token).is_some_and(|issued| issued.kind == kind))
            .unwrap_or_else(|| panic!("no {kind:?} token among the session's tokens"));
        mock_okta::short_fingerprint(token)
    };
    let revoke_path = format!("{server_path}/v1/revoke");
    let expected = [
        (of_kind(mock_okta::TokenKind::Refresh), "refresh_token"),
        (of_kind(mock_okta::TokenKind::Access), "access_token"),
    ]
    .map(|(fingerprint, hint)| {
        (
            revoke_path.clone(),
            Some(fingerprint),
            Some(hint.to_owned()),
            Some(DEMO_CLIENT_ID.to_owned()),
        )
    });
    let revokes: Vec<_> = mock
        .requests(since)
        .into_iter()
        .filter(|entry| entry.endpoint == Some(mock_okta::Endpoint::Revoke))
        .map(|entry| {
            (
                entry.path.clone(),
                entry.fingerprint("token").map(str::to_owned),
                entry.value("token_type_hint").map(str::to_owned),
                entry.value("client_id").map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(revokes, expected, "the revoke requests mock-okta journaled");
}
