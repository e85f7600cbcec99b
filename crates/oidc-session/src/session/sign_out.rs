//! Sign-out: the app session ends at once and locally (even offline), then the tokens are
//! revoked (RFC 7009) and, for a full sign-out, Okta's session in the browser ends through
//! its end-session endpoint, confirmed by the post-logout deep link. A journal makes every
//! step survive a crash; tokens still to revoke wait in the keychain and are retried. The
//! session's tokens are staged for revocation when it is stored, so that ending the app
//! session takes one keychain call: deleting the session entry.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use openidconnect::CsrfToken;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::outcome::Ending;
use super::revocation::PassError;
use super::{SessionManager, SignOutOutcome, SignedOutReason, State};
use crate::callback::{CallbackKind, CallbackResult};
use crate::dpop::DpopKey;
use crate::error::{error_chain, SessionError};
use crate::journal::{JournalRecord, SignOutMode, SignOutStep};
use crate::loopback_page::Page;
use crate::provider::{EndSessionError, GrantError, Provider, RevocationError};
use crate::secret::Sensitive;
use crate::tokens::{IdToken, RevocableToken, StoredSession};
use crate::vault::{PendingSignOut, TokenVault};

impl SessionManager {
    /// Signs out. The app session ends before this touches the network; what follows is
    /// reported once, through [`super::SessionEvents::signed_out`]. Signing out while signed
    /// out, or while a sign-out runs, does nothing; during a sign-in it is refused.
    pub async fn sign_out(&self, mode: SignOutMode) -> Result<(), SessionError> {
        self.sign_out_because(mode, None, None).await
    }

