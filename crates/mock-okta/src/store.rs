//! The mock's memory: browser sessions, pending sign-ins, authorization codes, tokens, and the
//! events QA inspects. Token and cookie values are never kept, only their fingerprints.
//!
//! Every lookup a request makes goes through a hash index, and memory stays bounded however
//! long QA runs: codes, pending sign-ins and tokens leave at expiry (an ordered set holds
//! their expiries), tokens that can no longer be used (revoked or expired) and ID tokens (which
//! are only listed) are kept only for the newest [`Config::history`](crate::Config::history) of
//! them, and events are ring buffers of that size. Browser sessions live until they are ended, as Okta's do without a session
//! lifetime policy.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::server::AuthServer;

/// The fingerprint under which the mock records a token: `sha256:<hex of SHA-256(value)>`.
pub fn token_fingerprint(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A fingerprint short enough to read, long enough not to collide in a test run: the first
/// 12 hex digits of [`token_fingerprint`] (`sha256:` + 12 hex).
pub fn short_fingerprint(secret: &str) -> String {
    shorten(&token_fingerprint(secret)).to_owned()
}

/// The short form of a [`token_fingerprint`]: `sha256:` and its first 12 hex digits.
pub(crate) fn shorten(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min("sha256:".len() + 12)]
}

/// A fresh unguessable value (codes, refresh tokens, cookies): 32 random bytes, base64url.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh public identifier with Okta's look (`102…` for sessions, `AT.…` for access tokens).
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// How the person of a browser session authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authentication {
    /// They typed username and password into the sign-in form.
    Password,
    /// The configured `auto_login` user, signed in without the form.
    AutoLogin,
}

/// An Okta browser session, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Public session id (the `sid` claim of ID tokens); not the cookie value.
    pub id: String,
    /// Username of the signed-in person.
    pub user: String,
    /// When the person signed in: the `auth_time` of ID tokens issued in this session.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// How the person signed in.
    pub authenticated_by: Authentication,
    /// The client whose sign-in started it; none for a sign-in at the bare sign-in page.
    pub client_id: Option<String>,
}

/// What clearing a person's sessions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearedSessions {
    /// Browser sessions ended.
    pub sessions: usize,
    /// Access and refresh tokens that were usable and are now revoked.
    pub tokens: usize,
}

/// What a recorded token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An access token: a JWT from custom authorization servers, opaque from the org server.
    Access,
    /// An opaque refresh token.
    Refresh,
    /// An ID token (never revocable, listed for completeness).
    Id,
}

/// Whether a token is still usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Usable.
    Active,
    /// Revoked, or a refresh token replaced by rotation whose grace period has passed.
    Revoked,
    /// A refresh token replaced by rotation, still accepted during its grace period.
    Rotated,
    /// Past its expiry.
    Expired,
}

/// A token the mock issued, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// [`token_fingerprint`] of the value.
    pub fingerprint: String,
    /// Access, refresh or ID token.
    pub kind: TokenKind,
    /// The client it was issued to.
    pub client_id: String,
    /// Username of the person it was issued for.
    pub user: String,
    /// The issuer that issued it.
    pub issuer: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Issue time.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Expiry time.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Active, revoked or expired, as of the request.
    pub state: TokenState,
    /// For a DPoP-bound access or refresh token: the RFC 7638 SHA-256 thumbprint (base64url,
    /// the `jkt`) of the key it is bound to.
    pub dpop_jkt: Option<String>,
}

/// How the mock answered one revoke request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationResult {
    /// The token was active and is now revoked (200).
    Revoked,
    /// The token was already revoked or expired (200).
    AlreadyInactive,
    /// The mock never issued the token to this client (200).
    Unknown,
    /// The client did not identify or authenticate itself (401 `invalid_client`).
    InvalidClient,
    /// The request was malformed, e.g. no `token` (400).
    InvalidRequest,
}

/// One revoke request, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationEvent {
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// [`token_fingerprint`] of the presented token.
    pub token_fingerprint: Option<String>,
    /// The `token_type_hint` sent.
    pub token_type_hint: Option<String>,
    /// The client that asked, as identified by the request.
    pub client_id: Option<String>,
    /// The answer.
    pub result: RevocationResult,
}

