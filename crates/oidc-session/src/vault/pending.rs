//! The pending-revocation entry: the tokens that sign-outs still have to revoke (with the ID
//! token for Okta's end-session request), and a copy of the live session's, staged for its
//! own sign-out. It has a keychain entry of its own beside the session's.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::{TokenVault, VaultError};
use crate::tokens::{IdToken, RevocableToken, SessionTokens, TokenKind};

/// The keychain entry's user name for the revocable tokens.
const PENDING_ENTRY: &str = "pending-revocation";

/// What a sign-out still has to do with the old sessions' tokens, and the live session's
/// tokens staged for its own sign-out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingSignOut {
    /// Tokens still to revoke, refresh token first.
    pub to_revoke: Vec<RevocableToken>,
    /// The ID token, the `id_token_hint` of Okta's end-session request.
    pub id_token: Option<IdToken>,
    /// The stored session's revocable tokens. They are written here before the session entry,
    /// so that a sign-out only has to delete that entry to end the app session at once: from
    /// then on, staged tokens without a session are queued for revocation, even after a crash.
    pub staged: Vec<RevocableToken>,
}

impl PendingSignOut {
    /// Everything a sign-out needs from the session's tokens.
    pub(crate) fn from_tokens(tokens: &SessionTokens) -> Self {
        Self {
            to_revoke: tokens.revocable(),
            id_token: Some(tokens.id_token.clone()),
            staged: Vec::new(),
        }
    }

    /// Queues `addition`'s tokens for revocation (once each, and no longer staged); its ID
    /// token, if any, replaces this one's.
    pub(crate) fn merge(&mut self, addition: PendingSignOut) {
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
    pub(crate) fn stage(&mut self, live: Vec<RevocableToken>) -> bool {
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
    pub(crate) fn is_empty(&self) -> bool {
        self.to_revoke.is_empty() && self.id_token.is_none() && self.staged.is_empty()
    }
}

/// The entry as one keychain secret (JSON): kinds and values as parallel lists, so that the
/// values can be zeroized.
#[derive(Serialize, Deserialize, Zeroize)]
struct PendingRecord {
    #[zeroize(skip)]
    kinds: Vec<TokenKind>,
    tokens: Vec<String>,
    id_token: Option<String>,
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

impl TokenVault {
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
                .map(|token| token.secret().to_owned()),
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
            id_token: record.id_token.take().map(IdToken::new),
            staged: join_tokens(
                &record.staged_kinds,
                std::mem::take(&mut record.staged_tokens),
            )?,
        }))
    }

    /// Changes the pending-revocation entry with `change`, and writes it back only if it
    /// changed (deleted once empty). An unreadable entry counts as empty: what is queued now
    /// must still be kept.
    pub(crate) fn update_pending<T>(
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

fn split_tokens(tokens: &[RevocableToken]) -> (Vec<TokenKind>, Vec<String>) {
    tokens
        .iter()
        .map(|token| (token.kind(), token.secret().to_owned()))
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
        .zip(tokens)
        .map(|(kind, token)| RevocableToken::of_kind(*kind, token))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{AccessToken, RefreshToken, StoredSession};

    fn tokens(names: &[&str]) -> Vec<RevocableToken> {
        names
            .iter()
            .map(|name| RevocableToken::Access(AccessToken::new((*name).into())))
            .collect()
    }

    #[test]
    fn the_pending_sign_out_has_its_own_entry() {
        let vault = TokenVault::mock();
        assert!(vault.load_pending().unwrap().is_none());
        let pending = PendingSignOut {
            to_revoke: vec![
                RevocableToken::Refresh(RefreshToken::new("refresh-1".into())),
                RevocableToken::Access(AccessToken::new("access-1".into())),
            ],
            id_token: Some(IdToken::new("id-1".into())),
            staged: tokens(&["access-2"]),
        };
        vault.save(&StoredSession::sample()).unwrap();
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
            id_token: Some(IdToken::new("id".into())),
            staged: Vec::new(),
        });
        assert_eq!(pending.to_revoke, tokens(&["old", "a1"]));
        assert_eq!(pending.staged, tokens(&["r1"]));
        assert_eq!(pending.id_token, Some(IdToken::new("id".into())));
    }

    #[test]
    fn an_update_writes_a_change_and_removes_an_entry_left_empty() {
        let vault = TokenVault::mock();
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
        let vault = TokenVault::mock();
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
}
