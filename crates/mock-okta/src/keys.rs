//! The RSA signing keys, their JWKS and the JWTs signed with them, and key rotation.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

/// Okta signs with 2048-bit RSA keys.
const RSA_BITS: usize = 2048;

/// Why a signing key could not be made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The configured PEM is not a PKCS#8 RSA private key.
    #[error("signing_key_pem is not a PKCS#8 RSA private key: {0}")]
    InvalidPem(String),
    /// RSA key generation failed.
    #[error("cannot generate the RSA signing key: {0}")]
    Generate(String),
}

/// The key that signs ID and access tokens.
pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn from_private_key(private: &RsaPrivateKey) -> Result<SigningKey, KeyError> {
        let der = private
            .to_pkcs1_der()
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        let public = private.to_public_key();
        let (modulus, exponent) = (public.n().to_bytes_be(), public.e().to_bytes_be());
        let mut jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(&modulus),
                e: URL_SAFE_NO_PAD.encode(&exponent),
            }),
        };
        // Like Okta, the kid is stable for a key: its RFC 7638 thumbprint.
        let kid = jwk.thumbprint(ThumbprintHash::SHA256);
        jwk.common.key_id = Some(kid.clone());
        Ok(SigningKey {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&modulus, &exponent),
            jwk,
        })
    }

    /// Signs `claims` as an RS256 JWT carrying this key's `kid`.
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("RS256 signing with a valid RSA key and serializable claims cannot fail")
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

/// The signing keys: the first is generated on a background task so that discovery answers at
/// once; only the endpoints that sign or verify wait for it. Rotation publishes a new key.
#[derive(Clone)]
pub(crate) struct KeyStore {
    keys: Arc<OnceCell<RwLock<PublishedKeys>>>,
}

impl KeyStore {
    /// Uses the configured PEM, or starts generating a fresh key in the background.
    pub(crate) fn start(configured_pem: Option<&str>) -> Result<KeyStore, KeyError> {
        let store = KeyStore {
            keys: Arc::new(OnceCell::new()),
        };
        match configured_pem {
            Some(pem) => {
                let private = RsaPrivateKey::from_pkcs8_pem(pem)
                    .map_err(|error| KeyError::InvalidPem(error.to_string()))?;
                let key = SigningKey::from_private_key(&private)?;
                store
                    .keys
                    .set(RwLock::new(PublishedKeys {
                        newest_first: vec![Arc::new(key)],
                    }))
                    .unwrap_or_else(|_| unreachable!("a fresh cell is empty"));
            }
            None => {
                let background = store.clone();
                tokio::spawn(async move { background.published().await });
            }
        }
        Ok(store)
    }

    /// The published keys as of now, waiting for the first key's generation if needed.
    pub(crate) async fn published(&self) -> PublishedKeys {
        self.cell()
            .await
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Generates a new key that signs from now on, published before the old ones, which stay
    /// published when `keep_old` and are dropped otherwise. Returns the keys after rotation.
    pub(crate) async fn rotate(&self, keep_old: bool) -> PublishedKeys {
        let cell = self.cell().await;
        let key = Arc::new(generate_off_the_async_threads().await);
        let mut keys = cell
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !keep_old {
            keys.newest_first.clear();
        }
        keys.newest_first.insert(0, key);
        keys.clone()
    }

    async fn cell(&self) -> &RwLock<PublishedKeys> {
        self.keys
            .get_or_init(|| async {
                RwLock::new(PublishedKeys {
                    newest_first: vec![Arc::new(generate_off_the_async_threads().await)],
                })
            })
            .await
    }
}

/// RSA key generation takes a CPU for a good fraction of a second: a blocking task keeps it
/// from stalling the requests served meanwhile.
async fn generate_off_the_async_threads() -> SigningKey {
    tokio::task::spawn_blocking(generate_key)
        .await
        .expect("RSA key generation does not panic")
        .expect("the OS random source works")
}

fn generate_key() -> Result<SigningKey, KeyError> {
    let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    SigningKey::from_private_key(&private)
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
