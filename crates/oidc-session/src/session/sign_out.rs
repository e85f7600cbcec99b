//! Sign-out: the app session ends at once and locally (even offline), then the tokens are
//! revoked (RFC 7009) and, for a full sign-out, Okta's session in the browser ends through
//! its end-session endpoint, confirmed by the post-logout deep link. A journal makes every
//! step survive a crash; tokens still to revoke wait in the keychain and are retried. The
//! session's tokens are staged for revocation when it is stored, so that ending the app
//! session takes one keychain call: deleting the session entry.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::CsrfToken;
use serde::Serialize;
use tokio::sync::oneshot;

use super::{SessionManager, SignedOutReason, State};
use crate::callback::{CallbackKind, CallbackResult};
use crate::error::SessionError;
use crate::journal::{JournalRecord, SignOutMode, SignOutStep};
use crate::provider::{EndSessionError, Provider, RevocationError};
use crate::secret::Sensitive;
use crate::tokens::SessionTokens;
use crate::vault::{PendingSignOut, RevocableToken, TokenKind, TokenVault, VaultError};

/// The first wait before retrying queued revocations; it doubles up to the maximum.
const FIRST_RETRY: Duration = Duration::from_secs(2);
const MAX_RETRY: Duration = Duration::from_secs(300);
/// How often the session timeouts are checked, at most.
const TIMEOUT_CHECK: Duration = Duration::from_secs(15);

/// What came of a sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// App session ended, tokens revoked, Okta confirmed the end of its session.
    Completed,
    /// App session ended as asked; the browser stays signed in to Okta.
    SignedOutOfAppOnly,
    /// App session ended; Okta did not confirm in time.
    TimedOut,
    /// App session ended; the person stopped waiting for Okta.
    Cancelled,
    /// App session ended; Okta reported an error on the way back.
    IdpError,
    /// App session ended; Okta could not be reached, revocation is queued.
    Offline,
    /// App session ended; Okta's sign-out could not start (configuration to fix).
    PreflightFailed,
}

/// A sign-out's outcome, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutOutcome {
    /// What came of it.
    pub kind: OutcomeKind,
    /// What it means, in plain words.
    pub message: String,
    /// Tokens are still waiting to be revoked (retried in the background).
    pub revocation_pending: bool,
    /// Okta got an expired ID token as `id_token_hint` (no fresh one could be had).
    pub expired_id_token_hint: bool,
}

/// How the network part of a sign-out ended, before it becomes a message.
enum Ending {
    Confirmed,
    AppOnly,
    TimedOut,
    Cancelled,
    IdpError(String),
    Offline,
    Preflight(String),
}

/// The session's tokens that can be revoked: refresh token first, because revoking it also
/// ends the access tokens issued with it.
pub(super) fn revocable(tokens: &SessionTokens) -> Vec<RevocableToken> {
    let mut revocable = Vec::new();
    if let Some(refresh_token) = &tokens.refresh_token {
        revocable.push((TokenKind::RefreshToken, refresh_token.clone()));
    }
    revocable.push((TokenKind::AccessToken, tokens.access_token.clone()));
    revocable
}

impl PendingSignOut {
    /// Everything a sign-out needs from the session's tokens.
    fn from_tokens(tokens: &SessionTokens) -> Self {
        Self {
            to_revoke: revocable(tokens),
            id_token: Some(tokens.id_token.clone()),
            staged: Vec::new(),
        }
    }
}

impl SessionManager {
    /// Signs out. The app session ends before this touches the network; what follows is
    /// reported once, through [`super::SessionEvents::signed_out`]. Signing out while signed
    /// out, or while a sign-out runs, does nothing; during a sign-in it is refused.
    pub async fn sign_out(&self, mode: SignOutMode) -> Result<(), SessionError> {
        self.sign_out_because(mode, None).await
    }

