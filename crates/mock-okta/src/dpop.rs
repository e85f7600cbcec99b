//! DPoP (RFC 9449) as Okta enforces it for an app that requires it: the proof JWT a client
//! signs for each token request and each request with a DPoP-bound access token, the nonces
//! the token endpoint hands out, and the proofs already seen.
//!
//! What is checked, in order: one `DPoP` header; a JWS whose header has `typ` `dpop+jwt`, an
//! asymmetric `alg` that fits its `jwk`, a `jwk` without private members; the signature by
//! that `jwk`; `htm` and `htu` of the request; `iat` within the window; `ath` of the access
//! token at a resource; a `jti` never seen; last, at the token endpoint, a nonce Okta issued.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, Method};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::Url;

use crate::store::random_secret;

/// The request header that carries a proof.
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The response header that carries the nonce the next proof must name.
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// What Okta's discovery lists as `dpop_signing_alg_values_supported`.
pub(crate) const DPOP_SIGNING_ALGS: [&str; 6] =
    ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];

/// How long a nonce is accepted after it was made: Okta's three days.
const NONCE_LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600);

/// How far in the future a proof's `iat` may be (clock skew): Okta does not say, RFC 9449
/// §11.1 leaves it to the server, this is mock-okta's choice.
const MAX_IAT_AHEAD_SECS: i64 = 60;

/// How old a proof's `iat` may be: mock-okta's choice too.
const MAX_IAT_AGE_SECS: i64 = 300;

/// Members of a JWK that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof was refused. The message is the `error_description`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProofError {
    /// Okta's words for a DPoP-requiring client's request without a proof.
    #[error("The DPoP proof JWT header is missing.")]
    Missing,
    #[error("Only one DPoP proof JWT header is allowed.")]
    Multiple,
    #[error("The DPoP proof is not a well-formed JWT.")]
    Malformed,
    #[error("The DPoP proof JWT 'typ' header must be 'dpop+jwt'.")]
    Type,
    #[error("The DPoP proof JWT header must carry the public key as 'jwk'.")]
    MissingKey,
    #[error("The DPoP proof JWT 'jwk' must not contain a private key.")]
    PrivateKey,
    #[error(
        "The DPoP proof JWT 'alg' must be one of RS256, RS384, RS512, ES256, ES384 and fit its 'jwk'."
    )]
    Algorithm,
    #[error("The DPoP proof JWT signature is invalid.")]
    Signature,
    #[error("The DPoP proof 'htm' does not match the request method.")]
    Method,
    #[error("The DPoP proof 'htu' does not match the request URL.")]
    Url,
    #[error("The DPoP proof 'iat' is missing or outside the accepted time window.")]
    IssuedAt,
    #[error("The DPoP proof 'ath' does not match the access token.")]
    AccessTokenHash,
    #[error("The DPoP proof 'jti' is missing.")]
    MissingJti,
    #[error("The DPoP proof 'jti' has already been used.")]
    Replayed,
    /// Okta's words when the token endpoint wants (another) nonce: `use_dpop_nonce`.
    #[error("Authorization server requires nonce in DPoP proof.")]
    Nonce,
    #[error("The DPoP proof key does not match the key the access token is bound to.")]
    AccessTokenKey,
    #[error("The DPoP proof key does not match the key the refresh token is bound to.")]
    RefreshTokenKey,
}

