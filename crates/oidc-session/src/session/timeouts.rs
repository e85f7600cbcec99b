//! The session's own end: the app signs out of itself (app only: the browser's Okta session is
//! the person's) when the session passes its absolute timeout or sits idle too long.

use std::time::{Duration, SystemTime};

use super::{SessionManager, SignedOutReason, State};
use crate::error::error_chain;
use crate::journal::SignOutMode;

/// How often the session timeouts are checked, at most.
const TIMEOUT_CHECK: Duration = Duration::from_secs(15);

impl SessionManager {
    /// Signs out of the app when the session passes its absolute or idle timeout. Runs for
    /// the session's lifetime.
    pub(super) async fn run_session_timeouts(&self) {
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
                    .sign_out_because(SignOutMode::AppOnly, Some(reason), None)
                    .await
                {
                    tracing::warn!(error = %error_chain(&error), "could not sign out at the session timeout");
                }
            }
        }
    }

    /// Which timeout, if any, the signed-in session has passed.
    fn timed_out(&self) -> Option<SignedOutReason> {
        let state = self.state.lock().expect("session state poisoned");
        let State::SignedIn(session) = &*state else {
            return None;
        };
        if self
            .session_deadline(session)
            .is_some_and(|deadline| deadline <= SystemTime::now())
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
