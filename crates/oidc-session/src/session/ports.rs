//! What the session needs from the app around it: a web browser, the desktop's routing of the
//! app's links, and someone to tell about changes. The app shell implements them with Tauri;
//! tests with doubles.

use url::Url;

use super::{RevocationStatus, SessionView, SignOutOutcome};
use crate::journal::SignOutStep;

/// Opens URLs in the person's web browser.
pub trait SystemBrowser: Send + Sync {
    /// Opens `url`; returns once the browser was asked to, not when the page loaded. The
    /// error is shown to the person: it must not contain the URL (it carries the state, and
    /// for a sign-out the ID token).
    fn open(&self, url: &Url) -> Result<(), String>;
}

/// How the desktop routes links in the app's private-use URI scheme.
pub trait DesktopLinks: Send + Sync {
    /// Whether the desktop hands `scheme:` links (the browser's redirect back) to this app;
    /// the error says where they go instead.
    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String>;
}

/// Receives every change of the session (the app forwards them to the window).
pub trait SessionEvents: Send + Sync {
    /// The session changed to `view`.
    fn changed(&self, view: &SessionView);

    /// A sign-out ended: once per sign-out, with what came of it.
    fn signed_out(&self, outcome: &SignOutOutcome);

    /// The tokens still to revoke changed (an empty status: none wait any more).
    fn revocations(&self, status: &RevocationStatus);

    /// A sign-out recorded `step` in its journal (for logs and progress).
    fn sign_out_step(&self, step: SignOutStep) {
        tracing::debug!(?step, "sign-out step");
    }
}
