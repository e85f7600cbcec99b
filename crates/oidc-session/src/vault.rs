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
        let json = Sensitive::new(serde_json::to_string(&record).expect("a record serializes"));
        drop(Sensitive::new(record));
        self.entry(SESSION_ENTRY)?.set_password(json.expose())?;
        Ok(())
    }

    /// The stored session, if there is one.
    pub fn load(&self) -> Result<Option<StoredSession>, VaultError> {
        let json = match self.entry(SESSION_ENTRY)?.get_password() {
            Ok(json) => Sensitive::new(json),
            Err(KeyringError::NoEntry) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let mut record: Record =
            serde_json::from_str(json.expose()).map_err(|_| VaultError::Corrupt)?;
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
        match self.entry(SESSION_ENTRY)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(error) => Err(error.into()),
        }
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
