//! Keeping the session fresh. While signed in, the tokens are renewed a little before the
//! access token expires (with jitter, so that many apps do not ask Okta at the same moment);
//! nothing happens while signed out. Okta refusing the refresh token (`invalid_grant`) is how
//! a desktop app learns that the organization ended the session (an administrator cleared
//! the person's sessions, Universal Logout, refresh-token reuse, deactivation): the app then
//! signs out of itself. Offline, the session stays and the refresh is retried with backoff.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::revocation::{FIRST_RETRY, MAX_RETRY};
use super::{SessionManager, SignedOutReason, State};
use crate::error::{error_chain, SessionError};
use crate::journal::SignOutMode;
use crate::tokens::StoredSession;
use crate::vault::{PendingSignOut, QueuedToken};

/// How long before the access token expires the refresh happens, at most: a quarter of its
/// remaining life for short-lived tokens.
const REFRESH_LEAD: Duration = Duration::from_secs(60);
/// The least time between two refreshes, whatever lifetime Okta gives the tokens.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// The longest the background refresh sleeps before it looks at the clock again.
const MAX_SLEEP: Duration = Duration::from_secs(30);

impl SessionManager {
    /// Renews `session`'s tokens with its refresh token and stores them. A keychain that
    /// cannot store them is logged: the renewed session is the one to use, its refresh token
    /// perhaps the only live one, and the next store saves it.
    pub(super) async fn refresh(
        &self,
        session: &StoredSession,
    ) -> Result<StoredSession, SessionError> {
        let refreshed = self.renewed(session).await?;
        if let Err(error) = self.store(&refreshed, true).await {
            tracing::error!(error = %error_chain(&error), "could not store the refreshed tokens");
        }
        tracing::info!("tokens refreshed");
        Ok(refreshed)
    }

    /// `session` with new tokens from Okta; nothing is stored. Tokens that Okta issued with an
    /// answer the app cannot use are queued for revocation.
    async fn renewed(&self, session: &StoredSession) -> Result<StoredSession, SessionError> {
        // Okta first: offline, the session is kept whether it can be refreshed or not.
        let provider = self.provider().await?;
        let refresh_token = session
            .tokens
            .refresh_token
            .as_ref()
            .ok_or(SessionError::RefreshUnavailable)?;
        let refreshed = provider
            .refresh(
                refresh_token,
                &session.tokens.id_token,
                &session.user.subject,
                session.dpop_key.as_ref(),
            )
            .await;
        let (tokens, user) = self.revoking_unused(refreshed).await?;
        Ok(StoredSession {
            id: session.id.clone(),
            tokens,
            user: user.unwrap_or_else(|| session.user.clone()),
            signed_in_at: session.signed_in_at,
            dpop_key: session.dpop_key.clone(),
        })
    }

    /// Whether a failed refresh ends the session, and why: Okta refused to renew it, or
    /// answered with what the app cannot use. When Okta named another person, the next
    /// sign-in must ask for a password; that is recorded here, before the session ends (its
    /// sign-out may not run, for a newer session, or not finish, should the app quit): failing
    /// closed costs a password, failing open a silent sign-in. Anything else (offline, Okta in
    /// trouble, the keychain) leaves the session for a retry.
    pub(super) fn session_ending(&self, error: &SessionError) -> Option<SignedOutReason> {
        let reason = match error {
            SessionError::GrantRejected { .. } => SignedOutReason::EndedByOrganization,
            SessionError::IdpError { code, .. } if code == "invalid_dpop_proof" => {
                SignedOutReason::KeyRefused
            }
            // E.g. invalid_client: the app is no longer allowed to renew sessions. Not a new
            // DPoP nonce that came once more while the refresh went again with the last one.
            SessionError::IdpError { code, .. }
                if !matches!(
                    code.as_str(),
                    "temporarily_unavailable" | "server_error" | "use_dpop_nonce"
                ) =>
            {
                SignedOutReason::EndedByOrganization
            }
            SessionError::RefreshUnavailable => SignedOutReason::EndedElsewhere,
            SessionError::IdentityChanged => {
                self.require_fresh_login(true);
                SignedOutReason::IdentityChanged
            }
            SessionError::InvalidIdToken(_) | SessionError::NotDpopBound { .. } => {
                SignedOutReason::UnverifiedAnswer
            }
            _ => return None,
        };
        tracing::warn!(?reason, error = %error_chain(error), "the session cannot be renewed; signing out of the app");
        Some(reason)
    }

    /// Renews the signed-in session's tokens now (the background refresh does this before
    /// the access token expires). A sign-out that begins meanwhile wins: the new tokens are
    /// then queued for revocation instead of stored. When Okta refuses (the organization
    /// ended the session) or answers with what the app cannot use, the app signs out of
    /// itself, unless that session already ended another way.
    pub async fn refresh_now(&self) -> Result<(), SessionError> {
        let (session, sign_outs) = {
            let state = self.state.lock().expect("session state poisoned");
            let State::SignedIn(session) = &*state else {
                return Err(SessionError::NotSignedIn);
            };
            (session.clone(), self.sign_outs_begun.load(Ordering::SeqCst))
        };
        let result = self.refresh_signed_in(&session, sign_outs).await;
        if let Some(reason) = result
            .as_ref()
            .err()
            .and_then(|error| self.session_ending(error))
        {
            let ended = self
                .sign_out_because(SignOutMode::AppOnly, Some(reason), Some(sign_outs))
                .await;
            if let Err(error) = ended {
                tracing::warn!(error = %error_chain(&error), "could not sign out of the app");
            }
        }
        result
    }

