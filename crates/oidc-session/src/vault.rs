//! The token vault: the session's tokens live in the OS keychain (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) and nowhere else on disk. A locked or
//! missing keychain is an error, never a reason to fall back to a file.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::secret::Sensitive;
use crate::tokens::{from_unix_seconds, unix_seconds, SessionTokens, StoredSession, UserClaims};

/// The keychain entry's user name for the signed-in session.
const SESSION_ENTRY: &str = "session";
/// The keychain entry's user name for what an unfinished sign-out still needs: the tokens to
/// revoke and the ID token for Okta's end-session request.
const PENDING_ENTRY: &str = "pending-revocation";

/// Why the keychain could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No keychain service answers, or it is locked.
    #[error("your system keychain is locked or not available ({0}); unlock it, or install and start a Secret Service such as GNOME Keyring, then try again")]
    Unavailable(String),
    /// The keychain failed while reading or writing.
    #[error("the system keychain failed: {0}")]
    Failed(String),
    /// The stored session is unreadable (written by another version, or damaged).
    #[error("the session stored in the keychain is unreadable")]
    Corrupt,
}

impl From<KeyringError> for VaultError {
    fn from(error: KeyringError) -> Self {
        match error {
            KeyringError::NoStorageAccess(cause) => Self::Unavailable(cause.to_string()),
            KeyringError::NoDefaultStore => Self::Unavailable("no credential store".into()),
            KeyringError::PlatformFailure(cause) => Self::Failed(cause.to_string()),
            KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => Self::Corrupt,
            other => Self::Failed(other.to_string()),
        }
    }
}

/// The session as one keychain secret (JSON). Only this module writes it.
#[derive(Serialize, Deserialize, Zeroize)]
struct Record {
    access_token: String,
    access_expires_at: u64,
    refresh_token: Option<String>,
    id_token: String,
    signed_in_at: u64,
    #[zeroize(skip)]
    user: UserClaims,
}

/// What a sign-out still has to do with the old session's tokens.
#[derive(Debug, Clone, Default)]
pub struct PendingSignOut {
    /// Tokens still to revoke, refresh token first.
    pub to_revoke: Vec<(TokenKind, Sensitive<String>)>,
    /// The ID token, the `id_token_hint` of Okta's end-session request.
    pub id_token: Option<Sensitive<String>>,
}

impl PendingSignOut {
    /// Adds `addition`'s tokens to revoke; its ID token, if any, replaces this one's.
    pub fn merge(&mut self, addition: PendingSignOut) {
        self.to_revoke.extend(addition.to_revoke);
        if addition.id_token.is_some() {
            self.id_token = addition.id_token;
        }
    }
}

/// Which token a revocation is for (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A refresh token (revoking it also revokes its access tokens at Okta).
    RefreshToken,
    /// An access token.
    AccessToken,
}

#[derive(Serialize, Deserialize, Zeroize)]
struct PendingRecord {
    #[zeroize(skip)]
    kinds: Vec<TokenKind>,
    tokens: Vec<String>,
    id_token: Option<String>,
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.zeroize();
    }
}

/// The keychain entries of one app (its service name is the app's identifier).
#[derive(Clone)]
pub struct TokenVault {
    store: Arc<CredentialStore>,
    service: String,
}

impl TokenVault {
    /// The platform's keychain.
    pub fn platform(service: &str) -> Result<Self, VaultError> {
        keyring::Entry::store_status()
            .as_ref()
            .map_err(|error| VaultError::Unavailable(error.to_string()))?;
        let store = keyring_core::get_default_store()
            .ok_or_else(|| VaultError::Unavailable("no credential store".into()))?;
        Ok(Self::with_store(store, service))
    }

    /// A vault over `store` (tests use keyring-core's mock store).
    pub fn with_store(store: Arc<CredentialStore>, service: &str) -> Self {
        Self {
            store,
            service: service.to_owned(),
        }
    }

    fn entry(&self, user: &str) -> Result<Entry, VaultError> {
        Ok(Entry::new_in_store(&self.store, &self.service, user)?)
    }

    /// Writes `record` as the JSON secret of `user`'s entry.
    fn write_json(&self, user: &str, record: &impl Serialize) -> Result<(), VaultError> {
        let json = Sensitive::new(serde_json::to_string(record).expect("a record serializes"));
        self.entry(user)?.set_password(json.expose())?;
        Ok(())
    }

