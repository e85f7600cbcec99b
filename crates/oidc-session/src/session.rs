//! The session manager: the one owner of the app session. It runs sign-in through the system
//! browser, keeps the tokens in the keychain and in memory, restores the session at start,
//! and reports every change as a [`SessionView`] that holds claims only, never a token.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::oneshot;
use url::Url;

mod sign_out;

pub use sign_out::{OutcomeKind, SignOutOutcome};

use crate::callback::{Callback, CallbackKind, CallbackResult, PendingCallbacks};
use crate::config::{Config, OktaOrg};
use crate::error::SessionError;
use crate::journal::{Journal, SignOutStep};
use crate::provider::{http_client, Provider, DEFAULT_REQUEST_TIMEOUT};
use crate::tokens::{unix_seconds, StoredSession, UserClaims};
use crate::vault::{TokenVault, VaultError};
use sign_out::revocable;

/// Refresh an access token that expires within this margin, rather than hand out one that
/// dies in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Opens URLs in the person's web browser (tauri-plugin-opener in the app; scripted in
/// tests).
pub trait SystemBrowser: Send + Sync {
    /// Opens `url`; returns once the browser was asked to, not when the page loaded. The
    /// error is shown to the person: it must not contain the URL (it carries the state, and
    /// for a sign-out the ID token).
    fn open(&self, url: &Url) -> Result<(), String>;

    /// Whether the desktop hands `scheme:` links (the browser's redirect back) to this app.
    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String>;
}

/// Receives every change of the session (the app forwards them to the window).
pub trait SessionEvents: Send + Sync {
    /// The session changed to `view`.
    fn changed(&self, view: &SessionView);

    /// A sign-out ended: once per sign-out, with what came of it.
    fn signed_out(&self, outcome: &SignOutOutcome);

    /// A sign-out recorded `step` in its journal (for logs and progress).
    fn sign_out_step(&self, step: SignOutStep) {
        tracing::debug!(?step, "sign-out step");
    }
}

/// Why the app is signed out, when it is not simply because nobody signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedOutReason {
    /// Okta no longer accepts the stored session (signed out or revoked elsewhere).
    EndedElsewhere,
    /// The session reached its absolute timeout.
    Expired,
    /// The session was unused for longer than the idle timeout.
    Idle,
    /// A sign-out was cut short (the app stopped); the app finished it at this start.
    SignOutResumed,
}

/// The session as the UI sees it: no token, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionView {
    /// Nobody is signed in.
    SignedOut {
        /// Why, when the app signed the person out by itself.
        reason: Option<SignedOutReason>,
        /// The app session is gone; revocation and Okta's end of session are still running.
        #[serde(rename = "signingOut")]
        signing_out: bool,
    },
    /// Waiting for the browser to come back from Okta's sign-in.
    SigningIn,
    /// Signed in.
    SignedIn {
        /// Who.
        user: UserClaims,
        /// When the app session ends by itself (Unix seconds), if it does.
        #[serde(rename = "expiresAt")]
        expires_at: Option<u64>,
    },
}

/// Where the session's identity provider is and how to reach it.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    /// The issuer.
    pub issuer: Url,
    /// The app's client ID there.
    pub client_id: String,
    /// An extra trusted root certificate (PEM).
    pub extra_root_pem: Option<Vec<u8>>,
    /// How long one HTTP exchange with it may take before it counts as unreachable
    /// ([`DEFAULT_REQUEST_TIMEOUT`] unless a test needs a hang to end sooner).
    pub request_timeout: Duration,
}

