//! The pending-revocation entry: the tokens that sign-outs still have to revoke (with the ID
//! token for Okta's end-session request), and a copy of the live session's, staged for its
//! own sign-out. It has a keychain entry of its own beside the session's.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::{TokenVault, VaultError};
use crate::tokens::{unix_seconds, IdToken, RevocableToken, SessionTokens, TokenKind};

/// The keychain entry's user name for the revocable tokens.
const PENDING_ENTRY: &str = "pending-revocation";

/// Who issued a token, and to which client: only that client can revoke it, and only there
/// (Okta answers 200 to anyone else and leaves the token alive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenOrigin {
    /// The issuer, exactly as configured when the token was issued.
    pub issuer: String,
    /// The client the token was issued to.
    pub client_id: String,
}

/// A revocable token on its way out: staged with the live session, or queued for revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedToken {
    /// The token.
    pub token: RevocableToken,
    /// Where it was issued; `None` for a token queued by a version of the app that did not
    /// record it (then it is the configured client's).
    pub origin: Option<TokenOrigin>,
    /// When it was queued (staged: when it was issued), in Unix seconds.
    pub queued_at: u64,
    /// When it dies by itself (Unix seconds), when known: past that, nothing is left to revoke.
    pub expires_at: Option<u64>,
    /// Why Okta refused to revoke it, if it did: a refused token waits for the person's
    /// "Retry now" rather than blocking the queue or being retried for ever.
    pub refused: Option<String>,
}

impl QueuedToken {
    /// The revocable tokens of `tokens`, refresh token first, issued by `origin`.
    pub(crate) fn all_of(tokens: &SessionTokens, origin: &TokenOrigin) -> Vec<QueuedToken> {
        tokens
            .revocable()
            .into_iter()
            .map(|token| QueuedToken {
                expires_at: match token {
                    RevocableToken::Access(_) => Some(unix_seconds(tokens.access_expires_at)),
                    // Okta does not say when a refresh token expires.
                    RevocableToken::Refresh(_) => None,
                },
                token,
                origin: Some(origin.clone()),
                queued_at: unix_seconds(SystemTime::now()),
                refused: None,
            })
            .collect()
    }

    /// Whether it has expired at `now` (Unix seconds): Okta no longer takes it anyway.
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }
}

/// What a sign-out still has to do with the old sessions' tokens, and the live session's
/// tokens staged for its own sign-out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingSignOut {
    /// Tokens still to revoke, refresh token first.
    pub to_revoke: Vec<QueuedToken>,
    /// The ID token, the `id_token_hint` of Okta's end-session request.
    pub id_token: Option<IdToken>,
    /// The stored session's revocable tokens. They are written here before the session entry,
    /// so that a sign-out only has to delete that entry to end the app session at once: from
    /// then on, staged tokens without a session are queued for revocation, even after a crash.
    pub staged: Vec<QueuedToken>,
}

impl PendingSignOut {
    /// Everything a sign-out needs from the session's tokens, issued by `origin`.
    pub(crate) fn from_tokens(tokens: &SessionTokens, origin: &TokenOrigin) -> Self {
        Self {
            to_revoke: QueuedToken::all_of(tokens, origin),
            id_token: Some(tokens.id_token.clone()),
            staged: Vec::new(),
        }
    }

    /// `tokens`' revocable ones to queue, without the ID token: no sign-out will use it.
    pub(crate) fn revocable_only(tokens: &SessionTokens, origin: &TokenOrigin) -> Self {
        Self {
            to_revoke: QueuedToken::all_of(tokens, origin),
            ..Self::default()
        }
    }

    /// Queues `addition`'s tokens for revocation (once each, and no longer staged); its ID
    /// token, if any, replaces this one's.
    pub(crate) fn merge(&mut self, addition: PendingSignOut) {
        let now = unix_seconds(SystemTime::now());
        for mut queued in addition.to_revoke {
            self.staged.retain(|staged| staged.token != queued.token);
            if !self.holds(&queued.token) {
                queued.queued_at = now;
                self.to_revoke.push(queued);
            }
        }
        if addition.id_token.is_some() {
            self.id_token = addition.id_token;
        }
    }

    /// Whether `token` is queued for revocation.
    pub fn holds(&self, token: &RevocableToken) -> bool {
        self.to_revoke.iter().any(|queued| queued.token == *token)
    }

    /// Stages `live`, the stored session's tokens (none when there is no session). Tokens
    /// staged before that are not among them belong to no session any more: they are queued
    /// for revocation. Returns whether any were.
    pub(crate) fn stage(&mut self, live: Vec<QueuedToken>) -> bool {
        let orphans: Vec<_> = std::mem::take(&mut self.staged)
            .into_iter()
            .filter(|staged| !live.iter().any(|token| token.token == staged.token))
            .collect();
        let queued = !orphans.is_empty();
        self.merge(PendingSignOut {
            to_revoke: orphans,
            ..Self::default()
        });
        self.staged = live;
        queued
    }