impl ProofError {
    /// The OAuth error code: `use_dpop_nonce` asks the client to try again with the nonce it
    /// was given; anything else is `invalid_dpop_proof` (RFC 9449 §5, §8).
    pub(crate) fn error_code(&self) -> &'static str {
        match self {
            ProofError::Nonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// The request a proof must have been made for: `htm` and `htu`.
#[derive(Debug)]
pub(crate) struct ProofTarget {
    pub(crate) method: Method,
    /// The target URI without query (RFC 9110 §7.1); none when the request did not say its
    /// host, which no proof then matches.
    pub(crate) uri: Option<Url>,
}

/// Where a proof is presented, which decides what else it must carry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProofUse<'a> {
    /// A token request: a nonce the token endpoint issued.
    TokenRequest,
    /// A request with a DPoP-bound access token: `ath`, its hash. Okta: "The nonce parameter
    /// isn't currently required in this DPoP JWT."
    Resource { access_token: &'a str },
}

/// A proof that passed every check.
#[derive(Debug)]
pub(crate) struct DpopProof {
    /// The RFC 7638 SHA-256 thumbprint of its key (base64url): what tokens are bound to.
    pub(crate) jkt: String,
}

/// The JOSE header of a proof, read from its JSON: jsonwebtoken's `Header` would drop the
/// private members of a `jwk`, which is exactly what must be refused.
#[derive(Deserialize)]
struct ProofHeader {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct ProofClaims {
    htm: Option<String>,
    htu: Option<String>,
    /// A NumericDate may have a fraction (RFC 7519 §2).
    iat: Option<f64>,
    jti: Option<String>,
    nonce: Option<String>,
    ath: Option<String>,
}

/// The nonce in force and the earlier ones still accepted.
struct Nonces {
    current: String,
    made: OffsetDateTime,
    /// Earlier nonces with when each was made, oldest first.
    earlier: VecDeque<(String, OffsetDateTime)>,
}

impl Nonces {
    fn new(now: OffsetDateTime) -> Nonces {
        Nonces {
            current: random_secret(),
            made: now,
            earlier: VecDeque::new(),
        }
    }

    /// Makes a new nonce; the earlier ones stay accepted (until three days after each was
    /// made) when `keep_previous`, and are refused from now on otherwise.
    fn rotate(&mut self, keep_previous: bool, now: OffsetDateTime) -> String {
        let previous = std::mem::replace(self, Nonces::new(now));
        if keep_previous {
            self.earlier = previous.earlier;
            self.earlier.push_back((previous.current, previous.made));
            self.forget_expired(now);
        }
        self.current.clone()
    }

    fn accepts(&mut self, nonce: &str, now: OffsetDateTime) -> bool {
        self.forget_expired(now);
        nonce == self.current || self.earlier.iter().any(|(earlier, _)| earlier == nonce)
    }

    fn forget_expired(&mut self, now: OffsetDateTime) {
        while self
            .earlier
            .front()
            .is_some_and(|(_, made)| *made + NONCE_LIFETIME <= now)
        {
            self.earlier.pop_front();
        }
    }
}

/// The `jti`s of accepted proofs, by SHA-256 (a `jti` can be long), each kept only while a
/// proof with it could still pass the `iat` check: memory follows the request rate.
#[derive(Default)]
struct SeenProofs {
    seen: HashSet<[u8; 32]>,
    /// When each is forgotten (Unix seconds), soonest first.
    expiries: BTreeSet<(i64, [u8; 32])>,
}

impl SeenProofs {
    /// Records `jti` until `forget_at`; false when it was seen before.
    fn first_use(&mut self, jti: &str, forget_at: i64, now: i64) -> bool {
        while let Some(&(at, digest)) = self.expiries.first() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            self.seen.remove(&digest);
        }
        let digest: [u8; 32] = Sha256::digest(jti.as_bytes()).into();
        if !self.seen.insert(digest) {
            return false;
        }
        self.expiries.insert((forget_at, digest));
        true
    }
}

/// Checks proofs, and keeps the nonces and the `jti`s seen: one per mock, for all its
/// authorization servers.
pub(crate) struct DpopVerifier {
    nonces: Mutex<Nonces>,
    seen: Mutex<SeenProofs>,
}

/// A lock whose holder panicked is still usable: the data are plain values.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DpopVerifier {
    /// A verifier with a fresh nonce.
    pub(crate) fn new() -> DpopVerifier {
        DpopVerifier {
            nonces: Mutex::new(Nonces::new(OffsetDateTime::now_utc())),
            seen: Mutex::new(SeenProofs::default()),
        }
    }

    /// The nonce token responses hand out.
    pub(crate) fn nonce(&self) -> String {
        lock(&self.nonces).current.clone()
    }

    /// Makes a new nonce and returns it (see [`crate::MockOkta::rotate_dpop_nonce`]).
    pub(crate) fn rotate_nonce(&self, keep_previous: bool) -> String {
        lock(&self.nonces).rotate(keep_previous, OffsetDateTime::now_utc())
    }

    /// Checks the request's proof for `target`, as `proof_use` requires.
    pub(crate) fn verify(
        &self,
        headers: &HeaderMap,
        target: &ProofTarget,
        proof_use: ProofUse<'_>,
    ) -> Result<DpopProof, ProofError> {
        let mut proofs = headers.get_all(DPOP).iter();
        let proof = proofs.next().ok_or(ProofError::Missing)?;
        if proofs.next().is_some() {
            return Err(ProofError::Multiple);
        }
        let proof = proof.to_str().map_err(|_| ProofError::Malformed)?;
        let (jwk, claims) = verified_claims(proof)?;
        if claims.htm.as_deref() != Some(target.method.as_str()) {
            return Err(ProofError::Method);
        }
        if !claims
            .htu
            .as_deref()
            .is_some_and(|htu| names_target(htu, target))
        {
            return Err(ProofError::Url);
        }
        let now = OffsetDateTime::now_utc();
        let iat = claims
            .iat
            .filter(|iat| {
                let now = now.unix_timestamp();
                (((now - MAX_IAT_AGE_SECS) as f64)..=((now + MAX_IAT_AHEAD_SECS) as f64))
                    .contains(iat)
            })
            .ok_or(ProofError::IssuedAt)?;
        if let ProofUse::Resource { access_token } = proof_use {
            let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()));
            if claims.ath.as_deref() != Some(hash.as_str()) {
                return Err(ProofError::AccessTokenHash);
            }
        }
        let jti = claims
            .jti
            .as_deref()
            .filter(|jti| !jti.is_empty())
            .ok_or(ProofError::MissingJti)?;
        // Accepted while now <= iat + the age limit; forgotten once past it.
        let forget_at = iat.floor() as i64 + MAX_IAT_AGE_SECS + 1;
        if !lock(&self.seen).first_use(jti, forget_at, now.unix_timestamp()) {
            return Err(ProofError::Replayed);
        }
        if matches!(proof_use, ProofUse::TokenRequest) {
            let nonce = claims.nonce.as_deref().ok_or(ProofError::Nonce)?;
            if !lock(&self.nonces).accepts(nonce, now) {
                return Err(ProofError::Nonce);
            }
        }
        Ok(DpopProof {
            jkt: jwk.thumbprint(ThumbprintHash::SHA256),
        })
    }
}