impl IdentityProvider {
    /// The configured Okta org, with its `ca_file` read.
    pub fn from_org(org: &OktaOrg) -> Result<Self, SessionError> {
        let extra_root_pem = org
            .ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|error| {
                    SessionError::Configuration(format!(
                        "cannot read ca_file {}: {error}",
                        path.display()
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            issuer: org.issuer.clone(),
            client_id: org.client_id.clone(),
            extra_root_pem,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }
}

/// A signed-in session in memory.
struct Active {
    session: StoredSession,
}

enum State {
    SignedOut(Option<SignedOutReason>),
    SigningIn {
        cancel: Option<oneshot::Sender<()>>,
    },
    SignedIn(Active),
    /// The app session is already gone; the network steps of the sign-out run.
    SigningOut {
        cancel: Option<oneshot::Sender<()>>,
    },
}

/// The app session. One per app; share it behind an `Arc`.
pub struct SessionManager {
    config: Config,
    idp: IdentityProvider,
    http: reqwest::Client,
    /// Discovered once, then reused; a failed discovery is retried next time.
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    vault: TokenVault,
    journal: Journal,
    browser: Arc<dyn SystemBrowser>,
    events: Arc<dyn SessionEvents>,
    callbacks: PendingCallbacks,
    state: Mutex<State>,
    /// Serializes the read-modify-writes of the pending-revocation entry (sign-in, restore,
    /// refresh, sign-out and retries).
    revocations: Arc<tokio::sync::Mutex<()>>,
    /// Wakes the revocation retries when a sign-out left tokens queued.
    revocations_queued: tokio::sync::Notify,
    /// When the person last used the app (for the idle timeout). Wall-clock time, so that a
    /// suspended machine's sleep counts as idle.
    last_activity: Mutex<SystemTime>,
}

impl SessionManager {
    /// A signed-out manager; call [`SessionManager::restore`] to pick up a stored session.
    /// `journal` records sign-outs in progress (in the app's data directory).
    pub fn new(
        config: Config,
        idp: IdentityProvider,
        vault: TokenVault,
        journal: Journal,
        browser: Arc<dyn SystemBrowser>,
        events: Arc<dyn SessionEvents>,
    ) -> Result<Self, SessionError> {
        let http = http_client(idp.extra_root_pem.as_deref(), idp.request_timeout)?;
        Ok(Self {
            config,
            idp,
            http,
            provider: tokio::sync::Mutex::new(None),
            vault,
            journal,
            browser,
            events,
            callbacks: PendingCallbacks::default(),
            state: Mutex::new(State::SignedOut(None)),
            revocations: Arc::default(),
            revocations_queued: tokio::sync::Notify::new(),
            last_activity: Mutex::new(SystemTime::now()),
        })
    }

    /// The identity provider in use.
    pub fn identity_provider(&self) -> &IdentityProvider {
        &self.idp
    }

    /// The session as the UI may see it.
    pub fn view(&self) -> SessionView {
        self.view_of(&self.state.lock().expect("session state poisoned"))
    }

    fn view_of(&self, state: &State) -> SessionView {
        match state {
            State::SignedOut(reason) => SessionView::SignedOut {
                reason: *reason,
                signing_out: false,
            },
            State::SigningOut { .. } => SessionView::SignedOut {
                reason: None,
                signing_out: true,
            },
            State::SigningIn { .. } => SessionView::SigningIn,
            State::SignedIn(active) => SessionView::SignedIn {
                user: active.session.user.clone(),
                expires_at: self.session_deadline(&active.session).map(unix_seconds),
            },
        }
    }

    fn session_deadline(&self, session: &StoredSession) -> Option<SystemTime> {
        self.config
            .absolute_timeout
            .map(|timeout| session.signed_in_at + timeout)
    }

    /// Changes the state and reports it.
    fn set_state(&self, state: State) {
        let mut current = self.state.lock().expect("session state poisoned");
        *current = state;
        self.events.changed(&self.view_of(&current));
    }

    /// Reports the current state, under the lock, so that reports keep the order of changes.
    fn report_state(&self) {
        let current = self.state.lock().expect("session state poisoned");
        self.events.changed(&self.view_of(&current));
    }

    async fn provider(&self) -> Result<Arc<Provider>, SessionError> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached.as_ref() {
            return Ok(provider.clone());
        }
        let provider = Arc::new(
            Provider::discover(
                &self.idp.issuer,
                &self.idp.client_id,
                &self.config.redirect_uri,
                self.http.clone(),
            )
            .await?,
        );
        *cached = Some(provider.clone());
        Ok(provider)
    }

    /// Runs `operation` on the keychain off the async threads (keychain calls block). It
    /// starts at once, so that the caller can do other work before awaiting it.
    fn with_vault<T, F>(&self, operation: F) -> impl Future<Output = Result<T, VaultError>>
    where
        T: Send + 'static,
        F: FnOnce(&TokenVault) -> Result<T, VaultError> + Send + 'static,
    {
        let vault = self.vault.clone();
        let running = tokio::task::spawn_blocking(move || operation(&vault));
        async move { running.await.expect("a keychain call panicked") }
    }

    /// Stores `session`, its revocable tokens staged first (see
    /// [`crate::vault::PendingSignOut::staged`]). Staged tokens it replaces are queued for
    /// revocation, except those a refresh replaced: such tokens were never revoked, and
    /// revoking a rotated refresh token could end the access token just issued with it.
    async fn store(&self, session: &StoredSession, refreshed: bool) -> Result<(), VaultError> {
        let session = session.clone();
        let _guard = self.revocations.lock().await;
        let queued = self
            .with_vault(move |vault| {
                let live = revocable(&session.tokens);
                let queued = vault.update_pending(|pending| {
                    if refreshed {
                        pending.staged = live;
                        false
                    } else {
                        pending.stage(live)
                    }
                })?;
                vault.save(&session)?;
                Ok(queued)
            })
            .await?;
        if queued {
            self.revocations_queued.notify_one();
        }
        Ok(())
    }

    /// Picks up the session stored in the keychain: an expired access token is refreshed; a
    /// session Okta no longer accepts, or past its absolute timeout, is wiped. A sign-out that
    /// a crash cut short is finished first: its session is never restored. Call it once, at
    /// start, and let a sign-in wait for it: both store the session.
    pub async fn restore(&self) -> Result<SessionView, SessionError> {
        if self.resume_interrupted_sign_out().await? {
            self.set_state(State::SignedOut(Some(SignedOutReason::SignOutResumed)));
            return Ok(self.view());
        }
        // The staged tokens follow the stored session, read under the same lock as any store:
        // those of a session that is gone (a sign-out cut short after its delete) are queued
        // for revocation.
        let (stored, queued) = {
            let _guard = self.revocations.lock().await;
            self.with_vault(|vault| {
                let stored = match vault.load() {
                    Ok(stored) => stored,
                    Err(VaultError::Corrupt) => {
                        tracing::warn!("the stored session is unreadable; removing it");
                        vault.delete()?;
                        None
                    }
                    Err(error) => return Err(error),
                };
                let live = stored
                    .as_ref()
                    .map_or_else(Vec::new, |session| revocable(&session.tokens));
                let queued = vault.update_pending(|pending| pending.stage(live))?;
                Ok((stored, queued))
            })
            .await?
        };
        if queued {
            self.revocations_queued.notify_one();
        }
        let Some(mut session) = stored else {
            return Ok(self.view());
        };
        if self
            .session_deadline(&session)
            .is_some_and(|deadline| deadline <= SystemTime::now())
        {
            tracing::info!("the stored session reached its absolute timeout; signing out");
            return self.wipe(session, SignedOutReason::Expired).await;
        }
        if session.tokens.access_expired(EXPIRY_MARGIN) {
            match self.refresh(&session).await {
                Ok(refreshed) => session = refreshed,
                Err(SessionError::GrantRejected { .. } | SessionError::RefreshUnavailable) => {
                    tracing::info!("Okta no longer accepts the stored session; signing out");
                    return self.wipe(session, SignedOutReason::EndedElsewhere).await;
                }
                // Offline now: keep the session; the next use refreshes it.
                Err(error) => tracing::warn!(%error, "could not refresh the restored session"),
            }
        }
        tracing::info!("session restored");
        self.set_state(State::SignedIn(Active { session }));
        Ok(self.view())
    }

    async fn refresh(&self, session: &StoredSession) -> Result<StoredSession, SessionError> {
        let provider = self.provider().await?;
        let (tokens, user) = provider.refresh(&session.tokens).await?;
        let refreshed = StoredSession {
            tokens,
            user: user.unwrap_or_else(|| session.user.clone()),
            signed_in_at: session.signed_in_at,
        };
        self.store(&refreshed, true).await?;
        tracing::info!("tokens refreshed");
        Ok(refreshed)
    }

    async fn wipe(
        &self,
        session: StoredSession,
        reason: SignedOutReason,
    ) -> Result<SessionView, SessionError> {
        self.discard(session.tokens).await?;
        self.set_state(State::SignedOut(Some(reason)));
        Ok(self.view())
    }

    /// Signs in through the system browser and waits for the callback (matched by `state`),
    /// [`SessionManager::cancel_sign_in`], or the browser timeout. One sign-in at a time.
    pub async fn sign_in(&self) -> Result<UserClaims, SessionError> {
        let (cancel, cancelled) = oneshot::channel();
        {
            let mut state = self.state.lock().expect("session state poisoned");
            match &*state {
                State::SignedOut(_) => {}
                State::SignedIn(_) => return Err(SessionError::AlreadySignedIn),
                State::SigningIn { .. } | State::SigningOut { .. } => {
                    return Err(SessionError::Busy)
                }
            }
            *state = State::SigningIn {
                cancel: Some(cancel),
            };
        }
        self.report_state();
        let result = self.run_sign_in(cancelled).await;
        self.callbacks.forget(CallbackKind::SignIn);
        match result {
            Ok(session) => {
                let user = session.user.clone();
                tracing::info!(subject = %user.subject, "signed in");
                self.record_activity();
                self.set_state(State::SignedIn(Active { session }));
                Ok(user)
            }
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "sign-in failed");
                self.set_state(State::SignedOut(None));
                Err(error)
            }
        }
    }

