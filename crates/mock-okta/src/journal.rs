//! The request journal tests assert on: every request to the protocol endpoints and the sign-in
//! page, in the order the mock answered them, with its parsed parameters. Secrets (codes,
//! verifiers, tokens, client secrets, passwords) are never kept: each is replaced by its kind
//! and a short fingerprint, so that a test can still tell which token was sent.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::dpop::DPOP;
use crate::faults::Endpoint;
use crate::server::{basic_credentials, presented_access_token};
use crate::store::{short_fingerprint, Ring, TokenKind};

/// What kind of secret a journaled parameter held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretKind {
    /// An authorization code (`code`).
    AuthorizationCode,
    /// A PKCE `code_verifier`.
    CodeVerifier,
    /// An access token (`access_token`, or a `token` or bearer token the mock issued as one).
    AccessToken,
    /// A refresh token the mock issued (`refresh_token`, `token`).
    RefreshToken,
    /// An ID token (`id_token_hint`, or an ID token sent as `token`).
    IdToken,
    /// A `token` the mock never issued, or no longer remembers.
    UnknownToken,
    /// A `client_secret` or the secret of `Authorization: Basic` credentials.
    ClientSecret,
    /// The sign-in form's `password`.
    Password,
    /// A DPoP proof JWT (the `DPoP` header, as the parameter `dpop`).
    DpopProof,
    /// A parameter the mock does not know as public, fingerprinted in case it is a secret.
    Other,
}

impl From<TokenKind> for SecretKind {
    fn from(kind: TokenKind) -> Self {
        match kind {
            TokenKind::Access => SecretKind::AccessToken,
            TokenKind::Refresh => SecretKind::RefreshToken,
            TokenKind::Id => SecretKind::IdToken,
        }
    }
}

/// One parameter of a journaled request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    /// A secret: its kind and [`short_fingerprint`](crate::short_fingerprint).
    Secret {
        /// What it was.
        secret: SecretKind,
        /// `sha256:` and the first 12 hex digits of SHA-256 of the value.
        fingerprint: String,
    },
    /// Any other value, as sent.
    Value(String),
}

impl Param {
    /// The parameter `value` of kind `kind`, fingerprinted.
    pub(crate) fn secret(kind: SecretKind, value: &str) -> Param {
        Param::Secret {
            secret: kind,
            fingerprint: short_fingerprint(value),
        }
    }

    /// The fingerprint, when this is a secret.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            Param::Secret { fingerprint, .. } => Some(fingerprint),
            Param::Value(_) => None,
        }
    }

    /// The value, when this is not a secret.
    pub fn value(&self) -> Option<&str> {
        match self {
            Param::Value(value) => Some(value),
            Param::Secret { .. } => None,
        }
    }
}

/// One answered (or abandoned) request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the journal, from 1; `GET /__admin/requests?since=N` returns those after N.
    pub seq: u64,
    /// When it arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// HTTP method.
    pub method: String,
    /// Path, without the query (its parameters are in `params`).
    pub path: String,
    /// The protocol endpoint it addressed.
    pub endpoint: Option<Endpoint>,
    /// Query and form parameters, the `Authorization` header as `authorization`
    /// (`client_id` in the clear for Basic credentials) and a `DPoP` proof as `dpop`.
    pub params: BTreeMap<String, Param>,
    /// The response's status; none when the connection closed without one.
    pub status: Option<u16>,
    /// What the mock did: an OAuth error code, a revocation or logout result, `issued`,
    /// `fault: …`, or the status's reason.
    pub outcome: String,
}

impl JournalEntry {
    /// Parameter `name`'s plain value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Param::value)
    }

    /// Parameter `name`'s fingerprint, when it held a secret.
    pub fn fingerprint(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Param::fingerprint)
    }
}

