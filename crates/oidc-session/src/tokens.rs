//! What a session is made of: the tokens (secret) and the user's claims (shown in the UI).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::Sensitive;

/// The tokens of a signed-in session. Never printed, never serialized except into the
/// keychain by the vault.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    /// The access token.
    pub access_token: Sensitive<String>,
    /// When the access token expires.
    pub access_expires_at: SystemTime,
    /// The refresh token, when `offline_access` was granted.
    pub refresh_token: Option<Sensitive<String>>,
    /// The ID token (the `id_token_hint` of the sign-out).
    pub id_token: Sensitive<String>,
}

impl SessionTokens {
    /// Whether the access token has expired (or will within `margin`).
    pub fn access_expired(&self, margin: Duration) -> bool {
        SystemTime::now() + margin >= self.access_expires_at
    }
}

/// Who is signed in: the ID token's claims that the UI shows. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserClaims {
    /// The `sub` claim.
    pub subject: String,
    /// The `name` claim.
    pub name: Option<String>,
    /// The `email` claim.
    pub email: Option<String>,
    /// The `preferred_username` claim.
    pub username: Option<String>,
}

/// A session as the keychain keeps it.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The tokens.
    pub tokens: SessionTokens,
    /// Who signed in.
    pub user: UserClaims,
    /// When they signed in (for the absolute timeout).
    pub signed_in_at: SystemTime,
}

/// Seconds since the Unix epoch, as stored and as shown.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or(0)
}

/// The inverse of [`unix_seconds`].
pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}
