//! Sign-in: Authorization Code + PKCE in the system browser, the callback caught by deep link
//! and matched by `state`, the code exchanged and the ID token verified, the session stored.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use openidconnect::CsrfToken;
use tokio::sync::oneshot;

use super::{SessionManager, State};
use crate::callback::{CallbackKind, CallbackResult};
use crate::dpop::DpopKey;
use crate::error::{error_chain, SessionError};
use crate::loopback_page::Page;
use crate::tokens::{StoredSession, UserClaims};

impl SessionManager {
    /// Signs in through the system browser and waits for the callback (matched by `state`),
    /// [`SessionManager::cancel`], or the browser timeout. One sign-in at a time; it waits for
    /// the restore at start, which may store a session too. After a sign-out that could not
    /// confirm the end of Okta's session in the browser, Okta is asked for a password
    /// (`prompt=login`), so that the surviving session signs nobody in silently.
    pub async fn sign_in(&self) -> Result<UserClaims, SessionError> {
        self.sign_in_asking(false).await
    }

    /// Signs in as someone else than the browser's Okta session: Okta asks for a password
    /// (`prompt=login`) whatever session the browser has.
    pub async fn sign_in_with_another_account(&self) -> Result<UserClaims, SessionError> {
        self.sign_in_asking(true).await
    }

    /// A sign-in, with `prompt=login` when `another_account` is asked for or a sign-out left
    /// the browser's Okta session untrusted.
    async fn sign_in_asking(&self, another_account: bool) -> Result<UserClaims, SessionError> {
        self.restored().await?;
        let (cancel, cancelled) = oneshot::channel();
        let fresh_login = {
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
            // Read once signed out: a sign-out or a restore sets it before that.
            another_account || self.fresh_login_required.load(Ordering::SeqCst)
        };
        self.report_state();
        let result = self.run_sign_in(fresh_login, cancelled).await;
        self.callbacks.forget(CallbackKind::SignIn);
        self.set_browser_page(None);
        match result {
            Ok(session) => {
                let user = session.user.clone();
                tracing::info!(subject = %user.subject, fresh_login, "signed in");
                if fresh_login {
                    self.require_fresh_login(false);
                }
                self.record_activity();
                self.set_state(State::SignedIn(session));
                Ok(user)
            }
            Err(error) => {
                tracing::warn!(code = error.code(), error = %error_chain(&error), "sign-in failed");
                self.set_state(State::SignedOut(None));
                Err(error)
            }
        }
    }

    async fn run_sign_in(
        &self,
        fresh_login: bool,
        cancelled: oneshot::Receiver<()>,
    ) -> Result<StoredSession, SessionError> {
        let provider = self.provider().await?;
        // With DPoP on, a server that cannot bind tokens is a setting to fix, never a session
        // to start with bearer tokens.
        if self.config.dpop {
            provider.check_dpop_support()?;
        }
        let request = provider.authorization_request(&self.config.scopes, fresh_login);
        let callback = self
            .callbacks
            .expect(CallbackKind::SignIn, request.state.expose());
        self.set_browser_page(Some(Arc::new(Page::Redirect(request.url.clone()))));
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
        let (code, issuers) = match result {
            CallbackResult::Code { code, issuers } => (Ok(code), issuers),
            CallbackResult::Error {
                code,
                description,
                issuers,
            } => (Err(SessionError::IdpError { code, description }), issuers),
            CallbackResult::SignedOut => unreachable!("sign-in waits for sign-in callbacks only"),
        };
        // Even an error is only believed from the issuer asked.
        if let Err(refused) = provider.check_response_issuer(&issuers) {
            if let Err(error) = &code {
                tracing::warn!(%error, "the sign-in answer with the wrong issuer carried this error");
            }
            return Err(refused);
        }
        let code = code?;
        // A key of its own for every sign-in: nothing of an earlier session can prove for it.
        let dpop_key = self.config.dpop.then(DpopKey::generate).transpose()?;
        let exchanged = provider
            .exchange_code(code, request, dpop_key.as_ref())
            .await;
        let (tokens, user) = self.revoking_unused(exchanged).await?;
        let session = StoredSession {
            id: CsrfToken::new_random().into_secret(),
            tokens,
            user,
            signed_in_at: SystemTime::now(),
            dpop_key,
        };
        self.store(&session, false).await?;
        // A journal still here is an earlier sign-out's that could not be cleared: its
        // session is gone (the store above queued what it staged), and this one is not its.
        if let Err(error) = self.journal.clear() {
            tracing::error!(%error, "could not clear an earlier sign-out's journal");
        }
        Ok(session)
    }
}
