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
/// The keychain entry's user name for the revocable tokens: those an unfinished sign-out still
/// has to revoke (with the ID token for Okta's end-session request), and a copy of the live
/// session's, staged for its sign-out.
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

/// A revocable token and its kind.
pub type RevocableToken = (TokenKind, Sensitive<String>);

/// What a sign-out still has to do with the old sessions' tokens, and the live session's
/// tokens staged for its own sign-out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingSignOut {
    /// Tokens still to revoke, refresh token first.
    pub to_revoke: Vec<RevocableToken>,
    /// The ID token, the `id_token_hint` of Okta's end-session request.
    pub id_token: Option<Sensitive<String>>,
    /// The stored session's revocable tokens. They are written here before the session entry,
    /// so that a sign-out only has to delete that entry to end the app session at once: from
    /// then on, staged tokens without a session are queued for revocation, even after a crash.
    pub staged: Vec<RevocableToken>,
}

impl PendingSignOut {
    /// Queues `addition`'s tokens for revocation (once each, and no longer staged); its ID
    /// token, if any, replaces this one's.
    pub fn merge(&mut self, addition: PendingSignOut) {
        for token in addition.to_revoke {
            self.staged.retain(|staged| *staged != token);
            if !self.to_revoke.contains(&token) {
                self.to_revoke.push(token);
            }
        }
        if addition.id_token.is_some() {
            self.id_token = addition.id_token;
        }
    }

    /// Stages `live`, the stored session's tokens (none when there is no session). Tokens
    /// staged before that are not among them belong to no session any more: they are queued
    /// for revocation. Returns whether any were.
    pub fn stage(&mut self, live: Vec<RevocableToken>) -> bool {
        let orphans: Vec<_> = std::mem::take(&mut self.staged)
            .into_iter()
            .filter(|token| !live.contains(token))
            .collect();
        let queued = !orphans.is_empty();
        self.merge(PendingSignOut {
            to_revoke: orphans,
            ..Self::default()
        });
        self.staged = live;
        queued
    }

    /// Nothing to revoke, nothing staged: the entry can go.
    pub fn is_empty(&self) -> bool {
        self.to_revoke.is_empty() && self.id_token.is_none() && self.staged.is_empty()
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
    // Absent in entries written before tokens were staged.
    #[zeroize(skip)]
    #[serde(default)]
    staged_kinds: Vec<TokenKind>,
    #[serde(default)]
    staged_tokens: Vec<String>,
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
        let (kinds, tokens) = split_tokens(&pending.to_revoke);
        let (staged_kinds, staged_tokens) = split_tokens(&pending.staged);
        let record = PendingRecord {
            kinds,
            tokens,
            id_token: pending
                .id_token
                .as_ref()
                .map(|token| token.expose().clone()),
            staged_kinds,
            staged_tokens,
        };
        self.write_json(PENDING_ENTRY, &record)
    }

    /// What an unfinished sign-out still needs, if anything.
    pub fn load_pending(&self) -> Result<Option<PendingSignOut>, VaultError> {
        let Some(mut record) = self.read_json::<PendingRecord>(PENDING_ENTRY)? else {
            return Ok(None);
        };
        Ok(Some(PendingSignOut {
            to_revoke: join_tokens(&record.kinds, std::mem::take(&mut record.tokens))?,
            id_token: record.id_token.take().map(Sensitive::new),
            staged: join_tokens(
                &record.staged_kinds,
                std::mem::take(&mut record.staged_tokens),
            )?,
        }))
    }

    /// Changes the pending-revocation entry with `change`, and writes it back only if it
    /// changed (deleted once empty). An unreadable entry counts as empty: what is queued now
    /// must still be kept.
    pub fn update_pending<T>(
        &self,
        change: impl FnOnce(&mut PendingSignOut) -> T,
    ) -> Result<T, VaultError> {
        let (stored, corrupt) = match self.load_pending() {
            Ok(stored) => (stored.unwrap_or_default(), false),
            Err(VaultError::Corrupt) => (PendingSignOut::default(), true),
            Err(error) => return Err(error),
        };
        let mut pending = stored.clone();
        let result = change(&mut pending);
        if corrupt || pending != stored {
            if pending.is_empty() {
                self.delete_pending()?;
            } else {
                self.save_pending(&pending)?;
            }
        }
        Ok(result)
    }

