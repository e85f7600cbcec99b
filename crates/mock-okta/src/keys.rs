//! The RSA signing keys, their JWKS and the JWTs signed with them, and key rotation.

use std::sync::{Arc, OnceLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a signing key could not be made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The configured PEM (`signing_key_pem`, `--signing-key`) is not a PKCS#8 RSA private key.
    #[error(
        "the signing key is not a PKCS#8 RSA private key ({0}); a PKCS#1 one \
         (BEGIN RSA PRIVATE KEY) converts with `openssl pkcs8 -topk8 -nocrypt`"
    )]
    InvalidPem(String),
    /// RSA key generation failed.
    #[error("cannot generate the RSA signing key")]
    Generate,
}

/// An RSA key that signs ID and access tokens with RS256, as Okta's 2048-bit keys do.
///
/// Public so that benchmarks can time one signature exactly as the mock makes it.
pub struct SigningKey {
    kid: String,
    /// Parsed once: aws-lc then signs at about OpenSSL's speed.
    private: KeyPair,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl SigningKey {
    /// A fresh 2048-bit key (aws-lc's generator; a CPU for tens to hundreds of milliseconds).
    pub fn generate() -> Result<SigningKey, KeyError> {
        let private = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        Ok(SigningKey::from_key_pair(private))
    }

    /// The key in a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|error| KeyError::InvalidPem(error.to_string()))?;
        let private = KeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|error| KeyError::InvalidPem(error.to_string()))?;
        Ok(SigningKey::from_key_pair(private))
    }

    fn from_key_pair(private: KeyPair) -> SigningKey {
        let public = private.public_key();
        let (modulus, exponent) = (
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        );
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(modulus),
                e: URL_SAFE_NO_PAD.encode(exponent),
            }),
        };
        // Like Okta, the kid is stable for a key: its RFC 7638 thumbprint.
        let kid = jwk.thumbprint(ThumbprintHash::SHA256);
        jwk.common.key_id = Some(kid.clone());
        let decoding = DecodingKey::from_rsa_raw_components(modulus, exponent);
        SigningKey {
            kid,
            private,
            decoding,
            jwk,
        }
    }

    /// Signs `claims` as an RS256 JWT carrying this key's `kid`: the JWS compact serialization
    /// (RFC 7515 §7.1) over aws-lc's RSASSA-PKCS1-v1_5 SHA-256 signature.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let encode = |part: Vec<u8>| URL_SAFE_NO_PAD.encode(part);
        let mut jwt = format!(
            "{}.{}",
            encode(serde_json::to_vec(&header).expect("a JWS header serializes")),
            encode(serde_json::to_vec(claims).expect("token claims serialize")),
        );
        let mut signature = vec![0; self.private.public_modulus_len()];
        self.private
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing with a valid 2048-bit key cannot fail");
        jwt.push('.');
        jwt.push_str(&encode(signature));
        jwt
    }
}

/// The published signing keys, newest first: the newest signs, the others (kept at a rotation)
/// still verify what they signed.
#[derive(Clone)]
pub(crate) struct PublishedKeys {
    newest_first: Vec<Arc<SigningKey>>,
}

impl PublishedKeys {
    /// The key that signs new tokens.
    pub(crate) fn signing(&self) -> &SigningKey {
        &self.newest_first[0]
    }

    /// The kids of every published key, newest first.
    pub(crate) fn kids(&self) -> Vec<String> {
        self.newest_first
            .iter()
            .map(|key| key.kid.clone())
            .collect()
    }

    /// The public JWKS served at `/v1/keys`.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .newest_first
                .iter()
                .map(|key| key.jwk.clone())
                .collect(),
        }
    }

    /// Verifies signature, issuer and audience of an `id_token_hint` with the published key its
    /// `kid` names (every published key when it names none); expiry is the caller's call, since
    /// Okta orgs differ on expired hints.
    pub(crate) fn verify_id_token_hint(
        &self,
        hint: &str,
        issuer: &str,
        client_ids: &[&str],
    ) -> Result<IdTokenHint, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(client_ids);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let kid = jsonwebtoken::decode_header(hint)?.kid;
        let candidates = self
            .newest_first
            .iter()
            .filter(|key| kid.as_deref().is_none_or(|kid| kid == key.kid));
        let mut outcome = Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into());
        for key in candidates {
            outcome = jsonwebtoken::decode::<IdTokenHint>(hint, &key.decoding, &validation)
                .map(|data| data.claims);
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }
}

/// The claims of a verified `id_token_hint` that logout uses.
#[derive(Debug, Deserialize)]
pub(crate) struct IdTokenHint {
    /// The client the ID token was issued to.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// `at_hash`: base64url of the left half of SHA-256 of the access token (OIDC Core 3.1.3.6).
pub(crate) fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The signing keys; rotation publishes a new one.
#[derive(Clone)]
pub(crate) struct KeyStore {
    keys: Arc<RwLock<PublishedKeys>>,
}

impl KeyStore {
    /// Signs with the configured PEM's key, or else with this process's throw-away key:
    /// generated once, before the first mock of the process listens, so that no token ever
    /// waits for it, and shared by every mock the process starts without a key (tests start
    /// many). Blocks for the generation: call it off the async threads.
    pub(crate) fn new(configured_pem: Option<&str>) -> Result<KeyStore, KeyError> {
        static THROW_AWAY: OnceLock<Arc<SigningKey>> = OnceLock::new();
        let key = match configured_pem {
            Some(pem) => Arc::new(SigningKey::from_pkcs8_pem(pem)?),
            None => match THROW_AWAY.get() {
                Some(key) => key.clone(),
                None => {
                    let key = Arc::new(SigningKey::generate()?);
                    // Another mock may have raced this one; either key is as good.
                    THROW_AWAY.get_or_init(|| key).clone()
                }
            },
        };
        Ok(KeyStore {
            keys: Arc::new(RwLock::new(PublishedKeys {
                newest_first: vec![key],
            })),
        })
    }

    /// The published keys as of now.
    pub(crate) fn published(&self) -> PublishedKeys {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Generates a new key that signs from now on, published before the old ones, which stay
    /// published when `keep_old` and are dropped otherwise. Returns the keys after rotation.
    pub(crate) async fn rotate(&self, keep_old: bool) -> PublishedKeys {
        // Generation takes a CPU for a good fraction of a second: keep it off the threads that
        // serve requests meanwhile.
        let key = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .expect("RSA key generation does not panic")
            .expect("aws-lc generates a key while the OS random source works");
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !keep_old {
            keys.newest_first.clear();
        }
        keys.newest_first.insert(0, Arc::new(key));
        keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_example() {
        // OIDC Core A.3 example access token and its at_hash.
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
