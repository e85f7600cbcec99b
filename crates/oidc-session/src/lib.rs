//! The Tauri-free core of Okta Sign-Out: configuration, discovery, sign-in through the system
//! browser, the keychain token vault, sign-out and revocation. The app shell starts a
//! [`Session`] with [`SessionManager::start`] and drives it; ARCHITECTURE.md at the
//! repository's root maps the modules.

pub mod callback;
pub mod config;
pub mod dpop;
mod error;
pub mod journal;
mod loopback_page;
pub mod provider;
pub mod secret;
mod session;
pub mod tokens;
pub mod vault;

pub use config::{Config, ConfigError, Issuer, OktaOrg};
pub use dpop::{DpopError, DpopKey};
pub use error::{error_chain, CertificateProblem, SessionError};
pub use journal::{Journal, SignOutMode, SignOutStep};
pub use provider::IdentityProvider;
pub use secret::Sensitive;
pub use session::{
    DesktopLinks, OutcomeKind, RefusedToken, RevocationStatus, Session, SessionEvents,
    SessionManager, SessionParts, SessionView, SignOutOutcome, SignedOutReason, SystemBrowser,
};
pub use tokens::UserClaims;
pub use vault::{TokenVault, VaultError};