    async fn sign_out_because(
        &self,
        mode: SignOutMode,
        reason: Option<SignedOutReason>,
    ) -> Result<(), SessionError> {
        let (cancel, cancelled) = oneshot::channel();
        let active = {
            let mut state = self.state.lock().expect("session state poisoned");
            match std::mem::replace(
                &mut *state,
                State::SigningOut {
                    cancel: Some(cancel),
                },
            ) {
                State::SignedIn(active) => active,
                State::SigningIn { cancel } => {
                    *state = State::SigningIn { cancel };
                    return Err(SessionError::Busy);
                }
                other => {
                    *state = other;
                    return Ok(());
                }
            }
        };
        tracing::info!(?mode, "signing out");
        // 1. Local first: the session leaves memory (zeroized on drop) and the keychain. Its
        // tokens were staged for revocation when it was stored, so deleting its entry is all
        // it takes; the journal notes meanwhile that a sign-out runs. Whichever of the two a
        // crash cuts short, the next start neither restores the session nor loses its tokens.
        let pending = PendingSignOut::from_tokens(&active.session.tokens);
        drop(active);
        let deleting = self.with_vault(TokenVault::delete);
        let mut journal = JournalRecord::start(mode);
        self.record_step(&journal);
        if let Err(error) = deleting.await {
            tracing::error!(%error, "the keychain failed while ending the app session");
        }
        self.report_state();
        // 2. The staged tokens are queued, with the ID token the next steps need.
        self.queue_pending(pending.clone()).await;
        journal.step = SignOutStep::LocalDone;
        self.record_step(&journal);

        let mut expired_hint = false;
        let ending = tokio::select! {
            ending = self.end_remote_session(mode, pending, &mut journal, &mut expired_hint) => ending,
            _ = cancelled => Ending::Cancelled,
        };
        self.callbacks.forget(CallbackKind::SignOut);

        // 7. Verify: nothing of the session is left in the keychain.
        let verified = self.finish_pending_entry().await;
        let revocation_pending = verified.as_ref().map_or(true, |pending| *pending);
        let outcome = self.outcome(ending, revocation_pending, expired_hint);
        tracing::info!(kind = ?outcome.kind, revocation_pending, "signed out");
        self.set_state(State::SignedOut(reason));
        self.events.signed_out(&outcome);
        match verified {
            Ok(_) => {
                if let Err(error) = self.journal.clear() {
                    tracing::error!(%error, "could not clear the sign-out journal");
                }
            }
            // The journal stays: the next start finishes the sign-out, never restores.
            Err(error) => {
                tracing::error!(%error, "the keychain failed while finishing the sign-out")
            }
        }
        if revocation_pending {
            self.revocations_queued.notify_one();
        }
        Ok(())
    }

    /// Writes the journal; a journal that cannot be written never stops a sign-out.
    fn record_step(&self, record: &JournalRecord) {
        if let Err(error) = self.journal.write(record) {
            tracing::error!(%error, path = %self.journal.path().display(), "could not write the sign-out journal");
        }
        self.events.sign_out_step(record.step);
    }

