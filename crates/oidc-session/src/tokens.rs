//! What a session is made of: its tokens, one type each (secret: never printed, never
//! serialized but into the keychain, wiped from memory on drop), and the user's claims (shown
//! in the UI).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::dpop::DpopKey;
use crate::secret::Sensitive;

/// A token type whose value is a secret, in the manner of oauth2's `new_secret_type!`:
/// `Debug` prints the type's name and `[redacted]`, and [`Sensitive`] zeroizes the value on
/// drop.
macro_rules! secret_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Sensitive<String>);

        impl $name {
            /// Wraps the token's value.
            pub fn new(value: String) -> Self {
                Self(Sensitive::new(value))
            }

            /// The token itself, for the one place that must send or store it.
            pub fn secret(&self) -> &str {
                self.0.expose()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, concat!(stringify!($name), "({:?})"), self.0)
            }
        }
    };
}

secret_token!(
    /// An OAuth access token. The app treats it as opaque.
    AccessToken
);
secret_token!(
    /// An OAuth refresh token (granted with `offline_access`).
    RefreshToken
);
secret_token!(
    /// An OpenID Connect ID token (a JWT): who signed in, and the `id_token_hint` of
    /// Okta's end-session request.
    IdToken
);

/// Which token a revocation is for (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A refresh token (revoking it also revokes its access tokens at Okta).
    RefreshToken,
    /// An access token.
    AccessToken,
}

/// A token that can be revoked (RFC 7009): the ID token cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocableToken {
    /// A refresh token.
    Refresh(RefreshToken),
    /// An access token.
    Access(AccessToken),
}

impl RevocableToken {
    /// Which kind of token this is.
    pub fn kind(&self) -> TokenKind {
        match self {
            Self::Refresh(_) => TokenKind::RefreshToken,
            Self::Access(_) => TokenKind::AccessToken,
        }
    }

    /// The token itself.
    pub fn secret(&self) -> &str {
        match self {
            Self::Refresh(token) => token.secret(),
            Self::Access(token) => token.secret(),
        }
    }

    /// A token of `kind` with `value`.
    pub(crate) fn of_kind(kind: TokenKind, value: String) -> Self {
        match kind {
            TokenKind::RefreshToken => Self::Refresh(RefreshToken::new(value)),
            TokenKind::AccessToken => Self::Access(AccessToken::new(value)),
        }
    }
}

/// The tokens of a signed-in session.
#[derive(Debug, Clone)]
pub struct SessionTokens {
    /// The access token.
    pub access_token: AccessToken,
    /// When the access token expires.
    pub access_expires_at: SystemTime,
    /// The refresh token, when `offline_access` was granted.
    pub refresh_token: Option<RefreshToken>,
    /// The ID token (the `id_token_hint` of the sign-out).
    pub id_token: IdToken,
}

impl SessionTokens {
    /// Whether the access token has expired (or will within `margin`).
    pub(crate) fn access_expired(&self, margin: Duration) -> bool {
        SystemTime::now() + margin >= self.access_expires_at
    }

    /// The tokens that can be revoked, refresh token first: revoking it also ends the access
    /// tokens issued with it.
    pub fn revocable(&self) -> Vec<RevocableToken> {
        let refresh = self.refresh_token.clone().map(RevocableToken::Refresh);
        let access = RevocableToken::Access(self.access_token.clone());
        refresh.into_iter().chain([access]).collect()
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
    /// Which session this is: random, made at sign-in and kept across refreshes, so that a
    /// sign-out's journal names the session it ends (empty for a session stored by a version
    /// that did not have it).
    pub id: String,
    /// The tokens.
    pub tokens: SessionTokens,
    /// Who signed in.
    pub user: UserClaims,
    /// When they signed in (for the absolute timeout).
    pub signed_in_at: SystemTime,
    /// The key the tokens are bound to (DPoP), made at sign-in and kept with them.
    pub dpop_key: Option<DpopKey>,
}

#[cfg(test)]
impl StoredSession {
    /// Ada's session, with short made-up tokens.
    pub(crate) fn sample() -> Self {
        Self {
            id: "session-1".into(),
            tokens: SessionTokens {
                access_token: AccessToken::new("access-1".into()),
                access_expires_at: from_unix_seconds(2_000_000_000),
                refresh_token: Some(RefreshToken::new("refresh-1".into())),
                id_token: IdToken::new("id-1".into()),
            },
            user: UserClaims {
                subject: "00u1".into(),
                name: Some("Ada Lovelace".into()),
                email: Some("ada@example.com".into()),
                username: None,
            },
            signed_in_at: from_unix_seconds(1_700_000_000),
            dpop_key: None,
        }
    }
}

/// Seconds since the Unix epoch, as stored and as shown.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or(0)
}

/// The inverse of [`unix_seconds`].
pub(crate) fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_the_token_and_hides_its_value() {
        let token = RefreshToken::new("refresh-token-value".into());
        assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
        let revocable = RevocableToken::Refresh(token);
        assert_eq!(
            format!("{revocable:?}"),
            "Refresh(RefreshToken([redacted]))"
        );
        assert_eq!(revocable.secret(), "refresh-token-value");
    }

    #[test]
    fn the_refresh_token_is_revoked_first() {
        let tokens = SessionTokens {
            access_token: AccessToken::new("access".into()),
            access_expires_at: SystemTime::now(),
            refresh_token: Some(RefreshToken::new("refresh".into())),
            id_token: IdToken::new("id".into()),
        };
        let kinds: Vec<_> = tokens
            .revocable()
            .iter()
            .map(RevocableToken::kind)
            .collect();
        assert_eq!(kinds, [TokenKind::RefreshToken, TokenKind::AccessToken]);
    }
}
