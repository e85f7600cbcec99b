//! The queue of tokens to revoke (RFC 7009): the keychain's pending-revocation entry, fed by
//! sign-outs and by sessions that will not be restored, and emptied by revocations, right
//! away or retried in the background until Okta takes them.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::SessionManager;
use crate::error::{error_chain, SessionError};
use crate::provider::{GrantError, Provider, RevocationError};
use crate::tokens::{unix_seconds, RevocableToken, SessionTokens, TokenKind};
use crate::vault::{PendingSignOut, TokenOrigin, TokenVault, VaultError};

/// The first wait before retrying (queued revocations, a refresh that failed); it doubles up
/// to the maximum.
pub(super) const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between two retries.
pub(super) const MAX_RETRY: Duration = Duration::from_secs(300);

/// The tokens still to revoke, as the window shows them while any wait: no token, only
/// counts, times and reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationStatus {
    /// How many tokens the app keeps trying to revoke by itself.
    pub waiting: usize,
    /// The tokens Okta refused to revoke, with why: tried again only by "Retry now".
    pub refused: Vec<RefusedToken>,
    /// When the oldest of them was queued (Unix seconds).
    pub since: Option<u64>,
    /// When the app tries again by itself (Unix seconds), while it waits to.
    pub next_try: Option<u64>,
    /// Why the last try could not revoke the waiting ones, in plain words.
    pub last_error: Option<String>,
}

/// A token Okta refused to revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedToken {
    /// Which kind of token.
    pub kind: TokenKind,
    /// Why, in plain words.
    pub reason: String,
}

impl RevocationStatus {
    /// Whether no token waits: the window shows nothing then.
    pub fn is_empty(&self) -> bool {
        self.waiting == 0 && self.refused.is_empty()
    }

    /// Counts `queue`'s tokens, keeping the next try and the last error.
    fn count(&mut self, queue: &PendingSignOut) {
        let (refused, waiting): (Vec<_>, Vec<_>) = queue
            .to_revoke
            .iter()
            .partition(|queued| queued.refused.is_some());
        self.waiting = waiting.len();
        self.refused = refused
            .iter()
            .map(|queued| RefusedToken {
                kind: queued.token.kind(),
                reason: queued.refused.clone().unwrap_or_default(),
            })
            .collect();
        self.since = queue.to_revoke.iter().map(|queued| queued.queued_at).min();
    }
}

