//! The session manager: the one owner of the app session. It signs in through the system
//! browser, keeps the tokens in the keychain and in memory, signs out, and reports every
//! change as a [`SessionView`] that holds claims only, never a token.
//!
//! [`SessionManager::start`] (start.rs) restores the stored session and runs the background
//! work; sign_in.rs and sign_out.rs hold the two flows, refresh.rs keeps the tokens fresh
//! while signed in, revocation.rs the queue of tokens to revoke and its retries, timeouts.rs
//! the idle and absolute timeouts, outcome.rs what a sign-out tells the person, and ports.rs
//! what the session needs from the app around it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{oneshot, watch};
use url::Url;

mod outcome;
mod ports;
mod refresh;
mod revocation;
mod sign_in;
mod sign_out;
mod start;
mod timeouts;

pub use outcome::{OutcomeKind, SignOutOutcome};
pub use ports::{DesktopLinks, SessionEvents, SystemBrowser};
pub use revocation::{RefusedToken, RevocationStatus};
pub use start::{Session, SessionParts};

use crate::callback::{self, Callback, PendingCallbacks};
use crate::config::Config;
use crate::error::{error_chain, SessionError};
use crate::journal::Journal;
use crate::loopback_page::{self, Page};
use crate::provider::{IdentityProvider, Provider};
use crate::tokens::{unix_seconds, StoredSession, UserClaims};
use crate::vault::{QueuedToken, TokenVault, VaultError};

/// Refresh an access token that expires within this margin, rather than hand out one that
/// dies in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Why the app is signed out, when it is not simply because nobody signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedOutReason {
    /// Okta no longer accepts the stored session (signed out or revoked elsewhere).
    EndedElsewhere,
    /// Okta refused to renew the session (`invalid_grant`): an administrator cleared the
    /// person's sessions, Universal Logout, reuse of a rotated refresh token, or the person
    /// was deactivated.
    EndedByOrganization,
    /// Okta renewed the session for another person, or as another issuer, than the one
    /// signed in.
    IdentityChanged,
    /// Okta's answer to a renewal could not be verified (e.g. signed with a key it does not
    /// publish), or, with DPoP on, its tokens were not bound to the session's key.
    UnverifiedAnswer,
    /// Okta refused the proof of the session's DPoP key (`invalid_dpop_proof`: a clock far
    /// off, or a key that is not the one the tokens are bound to).
    KeyRefused,
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
        /// The next sign-in asks for a password: a sign-out could not confirm that Okta's
        /// session in the browser ended, or Okta's answer named someone else.
        #[serde(rename = "passwordRequired")]
        password_required: bool,
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

// One per app: boxing the signed-in session would buy nothing.
#[allow(clippy::large_enum_variant)]
enum State {
    SignedOut(Option<SignedOutReason>),
    SigningIn {
        cancel: Option<oneshot::Sender<()>>,
    },
    SignedIn(StoredSession),
    /// The app session is already gone; the network steps of the sign-out run.
    SigningOut {
        cancel: Option<oneshot::Sender<()>>,
    },
}

/// What the restore at start came to: `None` while it runs.
type Restored = Option<Result<(), Arc<SessionError>>>;

/// The app's keychain entries, reached off the async threads (keychain calls block).
#[derive(Clone)]
struct Keychain {
    vault: TokenVault,
    /// Held by each read-modify-write of the pending-revocation entry (sign-in, restore,
    /// refresh, sign-out and retries), from before its read until after its write.
    pending: Arc<tokio::sync::Mutex<()>>,
}

impl Keychain {
    /// Runs `operation`. It starts at once, so that the caller can do other work before
    /// awaiting it.
    fn run<T, F>(&self, operation: F) -> impl Future<Output = Result<T, VaultError>>
    where
        T: Send + 'static,
        F: FnOnce(&TokenVault) -> Result<T, VaultError> + Send + 'static,
    {
        let vault = self.vault.clone();
        let running = tokio::task::spawn_blocking(move || operation(&vault));
        async move { running.await.expect("a keychain call panicked") }
    }