    async fn run_sign_in(
        &self,
        cancelled: oneshot::Receiver<()>,
    ) -> Result<StoredSession, SessionError> {
        let provider = self.provider().await?;
        let request = provider.authorization_request(&self.config.scopes);
        let callback = self
            .callbacks
            .expect(CallbackKind::SignIn, request.state.expose());
        self.open_in_browser(request.url.clone())
            .await
            .map_err(SessionError::Browser)?;
        tracing::info!("waiting for the browser to come back from sign-in");
        let timeout = self.config.browser_timeout;
        let result = tokio::select! {
            result = callback => result.map_err(|_| SessionError::Cancelled)?,
            _ = cancelled => return Err(SessionError::Cancelled),
            _ = tokio::time::sleep(timeout) => return Err(SessionError::TimedOut(timeout.as_secs())),
        };
        let code = match result {
            CallbackResult::Code(code) => code,
            CallbackResult::Error { code, description } => {
                return Err(SessionError::IdpError { code, description })
            }
            CallbackResult::SignedOut => unreachable!("sign-in waits for sign-in callbacks only"),
        };
        let (tokens, user) = provider.exchange_code(code, request).await?;
        let session = StoredSession {
            tokens,
            user,
            signed_in_at: SystemTime::now(),
        };
        self.store(&session, false).await?;
        Ok(session)
    }

