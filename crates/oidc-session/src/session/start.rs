//! Starting the session: the stored session is restored (a sign-out that a crash cut short
//! is finished first), a sign-in waits for that, and the background work runs from then on:
//! the revocation retries, the token refresh and the session timeouts.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::revocation::queue_for_revocation;
use super::{
    DesktopLinks, Keychain, SessionEvents, SessionManager, SessionView, SignedOutReason, State,
    SystemBrowser, EXPIRY_MARGIN,
};
use crate::callback::PendingCallbacks;
use crate::config::Config;
use crate::error::{error_chain, SessionError};
use crate::journal::{Journal, JournalRecord, SignOutMode};
use crate::provider::IdentityProvider;
use crate::tokens::StoredSession;
use crate::vault::{QueuedToken, TokenVault, VaultError};

/// Everything a session is made of: its configuration, its identity provider, where it keeps
/// its state, and the app around it.
pub struct SessionParts {
    /// The validated configuration.
    pub config: Config,
    /// The identity provider to sign in to.
    pub idp: IdentityProvider,
    /// The keychain entries of the app.
    pub vault: TokenVault,
    /// The sign-out journal (in the app's data directory).
    pub journal: Journal,
    /// The person's web browser.
    pub browser: Arc<dyn SystemBrowser>,
    /// The desktop's routing of the app's links.
    pub desktop_links: Arc<dyn DesktopLinks>,
    /// Who hears of every change.
    pub events: Arc<dyn SessionEvents>,
}

/// A started session: the manager, and its background work, which ends when this is dropped
/// or stopped.
pub struct Session {
    manager: Arc<SessionManager>,
    background: JoinHandle<()>,
}

impl Session {
    /// The session manager, to share with the tasks that use it.
    pub fn manager(&self) -> &Arc<SessionManager> {
        &self.manager
    }

    /// Ends the background work and waits until it has: when this returns, no keychain
    /// write of it is under way (for a test that starts the app again over the same entries).
    pub async fn stop(mut self) {
        self.background.abort();
        // Once the task has ended it starts no keychain call; one it started holds the
        // pending entry's lock until it is done.
        let _ = (&mut self.background).await;
        drop(self.manager.keychain.pending.lock().await);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.background.abort();
    }
}

impl SessionManager {
    /// Starts the session, signed out: it restores the stored session in the background
    /// ([`SessionManager::restored`] says when that is done; a sign-in waits for it), then
    /// retries queued revocations, refreshes the tokens before they expire and watches the
    /// session timeouts for as long as the returned [`Session`] lives. Call it within a Tokio
    /// runtime.
    pub fn start(parts: SessionParts) -> Result<Session, SessionError> {
        let http = parts.idp.http_client()?;
        let (restored_sender, restored) = watch::channel(None);
        let fresh_login_required = AtomicBool::new(parts.journal.fresh_login_required());
        let manager = Arc::new(Self {
            config: parts.config,
            idp: parts.idp,
            http,
            provider: tokio::sync::Mutex::new(None),
            keychain: Keychain {
                vault: parts.vault,
                pending: Arc::default(),
            },
            journal: parts.journal,
            browser: parts.browser,
            desktop_links: parts.desktop_links,
            events: parts.events,
            callbacks: PendingCallbacks::default(),
            state: Mutex::new(State::SignedOut(None)),
            restored,
            revocations_queued: Arc::default(),
            retry_refused: AtomicBool::new(false),
            revocations: Mutex::default(),
            browser_page: Mutex::default(),
            last_activity: Mutex::new(SystemTime::now()),
            fresh_login_required,
            sign_outs_begun: Arc::default(),
            state_changes: watch::channel(()).0,
        });
        let background = tokio::spawn({
            let manager = manager.clone();
            async move {
                let restored = async {
                    manager.restore().await?;
                    manager.report_dpop_support().await
                };
                let restored = restored.await.map_err(|error| {
                    tracing::error!(code = error.code(), error = %error_chain(&error), "could not restore the session");
                    Arc::new(error)
                });
                restored_sender.send_replace(Some(restored));
                tokio::join!(
                    manager.run_revocation_retries(),
                    manager.run_token_refresh(),
                    manager.run_session_timeouts()
                );
            }
        });
        Ok(Session {
            manager,
            background,
        })
    }

    /// Waits until the stored session was restored at start (or found missing), and returns
    /// the session as the UI may see it then; an error when the restore failed. Should the
    /// start's work end without a word (stopped, or a panic), nothing is left to wait for.
    pub async fn restored(&self) -> Result<SessionView, SessionError> {
        let mut restored = self.restored.clone();
        let failed = match restored.wait_for(Option::is_some).await {
            Ok(result) => result.clone().and_then(Result::err),
            Err(_closed) => None,
        };
        match failed.as_deref() {
            Some(SessionError::DpopUnsupported { issuer, advertised }) => {
                Err(SessionError::DpopUnsupported {
                    issuer: issuer.clone(),
                    advertised: advertised.clone(),
                })
            }
            Some(_) => Err(SessionError::Restore(failed.expect("matched above"))),
            None => Ok(self.view()),
        }
    }

