//! What can go wrong in a session, each with a stable code the UI can branch on and a
//! message a person can act on.

use serde::Serialize;

use crate::vault::VaultError;

/// A failed session operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The configuration cannot be used.
    #[error("the configuration cannot be used: {0}")]
    Configuration(String),
    /// The IdP's discovery document could not be fetched or read.
    #[error("cannot reach Okta at {issuer}: {reason}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What failed.
        reason: String,
    },
    /// The IdP could not be reached for a token request.
    #[error("cannot reach Okta: {0}")]
    Network(String),
    /// The IdP answered with an OAuth error.
    #[error("Okta refused: {}", .description.as_deref().unwrap_or(.code))]
    IdpError {
        /// The OAuth error code, e.g. `access_denied`.
        code: String,
        /// Okta's description.
        description: Option<String>,
    },
    /// The code or refresh token is no longer valid (`invalid_grant`).
    #[error("Okta no longer accepts this session{}", .description.as_deref().map(|text| format!(": {text}")).unwrap_or_default())]
    GrantRejected {
        /// Okta's description.
        description: Option<String>,
    },
    /// There is no refresh token to renew the session with.
    #[error("the session cannot be renewed without signing in again")]
    RefreshUnavailable,
    /// The ID token failed validation.
    #[error("Okta's answer could not be verified: {0}")]
    InvalidIdToken(String),
    /// The system browser could not be opened.
    #[error("cannot open your web browser: {0}")]
    Browser(String),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] VaultError),
    /// The person cancelled the wait for the browser.
    #[error("sign-in was cancelled")]
    Cancelled,
    /// The browser did not come back in time.
    #[error("your browser did not come back within {0} seconds; try again")]
    TimedOut(u64),
    /// A sign-in or sign-out is already running.
    #[error("another sign-in or sign-out is in progress")]
    Busy,
    /// Someone is already signed in.
    #[error("you are already signed in")]
    AlreadySignedIn,
}

impl SessionError {
    /// A stable identifier for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Configuration(_) => "configuration",
            Self::Discovery { .. } => "discovery",
            Self::Network(_) => "network",
            Self::IdpError { .. } => "idp_error",
            Self::GrantRejected { .. } => "grant_rejected",
            Self::RefreshUnavailable => "refresh_unavailable",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::Browser(_) => "browser",
            Self::Keychain(VaultError::Unavailable(_)) => "keychain_unavailable",
            Self::Keychain(_) => "keychain",
            Self::Cancelled => "cancelled",
            Self::TimedOut(_) => "timed_out",
            Self::Busy => "busy",
            Self::AlreadySignedIn => "already_signed_in",
        }
    }
}

/// `{code, message}`: what the UI receives for an error.
impl Serialize for SessionError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("SessionError", 2)?;
        state.serialize_field("code", self.code())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}
