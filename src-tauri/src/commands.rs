//! What crosses the IPC boundary: the commands the window may call, each a one-line
//! delegation to the managed [`AppSession`], what they return, and the one error type the
//! window receives, `{code, message}`.

use oidc_session::{
    error_chain, RevocationStatus, SessionError, SessionView, SignOutMode, UserClaims,
};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::adapters::{WindowChannels, WindowMessage};
use crate::state::{AppSession, StartError};

/// An error as the window receives it: a stable code to branch on and a message for people
/// (with its causes). Made here, from the core's and the shell's errors, and nowhere else.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CommandError {
    code: &'static str,
    message: String,
}

impl CommandError {
    /// `error` with its causes, under `code`.
    fn new(code: &'static str, error: &dyn std::error::Error) -> Self {
        Self {
            code,
            message: error_chain(error),
        }
    }
}

impl From<SessionError> for CommandError {
    fn from(error: SessionError) -> Self {
        Self::new(error.code(), &error)
    }
}

impl From<StartError> for CommandError {
    fn from(error: StartError) -> Self {
        Self::new(error.code(), &error)
    }
}

/// What the window shows around the session: demo mode, a start-up failure, and what to
/// configure.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppInfo {
    /// The issuer in use, if the app started.
    pub(crate) issuer: Option<String>,
    /// Demo mode: the embedded mock-okta's sign-in page and its demo account.
    #[cfg(feature = "demo")]
    pub(crate) demo: Option<DemoInfo>,
    /// Why the app cannot sign anybody in (configuration, keychain).
    pub(crate) startup_error: Option<CommandError>,
    /// With no Okta org configured (and no demo mode built in): what to set, and where.
    pub(crate) setup: Option<SetupGuide>,
}

/// What the Not configured screen tells a person (or their IT department) to set up: the
/// file the app reads, and the redirect URIs to register in Okta, as this app uses them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetupGuide {
    /// The configuration file to write.
    pub(crate) config_file: String,
    /// The app integration's sign-in redirect URI.
    pub(crate) redirect_uri: String,
    /// The app integration's sign-out redirect URI.
    pub(crate) post_logout_redirect_uri: String,
}

impl SetupGuide {
    /// The guide for `config`, read from `config_file` (and the environment).
    #[cfg(not(feature = "demo"))]
    pub(crate) fn new(config_file: &std::path::Path, config: &oidc_session::Config) -> Self {
        Self {
            config_file: config_file.display().to_string(),
            redirect_uri: config.redirect_uri.to_string(),
            post_logout_redirect_uri: config.post_logout_redirect_uri.to_string(),
        }
    }
}

/// The embedded mock-okta, as the demo banner describes it.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DemoInfo {
    /// Where the browser signs in.
    pub(crate) browser_url: String,
    /// The demo account.
    pub(crate) username: String,
    /// Its password (a published demo value, not a secret).
    pub(crate) password: String,
}

/// The session as the UI may see it (claims, never tokens), once the stored one is restored.
#[tauri::command]
pub(crate) async fn session_state(
    session: State<'_, AppSession>,
) -> Result<SessionView, CommandError> {
    session.state().await
}

/// Demo mode, the IdP in use and any start-up problem.
#[tauri::command]
pub(crate) fn app_info(session: State<'_, AppSession>) -> AppInfo {
    session.info()
}

/// Signs in through the system browser; resolves once the browser came back.
#[tauri::command]
pub(crate) async fn sign_in(session: State<'_, AppSession>) -> Result<UserClaims, CommandError> {
    session.sign_in().await
}

/// Signs in with Okta asking for a password, whoever the browser's Okta session is for.
#[tauri::command]
pub(crate) async fn sign_in_with_another_account(
    session: State<'_, AppSession>,
) -> Result<UserClaims, CommandError> {
    session.sign_in_with_another_account().await
}

/// Stops waiting for the browser (sign-in or sign-out).
#[tauri::command]
pub(crate) fn cancel(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.cancel()
}

/// Signs out of the app and of Okta in the browser; the outcome arrives as an event.
#[tauri::command]
pub(crate) async fn sign_out(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.sign_out(SignOutMode::Full).await
}

/// Signs out of this app only; the browser stays signed in to Okta.
#[tauri::command]
pub(crate) async fn sign_out_app_only(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.sign_out(SignOutMode::AppOnly).await
}

/// The person used the window (for the idle timeout).
#[tauri::command]
pub(crate) fn record_activity(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.record_activity()
}

/// The tokens still to revoke (counts, times and reasons; never a token).
#[tauri::command]
pub(crate) fn revocation_status(
    session: State<'_, AppSession>,
) -> Result<RevocationStatus, CommandError> {
    session.revocation_status()
}

/// Tries every token still to revoke now, those Okta refused included.
#[tauri::command]
pub(crate) fn retry_revocations(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.retry_revocations()
}

/// From now on, `channel` hears every session change, sign-out outcome and change of the
/// tokens still to revoke: the window's only way to hear from the app.
#[tauri::command]
pub(crate) fn watch(channels: State<'_, WindowChannels>, channel: Channel<WindowMessage>) {
    channels.watch(channel);
}

/// Sends the browser again to where the waiting sign-in or sign-out sent it.
#[tauri::command]
pub(crate) async fn open_browser_again(session: State<'_, AppSession>) -> Result<(), CommandError> {
    session.open_browser_again().await
}

/// A fresh one-time link to where the waiting sign-in or sign-out sends the browser (a page on
/// this machine; no token in it), for the person to paste into a browser.
#[tauri::command]
pub(crate) async fn copy_browser_link(
    session: State<'_, AppSession>,
) -> Result<Option<String>, CommandError> {
    session.browser_link().await
}