/// How the mock answered one logout request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutOutcome {
    /// 302 to the `post_logout_redirect_uri`.
    Redirected,
    /// 302 to the sign-in page (no `post_logout_redirect_uri`).
    RedirectedToSignIn,
    /// 200 interstitial page that navigates to the redirect.
    Interstitial,
    /// 200 page that never navigates (fault).
    NeverRedirected,
    /// 400 error page.
    Rejected,
}

/// One logout request, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutEvent {
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// `GET` (query) or `POST` (form, the method Okta recommends).
    pub method: String,
    /// The issuer of the authorization server whose end-session endpoint it reached.
    pub issuer: String,
    /// Whether the browser came with a live Okta session.
    pub had_session: bool,
    /// The `post_logout_redirect_uri` sent.
    pub post_logout_redirect_uri: Option<String>,
    /// The `state` sent.
    pub state: Option<String>,
    /// The answer.
    pub outcome: LogoutOutcome,
    /// Why it was rejected, for [`LogoutOutcome::Rejected`].
    pub error: Option<String>,
}

/// A live browser session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) created: OffsetDateTime,
    pub(crate) authenticated_by: Authentication,
    pub(crate) client_id: Option<String>,
}

/// A validated authorization request, waiting for a session (sign-in) or turned into a code.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationRequest {
    pub(crate) server: AuthServer,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<String>,
}

/// An issued, not yet redeemed authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationCode {
    pub(crate) request: AuthorizationRequest,
    pub(crate) session: Session,
    pub(crate) expires_at: OffsetDateTime,
}

/// What the mock remembers of an issued token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub(crate) fingerprint: String,
    pub(crate) kind: TokenKind,
    pub(crate) client_id: String,
    pub(crate) username: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) session_id: String,
    pub(crate) auth_time: OffsetDateTime,
    pub(crate) issued_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) revoked: bool,
    /// For access tokens: the refresh token issued with them, whose revocation revokes them.
    pub(crate) refresh_fingerprint: Option<String>,
    /// Shared by every token issued from one authorization code and the refreshes after it:
    /// what reuse detection revokes.
    pub(crate) grant_id: String,
    /// For a refresh token replaced by rotation: until when it is still accepted.
    pub(crate) rotated_grace_until: Option<OffsetDateTime>,
    /// Filed in the history (revoked, expired, or an ID token); the store sets it.
    pub(crate) retired: bool,
    /// The `jkt` of the DPoP key an access or refresh token is bound to.
    pub(crate) dpop_jkt: Option<String>,
}

impl TokenRecord {
    pub(crate) fn state(&self, now: OffsetDateTime) -> TokenState {
        if self.revoked {
            TokenState::Revoked
        } else if now >= self.expires_at {
            TokenState::Expired
        } else {
            match self.rotated_grace_until {
                None => TokenState::Active,
                Some(until) if now < until => TokenState::Rotated,
                Some(_) => TokenState::Revoked,
            }
        }
    }

    /// Whether the token still works: active, or rotated but within its grace period.
    pub(crate) fn is_usable(&self, now: OffsetDateTime) -> bool {
        matches!(self.state(now), TokenState::Active | TokenState::Rotated)
    }

    /// A rotated refresh token presented after its grace period: Okta's reuse detection.
    pub(crate) fn is_reuse_after_grace(&self, now: OffsetDateTime) -> bool {
        !self.revoked
            && now < self.expires_at
            && self.rotated_grace_until.is_some_and(|until| now >= until)
    }

    fn info(&self, now: OffsetDateTime) -> TokenInfo {
        TokenInfo {
            fingerprint: self.fingerprint.clone(),
            kind: self.kind,
            client_id: self.client_id.clone(),
            user: self.username.clone(),
            issuer: self.issuer.clone(),
            scopes: self.scopes.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            state: self.state(now),
            dpop_jkt: self.dpop_jkt.clone(),
        }
    }
}

/// A ring buffer: the newest `capacity` items, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Ring<T> {
        Ring {
            items: VecDeque::new(),
            capacity,
        }
    }

    /// Adds `item`, returning the oldest one when it had to make room.
    pub(crate) fn push(&mut self, item: T) -> Option<T> {
        let evicted = (self.items.len() >= self.capacity)
            .then(|| self.items.pop_front())
            .flatten();
        if self.capacity > 0 {
            self.items.push_back(item);
        }
        evicted
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.items.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }

    /// Forgets every item.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }
}