    /// Stages `live`, the tokens a refresh just issued for the stored session. The access
    /// tokens they replace are queued for revocation (they would live on until they expire);
    /// a refresh token they replace is not: revoking a rotated refresh token can end its grant,
    /// the new tokens included, and the new refresh token ends the grant at sign-out anyway.
    /// Returns whether any were queued.
    pub(crate) fn restage(&mut self, live: Vec<QueuedToken>) -> bool {
        self.staged
            .retain(|staged| matches!(staged.token, RevocableToken::Access(_)));
        self.stage(live)
    }

    /// Nothing to revoke, nothing staged: the entry can go.
    pub(crate) fn is_empty(&self) -> bool {
        self.to_revoke.is_empty() && self.id_token.is_none() && self.staged.is_empty()
    }
}

/// One token of the entry; only the value is secret.
#[derive(Serialize, Deserialize, Zeroize)]
struct TokenRecord {
    #[zeroize(skip)]
    kind: TokenKind,
    token: String,
    #[zeroize(skip)]
    origin: Option<TokenOrigin>,
    #[zeroize(skip)]
    queued_at: u64,
    #[zeroize(skip)]
    expires_at: Option<u64>,
    #[zeroize(skip)]
    refused: Option<String>,
}

/// The entry as one keychain secret (JSON). `kinds` and `tokens`, `staged_kinds` and
/// `staged_tokens` (parallel lists) are how earlier versions wrote it: still read, so that an
/// update loses no token.
#[derive(Serialize, Deserialize, Zeroize)]
struct PendingRecord {
    #[serde(default)]
    queue: Vec<TokenRecord>,
    #[serde(default)]
    staged: Vec<TokenRecord>,
    id_token: Option<String>,
    #[zeroize(skip)]
    #[serde(default, skip_serializing)]
    kinds: Vec<TokenKind>,
    #[serde(default, skip_serializing)]
    tokens: Vec<String>,
    #[zeroize(skip)]
    #[serde(default, skip_serializing)]
    staged_kinds: Vec<TokenKind>,
    #[serde(default, skip_serializing)]
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
        let record = PendingRecord {
            queue: pending.to_revoke.iter().map(TokenRecord::from).collect(),
            staged: pending.staged.iter().map(TokenRecord::from).collect(),
            id_token: pending
                .id_token
                .as_ref()
                .map(|token| token.secret().to_owned()),
            kinds: Vec::new(),
            tokens: Vec::new(),
            staged_kinds: Vec::new(),
            staged_tokens: Vec::new(),
        };
        self.write_json(PENDING_ENTRY, &record)
    }

    /// What an unfinished sign-out still needs, if anything.
    pub fn load_pending(&self) -> Result<Option<PendingSignOut>, VaultError> {
        let Some(mut record) = self.read_json::<PendingRecord>(PENDING_ENTRY)? else {
            return Ok(None);
        };
        let queued_before = earlier_format(&record.kinds, std::mem::take(&mut record.tokens))?;
        let staged_before = earlier_format(
            &record.staged_kinds,
            std::mem::take(&mut record.staged_tokens),
        )?;
        Ok(Some(PendingSignOut {
            to_revoke: record
                .queue
                .iter_mut()
                .map(QueuedToken::from)
                .chain(queued_before)
                .collect(),
            id_token: record.id_token.take().map(IdToken::new),
            staged: record
                .staged
                .iter_mut()
                .map(QueuedToken::from)
                .chain(staged_before)
                .collect(),
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
        self.delete_value(PENDING_ENTRY)
    }
}

/// The tokens of an entry that an earlier version wrote as parallel lists (it did not record
/// when they were queued: now, as far as this version knows).
fn earlier_format(
    kinds: &[TokenKind],
    tokens: Vec<String>,
) -> Result<Vec<QueuedToken>, VaultError> {
    if kinds.len() != tokens.len() {
        return Err(VaultError::Corrupt);
    }
    let now = unix_seconds(SystemTime::now());
    Ok(kinds
        .iter()
        .zip(tokens)
        .map(|(kind, token)| QueuedToken {
            token: RevocableToken::of_kind(*kind, token),
            origin: None,
            queued_at: now,
            expires_at: None,
            refused: None,
        })
        .collect())
}

impl From<&QueuedToken> for TokenRecord {
    fn from(queued: &QueuedToken) -> Self {
        Self {
            kind: queued.token.kind(),
            token: queued.token.secret().to_owned(),
            origin: queued.origin.clone(),
            queued_at: queued.queued_at,
            expires_at: queued.expires_at,
            refused: queued.refused.clone(),
        }
    }
}

impl From<&mut TokenRecord> for QueuedToken {
    /// Takes the value out of `record`, which is zeroized when dropped.
    fn from(record: &mut TokenRecord) -> Self {
        Self {
            token: RevocableToken::of_kind(record.kind, std::mem::take(&mut record.token)),
            origin: record.origin.take(),
            queued_at: record.queued_at,
            expires_at: record.expires_at,
            refused: record.refused.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{AccessToken, RefreshToken, StoredSession};

    fn queued(token: RevocableToken) -> QueuedToken {
        QueuedToken {
            token,
            origin: Some(TokenOrigin {
                issuer: "https://example.okta.com".into(),
                client_id: "client".into(),
            }),
            queued_at: 1_700_000_000,
            expires_at: None,
            refused: None,
        }
    }

    fn tokens(names: &[&str]) -> Vec<QueuedToken> {
        names
            .iter()
            .map(|name| queued(RevocableToken::Access(AccessToken::new((*name).into()))))
            .collect()
    }

    fn names(tokens: &[QueuedToken]) -> Vec<&str> {
        tokens.iter().map(|queued| queued.token.secret()).collect()
    }

    #[test]
    fn the_pending_sign_out_has_its_own_entry() {
        let vault = TokenVault::mock();
        assert!(vault.load_pending().unwrap().is_none());
        let pending = PendingSignOut {
            to_revoke: vec![
                queued(RevocableToken::Refresh(RefreshToken::new(
                    "refresh-1".into(),
                ))),
                QueuedToken {
                    expires_at: Some(1_800_000_000),
                    refused: Some("invalid_client".into()),
                    origin: None,
                    ..queued(RevocableToken::Access(AccessToken::new("access-1".into())))
                },
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
    fn an_entry_of_an_earlier_version_keeps_its_tokens() {
        let vault = TokenVault::mock();
        vault
            .entry(PENDING_ENTRY)
            .unwrap()
            .set_password(
                r#"{"kinds":["refresh_token","access_token"],"tokens":["r1","a1"],"id_token":null,"staged_kinds":["access_token"],"staged_tokens":["a2"]}"#,
            )
            .unwrap();
        let pending = vault.load_pending().unwrap().unwrap();
        assert_eq!(names(&pending.to_revoke), ["r1", "a1"]);
        assert_eq!(pending.to_revoke[0].token.kind(), TokenKind::RefreshToken);
        assert!(pending.to_revoke.iter().all(|token| token.origin.is_none()));
        assert_eq!(names(&pending.staged), ["a2"]);
    }

    #[test]
    fn session_tokens_are_queued_with_their_origin_and_the_access_token_s_expiry() {
        let session = StoredSession::sample();
        let origin = TokenOrigin {
            issuer: "https://example.okta.com".into(),
            client_id: "client".into(),
        };
        let queued = QueuedToken::all_of(&session.tokens, &origin);
        assert_eq!(names(&queued), ["refresh-1", "access-1"]);
        assert_eq!(queued[0].expires_at, None);
        assert_eq!(queued[1].expires_at, Some(2_000_000_000));
        assert!(queued[1].expired(2_000_000_000) && !queued[1].expired(1_999_999_999));
        assert!(queued
            .iter()
            .all(|token| token.origin.as_ref() == Some(&origin)));
    }

    #[test]
    fn staging_queues_the_tokens_that_belong_to_no_session_any_more() {
        let mut pending = PendingSignOut::default();
        assert!(!pending.stage(tokens(&["a1", "r1"])), "nothing was staged");
        assert!(pending.to_revoke.is_empty());
        assert!(!pending.stage(tokens(&["a1", "r1"])), "the same session");
        assert!(pending.stage(tokens(&["a2", "r1"])));
        assert_eq!(names(&pending.to_revoke), ["a1"]);
        assert_eq!(names(&pending.staged), ["a2", "r1"]);
        assert!(pending.stage(Vec::new()), "the session is gone");
        assert_eq!(names(&pending.to_revoke), ["a1", "a2", "r1"]);
        assert!(pending.staged.is_empty());
    }

    #[test]
    fn a_refresh_queues_the_access_token_it_replaced_but_not_the_refresh_token() {
        let refresh = |name: &str| queued(RevocableToken::Refresh(RefreshToken::new(name.into())));
        let mut pending = PendingSignOut {
            staged: vec![refresh("r1"), tokens(&["a1"]).remove(0)],
            ..PendingSignOut::default()
        };
        assert!(pending.restage(vec![refresh("r2"), tokens(&["a2"]).remove(0)]));
        assert_eq!(names(&pending.to_revoke), ["a1"]);
        assert_eq!(names(&pending.staged), ["r2", "a2"]);
        assert!(!pending.restage(vec![refresh("r2"), tokens(&["a2"]).remove(0)]));
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
        assert_eq!(names(&pending.to_revoke), ["old", "a1"]);
        assert_eq!(pending.to_revoke[0].queued_at, 1_700_000_000, "kept");
        assert!(pending.to_revoke[1].queued_at > 1_700_000_000, "queued now");
        assert_eq!(names(&pending.staged), ["r1"]);
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
            names(&vault.load_pending().unwrap().unwrap().staged),
            ["a1"]
        );
        let queued = vault
            .update_pending(|pending| pending.stage(Vec::new()))
            .unwrap();
        assert!(queued);
        assert_eq!(
            names(&vault.load_pending().unwrap().unwrap().to_revoke),
            ["a1"]
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
            names(&vault.load_pending().unwrap().unwrap().to_revoke),
            ["a1"]
        );
    }
}