    /// Runs `operation`, a read-modify-write of the pending-revocation entry, after every
    /// other one has ended. The blocking thread holds the lock until `operation` returns, so
    /// a caller that stops waiting (a cancelled sign-out, a stopped session) cannot let the
    /// next one start in the middle of it.
    async fn exclusively<T, F>(&self, operation: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&TokenVault) -> Result<T, VaultError> + Send + 'static,
    {
        let guard = self.pending.clone().lock_owned().await;
        self.run(move |vault| {
            let _guard = guard;
            operation(vault)
        })
        .await
    }
}

/// The app session. One per app, made by [`SessionManager::start`].
pub struct SessionManager {
    config: Config,
    idp: IdentityProvider,
    http: reqwest::Client,
    /// Discovered once, then reused for the IdP's `discovery_max_age`; a failed
    /// discovery is retried next time.
    provider: tokio::sync::Mutex<Option<Arc<Provider>>>,
    keychain: Keychain,
    journal: Journal,
    browser: Arc<dyn SystemBrowser>,
    desktop_links: Arc<dyn DesktopLinks>,
    events: Arc<dyn SessionEvents>,
    callbacks: PendingCallbacks,
    state: Mutex<State>,
    /// Set once the stored session was restored (or found missing) at start; closed without
    /// a value if the start's work ended before that.
    restored: watch::Receiver<Restored>,
    /// Wakes the revocation retries when tokens were queued, or on "Retry now".
    revocations_queued: Arc<tokio::sync::Notify>,
    /// "Retry now" asked for the refused tokens to be tried again too.
    retry_refused: AtomicBool,
    /// The tokens still to revoke, as the window last heard of them.
    revocations: Mutex<revocation::RevocationStatus>,
    /// When the person last used the app (for the idle timeout). Wall-clock time, so that a
    /// suspended machine's sleep counts as idle.
    last_activity: Mutex<SystemTime>,
    /// Whether the next sign-in must ask for a password (kept in the journal's directory).
    fresh_login_required: AtomicBool,
    /// How many sign-outs have begun: a refresh that started before one must not store the
    /// session again.
    sign_outs_begun: Arc<AtomicU64>,
    /// Marked at every change of state, for the background refresh.
    state_changes: watch::Sender<()>,
    /// What the browser was sent to, while a sign-in or a sign-out waits on it: for "Open the
    /// page again" and "Copy link".
    browser_page: Mutex<Option<Arc<Page>>>,
}