/// The proof's public key and claims, once its header is a DPoP one and its signature is the
/// key's.
fn verified_claims(proof: &str) -> Result<(Jwk, ProofClaims), ProofError> {
    let encoded_header = proof.split('.').next().unwrap_or_default();
    let header: ProofHeader = URL_SAFE_NO_PAD
        .decode(encoded_header)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(ProofError::Malformed)?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(ProofError::Type);
    }
    let jwk = header.jwk.ok_or(ProofError::MissingKey)?;
    if PRIVATE_JWK_MEMBERS
        .iter()
        .any(|member| jwk.contains_key(*member))
    {
        return Err(ProofError::PrivateKey);
    }
    let jwk: Jwk = serde_json::from_value(jwk.into()).map_err(|_| ProofError::MissingKey)?;
    let alg = header
        .alg
        .and_then(|alg| alg.parse::<Algorithm>().ok())
        .filter(|alg| fits(*alg, &jwk))
        .ok_or(ProofError::Algorithm)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ProofError::MissingKey)?;
    let mut validation = Validation::new(alg);
    // A proof has no `exp` or `aud`; its `iat` is checked against the window instead.
    validation.set_required_spec_claims::<&str>(&[]);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofError::Signature,
            _ => ProofError::Malformed,
        })?
        .claims;
    Ok((jwk, claims))
}

/// Whether `alg` is one of the listed asymmetric algorithms, for a key of `jwk`'s type and
/// curve. ES512 is listed (as Okta lists it) but jsonwebtoken cannot verify it.
fn fits(alg: Algorithm, jwk: &Jwk) -> bool {
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) => {
            true
        }
        (AlgorithmParameters::EllipticCurve(key), Algorithm::ES256) => {
            key.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(key), Algorithm::ES384) => {
            key.curve == EllipticCurve::P384
        }
        _ => false,
    }
}

/// Whether `htu` names the request's target URI, ignoring query and fragment and after the
/// normalization a URL parser does (case of scheme and host, default port, dot segments), as
/// RFC 9449 §4.3 asks.
fn names_target(htu: &str, target: &ProofTarget) -> bool {
    let Ok(mut htu) = Url::parse(htu) else {
        return false;
    };
    htu.set_query(None);
    htu.set_fragment(None);
    target.uri.as_ref() == Some(&htu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_nonces_last_three_days_when_kept_and_end_at_once_otherwise() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let mut nonces = Nonces::new(start);
        let first = nonces.current.clone();
        let second = nonces.rotate(true, start + Duration::from_secs(3600));
        assert_ne!(first, second);
        let almost = start + NONCE_LIFETIME - Duration::from_secs(1);
        assert!(nonces.accepts(&first, almost));
        assert!(!nonces.accepts(&first, start + NONCE_LIFETIME));
        assert!(nonces.accepts(&second, start + NONCE_LIFETIME * 10));
        let third = nonces.rotate(false, start + Duration::from_secs(7200));
        assert!(!nonces.accepts(&second, start + Duration::from_secs(7200)));
        assert!(nonces.accepts(&third, start + Duration::from_secs(7200)));
        assert!(nonces.earlier.is_empty());
    }

    #[test]
    fn a_jti_is_refused_again_until_it_is_forgotten() {
        let mut seen = SeenProofs::default();
        assert!(seen.first_use("a", 100, 0));
        assert!(!seen.first_use("a", 100, 99));
        assert!(seen.first_use("b", 150, 99));
        // At 100 "a" is swept, "b" is still remembered.
        assert!(seen.first_use("a", 400, 100));
        assert!(!seen.first_use("b", 400, 100));
        assert_eq!(seen.seen.len(), 2);
        assert_eq!(seen.expiries.len(), 2);
    }

    #[test]
    fn htu_is_compared_without_query_and_fragment_after_normalization() {
        let target = ProofTarget {
            method: Method::POST,
            uri: Some(Url::parse("https://127.0.0.1:8443/oauth2/v1/token").unwrap()),
        };
        for same in [
            "https://127.0.0.1:8443/oauth2/v1/token",
            "https://127.0.0.1:8443/oauth2/v1/token?x=1#f",
            "HTTPS://127.0.0.1:8443/oauth2/./v1/token",
        ] {
            assert!(names_target(same, &target), "{same}");
        }
        for other in [
            "http://127.0.0.1:8443/oauth2/v1/token",
            "https://127.0.0.1:8444/oauth2/v1/token",
            "https://127.0.0.1:8443/oauth2/v1/revoke",
            "https://127.0.0.1:8443/oauth2/v1/token/",
            "/oauth2/v1/token",
        ] {
            assert!(!names_target(other, &target), "{other}");
        }
    }
}