/// What a unit enum value serializes as: the snake_case name the JSON API shows.
pub(crate) fn serde_name(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a handler or fault layer says it did, for the journal's `outcome`.
#[derive(Debug, Clone)]
pub(crate) struct Outcome(pub(crate) String);

impl Outcome {
    /// The outcome named as `result` serializes (the snake_case of a result enum).
    pub(crate) fn named(result: &impl Serialize) -> Outcome {
        Outcome(serde_name(result))
    }

    /// Adds this outcome to `response`.
    pub(crate) fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The journal: the newest entries, up to [`Config::history`](crate::Config::history).
pub(crate) struct Journal {
    entries: Ring<JournalEntry>,
    last_seq: u64,
}

impl Journal {
    pub(crate) fn new(history: usize) -> Journal {
        Journal {
            entries: Ring::new(history),
            last_seq: 0,
        }
    }

    /// Files `entry` under the next position.
    pub(crate) fn record(&mut self, mut entry: JournalEntry) {
        self.last_seq += 1;
        entry.seq = self.last_seq;
        self.entries.push(entry);
    }

    /// The position of the newest entry (0 before the first).
    pub(crate) fn position(&self) -> u64 {
        self.last_seq
    }

    /// The entries after position `since`, oldest first.
    pub(crate) fn since(&self, since: u64) -> Vec<JournalEntry> {
        let mut newer: Vec<JournalEntry> = self
            .entries
            .iter()
            .rev()
            .take_while(|entry| entry.seq > since)
            .cloned()
            .collect();
        newer.reverse();
        newer
    }

    /// The `count` newest entries, newest first, and how many are kept in all.
    pub(crate) fn newest(&self, count: usize) -> (Vec<JournalEntry>, usize) {
        let newest = self.entries.iter().rev().take(count).cloned().collect();
        (newest, self.entries.len())
    }

    /// Forgets the entries; positions keep counting, so a `since` taken before stays valid.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

/// How a parameter's value is kept.
enum Keeping {
    /// As sent: a protocol value that is not secret, which tests assert on.
    Clear,
    /// Fingerprinted, as a secret of this kind.
    Secret(SecretKind),
    /// Fingerprinted, as the kind of token the store knows it as.
    Token,
}

/// Only what is known not to be secret is kept in the clear.
fn keeping(name: &str) -> Keeping {
    match name {
        "client_id"
        | "grant_type"
        | "redirect_uri"
        | "scope"
        | "state"
        | "nonce"
        | "response_type"
        | "response_mode"
        | "code_challenge"
        | "code_challenge_method"
        | "token_type_hint"
        | "post_logout_redirect_uri"
        | "prompt"
        | "max_age"
        | "login_hint"
        | "username"
        | "client_assertion_type"
        | "display"
        | "ui_locales"
        | "acr_values"
        | "idp" => Keeping::Clear,
        "code" => Keeping::Secret(SecretKind::AuthorizationCode),
        "code_verifier" => Keeping::Secret(SecretKind::CodeVerifier),
        "refresh_token" => Keeping::Secret(SecretKind::RefreshToken),
        "access_token" => Keeping::Secret(SecretKind::AccessToken),
        "id_token_hint" | "id_token" => Keeping::Secret(SecretKind::IdToken),
        "client_secret" | "client_assertion" => Keeping::Secret(SecretKind::ClientSecret),
        "password" => Keeping::Secret(SecretKind::Password),
        "token" => Keeping::Token,
        _ => Keeping::Secret(SecretKind::Other),
    }
}

/// Parses `pairs` (query or form) into journal parameters; `token_kind` names what a token
/// value is, when the store knows it.
pub(crate) fn params(
    pairs: impl Iterator<Item = (String, String)>,
    headers: &HeaderMap,
    token_kind: impl Fn(&str) -> Option<TokenKind>,
) -> BTreeMap<String, Param> {
    let token = |value: &str| {
        Param::secret(
            token_kind(value).map_or(SecretKind::UnknownToken, SecretKind::from),
            value,
        )
    };
    let mut params: BTreeMap<String, Param> = pairs
        .map(|(name, value)| {
            let param = match keeping(&name) {
                Keeping::Clear => Param::Value(value),
                Keeping::Secret(kind) => Param::secret(kind, &value),
                Keeping::Token => token(&value),
            };
            (name, param)
        })
        .collect();
    if let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        // Basic shows its client id, the secret fingerprinted; a Bearer or DPoP access token
        // is fingerprinted as the kind of token it is; anything else is fingerprinted whole.
        let param = match (basic_credentials(headers), presented_access_token(headers)) {
            (Some((client_id, secret)), _) => {
                Param::Value(format!("Basic {client_id}:{}", short_fingerprint(&secret)))
            }
            (None, Some((_, value))) => token(value),
            (None, None) => Param::secret(SecretKind::Other, authorization),
        };
        params.insert("authorization".to_owned(), param);
    }
    if let Some(proof) = headers.get(DPOP).and_then(|value| value.to_str().ok()) {
        params.insert(
            "dpop".to_owned(),
            Param::secret(SecretKind::DpopProof, proof),
        );
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn secrets_are_kept_as_kind_and_fingerprint_only() {
        let mut headers = HeaderMap::new();
        // "app:s3cret"
        headers.insert(
            header::AUTHORIZATION,
            "Basic YXBwOnMzY3JldA==".parse().unwrap(),
        );
        let kept = params(
            pairs(&[
                ("grant_type", "authorization_code"),
                ("code", "the-code"),
                ("code_verifier", "the-verifier"),
                ("token", "issued-refresh"),
            ]),
            &headers,
            |token| (token == "issued-refresh").then_some(TokenKind::Refresh),
        );
        let json = serde_json::to_string(&kept).unwrap();
        for secret in ["the-code", "the-verifier", "issued-refresh", "s3cret"] {
            assert!(!json.contains(secret), "{secret} leaked into {json}");
        }
        assert_eq!(
            kept["grant_type"],
            Param::Value("authorization_code".into())
        );
        assert_eq!(
            kept["code"],
            Param::secret(SecretKind::AuthorizationCode, "the-code")
        );
        assert_eq!(
            kept["token"],
            Param::secret(SecretKind::RefreshToken, "issued-refresh")
        );
        assert_eq!(
            kept["authorization"],
            Param::Value(format!("Basic app:{}", short_fingerprint("s3cret")))
        );
    }

    #[test]
    fn the_authorization_header_is_read_as_the_server_reads_it() {
        let journaled = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            params(std::iter::empty(), &headers, |token| {
                (token == "an-id-token").then_some(TokenKind::Id)
            })
            .remove("authorization")
            .unwrap()
        };
        // The scheme in any case, the token's kind as the store knows it.
        assert_eq!(
            journaled("bearer an-id-token"),
            Param::secret(SecretKind::IdToken, "an-id-token")
        );
        // "my%20app:s%3Acret", form-URL-encoded as RFC 6749 §2.3.1 has it.
        assert_eq!(
            journaled("Basic bXklMjBhcHA6cyUzQWNyZXQ="),
            Param::Value(format!("Basic my app:{}", short_fingerprint("s:cret")))
        );
        assert_eq!(
            journaled("DPoP an-id-token"),
            Param::secret(SecretKind::IdToken, "an-id-token")
        );
        assert_eq!(
            journaled("Digest secret-stuff"),
            Param::secret(SecretKind::Other, "Digest secret-stuff")
        );
    }

    #[test]
    fn a_dpop_proof_is_kept_as_its_fingerprint() {
        let mut headers = HeaderMap::new();
        headers.insert(DPOP, "header.claims.signature".parse().unwrap());
        let kept = params(std::iter::empty(), &headers, |_| None);
        assert_eq!(
            kept["dpop"],
            Param::secret(SecretKind::DpopProof, "header.claims.signature")
        );
    }

    #[test]
    fn parameters_not_known_as_public_are_fingerprinted() {
        let kept = params(
            pairs(&[("sessionToken", "s3cret"), ("state", "st")]),
            &HeaderMap::new(),
            |_| None,
        );
        assert_eq!(
            kept["sessionToken"],
            Param::secret(SecretKind::Other, "s3cret")
        );
        assert_eq!(kept["state"], Param::Value("st".into()));
    }

    #[test]
    fn a_token_the_store_does_not_know_is_unknown() {
        let kept = params(pairs(&[("token", "forged")]), &HeaderMap::new(), |_| None);
        assert_eq!(
            kept["token"],
            Param::secret(SecretKind::UnknownToken, "forged")
        );
    }

    #[test]
    fn since_returns_the_newer_entries_and_positions_survive_a_clear() {
        let mut journal = Journal::new(2);
        let entry = |path: &str| JournalEntry {
            seq: 0,
            time: OffsetDateTime::UNIX_EPOCH,
            method: "GET".into(),
            path: path.into(),
            endpoint: None,
            params: BTreeMap::new(),
            status: Some(200),
            outcome: "ok".into(),
        };
        for path in ["/a", "/b", "/c"] {
            journal.record(entry(path));
        }
        let paths = |entries: Vec<JournalEntry>| {
            entries
                .into_iter()
                .map(|entry| (entry.seq, entry.path))
                .collect::<Vec<_>>()
        };
        // A ring of two: /a is gone.
        assert_eq!(
            paths(journal.since(0)),
            [(2, "/b".into()), (3, "/c".into())]
        );
        assert_eq!(paths(journal.since(2)), [(3, "/c".into())]);
        journal.clear();
        journal.record(entry("/d"));
        assert_eq!(paths(journal.since(3)), [(4, "/d".into())]);
    }
}