    /// Reads `user`'s entry as JSON; `None` when there is none.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        user: &str,
    ) -> Result<Option<T>, VaultError> {
        let json = match self.entry(user)?.get_password() {
            Ok(json) => Sensitive::new(json),
            Err(KeyringError::NoEntry) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        serde_json::from_str(json.expose())
            .map(Some)
            .map_err(|_| VaultError::Corrupt)
    }

    fn delete_entry(&self, user: &str) -> Result<(), VaultError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores `session`, replacing the one there.
    pub fn save(&self, session: &StoredSession) -> Result<(), VaultError> {
        let record = Record {
            access_token: session.tokens.access_token.expose().clone(),
            access_expires_at: unix_seconds(session.tokens.access_expires_at),
            refresh_token: session
                .tokens
                .refresh_token
                .as_ref()
                .map(|token| token.expose().clone()),
            id_token: session.tokens.id_token.expose().clone(),
            signed_in_at: unix_seconds(session.signed_in_at),
            user: session.user.clone(),
        };
        self.write_json(SESSION_ENTRY, &record)
    }

    /// The stored session, if there is one.
    pub fn load(&self) -> Result<Option<StoredSession>, VaultError> {
        let Some(mut record) = self.read_json::<Record>(SESSION_ENTRY)? else {
            return Ok(None);
        };
        let session = StoredSession {
            tokens: SessionTokens {
                access_token: Sensitive::new(std::mem::take(&mut record.access_token)),
                access_expires_at: from_unix_seconds(record.access_expires_at),
                refresh_token: record.refresh_token.take().map(Sensitive::new),
                id_token: Sensitive::new(std::mem::take(&mut record.id_token)),
            },
            user: record.user.clone(),
            signed_in_at: from_unix_seconds(record.signed_in_at),
        };
        Ok(Some(session))
    }

    /// Deletes the stored session; deleting nothing is not an error.
    pub fn delete(&self) -> Result<(), VaultError> {
        self.delete_entry(SESSION_ENTRY)
    }

    /// Stores what an unfinished sign-out still needs, replacing what was there.
    pub fn save_pending(&self, pending: &PendingSignOut) -> Result<(), VaultError> {
        let record = PendingRecord {
            kinds: pending.to_revoke.iter().map(|(kind, _)| *kind).collect(),
            tokens: pending
                .to_revoke
                .iter()
                .map(|(_, token)| token.expose().clone())
                .collect(),
            id_token: pending
                .id_token
                .as_ref()
                .map(|token| token.expose().clone()),
        };
        self.write_json(PENDING_ENTRY, &record)
    }

    /// What an unfinished sign-out still needs, if anything.
    pub fn load_pending(&self) -> Result<Option<PendingSignOut>, VaultError> {
        let Some(mut record) = self.read_json::<PendingRecord>(PENDING_ENTRY)? else {
            return Ok(None);
        };
        if record.kinds.len() != record.tokens.len() {
            return Err(VaultError::Corrupt);
        }
        let tokens = std::mem::take(&mut record.tokens);
        Ok(Some(PendingSignOut {
            to_revoke: record
                .kinds
                .iter()
                .copied()
                .zip(tokens.into_iter().map(Sensitive::new))
                .collect(),
            id_token: record.id_token.take().map(Sensitive::new),
        }))
    }

    /// Deletes the pending-revocation entry.
    pub fn delete_pending(&self) -> Result<(), VaultError> {
        self.delete_entry(PENDING_ENTRY)
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    pub(crate) fn sample_session() -> StoredSession {
        StoredSession {
            tokens: SessionTokens {
                access_token: Sensitive::new("access-1".into()),
                access_expires_at: from_unix_seconds(2_000_000_000),
                refresh_token: Some(Sensitive::new("refresh-1".into())),
                id_token: Sensitive::new("id-1".into()),
            },
            user: UserClaims {
                subject: "00u1".into(),
                name: Some("Ada Lovelace".into()),
                email: Some("ada@example.com".into()),
                username: None,
            },
            signed_in_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn mock_vault() -> TokenVault {
        TokenVault::with_store(
            keyring_core::mock::Store::new().unwrap(),
            "com.example.test",
        )
    }

    #[test]
    fn saves_loads_and_deletes_a_session() {
        let vault = mock_vault();
        assert!(vault.load().unwrap().is_none());
        vault.save(&sample_session()).unwrap();
        let loaded = vault.load().unwrap().unwrap();
        assert_eq!(loaded.tokens.access_token.expose(), "access-1");
        assert_eq!(loaded.tokens.refresh_token.unwrap().expose(), "refresh-1");
        assert_eq!(loaded.tokens.id_token.expose(), "id-1");
        assert_eq!(unix_seconds(loaded.tokens.access_expires_at), 2_000_000_000);
        assert_eq!(unix_seconds(loaded.signed_in_at), 1_700_000_000);
        assert_eq!(loaded.user, sample_session().user);
        vault.delete().unwrap();
        assert!(vault.load().unwrap().is_none());
        vault.delete().unwrap();
    }

    #[test]
    fn the_pending_sign_out_has_its_own_entry() {
        let vault = mock_vault();
        assert!(vault.load_pending().unwrap().is_none());
        vault.save(&sample_session()).unwrap();
        let pending = PendingSignOut {
            to_revoke: vec![
                (TokenKind::RefreshToken, Sensitive::new("refresh-1".into())),
                (TokenKind::AccessToken, Sensitive::new("access-1".into())),
            ],
            id_token: Some(Sensitive::new("id-1".into())),
        };
        vault.save_pending(&pending).unwrap();
        vault.delete().unwrap();
        let loaded = vault.load_pending().unwrap().unwrap();
        assert_eq!(loaded.to_revoke, pending.to_revoke);
        assert_eq!(loaded.id_token, pending.id_token);
        assert!(
            vault.load().unwrap().is_none(),
            "the session entry is separate"
        );
        vault.delete_pending().unwrap();
        assert!(vault.load_pending().unwrap().is_none());
    }

    #[test]
    fn keychain_failures_are_errors_not_fallbacks() {
        let vault = mock_vault();
        let entry = vault.entry(SESSION_ENTRY).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(KeyringError::NoStorageAccess("locked".into()));
        let error = entry.get_password().map_err(VaultError::from).unwrap_err();
        assert!(matches!(error, VaultError::Unavailable(_)));
        assert!(error.to_string().contains("locked or not available"));
    }

    #[test]
    fn an_unreadable_record_is_corrupt() {
        let vault = mock_vault();
        vault
            .entry(SESSION_ENTRY)
            .unwrap()
            .set_password("{not json")
            .unwrap();
        assert!(matches!(vault.load(), Err(VaultError::Corrupt)));
    }
}
