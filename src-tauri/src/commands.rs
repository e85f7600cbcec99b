//! The commands the window may call. Each is a one-line delegation to the managed
//! [`AppSession`]; errors reach the UI as `{code, message}`.

use oidc_session::{SessionView, UserClaims};
use tauri::State;

use crate::session::{AppInfo, AppSession, CommandError};

/// The session as the UI may see it (claims, never tokens).
#[tauri::command]
pub async fn session_state(session: State<'_, AppSession>) -> Result<SessionView, CommandError> {
    session.state().await
}

/// Demo mode, the IdP in use and any start-up problem.
#[tauri::command]
pub fn app_info(session: State<'_, AppSession>) -> AppInfo {
    session.info()
}

/// Signs in through the system browser; resolves once the browser came back.
#[tauri::command]
pub async fn sign_in(session: State<'_, AppSession>) -> Result<UserClaims, CommandError> {
    session.sign_in().await
}

/// Stops waiting for the browser.
#[tauri::command]
pub fn cancel_sign_in(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.cancel_sign_in()
}