/// What leaves the store at a given time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Expiring {
    /// A token (by issue number) expires, or a rotated refresh token's grace period ends: it
    /// becomes inactive.
    Token(u64),
    /// An authorization code (by fingerprint): it is forgotten.
    Code(String),
    /// A pending sign-in (by id): it is forgotten.
    PendingSignIn(String),
}

/// How long a sign-in page can wait for its form: an hour, then it says "expired".
const PENDING_SIGN_IN_LIFETIME: Duration = Duration::from_secs(3600);

/// Everything the mock remembers, behind one lock.
pub(crate) struct Store {
    /// Keyed by the fingerprint of the session cookie.
    sessions: HashMap<String, Session>,
    /// Keyed by the id in the sign-in form's hidden field, with their expiry.
    pending_sign_ins: HashMap<String, (AuthorizationRequest, OffsetDateTime)>,
    /// Keyed by the fingerprint of the code.
    codes: HashMap<String, AuthorizationCode>,
    /// Keyed by issue number, so that listing is in issue order.
    tokens: BTreeMap<u64, TokenRecord>,
    next_token_number: u64,
    /// Token fingerprint → issue number.
    by_fingerprint: HashMap<String, u64>,
    /// Grant id → issue numbers of its tokens: what a grant's revocation walks.
    grants: HashMap<String, Vec<u64>>,
    /// Soonest first; what is forgotten early leaves it too.
    expiries: BTreeSet<(OffsetDateTime, Expiring)>,
    /// Tokens that can no longer be used and ID tokens, in the order they became so; the oldest
    /// leave.
    inactive: Ring<u64>,
    revocations: Ring<RevocationEvent>,
    logout_events: Ring<LogoutEvent>,
}

/// Why a code could not be redeemed; Okta answers `invalid_grant` either way.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CodeRejection {
    /// Never issued, or already redeemed.
    UnknownOrUsed,
    /// Past its lifetime.
    Expired,
}

impl Store {
    /// An empty store keeping `history` inactive tokens and events of each kind.
    pub(crate) fn new(history: usize) -> Store {
        Store {
            sessions: HashMap::new(),
            pending_sign_ins: HashMap::new(),
            codes: HashMap::new(),
            tokens: BTreeMap::new(),
            next_token_number: 0,
            by_fingerprint: HashMap::new(),
            grants: HashMap::new(),
            expiries: BTreeSet::new(),
            inactive: Ring::new(history),
            revocations: Ring::new(history),
            logout_events: Ring::new(history),
        }
    }

    pub(crate) fn create_session(
        &mut self,
        username: &str,
        authenticated_by: Authentication,
        client_id: Option<&str>,
    ) -> (String, Session) {
        let cookie = random_secret();
        let session = Session {
            id: random_id("102"),
            username: username.to_owned(),
            created: OffsetDateTime::now_utc(),
            authenticated_by,
            client_id: client_id.map(str::to_owned),
        };
        self.sessions
            .insert(token_fingerprint(&cookie), session.clone());
        (cookie, session)
    }

    pub(crate) fn session(&self, cookie: &str) -> Option<Session> {
        self.sessions.get(&token_fingerprint(cookie)).cloned()
    }

    pub(crate) fn end_session(&mut self, cookie: &str) -> bool {
        self.sessions.remove(&token_fingerprint(cookie)).is_some()
    }

    pub(crate) fn sessions(&self) -> Vec<SessionInfo> {
        let mut sessions: Vec<SessionInfo> = self
            .sessions
            .values()
            .map(|session| SessionInfo {
                id: session.id.clone(),
                user: session.username.clone(),
                created: session.created,
                authenticated_by: session.authenticated_by,
                client_id: session.client_id.clone(),
            })
            .collect();
        sessions.sort_by_key(|session| session.created);
        sessions
    }

    pub(crate) fn park_sign_in(&mut self, request: AuthorizationRequest) -> String {
        let now = self.sweep();
        let id = random_id("");
        let expires_at = now + PENDING_SIGN_IN_LIFETIME;
        self.pending_sign_ins
            .insert(id.clone(), (request, expires_at));
        self.expiries
            .insert((expires_at, Expiring::PendingSignIn(id.clone())));
        id
    }

    pub(crate) fn pending_sign_in(&mut self, id: &str) -> Option<AuthorizationRequest> {
        self.sweep();
        self.pending_sign_ins
            .get(id)
            .map(|(request, _)| request.clone())
    }

