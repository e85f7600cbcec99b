//! The Tauri-free core of Okta Sign-Out: configuration, discovery, sign-in through the system
//! browser, the keychain token vault, and the session that the app shell drives.

pub mod callback;
pub mod config;
mod error;
pub mod journal;
pub mod provider;
pub mod secret;
mod session;
pub mod tokens;
pub mod vault;

pub use config::{Config, ConfigError, OktaOrg};
pub use error::SessionError;
pub use journal::{Journal, SignOutMode, SignOutStep};
pub use secret::Sensitive;
pub use session::{
    IdentityProvider, OutcomeKind, SessionEvents, SessionManager, SessionView, SignOutOutcome,
    SignedOutReason, SystemBrowser,
};
pub use tokens::UserClaims;
pub use vault::{TokenVault, VaultError};