    /// Deletes the pending-revocation entry.
    pub fn delete_pending(&self) -> Result<(), VaultError> {
        self.delete_entry(PENDING_ENTRY)
    }
}

/// Tokens as the parallel lists the record keeps (so that the strings can be zeroized).
fn split_tokens(tokens: &[RevocableToken]) -> (Vec<TokenKind>, Vec<String>) {
    tokens
        .iter()
        .map(|(kind, token)| (*kind, token.expose().clone()))
        .unzip()
}

fn join_tokens(
    kinds: &[TokenKind],
    tokens: Vec<String>,
) -> Result<Vec<RevocableToken>, VaultError> {
    if kinds.len() != tokens.len() {
        return Err(VaultError::Corrupt);
    }
    Ok(kinds
        .iter()
        .copied()
        .zip(tokens.into_iter().map(Sensitive::new))
        .collect())
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
            staged: vec![(TokenKind::AccessToken, Sensitive::new("access-2".into()))],
        };
        vault.save_pending(&pending).unwrap();
        vault.delete().unwrap();
        let loaded = vault.load_pending().unwrap().unwrap();
        assert_eq!(loaded, pending);
        assert!(
            vault.load().unwrap().is_none(),
            "the session entry is separate"
        );
        vault.delete_pending().unwrap();
        assert!(vault.load_pending().unwrap().is_none());
    }

    fn tokens(names: &[&str]) -> Vec<RevocableToken> {
        names
            .iter()
            .map(|name| (TokenKind::AccessToken, Sensitive::new((*name).into())))
            .collect()
    }

    #[test]
    fn staging_queues_the_tokens_that_belong_to_no_session_any_more() {
        let mut pending = PendingSignOut::default();
        assert!(!pending.stage(tokens(&["a1", "r1"])), "nothing was staged");
        assert!(pending.to_revoke.is_empty());
        assert!(!pending.stage(tokens(&["a1", "r1"])), "the same session");
        assert!(pending.stage(tokens(&["a2", "r1"])));
        assert_eq!(pending.to_revoke, tokens(&["a1"]));
        assert_eq!(pending.staged, tokens(&["a2", "r1"]));
        assert!(pending.stage(Vec::new()), "the session is gone");
        assert_eq!(pending.to_revoke, tokens(&["a1", "a2", "r1"]));
        assert!(pending.staged.is_empty());
    }

    #[test]
    fn merging_queues_each_token_once_and_unstages_it() {
        let mut pending = PendingSignOut {
            to_revoke: tokens(&["old"]),
            id_token: None,
            staged: tokens(&["a1", "r1"]),
        };
        pending.merge(PendingSignOut {
            to_revoke: tokens(&["old", "a1"]),
            id_token: Some(Sensitive::new("id".into())),
            staged: Vec::new(),
        });
        assert_eq!(pending.to_revoke, tokens(&["old", "a1"]));
        assert_eq!(pending.staged, tokens(&["r1"]));
        assert_eq!(pending.id_token, Some(Sensitive::new("id".into())));
    }

    #[test]
    fn an_update_writes_a_change_and_removes_an_entry_left_empty() {
        let vault = mock_vault();
        vault.update_pending(|_| ()).unwrap();
        assert!(
            vault.load_pending().unwrap().is_none(),
            "no change, no entry"
        );
        vault
            .update_pending(|pending| pending.staged = tokens(&["a1"]))
            .unwrap();
        assert_eq!(
            vault.load_pending().unwrap().unwrap().staged,
            tokens(&["a1"])
        );
        let queued = vault
            .update_pending(|pending| pending.stage(Vec::new()))
            .unwrap();
        assert!(queued);
        assert_eq!(
            vault.load_pending().unwrap().unwrap().to_revoke,
            tokens(&["a1"])
        );
        vault
            .update_pending(|pending| pending.to_revoke.clear())
            .unwrap();
        assert!(
            vault.load_pending().unwrap().is_none(),
            "an empty entry goes"
        );
    }

    #[test]
    fn an_update_replaces_an_unreadable_entry() {
        let vault = mock_vault();
        let entry = vault.entry(PENDING_ENTRY).unwrap();
        entry.set_password("{not json").unwrap();
        vault
            .update_pending(|pending| pending.to_revoke = tokens(&["a1"]))
            .unwrap();
        assert_eq!(
            vault.load_pending().unwrap().unwrap().to_revoke,
            tokens(&["a1"])
        );
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