    pub(crate) fn finish_sign_in(&mut self, id: &str) {
        if let Some((_, expires_at)) = self.pending_sign_ins.remove(id) {
            self.expiries
                .remove(&(expires_at, Expiring::PendingSignIn(id.to_owned())));
        }
    }

    pub(crate) fn issue_code(
        &mut self,
        request: AuthorizationRequest,
        session: Session,
        lifetime: Duration,
    ) -> String {
        let now = self.sweep();
        let code = random_secret();
        let fingerprint = token_fingerprint(&code);
        let expires_at = now + lifetime;
        self.expiries
            .insert((expires_at, Expiring::Code(fingerprint.clone())));
        self.codes.insert(
            fingerprint,
            AuthorizationCode {
                request,
                session,
                expires_at,
            },
        );
        code
    }

    /// Codes are one-time: a redeemed code is gone, whatever the outcome of the exchange.
    pub(crate) fn redeem_code(&mut self, code: &str) -> Result<AuthorizationCode, CodeRejection> {
        let fingerprint = token_fingerprint(code);
        let issued = self
            .codes
            .remove(&fingerprint)
            .ok_or(CodeRejection::UnknownOrUsed)?;
        self.expiries
            .remove(&(issued.expires_at, Expiring::Code(fingerprint)));
        if OffsetDateTime::now_utc() >= issued.expires_at {
            return Err(CodeRejection::Expired);
        }
        Ok(issued)
    }

    pub(crate) fn record_token(&mut self, mut record: TokenRecord) {
        self.sweep();
        record.retired = false;
        let number = self.next_token_number;
        self.next_token_number += 1;
        self.expiries
            .insert((record.expires_at, Expiring::Token(number)));
        self.by_fingerprint
            .insert(record.fingerprint.clone(), number);
        self.grants
            .entry(record.grant_id.clone())
            .or_default()
            .push(number);
        let is_id_token = record.kind == TokenKind::Id;
        self.tokens.insert(number, record);
        // Nothing at the mock uses an ID token (logout verifies its signature instead): it is
        // only listed, so it counts against the history from the start.
        if is_id_token {
            self.retire(number);
        }
    }

    pub(crate) fn token(&self, value: &str) -> Option<&TokenRecord> {
        self.token_by_fingerprint(&token_fingerprint(value))
    }

    pub(crate) fn token_by_fingerprint(&self, fingerprint: &str) -> Option<&TokenRecord> {
        self.by_fingerprint
            .get(fingerprint)
            .and_then(|number| self.tokens.get(number))
    }

    /// Revokes `fingerprint`. A refresh token takes along the access tokens issued with it and
    /// ends the grace period of the rotated refresh tokens of its grant, which would otherwise
    /// bring the revoked grant back.
    pub(crate) fn revoke(&mut self, fingerprint: &str) {
        let now = self.sweep();
        let Some(&number) = self.by_fingerprint.get(fingerprint) else {
            return;
        };
        let record = &self.tokens[&number];
        let refresh_grant = (record.kind == TokenKind::Refresh).then(|| record.grant_id.clone());
        let mut revoked = vec![number];
        if let Some(grant) = &refresh_grant {
            revoked.extend(
                self.grant_tokens(grant)
                    .filter(|(_, record)| {
                        record.refresh_fingerprint.as_deref() == Some(fingerprint)
                            || record.state(now) == TokenState::Rotated
                    })
                    .map(|(number, _)| number),
            );
        }
        for number in revoked {
            self.deactivate(number);
        }
    }

    /// Rotation: the active refresh tokens of `grant_id` are replaced, but stay accepted until
    /// `grace_until`; the access tokens issued with them live on.
    pub(crate) fn rotate_refresh_tokens(&mut self, grant_id: &str, grace_until: OffsetDateTime) {
        let now = self.sweep();
        let rotated: Vec<u64> = self
            .grant_tokens(grant_id)
            .filter(|(_, record)| {
                record.kind == TokenKind::Refresh && record.state(now) == TokenState::Active
            })
            .map(|(number, _)| number)
            .collect();
        for number in rotated {
            if let Some(record) = self.tokens.get_mut(&number) {
                record.rotated_grace_until = Some(grace_until);
                self.expiries.insert((grace_until, Expiring::Token(number)));
            }
        }
    }

    /// Reuse detection: revokes every access and refresh token of `grant_id`.
    pub(crate) fn revoke_grant(&mut self, grant_id: &str) {
        self.sweep();
        let revoked: Vec<u64> = self
            .grant_tokens(grant_id)
            .filter(|(_, record)| record.kind != TokenKind::Id)
            .map(|(number, _)| number)
            .collect();
        for number in revoked {
            self.deactivate(number);
        }
    }

