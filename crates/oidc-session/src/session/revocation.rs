//! The queue of tokens to revoke (RFC 7009): the keychain's pending-revocation entry, fed by
//! sign-outs and by sessions that will not be restored, and emptied by revocations, right
//! away or retried in the background until Okta takes them.

use std::time::Duration;

use super::SessionManager;
use crate::error::error_chain;
use crate::provider::{Provider, RevocationError};
use crate::tokens::SessionTokens;
use crate::vault::{PendingSignOut, TokenVault, VaultError};

/// The first wait before retrying (queued revocations, a refresh that failed); it doubles up
/// to the maximum.
pub(super) const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest wait between two retries.
pub(super) const MAX_RETRY: Duration = Duration::from_secs(300);

/// Queues `tokens` in the pending-revocation entry (without an ID token: no sign-out will use
/// it) and deletes the session entry.
pub(super) fn queue_for_revocation(
    vault: &TokenVault,
    tokens: &SessionTokens,
) -> Result<(), VaultError> {
    let mut queued = PendingSignOut::from_tokens(tokens);
    queued.id_token = None;
    vault.update_pending(|pending| pending.merge(queued))?;
    vault.delete()
}

impl SessionManager {
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

    /// Queues tokens that Okta issued but no session will use.
    pub(super) async fn queue_unused(&self, tokens: &SessionTokens) {
        self.queue_tokens(PendingSignOut {
            id_token: None,
            ..PendingSignOut::from_tokens(tokens)
        })
        .await;
        self.revocations_queued.notify_one();
    }

    /// Ends a stored session that will not be restored (expired, or dead at Okta): it leaves
    /// the keychain, and its tokens are queued for revocation.
    pub(super) async fn discard(&self, tokens: SessionTokens) -> Result<(), VaultError> {
        self.keychain
            .exclusively(move |vault| queue_for_revocation(vault, &tokens))
            .await?;
        self.revocations_queued.notify_one();
        Ok(())
    }

    /// Revokes the tokens in the pending entry, refresh tokens first, and keeps the ones
    /// that failed there.
    pub(super) async fn revoke_queued(&self, provider: &Provider) -> Result<(), RevocationError> {
        // The entry is read and rewritten exclusively, but not held across the network: a
        // sign-out may queue more tokens meanwhile, and they must survive the rewrite.
        let queued = self
            .keychain
            .exclusively(TokenVault::load_pending)
            .await
            .unwrap_or_else(|error| {
                tracing::error!(error = %error_chain(&error), "cannot read the tokens to revoke");
                None
            });
        let Some(queued) = queued else {
            return Ok(());
        };
        let mut result = Ok(());
        let mut revoked = Vec::new();
        for token in queued.to_revoke {
            match provider.revoke(&token).await {
                Ok(()) => {
                    tracing::info!(kind = ?token.kind(), "token revoked");
                    revoked.push(token);
                }
                Err(error) => {
                    tracing::warn!(kind = ?token.kind(), error = %error_chain(&error), "revocation failed; queued");
                    result = Err(error);
                    // The IdP is unlikely to take the next one: keep the rest for later.
                    break;
                }
            }
        }
        let saved = self
            .keychain
            .exclusively(move |vault| {
                vault.update_pending(|pending| {
                    pending.to_revoke.retain(|token| !revoked.contains(token))
                })
            })
            .await;
        if let Err(error) = saved {
            tracing::error!(error = %error_chain(&error), "could not update the tokens to revoke");
        }
        result
    }

    /// Drops the ID token from the pending entry (the sign-out no longer needs it) and
    /// queues whatever is still staged there (no session lives now); the entry goes when
    /// nothing is left to revoke. Returns whether tokens still wait; an error means the
    /// session entry may still be in the keychain.
    pub(super) async fn finish_pending_entry(&self) -> Result<bool, VaultError> {
        self.keychain
            .exclusively(|vault| {
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

    /// Revokes queued tokens until none are left: at start, and whenever tokens are queued,
    /// with a backoff between failed attempts. Runs for the session's lifetime.
    pub(super) async fn run_revocation_retries(&self) {
        let mut delay = FIRST_RETRY;
        loop {
            let queued = matches!(
                // Read exclusively: a read that meets a delete of the entry fails, and the
                // loop would then wait for a wake-up that may never come.
                self.keychain.exclusively(TokenVault::load_pending).await,
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
                    .map_err(|error| error_chain(&error)),
                Err(error) => Err(error_chain(&error)),
            };
            match result {
                Ok(()) => {
                    tracing::info!("queued revocations done");
                    delay = FIRST_RETRY;
                }
                Err(error) => {
                    tracing::info!(%error, retry_in = ?delay, "queued revocations still pending");
                    // Newly queued tokens are a reason to try now rather than later.
                    let _ = tokio::time::timeout(delay, self.revocations_queued.notified()).await;
                    delay = (delay * 2).min(MAX_RETRY);
                }
            }
        }
    }
}
