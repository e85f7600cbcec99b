//! Sign-in: Authorization Code + PKCE in the system browser, the callback caught by deep link
//! and matched by `state`, the code exchanged and the ID token verified, the session stored.

use std::time::SystemTime;

use tokio::sync::oneshot;

use super::{SessionManager, State};
use crate::callback::{CallbackKind, CallbackResult};
use crate::error::{error_chain, SessionError};
use crate::tokens::{StoredSession, UserClaims};

impl SessionManager {
    /// Signs in through the system browser and waits for the callback (matched by `state`),
    /// [`SessionManager::cancel`], or the browser timeout. One sign-in at a time; it waits for
    /// the restore at start, which may store a session too.
    pub async fn sign_in(&self) -> Result<UserClaims, SessionError> {
        self.restored().await?;
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
}