impl SessionManager {
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
                password_required: self.fresh_login_required.load(Ordering::SeqCst),
            },
            State::SigningOut { .. } => SessionView::SignedOut {
                reason: None,
                signing_out: true,
                password_required: self.fresh_login_required.load(Ordering::SeqCst),
            },
            State::SigningIn { .. } => SessionView::SigningIn,
            State::SignedIn(session) => SessionView::SignedIn {
                user: session.user.clone(),
                expires_at: self.session_deadline(session).map(unix_seconds),
            },
        }
    }

    /// When `session` reaches its absolute timeout, if it has one.
    fn session_deadline(&self, session: &StoredSession) -> Option<SystemTime> {
        self.config
            .absolute_timeout
            .map(|timeout| session.signed_in_at + timeout)
    }

    /// Changes the state and reports it.
    fn set_state(&self, state: State) {
        let mut current = self.state.lock().expect("session state poisoned");
        *current = state;
        self.announce(&current);
    }

    /// Records whether the next sign-in must ask for a password. A marker that cannot be
    /// written is logged: the flag still holds for as long as the app runs.
    fn require_fresh_login(&self, required: bool) {
        self.fresh_login_required.store(required, Ordering::SeqCst);
        if let Err(error) = self.journal.set_fresh_login_required(required) {
            tracing::error!(%error, "could not record whether the next sign-in asks for a password");
        }
    }

    /// Reports the current state, under the lock, so that reports keep the order of changes.
    fn report_state(&self) {
        self.announce(&self.state.lock().expect("session state poisoned"));
    }

    /// Tells the app and the background refresh about `state`, the state just set; the caller
    /// holds the state's lock.
    fn announce(&self, state: &State) {
        self.events.changed(&self.view_of(state));
        self.state_changes.send_replace(());
    }

    /// Okta as discovered, discovering it first if no earlier call did, or again once the
    /// last discovery is older than its maximum age (if Okta cannot be reached then, the
    /// older discovery serves).
    async fn provider(&self) -> Result<Arc<Provider>, SessionError> {
        let mut cached = self.provider.lock().await;
        if let Some(provider) = cached
            .as_ref()
            .filter(|provider| !provider.is_stale(self.idp.discovery_max_age))
        {
            return Ok(provider.clone());
        }
        let discovered = Provider::discover(
            &self.idp.issuer,
            &self.idp.client_id,
            &self.config.redirect_uri,
            self.http.clone(),
        )
        .await;
        match (discovered, cached.as_ref()) {
            (Ok(provider), _) => {
                let provider = Arc::new(provider);
                *cached = Some(provider.clone());
                Ok(provider)
            }
            (Err(error), Some(stale)) => {
                tracing::warn!(error = %error_chain(&error), "could not discover Okta again; using the earlier discovery");
                Ok(stale.clone())
            }
            (Err(error), None) => Err(error),
        }
    }

    /// Stores `session`, its revocable tokens staged first (see
    /// [`crate::vault::PendingSignOut::staged`]). Staged tokens it replaces are queued for
    /// revocation, except a refresh token that a refresh replaced (see
    /// [`crate::vault::PendingSignOut::restage`]).
    async fn store(&self, session: &StoredSession, refreshed: bool) -> Result<(), VaultError> {
        let session = session.clone();
        let origin = self.origin();
        let queued = self
            .keychain
            .exclusively(move |vault| {
                let live = QueuedToken::all_of(&session.tokens, &origin);
                let queued = vault.update_pending(|pending| {
                    if refreshed {
                        pending.restage(live)
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

    /// Opens `url` in the system browser off the async threads (openers run programs).
    async fn open_in_browser(&self, url: Url) -> Result<(), String> {
        let browser = self.browser.clone();
        tokio::task::spawn_blocking(move || browser.open(&url))
            .await
            .expect("the browser opener panicked")
    }

    /// Opens `page` in the system browser, through a fresh one-time loopback link.
    async fn open_page(&self, page: Arc<Page>) -> Result<(), String> {
        let link = link_to(page).await?;
        self.open_in_browser(link).await
    }

    /// Records what the browser is sent to while a flow waits on it (`None` once it is over).
    fn set_browser_page(&self, page: Option<Arc<Page>>) {
        *self.browser_page.lock().expect("browser page poisoned") = page;
    }

    /// Where the flow that waits on the browser sent it, if one waits.
    fn browser_page(&self) -> Option<Arc<Page>> {
        self.browser_page
            .lock()
            .expect("browser page poisoned")
            .clone()
    }

    /// "Open the page again": the browser is sent once more to where the waiting sign-in or
    /// sign-out sent it (for a browser that did not open, or a tab closed too soon). Does
    /// nothing when no flow waits.
    pub async fn open_browser_again(&self) -> Result<(), SessionError> {
        match self.browser_page() {
            Some(page) => self.open_page(page).await.map_err(SessionError::Browser),
            None => Ok(()),
        }
    }

    /// "Copy link": a fresh one-time link to where the waiting sign-in or sign-out sends the
    /// browser, for the person to paste into a browser. It holds no token (nor a `state`): it
    /// leads to a page on this machine, once, within a minute. `None` when no flow waits.
    pub async fn browser_link(&self) -> Result<Option<Url>, SessionError> {
        match self.browser_page() {
            Some(page) => link_to(page).await.map(Some).map_err(SessionError::Browser),
            None => Ok(None),
        }
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
        tracing::info!(url = %callback::redacted(link), "deep link received");
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
                tracing::warn!(%reason, "deep link ignored");
                false
            }
        }
    }
}

/// A fresh one-time loopback link to `page`; the error says so in words for the window.
async fn link_to(page: Arc<Page>) -> Result<Url, String> {
    loopback_page::publish(page)
        .await
        .map_err(|error| format!("cannot serve the page for your browser: {error}"))
}