    /// Renews `session`, signed in while `sign_outs` sign-outs had begun, and stores it unless
    /// a sign-out begins meanwhile.
    async fn refresh_signed_in(
        &self,
        session: &StoredSession,
        sign_outs: u64,
    ) -> Result<(), SessionError> {
        let refreshed = self.renewed(session).await?;
        let stored = refreshed.clone();
        let sign_outs_begun = self.sign_outs_begun.clone();
        let origin = self.origin();
        let kept = self
            .keychain
            .exclusively(move |vault| {
                let signed_out = || sign_outs_begun.load(Ordering::SeqCst) != sign_outs;
                if !signed_out() {
                    let live = QueuedToken::all_of(&stored.tokens, &origin);
                    let replaced = vault.update_pending(|pending| pending.restage(live))?;
                    vault.save(&stored)?;
                    if !signed_out() {
                        return Ok(Some(replaced));
                    }
                    // The sign-out's delete may have run before this save.
                    vault.delete()?;
                }
                vault.update_pending(|pending| {
                    pending.merge(PendingSignOut::revocable_only(&stored.tokens, &origin));
                })?;
                Ok(None)
            })
            .await;
        // Some(replaced): stored, and the access token it replaced queued if `replaced`; None:
        // a sign-out took over.
        if let Ok(Some(true)) = kept {
            self.revocations_queued.notify_one();
        }
        if let Ok(None) = kept {
            tracing::info!("a sign-out began during the refresh; its tokens are queued");
            self.revocations_queued.notify_one();
            return Ok(());
        }
        // Kept, or the keychain failed: either way the new tokens are the session's now (the
        // old refresh token may be rotated away), and the next store saves them.
        let mut state = self.state.lock().expect("session state poisoned");
        if let State::SignedIn(current) = &mut *state {
            if self.sign_outs_begun.load(Ordering::SeqCst) == sign_outs {
                *current = refreshed;
                self.announce(&state);
            }
        }
        kept?;
        tracing::info!("tokens refreshed");
        Ok(())
    }

    /// Refreshes the tokens before they expire for as long as the session lives, and signs
    /// out of the app when Okta refuses. Runs for the session's lifetime.
    pub(super) async fn run_token_refresh(&self) {
        let mut changes = self.state_changes.subscribe();
        let mut retry = FIRST_RETRY;
        let mut due = None;
        loop {
            changes.borrow_and_update();
            if due.is_none() {
                due = self.refresh_due();
                retry = FIRST_RETRY;
            }
            // Wall-clock time, checked at least every MAX_SLEEP: a suspended machine's sleep
            // counts, and a refresh due meanwhile happens soon after it wakes.
            let wait = due.map(|due: SystemTime| {
                due.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
                    .min(MAX_SLEEP)
            });
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    // A sign-in, a sign-out or a refresh: when the next refresh is due changes.
                    due = None;
                    continue;
                }
                () = sleep_for(wait) => {}
            }
            if due.is_some_and(|due| SystemTime::now() < due) {
                continue;
            }
            match self.refresh_now().await {
                Ok(()) | Err(SessionError::NotSignedIn) => due = None,
                Err(error) if self.is_signed_out() => {
                    tracing::debug!(error = %error_chain(&error), "the refresh ended the session");
                    due = None;
                }
                // Offline, or Okta in trouble: the session stays, the refresh is tried again.
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), retry_in = ?retry, "could not refresh the tokens");
                    due = Some(SystemTime::now() + retry);
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// Whether nobody is signed in (or a sign-out runs).
    fn is_signed_out(&self) -> bool {
        !matches!(
            *self.state.lock().expect("session state poisoned"),
            State::SignedIn(_)
        )
    }

    /// When the signed-in session's tokens are next due for renewal; `None` when signed out
    /// or when there is no refresh token to renew them with.
    fn refresh_due(&self) -> Option<SystemTime> {
        let state = self.state.lock().expect("session state poisoned");
        let State::SignedIn(session) = &*state else {
            return None;
        };
        session.tokens.refresh_token.as_ref()?;
        let expires_at = session.tokens.access_expires_at;
        let remaining = expires_at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let lead = REFRESH_LEAD.min(remaining / 4);
        // Up to half the lead again, at random.
        let jitter = lead.mul_f64(random_fraction() / 2.0);
        Some((expires_at - lead - jitter).max(SystemTime::now() + MIN_REFRESH_INTERVAL))
    }
}

/// Sleeps for `wait`, or for ever when there is nothing to wait for.
async fn sleep_for(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// A number in [0, 1) that differs from run to run (jitter; nothing secret depends on it).
fn random_fraction() -> f64 {
    let bits = RandomState::new().hash_one(SystemTime::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
