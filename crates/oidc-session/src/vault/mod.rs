//! The token vault: the session's tokens live in the OS keychain (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) and nowhere else on disk. A locked or
//! missing keychain is an error, never a reason to fall back to a file.

use std::sync::Arc;

use keyring_core::error::PlatformError;
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::dpop::DpopKey;
use crate::secret::Sensitive;
use crate::tokens::{
    from_unix_seconds, unix_seconds, AccessToken, IdToken, RefreshToken, SessionTokens,
    StoredSession, UserClaims,
};

mod parts;
mod pending;

pub use parts::MAX_ENTRY_BYTES;
pub use pending::{PendingSignOut, QueuedToken, TokenOrigin};

/// The keychain entry's user name for the signed-in session.
const SESSION_ENTRY: &str = "session";
/// The keychain entry that [`TokenVault::check`] writes and deletes.
const SELF_TEST_ENTRY: &str = "self-test";

/// Why the keychain could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// No keychain service answers, or it is locked.
    #[error("your system keychain is locked or not available; unlock it, or install and start a Secret Service such as GNOME Keyring, then try again")]
    Unavailable(#[source] PlatformError),
    /// The keychain failed while reading or writing.
    #[error("the system keychain failed")]
    Failed(#[source] PlatformError),
    /// The stored session is unreadable (written by another version, or damaged).
    #[error("the session stored in the keychain is unreadable")]
    Corrupt,
}

impl From<KeyringError> for VaultError {
    fn from(error: KeyringError) -> Self {
        match error {
            KeyringError::NoStorageAccess(cause) => Self::Unavailable(cause),
            KeyringError::NoDefaultStore => {
                Self::Unavailable(Box::new(KeyringError::NoDefaultStore))
            }
            KeyringError::PlatformFailure(cause) => Self::Failed(cause),
            // The bytes they carry are the secret: they are not kept.
            KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => Self::Corrupt,
            other => Self::Failed(Box::new(other)),
        }
    }
}

/// The session as one keychain secret (JSON). Only this module writes it.
#[derive(Serialize, Deserialize, Zeroize)]
struct Record {
    #[zeroize(skip)]
    #[serde(default)]
    id: String,
    access_token: String,
    access_expires_at: u64,
    refresh_token: Option<String>,
    id_token: String,
    signed_in_at: u64,
    #[zeroize(skip)]
    user: UserClaims,
    /// The DPoP private key (base64url PKCS#8), beside the tokens it binds: the two are
    /// written, read and deleted together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dpop_key: Option<String>,
}

impl Drop for Record {
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
    /// The platform's keychain, once it passed [`TokenVault::check`].
    pub fn platform(service: &str) -> Result<Self, VaultError> {
        keyring::Entry::store_status()
            .as_ref()
            .map_err(|error| VaultError::Unavailable(error.to_string().into()))?;
        let store = keyring_core::get_default_store().ok_or(KeyringError::NoDefaultStore)?;
        let vault = Self::with_store(store, service);
        vault.check()?;
        Ok(vault)
    }

    /// Writes, reads back and deletes a throwaway entry: a keychain that is locked, absent or
    /// broken fails here, at start, rather than at the first sign-in.
    pub fn check(&self) -> Result<(), VaultError> {
        let probe = format!("{:?}", std::time::SystemTime::now());
        let entry = self.entry(SELF_TEST_ENTRY)?;
        entry.set_secret(probe.as_bytes())?;
        let read = entry.get_secret();
        entry.delete_credential()?;
        if read? != probe.as_bytes() {
            return Err(VaultError::Failed(
                "the keychain gave back something else than it stored".into(),
            ));
        }
        Ok(())
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

    /// Writes `record` as `user`'s value, in JSON.
    fn write_json(&self, user: &str, record: &impl Serialize) -> Result<(), VaultError> {
        let json = Sensitive::new(serde_json::to_vec(record).expect("a record serializes"));
        self.write_value(user, json.expose())
    }

    /// Reads `user`'s value as JSON; `None` when there is none.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        user: &str,
    ) -> Result<Option<T>, VaultError> {
        let Some(json) = self.read_value(user)? else {
            return Ok(None);
        };
        serde_json::from_slice(json.expose())
            .map(Some)
            .map_err(|_| VaultError::Corrupt)
    }

    /// The bytes of `user`'s entry itself; `None` when there is none.
    fn read_entry(&self, user: &str) -> Result<Option<Sensitive<Vec<u8>>>, VaultError> {
        match self.entry(user)?.get_secret() {
            Ok(bytes) => Ok(Some(Sensitive::new(bytes))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn delete_entry(&self, user: &str) -> Result<(), VaultError> {
        self.delete_if_present(user).map(|_| ())
    }

    /// Deletes `user`'s entry; returns whether there was one.
    fn delete_if_present(&self, user: &str) -> Result<bool, VaultError> {
        match self.entry(user)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores `session`, replacing the one there.
    pub fn save(&self, session: &StoredSession) -> Result<(), VaultError> {
        let record = Record {
            id: session.id.clone(),
            access_token: session.tokens.access_token.secret().to_owned(),
            access_expires_at: unix_seconds(session.tokens.access_expires_at),
            refresh_token: session
                .tokens
                .refresh_token
                .as_ref()
                .map(|token| token.secret().to_owned()),
            id_token: session.tokens.id_token.secret().to_owned(),
            signed_in_at: unix_seconds(session.signed_in_at),
            user: session.user.clone(),
            dpop_key: session
                .dpop_key
                .as_ref()
                .map(|key| key.to_stored().expose().clone()),
        };
        self.write_json(SESSION_ENTRY, &record)
    }

    /// The stored session, if there is one.
    pub fn load(&self) -> Result<Option<StoredSession>, VaultError> {
        let Some(mut record) = self.read_json::<Record>(SESSION_ENTRY)? else {
            return Ok(None);
        };
        let dpop_key = record
            .dpop_key
            .as_deref()
            .map(DpopKey::from_stored)
            .transpose()
            .map_err(|_| VaultError::Corrupt)?;
        let session = StoredSession {
            id: std::mem::take(&mut record.id),
            tokens: SessionTokens {
                access_token: AccessToken::new(std::mem::take(&mut record.access_token)),
                access_expires_at: from_unix_seconds(record.access_expires_at),
                refresh_token: record.refresh_token.take().map(RefreshToken::new),
                id_token: IdToken::new(std::mem::take(&mut record.id_token)),
            },
            user: record.user.clone(),
            signed_in_at: from_unix_seconds(record.signed_in_at),
            dpop_key,
        };
        Ok(Some(session))
    }

    /// Deletes the stored session, all its parts; deleting nothing is not an error.
    pub fn delete(&self) -> Result<(), VaultError> {
        self.delete_value(SESSION_ENTRY)
    }

    /// Ends the stored session with one keychain call, for a sign-out: its entry goes, and
    /// without it no session can be read. The parts of a long one stay until
    /// [`TokenVault::delete`], the sign-out's next step, takes them.
    pub fn delete_session_entry(&self) -> Result<(), VaultError> {
        self.delete_entry(SESSION_ENTRY)
    }
}

#[cfg(test)]
impl TokenVault {
    /// A vault over keyring-core's mock store.
    pub(crate) fn mock() -> Self {
        Self::with_store(
            keyring_core::mock::Store::new().unwrap(),
            "com.example.test",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_deletes_a_session() {
        let vault = TokenVault::mock();
        assert!(vault.load().unwrap().is_none());
        vault.save(&StoredSession::sample()).unwrap();
        let loaded = vault.load().unwrap().unwrap();
        assert_eq!(loaded.tokens.access_token.secret(), "access-1");
        assert_eq!(loaded.tokens.refresh_token.unwrap().secret(), "refresh-1");
        assert_eq!(loaded.tokens.id_token.secret(), "id-1");
        assert_eq!(unix_seconds(loaded.tokens.access_expires_at), 2_000_000_000);
        assert_eq!(unix_seconds(loaded.signed_in_at), 1_700_000_000);
        assert_eq!(loaded.id, "session-1");
        assert_eq!(loaded.user, StoredSession::sample().user);
        assert!(loaded.dpop_key.is_none());
        vault.delete().unwrap();
        assert!(vault.load().unwrap().is_none());
        vault.delete().unwrap();
    }

    #[test]
    fn a_dpop_key_is_kept_and_deleted_with_its_session() {
        let vault = TokenVault::mock();
        let key = DpopKey::generate().unwrap();
        let session = StoredSession {
            dpop_key: Some(key.clone()),
            ..StoredSession::sample()
        };
        vault.save(&session).unwrap();
        let loaded = vault.load().unwrap().unwrap().dpop_key.unwrap();
        assert_eq!(loaded.thumbprint(), key.thumbprint());
        vault.delete_session_entry().unwrap();
        assert!(vault.load().unwrap().is_none());
    }

    #[test]
    fn keychain_failures_are_errors_not_fallbacks() {
        let vault = TokenVault::mock();
        let entry = vault.entry(SESSION_ENTRY).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(KeyringError::NoStorageAccess("locked".into()));
        let error = entry.get_password().map_err(VaultError::from).unwrap_err();
        assert!(matches!(error, VaultError::Unavailable(_)));
        assert!(error.to_string().contains("locked or not available"));
    }

    #[test]
    fn the_self_test_passes_on_a_working_keychain_and_names_a_locked_one() {
        let vault = TokenVault::mock();
        vault.check().unwrap();
        assert!(
            vault.read_entry(SELF_TEST_ENTRY).unwrap().is_none(),
            "cleaned up"
        );
        let entry = vault.entry(SELF_TEST_ENTRY).unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(KeyringError::NoStorageAccess("locked".into()));
        let error = vault.check().unwrap_err();
        assert!(matches!(error, VaultError::Unavailable(_)), "{error:?}");
        assert!(error.to_string().contains("unlock it"));
    }

    #[test]
    fn an_unreadable_record_is_corrupt() {
        let vault = TokenVault::mock();
        vault
            .entry(SESSION_ENTRY)
            .unwrap()
            .set_password("{not json")
            .unwrap();
        assert!(matches!(vault.load(), Err(VaultError::Corrupt)));
    }
}