    /// Queues `pending`'s tokens in the pending-revocation entry (unstaging them). A failure
    /// is logged: the tokens stay staged there, and the end of the sign-out queues them.
    async fn queue_pending(&self, pending: PendingSignOut) {
        let _guard = self.revocations.lock().await;
        let result = self
            .with_vault(move |vault| vault.update_pending(|queued| queued.merge(pending)))
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "could not queue the tokens to revoke");
        }
    }

    /// Steps 3 to 6: revoke, preflight, Okta's end-session request, the wait for its
    /// confirmation. Sets `expired_hint` when Okta got an expired ID token as the hint.
    async fn end_remote_session(
        &self,
        mode: SignOutMode,
        mut pending: PendingSignOut,
        journal: &mut JournalRecord,
        expired_hint: &mut bool,
    ) -> Ending {
        let provider = match self.provider().await {
            Ok(provider) => provider,
            Err(error) => {
                tracing::warn!(%error, "Okta cannot be reached; revocation queued");
                return Ending::Offline;
            }
        };
        // An expired ID token makes some Okta orgs refuse the end-session request: get a
        // fresh one while the refresh token still works, and revoke what that yields too.
        if mode == SignOutMode::Full {
            *expired_hint = self.freshen_id_token(&provider, &mut pending).await;
        }
        // 3. Revoke.
        let revoked = self.revoke_queued(&provider).await;
        journal.step = SignOutStep::Revoked;
        self.record_step(journal);
        if let Err(RevocationError::Unreachable(reason)) = &revoked {
            tracing::warn!(%reason, "Okta cannot be reached; revocation queued");
            return Ending::Offline;
        }
        if mode == SignOutMode::AppOnly {
            return Ending::AppOnly;
        }
        // 4. Preflight.
        let Some(id_token) = pending.id_token.take() else {
            return Ending::Preflight(
                "the session had no ID token to end Okta's session with".into(),
            );
        };
        if *expired_hint {
            tracing::warn!("ending Okta's session with an expired ID token as the hint");
        }
        let state = Sensitive::new(CsrfToken::new_random().into_secret());
        let post_logout = &self.config.post_logout_redirect_uri;
        let url = match provider.end_session_url(&id_token, post_logout, &state) {
            Ok(url) => url,
            Err(error) => return Ending::Preflight(error.to_string()),
        };
        if let Err(reason) = self.check_scheme_handler(post_logout.scheme()).await {
            return Ending::Preflight(format!(
                "the desktop does not hand {}: links back to this app ({reason}); reinstall the app or restart it to register it again",
                post_logout.scheme()
            ));
        }
        match provider.check_end_session(&url, post_logout).await {
            Ok(()) => {}
            Err(EndSessionError::Unreachable(reason)) => {
                tracing::warn!(%reason, "Okta's end-session endpoint cannot be reached");
                return Ending::Offline;
            }
            Err(EndSessionError::Misconfigured(reason)) => return Ending::Preflight(reason),
        }
        // 5. End Okta's session in the browser, where its cookie lives.
        let confirmation = self.callbacks.expect(CallbackKind::SignOut, state.expose());
        if let Err(error) = self.open_in_browser(url).await {
            return Ending::Preflight(format!("cannot open your web browser: {error}"));
        }
        journal.step = SignOutStep::BrowserOpened;
        self.record_step(journal);
        tracing::info!("waiting for Okta to confirm the end of its session");
        // 6. Wait for the post-logout redirect with our state.
        match tokio::time::timeout(self.config.sign_out_timeout, confirmation).await {
            Ok(Ok(CallbackResult::SignedOut)) => Ending::Confirmed,
            Ok(Ok(CallbackResult::Error { code, description })) => {
                Ending::IdpError(description.unwrap_or(code))
            }
            Ok(Ok(CallbackResult::Code(_))) => {
                unreachable!("sign-out waits for sign-out callbacks only")
            }
            Ok(Err(_)) => Ending::Cancelled,
            Err(_) => Ending::TimedOut,
        }
    }

    /// Refreshes to replace an expired ID token; returns whether the hint stays expired.
    async fn freshen_id_token(
        &self,
        provider: &Arc<Provider>,
        pending: &mut PendingSignOut,
    ) -> bool {
        let Some(id_token) = pending.id_token.as_ref() else {
            return false;
        };
        if !provider.id_token_expired(id_token) {
            return false;
        }
        let refresh_token = pending
            .to_revoke
            .iter()
            .find(|(kind, _)| *kind == TokenKind::RefreshToken)
            .map(|(_, token)| token.clone());
        let Some(refresh_token) = refresh_token else {
            return true;
        };
        let tokens = SessionTokens {
            access_token: Sensitive::default(),
            access_expires_at: std::time::SystemTime::now(),
            refresh_token: Some(refresh_token),
            id_token: id_token.clone(),
        };
        // Okta issues new tokens as soon as it answers, and they are as live as the old ones:
        // they are queued for revocation even if the person stops waiting meanwhile (that
        // drops this future, not the task).
        let refreshing = tokio::spawn({
            let provider = provider.clone();
            let vault = self.vault.clone();
            let lock = self.revocations.clone();
            async move {
                let (fresh, _) = provider.refresh(&tokens).await?;
                let fresh = PendingSignOut::from_tokens(&fresh);
                let queued = fresh.clone();
                let _guard = lock.lock_owned().await;
                let saved = tokio::task::spawn_blocking(move || {
                    vault.update_pending(|pending| pending.merge(queued))
                })
                .await
                .expect("a keychain call panicked");
                if let Err(error) = saved {
                    tracing::error!(%error, "could not queue the refreshed tokens");
                }
                Ok::<_, SessionError>(fresh)
            }
        });
        match refreshing.await.expect("the refresh task panicked") {
            Ok(fresh) => {
                pending.merge(fresh);
                false
            }
            Err(error) => {
                tracing::warn!(%error, "could not refresh the expired ID token");
                true
            }
        }
    }

    /// Revokes the tokens in the pending entry, refresh tokens first, and keeps the ones
    /// that failed there.
    async fn revoke_queued(&self, provider: &Provider) -> Result<(), RevocationError> {
        // The entry is read and rewritten under the lock, but not held across the network:
        // a sign-out may queue more tokens meanwhile, and they must survive the rewrite.
        let queued = {
            let _guard = self.revocations.lock().await;
            self.with_vault(TokenVault::load_pending)
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "cannot read the tokens to revoke");
                    None
                })
        };
        let Some(queued) = queued else {
            return Ok(());
        };
        let mut result = Ok(());
        let mut revoked = Vec::new();
        for (kind, token) in queued.to_revoke {
            match provider.revoke(kind, &token).await {
                Ok(()) => {
                    tracing::info!(?kind, "token revoked");
                    revoked.push(token);
                }
                Err(error) => {
                    tracing::warn!(?kind, %error, "revocation failed; queued");
                    result = Err(error);
                    // The IdP is unlikely to take the next one: keep the rest for later.
                    break;
                }
            }
        }
        let _guard = self.revocations.lock().await;
        let saved = self
            .with_vault(move |vault| {
                vault.update_pending(|pending| {
                    pending
                        .to_revoke
                        .retain(|(_, token)| !revoked.contains(token))
                })
            })
            .await;
        if let Err(error) = saved {
            tracing::error!(%error, "could not update the tokens to revoke");
        }
        result
    }

    /// Drops the ID token from the pending entry (the sign-out no longer needs it) and
    /// queues whatever is still staged there (no session lives now); the entry goes when
    /// nothing is left to revoke. Returns whether tokens still wait; an error means the
    /// session entry may still be in the keychain.
    async fn finish_pending_entry(&self) -> Result<bool, VaultError> {
        let _guard = self.revocations.lock().await;
        self.with_vault(|vault| {
            // Read back: the session entry must be gone.
            if vault.load().map_or(true, |session| session.is_some()) {
                tracing::error!("the session is still in the keychain; deleting it again");
                vault.delete()?;
            }
            vault.update_pending(|pending| {
                pending.stage(Vec::new());
                pending.id_token = None;
                !pending.to_revoke.is_empty()
            })
        })
        .await
    }

    /// Finishes a sign-out that a crash cut short: the session leaves the keychain (its
    /// tokens queued for revocation), the journal is cleared. Returns whether there was one.
    pub(super) async fn resume_interrupted_sign_out(&self) -> Result<bool, SessionError> {
        let record = match self.journal.read() {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(false),
            // Failing closed: a journal that is there but unreadable still means a sign-out.
            Err(error) => {
                tracing::error!(%error, "cannot read the sign-out journal; finishing the sign-out");
                JournalRecord::start(SignOutMode::Full)
            }
        };
        tracing::warn!(step = ?record.step, mode = ?record.mode, "finishing an interrupted sign-out");
        {
            let _guard = self.revocations.lock().await;
            self.with_vault(|vault| match vault.load() {
                Ok(Some(session)) => queue_for_revocation(vault, &session.tokens),
                Ok(None) => Ok(()),
                Err(VaultError::Corrupt) => vault.delete(),
                Err(error) => Err(error),
            })
            .await?;
        }
        self.finish_pending_entry().await?;
        self.journal.clear().map_err(|error| {
            SessionError::Configuration(format!("cannot clear the sign-out journal: {error}"))
        })?;
        self.revocations_queued.notify_one();
        Ok(true)
    }

    /// Ends a stored session that will not be restored (expired, or dead at Okta): it leaves
    /// the keychain, and its tokens are queued for revocation.
    pub(super) async fn discard(&self, tokens: SessionTokens) -> Result<(), VaultError> {
        let _guard = self.revocations.lock().await;
        self.with_vault(move |vault| queue_for_revocation(vault, &tokens))
            .await?;
        self.revocations_queued.notify_one();
        Ok(())
    }

    /// Revokes queued tokens until none are left: at start, and whenever a sign-out queues
    /// some, with a backoff between failed attempts. Runs for the app's lifetime.
    pub async fn run_revocation_retries(&self) {
        let mut delay = FIRST_RETRY;
        loop {
            let queued = matches!(
                self.with_vault(TokenVault::load_pending).await,
                Ok(Some(pending)) if !pending.to_revoke.is_empty()
            );
            if !queued {
                delay = FIRST_RETRY;
                self.revocations_queued.notified().await;
                continue;
            }
            let result = match self.provider().await {
                Ok(provider) => self
                    .revoke_queued(&provider)
                    .await
                    .map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match result {
                Ok(()) => {
                    tracing::info!("queued revocations done");
                    delay = FIRST_RETRY;
                }
                Err(error) => {
                    tracing::info!(%error, retry_in = ?delay, "queued revocations still pending");
                    // A new sign-out's queue is a reason to try now rather than later.
                    let _ = tokio::time::timeout(delay, self.revocations_queued.notified()).await;
                    delay = (delay * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// Signs out of the app by itself when the session passes its absolute or idle timeout.
    /// Runs for the app's lifetime.
    pub async fn run_session_timeouts(&self) {
        // A timeout is noticed within a quarter of its length (and 15 s).
        let check = [self.config.idle_timeout, self.config.absolute_timeout]
            .into_iter()
            .flatten()
            .map(|timeout| timeout / 4)
            .fold(TIMEOUT_CHECK, Duration::min);
        loop {
            tokio::time::sleep(check).await;
            if let Some(reason) = self.timed_out() {
                tracing::info!(?reason, "session timeout: signing out of the app");
                if let Err(error) = self
                    .sign_out_because(SignOutMode::AppOnly, Some(reason))
                    .await
                {
                    tracing::warn!(%error, "could not sign out at the session timeout");
                }
            }
        }
    }

    /// Which timeout, if any, the signed-in session has passed.
    fn timed_out(&self) -> Option<SignedOutReason> {
        let state = self.state.lock().expect("session state poisoned");
        let State::SignedIn(active) = &*state else {
            return None;
        };
        if self
            .session_deadline(&active.session)
            .is_some_and(|deadline| deadline <= std::time::SystemTime::now())
        {
            return Some(SignedOutReason::Expired);
        }
        let idle = self
            .last_activity
            .lock()
            .expect("activity clock poisoned")
            .elapsed()
            .unwrap_or_default();
        self.config
            .idle_timeout
            .is_some_and(|limit| idle >= limit)
            .then_some(SignedOutReason::Idle)
    }
}

/// Queues `tokens` in the pending-revocation entry (without an ID token: no sign-out will use
/// it) and deletes the session entry.
fn queue_for_revocation(vault: &TokenVault, tokens: &SessionTokens) -> Result<(), VaultError> {
    let mut queued = PendingSignOut::from_tokens(tokens);
    queued.id_token = None;
    vault.update_pending(|pending| pending.merge(queued))?;
    vault.delete()
}

impl SessionManager {
    fn outcome(
        &self,
        ending: Ending,
        revocation_pending: bool,
        expired_hint: bool,
    ) -> SignOutOutcome {
        let browser_may_be_signed_in = "your browser may still be signed in to Okta";
        let (kind, mut message) = match ending {
        Ending::Confirmed => (
            OutcomeKind::Completed,
            "You are signed out of this app and of Okta in your browser.".to_owned(),
        ),
        Ending::AppOnly => (
            OutcomeKind::SignedOutOfAppOnly,
            "You are signed out of this app. Your browser stays signed in to Okta, so signing in again needs no password.".to_owned(),
        ),
        Ending::TimedOut => (
            OutcomeKind::TimedOut,
            format!(
                "Signed out of this app; Okta did not confirm — {browser_may_be_signed_in}. If your browser shows an Okta error, check that {} is one of the app's Sign-out redirect URIs in Okta.",
                self.config.post_logout_redirect_uri
            ),
        ),
        Ending::Cancelled => (
            OutcomeKind::Cancelled,
            format!("Signed out of this app. You stopped waiting for Okta, so {browser_may_be_signed_in}."),
        ),
        Ending::IdpError(reason) => (
            OutcomeKind::IdpError,
            format!("Signed out of this app, but Okta reported: {reason}. {}.", capitalized(browser_may_be_signed_in)),
        ),
        Ending::Offline => (
            OutcomeKind::Offline,
            format!("Signed out of this app. Okta cannot be reached right now, so {browser_may_be_signed_in}."),
        ),
        Ending::Preflight(reason) => (
            OutcomeKind::PreflightFailed,
            format!("Signed out of this app, but Okta's sign-out could not start: {reason}. {}.", capitalized(browser_may_be_signed_in)),
        ),
    };
        if expired_hint {
            message.push_str(" Your ID token had expired and could not be renewed, so Okta got the expired one as the sign-out hint.");
        }
        if revocation_pending {
            message.push_str(
                " Your tokens are not revoked yet: the app keeps trying until Okta takes them.",
            );
        }
        SignOutOutcome {
            kind,
            message,
            revocation_pending,
            expired_id_token_hint: expired_hint,
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default()
}
