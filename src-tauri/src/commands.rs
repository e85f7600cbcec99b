//! The commands the window may call. Each is a one-line delegation to the managed
//! [`AppSession`]; errors reach the UI as `{code, message}`.

use oidc_session::{SessionView, SignOutMode, UserClaims};
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

/// Stops waiting for the browser (sign-in or sign-out).
#[tauri::command]
pub fn cancel(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.cancel()
}

/// Signs out of the app and of Okta in the browser; the outcome arrives as an event.
#[tauri::command]
pub async fn sign_out(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.sign_out(SignOutMode::Full).await
}

/// Signs out of this app only; the browser stays signed in to Okta.
#[tauri::command]
pub async fn sign_out_app_only(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.sign_out(SignOutMode::AppOnly).await
}

/// The person used the window (for the idle timeout).
#[tauri::command]
pub fn record_activity(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.record_activity()
}