/// Why a pass left tokens waiting (its message is what the window shows).
#[derive(Debug, thiserror::Error)]
pub(super) enum PassError {
    /// Okta did not take a token, and may later.
    #[error(transparent)]
    Okta(#[from] RevocationError),
    /// The keychain could not read or rewrite the queue.
    #[error(transparent)]
    Keychain(#[from] VaultError),
}

/// What one pass did with a queued token.
enum Fate {
    /// Revoked, or expired: it leaves the queue.
    Gone,
    /// Refused for good, for this reason: it stays, marked.
    Refused(String),
}

/// Queues `tokens`, issued by `origin`, in the pending-revocation entry (without an ID token:
/// no sign-out will use it) and deletes the session entry.
pub(super) fn queue_for_revocation(
    vault: &TokenVault,
    tokens: &SessionTokens,
    origin: &TokenOrigin,
) -> Result<(), VaultError> {
    let queued = PendingSignOut::revocable_only(tokens, origin);
    vault.update_pending(|pending| pending.merge(queued))?;
    vault.delete()
}

impl SessionManager {
    /// The tokens still to revoke, as the window shows them.
    pub fn revocation_status(&self) -> RevocationStatus {
        self.revocations
            .lock()
            .expect("revocation status poisoned")
            .clone()
    }

    /// "Retry now": every queued token, refused ones too, is tried at once.
    pub fn retry_revocations(&self) {
        self.retry_refused.store(true, Ordering::SeqCst);
        self.revocations_queued.notify_one();
    }

    /// Changes the status with `change` and tells the window, if that changed what it shows.
    /// An empty queue shows nothing at all: no next try, no last error.
    fn update_revocation_status(&self, change: impl FnOnce(&mut RevocationStatus)) {
        let mut status = self.revocations.lock().expect("revocation status poisoned");
        let mut changed = status.clone();
        change(&mut changed);
        if changed.is_empty() {
            changed = RevocationStatus::default();
        }
        if *status != changed {
            *status = changed;
            self.events.revocations(&status);
        }
    }

    /// Where the tokens of this app's sessions come from.
    pub(super) fn origin(&self) -> TokenOrigin {
        TokenOrigin {
            issuer: self.idp.issuer.to_string(),
            client_id: self.idp.client_id.clone(),
        }
    }

    /// Queues `pending`'s tokens in the pending-revocation entry (unstaging them). A failure
    /// is logged: the tokens stay staged there, and the end of the sign-out queues them.
    pub(super) async fn queue_tokens(&self, pending: PendingSignOut) {
        let result = self
            .keychain
            .exclusively(move |vault| vault.update_pending(|queued| queued.merge(pending)))
            .await;
        if let Err(error) = result {
            tracing::error!(error = %error_chain(&error), "could not queue the tokens to revoke");
        }
    }

    /// The tokens of a token request, or its error; what Okta issued with an answer the app
    /// cannot use is queued for revocation.
    pub(super) async fn revoking_unused<T>(
        &self,
        result: Result<T, GrantError>,
    ) -> Result<T, SessionError> {
        match result {
            Ok(value) => Ok(value),
            Err(GrantError { error, issued }) => {
                if let Some(issued) = issued {
                    self.queue_unused(&issued).await;
                }
                Err(error)
            }
        }
    }

    /// Queues tokens that Okta issued but no session will use.
    pub(super) async fn queue_unused(&self, tokens: &SessionTokens) {
        self.queue_tokens(PendingSignOut::revocable_only(tokens, &self.origin()))
            .await;
        self.revocations_queued.notify_one();
    }

    /// Ends a stored session that will not be restored (expired, or dead at Okta): it leaves
    /// the keychain, and its tokens are queued for revocation.
    pub(super) async fn discard(&self, tokens: SessionTokens) -> Result<(), VaultError> {
        let origin = self.origin();
        self.keychain
            .exclusively(move |vault| queue_for_revocation(vault, &tokens, &origin))
            .await?;
        self.revocations_queued.notify_one();
        Ok(())
    }

    /// Revokes the queued tokens, refresh tokens first, in one pass: expired ones are dropped,
    /// refused ones are marked and skipped (tried again only with `retry_refused`), and the
    /// first failure worth retrying ends the pass (Okta is unlikely to take the next one
    /// then). The error is that failure, or the keychain's.
    pub(super) async fn revoke_queued(
        &self,
        provider: &Provider,
        retry_refused: bool,
    ) -> Result<(), PassError> {
        // The entry is read and rewritten exclusively, but not held across the network: a
        // sign-out may queue more tokens meanwhile, and they must survive the rewrite.
        let queued = self
            .keychain
            .exclusively(TokenVault::load_pending)
            .await?
            .unwrap_or_default();
        let now = unix_seconds(SystemTime::now());
        let mut result = Ok(());
        let mut fates: Vec<(RevocableToken, Fate)> = Vec::new();
        for queued in queued.to_revoke {
            let kind = queued.token.kind();
            if queued.expired(now) {
                tracing::info!(
                    ?kind,
                    "token expired before it was revoked; dropped from the queue"
                );
                fates.push((queued.token, Fate::Gone));
                continue;
            }
            if queued.refused.is_some() && !retry_refused {
                continue;
            }
            match provider.revoke(&queued).await {
                Ok(()) => {
                    tracing::info!(?kind, "token revoked");
                    fates.push((queued.token, Fate::Gone));
                }
                Err(RevocationError::Refused(reason)) => {
                    tracing::warn!(?kind, %reason, "revocation refused; the token waits for Retry now");
                    fates.push((queued.token, Fate::Refused(reason)));
                }
                Err(error) => {
                    tracing::warn!(?kind, error = %error_chain(&error), "revocation failed; queued");
                    result = Err(error);
                    break;
                }
            }
        }
        self.settle(fates).await?;
        // The window gets the plain words; the log has the causes.
        let last_error = result.as_ref().err().map(ToString::to_string);
        self.update_revocation_status(|status| status.last_error = last_error);
        Ok(result?)
    }

    /// Marks every queued token that is not refused yet as refused for `reason` (a setting
    /// keeps the app from revoking any: retrying would never end).
    async fn refuse_queued(&self, reason: &str) -> Result<(), VaultError> {
        tracing::error!(%reason, "the queued tokens cannot be revoked; they wait for Retry now");
        let queued = self
            .keychain
            .exclusively(TokenVault::load_pending)
            .await?
            .unwrap_or_default();
        let fates = queued
            .to_revoke
            .into_iter()
            .filter(|queued| queued.refused.is_none())
            .map(|queued| (queued.token, Fate::Refused(reason.to_owned())))
            .collect();
        self.settle(fates).await
    }

    /// Writes what a pass did to the queue back to the pending entry, and shows the queue.
    async fn settle(&self, fates: Vec<(RevocableToken, Fate)>) -> Result<(), VaultError> {
        let queue = self
            .keychain
            .exclusively(move |vault| {
                vault.update_pending(|pending| {
                    pending.to_revoke.retain_mut(|queued| {
                        match fates.iter().find(|(token, _)| *token == queued.token) {
                            Some((_, Fate::Gone)) => false,
                            Some((_, Fate::Refused(reason))) => {
                                queued.refused = Some(reason.clone());
                                true
                            }
                            None => true,
                        }
                    });
                    pending.clone()
                })
            })
            .await
            .inspect_err(|error| {
                tracing::error!(error = %error_chain(error), "could not update the tokens to revoke");
            })?;
        self.update_revocation_status(|status| status.count(&queue));
        Ok(())
    }

    /// Drops the ID token from the pending entry (the sign-out no longer needs it) and
    /// queues whatever is still staged there (no session lives now); the entry goes when
    /// nothing is left to revoke. Returns whether tokens still wait; an error means the
    /// session entry may still be in the keychain.
    pub(super) async fn finish_pending_entry(&self) -> Result<bool, VaultError> {
        self.keychain
            .exclusively(|vault| {
                // Read back: the session entry must be gone. The delete takes the parts of a
                // long session too, which the sign-out's first step left.
                if vault.load().map_or(true, |session| session.is_some()) {
                    tracing::error!("the session is still in the keychain; deleting it again");
                }
                vault.delete()?;
                vault.update_pending(|pending| {
                    pending.stage(Vec::new());
                    pending.id_token = None;
                    !pending.to_revoke.is_empty()
                })
            })
            .await
    }

    /// Revokes queued tokens until none are left: at start, whenever tokens are queued, and
    /// on "Retry now", with a backoff after each failure (Okta's or the keychain's), so that the
    /// loop never spins. Runs for the session's lifetime.
    pub(super) async fn run_revocation_retries(&self) {
        let mut delay = FIRST_RETRY;
        loop {
            let retry_refused = self.retry_refused.swap(false, Ordering::SeqCst);
            // Read exclusively: a read that meets a delete of the entry fails, and the loop
            // would then wait for a wake-up that may never come.
            let queue = match self.keychain.exclusively(TokenVault::load_pending).await {
                Ok(queue) => queue.unwrap_or_default(),
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "cannot read the tokens to revoke");
                    self.wait_to_retry(&mut delay, error.to_string()).await;
                    continue;
                }
            };
            self.update_revocation_status(|status| {
                status.count(&queue);
                status.next_try = None;
            });
            let due = queue
                .to_revoke
                .iter()
                .any(|queued| retry_refused || queued.refused.is_none());
            if !due {
                delay = FIRST_RETRY;
                self.revocations_queued.notified().await;
                continue;
            }
            // Plain words for the window, and the causes for the log.
            let result = match self.provider().await {
                Ok(provider) => self
                    .revoke_queued(&provider, retry_refused)
                    .await
                    .map_err(|error| (error.to_string(), error_chain(&error))),
                // Every due token is set aside: the next round finds none due, and waits.
                Err(error) if error.code() == "configuration" => self
                    .refuse_queued(&error.to_string())
                    .await
                    .map_err(|error| (error.to_string(), error_chain(&error))),
                Err(error) => Err((error.to_string(), error_chain(&error))),
            };
            match result {
                Ok(()) => {
                    tracing::info!("queued revocations done");
                    delay = FIRST_RETRY;
                }
                Err((plain, error)) => {
                    tracing::info!(%error, retry_in = ?delay, "queued revocations still pending");
                    self.wait_to_retry(&mut delay, plain).await;
                }
            }
        }
    }

    /// Shows `error` and when the next try comes, then waits for it (or for newly queued
    /// tokens, or "Retry now"); the wait after that is twice as long, up to [`MAX_RETRY`].
    async fn wait_to_retry(&self, delay: &mut Duration, error: String) {
        let next_try = unix_seconds(SystemTime::now() + *delay);
        self.update_revocation_status(|status| {
            status.next_try = Some(next_try);
            status.last_error = Some(error);
        });
        let _ = tokio::time::timeout(*delay, self.revocations_queued.notified()).await;
        *delay = (*delay * 2).min(MAX_RETRY);
    }
}
