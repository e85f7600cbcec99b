//! The core's ports, as the desktop provides them: the person's browser (tauri-plugin-opener),
//! the desktop's routing of the app's links, and the window (the channels it opened).

use oidc_session::{
    DesktopLinks, RevocationStatus, SessionEvents, SessionView, SignOutOutcome, SystemBrowser,
};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::AppHandle;
use tauri_plugin_opener::OpenerExt;
use url::Url;

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
        {
            use tauri::Manager as _;
            let entry = self.0.state::<crate::linux::LinkEntry>();
            crate::linux::scheme_handler::check_default_handler(&entry.0, scheme)
        }
        #[cfg(not(target_os = "linux"))]
        {
            // Windows and macOS register the scheme with the installer.
            let _ = (&self.0, scheme);
            Ok(())
        }
    }
}

/// What the window hears, on the channels it opens with the `watch` command: the app's own
/// messages only. The window holds no permission to listen to events, so nothing Tauri or a
/// plugin emits (tauri-plugin-deep-link emits every incoming link, sign-in code included)
/// can reach it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "payload", rename_all = "kebab-case")]
pub(crate) enum WindowMessage {
    /// The session changed.
    SessionChanged(SessionView),
    /// A sign-out ended.
    SignedOut(SignOutOutcome),
    /// The tokens still to revoke changed.
    RevocationsChanged(RevocationStatus),
}

/// The window's channels (a reloaded page opens another), managed by Tauri: the session
/// reports every change through them.
#[derive(Clone, Default)]
pub(crate) struct WindowChannels(Arc<Mutex<Vec<Channel<WindowMessage>>>>);

impl WindowChannels {
    /// From now on, `channel` hears every message.
    pub(crate) fn watch(&self, channel: Channel<WindowMessage>) {
        self.0
            .lock()
            .expect("window channels poisoned")
            .push(channel);
    }

    /// Sends `message` on every channel; a channel that fails is dropped.
    fn send(&self, message: WindowMessage) {
        self.0
            .lock()
            .expect("window channels poisoned")
            .retain(|channel| match channel.send(message.clone()) {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "a window channel failed; dropped");
                    false
                }
            });
    }
}

impl SessionEvents for WindowChannels {
    fn changed(&self, view: &SessionView) {
        self.send(WindowMessage::SessionChanged(view.clone()));
    }

    fn signed_out(&self, outcome: &SignOutOutcome) {
        self.send(WindowMessage::SignedOut(outcome.clone()));
    }

    fn revocations(&self, status: &RevocationStatus) {
        self.send(WindowMessage::RevocationsChanged(status.clone()));
    }
}