    /// Opens `url` in the system browser off the async threads (openers run programs).
    async fn open_in_browser(&self, url: Url) -> Result<(), String> {
        let browser = self.browser.clone();
        tokio::task::spawn_blocking(move || browser.open(&url))
            .await
            .expect("the browser opener panicked")
    }

    /// Whether the desktop hands `scheme:` links to this app, asked off the async threads.
    async fn check_scheme_handler(&self, scheme: &str) -> Result<(), String> {
        let browser = self.browser.clone();
        let scheme = scheme.to_owned();
        tokio::task::spawn_blocking(move || browser.check_scheme_handler(&scheme))
            .await
            .expect("the scheme check panicked")
    }

    /// Ends the wait for the browser of a sign-in or a sign-out; otherwise does nothing.
    pub fn cancel(&self) {
        let mut state = self.state.lock().expect("session state poisoned");
        if let State::SigningIn { cancel } | State::SigningOut { cancel } = &mut *state {
            if let Some(cancel) = cancel.take() {
                let _ = cancel.send(());
            }
        }
    }

    /// The person used the app: the idle timeout starts again.
    pub fn record_activity(&self) {
        *self.last_activity.lock().expect("activity clock poisoned") = SystemTime::now();
    }

    /// Handles a deep link from the OS: delivered to the flow whose `state` it carries, or
    /// ignored and logged. Returns whether a flow took it.
    pub fn handle_deep_link(&self, link: &str) -> bool {
        let delivered = Callback::parse(
            link,
            &self.config.redirect_uri,
            &self.config.post_logout_redirect_uri,
        )
        .and_then(|callback| self.callbacks.deliver(callback));
        match delivered {
            Ok(kind) => {
                tracing::info!(?kind, "callback accepted");
                true
            }
            Err(reason) => {
                // The link is not logged: it may carry a code meant for someone else.
                tracing::warn!(%reason, "deep link ignored");
                false
            }
        }
    }
}