    /// With DPoP on and nobody signed in, discovers Okta at start, so that a server that
    /// cannot bind tokens is reported before anyone tries to sign in (the sign-in checks again;
    /// offline, it alone does). A restored session is left to be used and signed out of:
    /// neither needs a proof it does not already make.
    async fn report_dpop_support(&self) -> Result<(), SessionError> {
        let signed_out = matches!(
            *self.state.lock().expect("session state poisoned"),
            State::SignedOut(_)
        );
        if !self.config.dpop || !signed_out {
            return Ok(());
        }
        match self.provider().await {
            Ok(provider) => provider.check_dpop_support(),
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "could not discover Okta at start; the sign-in checks its DPoP support");
                Ok(())
            }
        }
    }

    /// Picks up the session stored in the keychain: an expired access token is refreshed; a
    /// session Okta no longer accepts, or past its absolute timeout, is wiped. A sign-out that
    /// a crash cut short is finished first: its session is never restored.
    async fn restore(&self) -> Result<(), SessionError> {
        if self.resume_interrupted_sign_out().await? {
            self.set_state(State::SignedOut(Some(SignedOutReason::SignOutResumed)));
            return Ok(());
        }
        // The staged tokens follow the stored session, read under the same lock as any store:
        // those of a session that is gone (a sign-out cut short after its delete) are queued
        // for revocation.
        let origin = self.origin();
        let (stored, queued) = self
            .keychain
            .exclusively(move |vault| {
                let stored = match vault.load() {
                    Ok(stored) => stored,
                    Err(VaultError::Corrupt) => {
                        tracing::warn!("the stored session is unreadable; removing it");
                        vault.delete()?;
                        None
                    }
                    Err(error) => return Err(error),
                };
                let live = stored.as_ref().map_or_else(Vec::new, |session| {
                    QueuedToken::all_of(&session.tokens, &origin)
                });
                let queued = vault.update_pending(|pending| pending.stage(live))?;
                Ok((stored, queued))
            })
            .await?;
        if queued {
            self.revocations_queued.notify_one();
        }
        let Some(mut session) = stored else {
            return Ok(());
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
                Err(error) => match self.session_ending(&error) {
                    Some(reason) => return self.wipe(session, reason).await,
                    // Offline now: keep the session; the background refresh tries again.
                    None => {
                        tracing::warn!(error = %error_chain(&error), "could not refresh the restored session")
                    }
                },
            }
        }
        tracing::info!("session restored");
        self.set_state(State::SignedIn(session));
        Ok(())
    }

    /// Ends a stored session that will not be restored: it leaves the keychain, its tokens
    /// are queued for revocation.
    async fn wipe(
        &self,
        session: StoredSession,
        reason: SignedOutReason,
    ) -> Result<(), SessionError> {
        self.discard(session.tokens).await?;
        self.set_state(State::SignedOut(Some(reason)));
        Ok(())
    }

    /// Finishes a sign-out that a crash cut short: the session leaves the keychain (its
    /// tokens queued for revocation), the journal is cleared. Returns whether there was one.
    /// A journal of an older session than the stored one (its sign-out ended, but the journal
    /// could not be cleared before the person signed in again) is cleared, and the stored
    /// session kept.
    async fn resume_interrupted_sign_out(&self) -> Result<bool, SessionError> {
        let record = match self.journal.read() {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(false),
            // Failing closed: a journal that is there but unreadable still means a sign-out.
            Err(error) => {
                tracing::error!(%error, "cannot read the sign-out journal; finishing the sign-out");
                JournalRecord::unreadable()
            }
        };
        let origin = self.origin();
        let ending = record.clone();
        let stale = self
            .keychain
            .exclusively(move |vault| match vault.load() {
                Ok(Some(session)) if !ending.ends(&session) => Ok(true),
                Ok(Some(session)) => {
                    queue_for_revocation(vault, &session.tokens, &origin).map(|()| false)
                }
                Ok(None) => Ok(false),
                Err(VaultError::Corrupt) => vault.delete().map(|()| false),
                Err(error) => Err(error),
            })
            .await?;
        if stale {
            tracing::warn!(step = ?record.step, "the journal of an earlier session's sign-out was left behind; clearing it");
            self.journal.clear().map_err(SessionError::Journal)?;
            return Ok(false);
        }
        tracing::warn!(step = ?record.step, mode = ?record.mode, "finishing an interrupted sign-out");
        if record.mode == SignOutMode::Full {
            // Okta never confirmed the end of its session in the browser.
            self.require_fresh_login(true);
        }
        self.finish_pending_entry().await?;
        self.journal.clear().map_err(SessionError::Journal)?;
        self.revocations_queued.notify_one();
        Ok(true)
    }
}
