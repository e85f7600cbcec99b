//! The mock's memory: browser sessions, pending sign-ins, authorization codes, tokens, and the
//! events QA inspects. Token and cookie values are never kept, only their fingerprints.

use std::collections::HashMap;
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
        }
    }
}

/// Everything the mock remembers, behind one lock.
#[derive(Default)]
pub(crate) struct Store {
    /// Keyed by the fingerprint of the session cookie.
    sessions: HashMap<String, Session>,
    /// Keyed by the id in the sign-in form's hidden field.
    pending_sign_ins: HashMap<String, AuthorizationRequest>,
    /// Keyed by the fingerprint of the code.
    codes: HashMap<String, AuthorizationCode>,
    /// In issue order.
    tokens: Vec<TokenRecord>,
    revocations: Vec<RevocationEvent>,
    logout_events: Vec<LogoutEvent>,
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
    pub(crate) fn create_session(
        &mut self,
        username: &str,
        authenticated_by: Authentication,
    ) -> (String, Session) {
        let cookie = random_secret();
        let session = Session {
            id: random_id("102"),
            username: username.to_owned(),
            created: OffsetDateTime::now_utc(),
            authenticated_by,
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
            })
            .collect();
        sessions.sort_by_key(|session| session.created);
        sessions
    }

    pub(crate) fn park_sign_in(&mut self, request: AuthorizationRequest) -> String {
        let id = random_id("");
        self.pending_sign_ins.insert(id.clone(), request);
        id
    }

    pub(crate) fn pending_sign_in(&self, id: &str) -> Option<AuthorizationRequest> {
        self.pending_sign_ins.get(id).cloned()
    }

    pub(crate) fn finish_sign_in(&mut self, id: &str) {
        self.pending_sign_ins.remove(id);
    }

    pub(crate) fn issue_code(
        &mut self,
        request: AuthorizationRequest,
        session: Session,
        lifetime: Duration,
    ) -> String {
        let code = random_secret();
        let expires_at = OffsetDateTime::now_utc() + lifetime;
        self.codes.insert(
            token_fingerprint(&code),
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
        let issued = self
            .codes
            .remove(&token_fingerprint(code))
            .ok_or(CodeRejection::UnknownOrUsed)?;
        if OffsetDateTime::now_utc() >= issued.expires_at {
            return Err(CodeRejection::Expired);
        }
        Ok(issued)
    }

    pub(crate) fn record_token(&mut self, record: TokenRecord) {
        self.tokens.push(record);
    }

    pub(crate) fn token(&self, value: &str) -> Option<&TokenRecord> {
        let fingerprint = token_fingerprint(value);
        self.tokens
            .iter()
            .find(|record| record.fingerprint == fingerprint)
    }

    /// Revokes `fingerprint`. A refresh token takes along the access tokens issued with it and
    /// ends the grace period of the rotated refresh tokens of its grant, which would otherwise
    /// bring the revoked grant back.
    pub(crate) fn revoke(&mut self, fingerprint: &str) {
        let now = OffsetDateTime::now_utc();
        let refresh_grant = self
            .tokens
            .iter()
            .find(|record| record.fingerprint == fingerprint && record.kind == TokenKind::Refresh)
            .map(|record| record.grant_id.clone());
        for record in &mut self.tokens {
            let rotated_in_revoked_grant = refresh_grant.as_deref() == Some(&record.grant_id)
                && record.state(now) == TokenState::Rotated;
            if record.fingerprint == fingerprint
                || record.refresh_fingerprint.as_deref() == Some(fingerprint)
                || rotated_in_revoked_grant
            {
                record.revoked = true;
            }
        }
    }

    /// Rotation: the active refresh tokens of `grant_id` are replaced, but stay accepted until
    /// `grace_until`; the access tokens issued with them live on.
    pub(crate) fn rotate_refresh_tokens(&mut self, grant_id: &str, grace_until: OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        for record in &mut self.tokens {
            if record.kind == TokenKind::Refresh
                && record.grant_id == grant_id
                && record.state(now) == TokenState::Active
            {
                record.rotated_grace_until = Some(grace_until);
            }
        }
    }

    /// Reuse detection: revokes every access and refresh token of `grant_id`.
    pub(crate) fn revoke_grant(&mut self, grant_id: &str) {
        for record in &mut self.tokens {
            if record.kind != TokenKind::Id && record.grant_id == grant_id {
                record.revoked = true;
            }
        }
    }

    /// Okta's "Clear user sessions" with `oauthTokens=true`: ends every browser session of
    /// `username` and revokes every access and refresh token issued for them.
    pub(crate) fn clear_user_sessions(&mut self, username: &str) -> ClearedSessions {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, session| session.username != username);
        let sessions = before - self.sessions.len();
        let now = OffsetDateTime::now_utc();
        let mut tokens = 0;
        for record in &mut self.tokens {
            if record.kind != TokenKind::Id && record.username == username && record.is_usable(now)
            {
                record.revoked = true;
                tokens += 1;
            }
        }
        ClearedSessions { sessions, tokens }
    }

    pub(crate) fn tokens(&self) -> Vec<TokenInfo> {
        let now = OffsetDateTime::now_utc();
        self.tokens.iter().map(|record| record.info(now)).collect()
    }

    pub(crate) fn record_revocation(&mut self, event: RevocationEvent) {
        self.revocations.push(event);
    }

    pub(crate) fn revocations(&self) -> Vec<RevocationEvent> {
        self.revocations.clone()
    }

    pub(crate) fn record_logout(&mut self, event: LogoutEvent) {
        self.logout_events.push(event);
    }

    pub(crate) fn logout_events(&self) -> Vec<LogoutEvent> {
        self.logout_events.clone()
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