    /// Okta's "Clear user sessions" with `oauthTokens=true`: ends every browser session of
    /// `username` and revokes every access and refresh token issued for them. An admin call:
    /// it walks everything.
    pub(crate) fn clear_user_sessions(&mut self, username: &str) -> ClearedSessions {
        let now = self.sweep();
        let before = self.sessions.len();
        self.sessions
            .retain(|_, session| session.username != username);
        let sessions = before - self.sessions.len();
        let revoked: Vec<u64> = self
            .tokens
            .iter()
            .filter(|(_, record)| {
                record.kind != TokenKind::Id && record.username == username && record.is_usable(now)
            })
            .map(|(&number, _)| number)
            .collect();
        let tokens = revoked.len();
        for number in revoked {
            self.deactivate(number);
        }
        ClearedSessions { sessions, tokens }
    }

    pub(crate) fn tokens(&self) -> Vec<TokenInfo> {
        let now = OffsetDateTime::now_utc();
        self.tokens
            .values()
            .map(|record| record.info(now))
            .collect()
    }

    /// The `count` newest tokens, newest first, and how many are kept in all.
    pub(crate) fn newest_tokens(&self, count: usize) -> (Vec<TokenInfo>, usize) {
        let now = OffsetDateTime::now_utc();
        let newest = self
            .tokens
            .values()
            .rev()
            .take(count)
            .map(|record| record.info(now))
            .collect();
        (newest, self.tokens.len())
    }

    pub(crate) fn record_revocation(&mut self, event: RevocationEvent) {
        self.revocations.push(event);
    }

    pub(crate) fn revocations(&self) -> Vec<RevocationEvent> {
        self.revocations.to_vec()
    }

    pub(crate) fn record_logout(&mut self, event: LogoutEvent) {
        self.logout_events.push(event);
    }

    pub(crate) fn logout_events(&self) -> Vec<LogoutEvent> {
        self.logout_events.to_vec()
    }

    /// The tokens of `grant_id`, by issue number.
    fn grant_tokens<'a>(
        &'a self,
        grant_id: &str,
    ) -> impl Iterator<Item = (u64, &'a TokenRecord)> + 'a {
        self.grants
            .get(grant_id)
            .into_iter()
            .flatten()
            .filter_map(|number| Some((*number, self.tokens.get(number)?)))
    }

    /// Marks token `number` revoked and files it among the inactive ones.
    fn deactivate(&mut self, number: u64) {
        if let Some(record) = self.tokens.get_mut(&number) {
            record.revoked = true;
            self.retire(number);
        }
    }

    /// Files an unusable token among the inactive ones (once), forgetting the oldest of those
    /// when there are more than the history keeps.
    fn retire(&mut self, number: u64) {
        let Some(record) = self.tokens.get_mut(&number) else {
            return;
        };
        if record.retired {
            return;
        }
        record.retired = true;
        if let Some(forgotten) = self.inactive.push(number) {
            self.forget_token(forgotten);
        }
    }

    fn forget_token(&mut self, number: u64) {
        let Some(record) = self.tokens.remove(&number) else {
            return;
        };
        self.by_fingerprint.remove(&record.fingerprint);
        self.expiries
            .remove(&(record.expires_at, Expiring::Token(number)));
        if let Some(grace_until) = record.rotated_grace_until {
            self.expiries
                .remove(&(grace_until, Expiring::Token(number)));
        }
        if let Some(numbers) = self.grants.get_mut(&record.grant_id) {
            numbers.retain(|&other| other != number);
            if numbers.is_empty() {
                self.grants.remove(&record.grant_id);
            }
        }
    }

    /// Lets go of what has expired by now: codes and pending sign-ins are forgotten, expired
    /// tokens join the inactive ones (a revoked token is already there). Returns now.
    fn sweep(&mut self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        while self.expiries.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, expiring)) = self.expiries.pop_first() else {
                break;
            };
            match expiring {
                Expiring::Code(fingerprint) => {
                    self.codes.remove(&fingerprint);
                }
                Expiring::PendingSignIn(id) => {
                    self.pending_sign_ins.remove(&id);
                }
                Expiring::Token(number) => self.retire(number),
            }
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(
            token_fingerprint("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