    /// A sign-out, step by step; `reason` is why the app signs out by itself, if it does.
    /// With `sign_outs`, only the session that was signed in while that many sign-outs had
    /// begun is signed out: a later one is not the one the reason is about.
    pub(super) async fn sign_out_because(
        &self,
        mode: SignOutMode,
        reason: Option<SignedOutReason>,
        sign_outs: Option<u64>,
    ) -> Result<(), SessionError> {
        let Some((session, cancelled)) = self.begin_sign_out(sign_outs)? else {
            return Ok(());
        };
        tracing::info!(?mode, "signing out");
        // 1. Local first: the session leaves memory (zeroized on drop) and the keychain. Its
        // tokens were staged for revocation when it was stored, so deleting its entry is all
        // it takes; the journal notes meanwhile that a sign-out runs. Whichever of the two a
        // crash cuts short, the next start neither restores the session nor loses its tokens.
        // Its DPoP key leaves the keychain with it, and stays in memory only for the refresh
        // of step 4, until this sign-out ends.
        let mut pending = PendingSignOut::from_tokens(&session.tokens, &self.origin());
        let subject = session.user.subject.clone();
        let dpop_key = session.dpop_key.clone();
        let mut journal = JournalRecord::start(mode, &session.id);
        drop(session);
        let deleting = self.keychain.run(TokenVault::delete_session_entry);
        self.record_step(&journal);
        if let Err(error) = deleting.await {
            tracing::error!(error = %error_chain(&error), "the keychain failed while ending the app session");
        }
        self.report_state();
        // 2. The staged tokens are queued, with the ID token the next steps need; the parts of
        // a long session entry (its DPoP key among them) go too, before any network step.
        self.queue_tokens(pending.clone()).await;
        if let Err(error) = self.keychain.run(TokenVault::delete).await {
            tracing::error!(error = %error_chain(&error), "the keychain failed while deleting the session's parts");
        }
        journal.step = SignOutStep::LocalDone;
        self.record_step(&journal);

        let mut expired_hint = false;
        // The refresh that renews an expired ID token, while it may still queue tokens.
        let mut refreshing = None;
        let remote = async {
            // 3. Okta, discovered (a fresh start has not yet).
            let provider = match self.provider().await {
                Ok(provider) => provider,
                // A setting to fix, not an outage.
                Err(error) if error.code() == "configuration" => {
                    tracing::error!(error = %error_chain(&error), "Okta cannot be used; revocation queued");
                    return Ending::PreflightFailed(error.to_string());
                }
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "Okta cannot be reached; revocation queued");
                    return Ending::Offline;
                }
            };
            // 4. An expired ID token makes some Okta orgs refuse the end-session request: a
            // fresh one, while the refresh token still works (what that yields is revoked too).
            if mode == SignOutMode::Full {
                expired_hint = self
                    .freshen_id_token(&provider, &mut pending, subject, dpop_key, &mut refreshing)
                    .await;
            }
            // 5. Revoke.
            let revoked = self.revoke_queued(&provider, false).await;
            journal.step = SignOutStep::Revoked;
            self.record_step(&journal);
            if let Err(PassError::Okta(RevocationError::Unreachable(cause))) = &revoked {
                tracing::warn!(error = %error_chain(cause.as_ref()), "Okta cannot be reached; revocation queued");
                return Ending::Offline;
            }
            if mode == SignOutMode::AppOnly {
                return Ending::AppOnly;
            }
            // 6. Preflight: would Okta take the end-session request, and would the desktop
            // bring its answer back to this app?
            let Some(id_token) = pending.id_token.take() else {
                return Ending::PreflightFailed(
                    "the session had no ID token to end Okta's session with".into(),
                );
            };
            if expired_hint {
                tracing::warn!("ending Okta's session with an expired ID token as the hint");
            }
            let state = Sensitive::new(CsrfToken::new_random().into_secret());
            let url = match self.preflight(&provider, &id_token, &state).await {
                Ok(url) => url,
                Err(ending) => return ending,
            };
            // 7. End Okta's session in the browser, where its cookie lives: through a one-time
            // page that posts the request, so that the ID token stays out of the browser's
            // command line and history.
            let confirmation = self.callbacks.expect(CallbackKind::SignOut, state.expose());
            let page = Arc::new(Page::posting(&url));
            self.set_browser_page(Some(page.clone()));
            if let Err(error) = self.open_page(page).await {
                return Ending::PreflightFailed(format!("cannot open your web browser: {error}"));
            }
            journal.step = SignOutStep::BrowserOpened;
            self.record_step(&journal);
            tracing::info!("waiting for Okta to confirm the end of its session");
            // 8. Wait for the post-logout redirect with our state.
            match tokio::time::timeout(self.config.sign_out_timeout, confirmation).await {
                Ok(Ok(CallbackResult::SignedOut)) => Ending::Confirmed,
                Ok(Ok(CallbackResult::Error {
                    code, description, ..
                })) => Ending::IdpError(description.unwrap_or(code)),
                Ok(Ok(CallbackResult::Code { .. })) => {
                    unreachable!("sign-out waits for sign-out callbacks only")
                }
                Ok(Err(_)) => Ending::Cancelled,
                Err(_) => Ending::TimedOut,
            }
        };
        let ending = tokio::select! {
            ending = remote => ending,
            _ = cancelled => Ending::Cancelled,
        };
        self.callbacks.forget(CallbackKind::SignOut);
        self.set_browser_page(None);

        // 9. Verify: nothing of the session is left in the keychain. A refresh still under way
        // queues what Okta issues when it answers.
        let verified = self.finish_pending_entry().await;
        let refresh_under_way = refreshing.is_some_and(|task: JoinHandle<()>| !task.is_finished());
        let revocation_pending =
            refresh_under_way || verified.as_ref().map_or(true, |pending| *pending);
        let keychain_failure = verified.as_ref().err().map(|error| error_chain(error));
        let outcome = SignOutOutcome::new(
            mode,
            ending,
            revocation_pending,
            expired_hint,
            keychain_failure.as_deref(),
            &self.config.post_logout_redirect_uri,
        );
        tracing::info!(kind = ?outcome.kind, revocation_pending, "signed out");
        if outcome.password_required {
            self.require_fresh_login(true);
        }
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
                tracing::error!(error = %error_chain(&error), "the keychain failed while finishing the sign-out")
            }
        }
        if revocation_pending {
            self.revocations_queued.notify_one();
        }
        Ok(())
    }

    /// Takes the signed-in session out of the state, which says "signing out" from now on,
    /// with a receiver that hears when the person stops waiting. `None` when there is nothing
    /// to sign out of (signed out, a sign-out runs, or a sign-out began since `sign_outs`);
    /// an error during a sign-in.
    fn begin_sign_out(
        &self,
        sign_outs: Option<u64>,
    ) -> Result<Option<(StoredSession, oneshot::Receiver<()>)>, SessionError> {
        let (cancel, cancelled) = oneshot::channel();
        let mut state = self.state.lock().expect("session state poisoned");
        if sign_outs.is_some_and(|seen| seen != self.sign_outs_begun.load(Ordering::SeqCst)) {
            return Ok(None);
        }
        let signing_out = State::SigningOut {
            cancel: Some(cancel),
        };
        match std::mem::replace(&mut *state, signing_out) {
            State::SignedIn(session) => {
                self.sign_outs_begun.fetch_add(1, Ordering::SeqCst);
                Ok(Some((session, cancelled)))
            }
            State::SigningIn { cancel } => {
                *state = State::SigningIn { cancel };
                Err(SessionError::Busy)
            }
            other => {
                *state = other;
                Ok(None)
            }
        }
    }

    /// Writes the journal; a journal that cannot be written never stops a sign-out.
    fn record_step(&self, record: &JournalRecord) {
        if let Err(error) = self.journal.write(record) {
            tracing::error!(%error, path = %self.journal.path().display(), "could not write the sign-out journal");
        }
        self.events.sign_out_step(record.step);
    }

    /// Refreshes to replace an expired ID token (with a proof of `dpop_key` for a DPoP-bound
    /// session); returns whether the hint stays expired. The refresh runs as a task of its
    /// own, put in `refreshing`.
    async fn freshen_id_token(
        &self,
        provider: &Arc<Provider>,
        pending: &mut PendingSignOut,
        subject: String,
        dpop_key: Option<DpopKey>,
        refreshing: &mut Option<JoinHandle<()>>,
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
            .find_map(|queued| match &queued.token {
                RevocableToken::Refresh(token) => Some(token.clone()),
                RevocableToken::Access(_) => None,
            });
        let Some(refresh_token) = refresh_token else {
            return true;
        };
        let id_token = id_token.clone();
        // Okta issues new tokens as soon as it answers, and they are as live as the old ones:
        // they are queued, and the retries woken, even if the person stops waiting meanwhile
        // (that drops this future, not the task). The sign-out revokes them if it still runs;
        // the retries do otherwise.
        let (answer, refreshed) = oneshot::channel();
        let origin = self.origin();
        *refreshing = Some(tokio::spawn({
            let provider = provider.clone();
            let keychain = self.keychain.clone();
            let retries = self.revocations_queued.clone();
            async move {
                let (fresh, failure) = match provider
                    .refresh(&refresh_token, &id_token, &subject, dpop_key.as_ref())
                    .await
                {
                    Ok((fresh, _)) => (PendingSignOut::from_tokens(&fresh, &origin), None),
                    // What Okta issued with an unusable answer is revoked all the same.
                    Err(GrantError {
                        error,
                        issued: Some(issued),
                    }) => (PendingSignOut::from_tokens(&issued, &origin), Some(error)),
                    Err(GrantError {
                        error,
                        issued: None,
                    }) => {
                        let _ = answer.send(Err(error));
                        return;
                    }
                };
                // The new ID token is this sign-out's hint, in memory: once the sign-out is over
                // no one would take it out of the keychain again.
                let queued = PendingSignOut {
                    id_token: None,
                    ..fresh.clone()
                };
                let saved = keychain
                    .exclusively(|vault| vault.update_pending(|pending| pending.merge(queued)))
                    .await;
                if let Err(error) = saved {
                    tracing::error!(error = %error_chain(&error), "could not queue the refreshed tokens");
                }
                retries.notify_one();
                let _ = answer.send(match failure {
                    None => Ok(fresh),
                    Some(error) => Err(error),
                });
            }
        }));
        match refreshed.await.expect("the refresh task answers") {
            Ok(fresh) => {
                pending.merge(fresh);
                false
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "could not refresh the expired ID token");
                true
            }
        }
    }

    /// Okta's end-session request for `id_token` with `state`, once it is clear that the
    /// desktop hands the post-logout redirect back to this app and that Okta would take the
    /// request; otherwise how the sign-out ends instead.
    async fn preflight(
        &self,
        provider: &Provider,
        id_token: &IdToken,
        state: &Sensitive<String>,
    ) -> Result<Url, Ending> {
        let post_logout = &self.config.post_logout_redirect_uri;
        let url = provider
            .end_session_url(id_token, post_logout, state)
            .map_err(|error| Ending::PreflightFailed(error.to_string()))?;
        let scheme = post_logout.scheme().to_owned();
        let desktop_links = self.desktop_links.clone();
        let routed = tokio::task::spawn_blocking({
            let scheme = scheme.clone();
            move || desktop_links.check_scheme_handler(&scheme)
        })
        .await
        .expect("the scheme check panicked");
        if let Err(reason) = routed {
            return Err(Ending::PreflightFailed(format!(
                "the desktop does not hand {scheme}: links back to this app ({reason}); \
                 reinstall the app or restart it to register it again"
            )));
        }
        match provider.check_end_session(&url, post_logout, state).await {
            Ok(()) => Ok(url),
            Err(EndSessionError::Unreachable(cause)) => {
                tracing::warn!(error = %error_chain(cause.as_ref()), "Okta's end-session endpoint cannot be reached");
                Err(Ending::Offline)
            }
            Err(EndSessionError::Misconfigured(reason)) => Err(Ending::PreflightFailed(reason)),
        }
    }
}
