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
use crate::vault::PendingSignOut;

/// How long before the access token expires the refresh happens, at most: a quarter of its
/// remaining life for short-lived tokens.
const REFRESH_LEAD: Duration = Duration::from_secs(60);
/// The least time between two refreshes, whatever lifetime Okta gives the tokens.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

impl SessionManager {
    /// Renews `session`'s tokens with its refresh token and stores them.
    pub(super) async fn refresh(
        &self,
        session: &StoredSession,
    ) -> Result<StoredSession, SessionError> {
        let refreshed = self.renewed(session).await?;
        self.store(&refreshed, true).await?;
        tracing::info!("tokens refreshed");
        Ok(refreshed)
    }

    /// `session` with new tokens from Okta; nothing is stored.
    async fn renewed(&self, session: &StoredSession) -> Result<StoredSession, SessionError> {
        // Okta first: offline, the session is kept whether it can be refreshed or not.
        let provider = self.provider().await?;
        let refresh_token = session
            .tokens
            .refresh_token
            .as_ref()
            .ok_or(SessionError::RefreshUnavailable)?;
        let (tokens, user) = provider
            .refresh(
                refresh_token,
                &session.tokens.id_token,
                &session.user.subject,
            )
            .await?;
        Ok(StoredSession {
            tokens,
            user: user.unwrap_or_else(|| session.user.clone()),
            signed_in_at: session.signed_in_at,
        })
    }

    /// Renews the signed-in session's tokens now (the background refresh does this before
    /// the access token expires). A sign-out that begins meanwhile wins: the new tokens are
    /// then queued for revocation instead of stored. When Okta refuses (the organization
    /// ended the session) or answers for another person, the app signs out of itself.
    pub async fn refresh_now(&self) -> Result<(), SessionError> {
        let result = self.try_refresh().await;
        let ended = match &result {
            Err(SessionError::GrantRejected { description }) => {
                tracing::info!(
                    ?description,
                    "Okta refused to renew the session: the organization ended it"
                );
                Some(SignedOutReason::EndedByOrganization)
            }
            Err(SessionError::SubjectChanged) => {
                tracing::error!("Okta renewed the session for another person; signing out");
                Some(SignedOutReason::IdentityChanged)
            }
            _ => None,
        };
        if let Some(reason) = ended {
            if let Err(error) = self
                .sign_out_because(SignOutMode::AppOnly, Some(reason))
                .await
            {
                tracing::warn!(error = %error_chain(&error), "could not sign out of the app");
            }
        }
        result
    }

    async fn try_refresh(&self) -> Result<(), SessionError> {
        let (session, sign_outs) = {
            let state = self.state.lock().expect("session state poisoned");
            let State::SignedIn(session) = &*state else {
                return Err(SessionError::NotSignedIn);
            };
            (session.clone(), self.sign_outs_begun.load(Ordering::SeqCst))
        };
        let refreshed = self.renewed(&session).await?;
        let stored = refreshed.clone();
        let sign_outs_begun = self.sign_outs_begun.clone();
        let kept = self
            .keychain
            .exclusively(move |vault| {
                let signed_out = || sign_outs_begun.load(Ordering::SeqCst) != sign_outs;
                if !signed_out() {
                    vault.update_pending(|pending| pending.staged = stored.tokens.revocable())?;
                    vault.save(&stored)?;
                    if !signed_out() {
                        return Ok(true);
                    }
                    // The sign-out's delete may have run before this save.
                    vault.delete()?;
                }
                vault.update_pending(|pending| {
                    pending.staged.clear();
                    pending.merge(PendingSignOut {
                        id_token: None,
                        ..PendingSignOut::from_tokens(&stored.tokens)
                    });
                })?;
                Ok(false)
            })
            .await?;
        if !kept {
            tracing::info!("a sign-out began during the refresh; its tokens are queued");
            self.revocations_queued.notify_one();
            return Ok(());
        }
        let mut state = self.state.lock().expect("session state poisoned");
        if let State::SignedIn(current) = &mut *state {
            if self.sign_outs_begun.load(Ordering::SeqCst) == sign_outs {
                *current = refreshed;
                self.announce(&state);
            }
        }
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
            let wait = due.map(|due: SystemTime| {
                due.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
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
            match self.refresh_now().await {
                Ok(())
                | Err(
                    SessionError::NotSignedIn
                    | SessionError::GrantRejected { .. }
                    | SessionError::SubjectChanged,
                ) => due = None,
                // Offline, or Okta in trouble: the session stays, the refresh is tried again.
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), retry_in = ?retry, "could not refresh the tokens");
                    due = Some(SystemTime::now() + retry);
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
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
