//! The core's ports, as the desktop provides them: the person's browser (tauri-plugin-opener),
//! the desktop's routing of the app's links, and the window (Tauri events).

use oidc_session::{
    DesktopLinks, RevocationStatus, SessionEvents, SessionView, SignOutOutcome, SystemBrowser,
};
use tauri::{AppHandle, Emitter};
use tauri_plugin_opener::OpenerExt;
use url::Url;

/// The event that carries every [`SessionView`] change to the window.
const SESSION_CHANGED: &str = "session-changed";
/// The event that carries each sign-out's [`SignOutOutcome`] to the window.
const SIGNED_OUT: &str = "signed-out";
/// The event that carries every change of the tokens still to revoke to the window.
const REVOCATIONS_CHANGED: &str = "revocations-changed";

/// The person's default browser, through tauri-plugin-opener.
pub(crate) struct OpenerBrowser(pub(crate) AppHandle);

impl SystemBrowser for OpenerBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0
            .opener()
            .open_url(url.as_str(), None::<&str>)
            .map_err(|error| {
                // The opener's message repeats the URL, with its state and ID token: neither
                // logged nor shown.
                let cause = match &error {
                    tauri_plugin_opener::Error::Io(io) => format!("{:?}", io.kind()),
                    _ => "not an I/O error".to_owned(),
                };
                tracing::warn!(%cause, "the opener failed");
                "no program could open the link; check that a web browser is installed and set as \
                 the default"
                    .to_owned()
            })
    }
}

/// The desktop's handler of the app's links: on Linux, the entry the app registers.
pub(crate) struct DesktopLinkHandler(pub(crate) AppHandle);

impl DesktopLinks for DesktopLinkHandler {
    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        return crate::linux::scheme_handler::check_default_handler(
            &self.0.config().identifier,
            scheme,
        );
        #[cfg(not(target_os = "linux"))]
        {
            // Windows and macOS register the scheme with the installer.
            let _ = (&self.0, scheme);
            Ok(())
        }
    }
}

/// Session changes, sent to the window.
pub(crate) struct WindowEvents(pub(crate) AppHandle);

impl SessionEvents for WindowEvents {
    fn changed(&self, view: &SessionView) {
        if let Err(error) = self.0.emit(SESSION_CHANGED, view) {
            tracing::warn!(%error, "could not tell the window about the session");
        }
    }

    fn signed_out(&self, outcome: &SignOutOutcome) {
        if let Err(error) = self.0.emit(SIGNED_OUT, outcome) {
            tracing::warn!(%error, "could not tell the window about the sign-out");
        }
    }

    fn revocations(&self, status: &RevocationStatus) {
        if let Err(error) = self.0.emit(REVOCATIONS_CHANGED, status) {
            tracing::warn!(%error, "could not tell the window about the tokens to revoke");
        }
    }
}
