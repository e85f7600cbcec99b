//! DPoP (RFC 9449): a key pair made at each sign-in, whose private half lives only in the
//! session's keychain entry and in memory, and the proofs it signs for token requests. Okta
//! binds the tokens it issues to the key, so a token copied out of the keychain is useless
//! without it, and the key dies with the session at sign-out.
//!
//! The key is ES256 (aws-lc, through jsonwebtoken's backend); the proof is a JWS made by
//! `jsonwebtoken`, with the public key as its `jwk` header (RFC 9449 §4.2).

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use url::Url;

use crate::error::BoxError;
use crate::secret::Sensitive;

/// The one signing algorithm the app proves with (and asks the server to support).
pub(crate) const PROOF_ALGORITHM: &str = "ES256";
/// The `typ` of a DPoP proof (RFC 9449 §4.2).
const PROOF_TYPE: &str = "dpop+jwt";
/// The response header that carries the server's nonce (RFC 9449 §8).
pub(crate) const NONCE_HEADER: &str = "dpop-nonce";
/// The request header that carries a proof.
pub(crate) const PROOF_HEADER: &str = "dpop";

/// Why a DPoP key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The system's random source or the key generation failed.
    #[error("could not make a DPoP key")]
    Generate,
    /// The key stored with the session is not an ES256 private key.
    #[error("the stored DPoP key is unreadable")]
    Unreadable,
    /// A proof could not be signed.
    #[error("could not sign a DPoP proof")]
    Sign(#[source] BoxError),
}

/// The session's DPoP key pair. `Debug` shows only the public thumbprint; the private key
/// (PKCS#8) is wiped from memory when the last copy is dropped.
#[derive(Clone)]
pub struct DpopKey {
    pkcs8: Sensitive<Vec<u8>>,
    public: Jwk,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DpopKey")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: String,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl DpopKey {
    /// A new ES256 key pair.
    pub fn generate() -> Result<Self, DpopError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| DpopError::Generate)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| DpopError::Generate)?;
        Self::from_pkcs8(pkcs8.as_ref().to_vec()).map_err(|_| DpopError::Generate)
    }

    /// The key whose private half is `pkcs8` (as [`DpopKey::to_stored`] gave it).
    fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self, DpopError> {
        let pkcs8 = Sensitive::new(pkcs8);
        // Parsed here, so that a damaged key fails at load rather than at the first proof.
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.expose())
            .map_err(|_| DpopError::Unreadable)?;
        let encoding = EncodingKey::from_ec_der(pkcs8.expose());
        let public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|_| DpopError::Unreadable)?;
        let thumbprint = public.thumbprint(ThumbprintHash::SHA256);
        Ok(Self {
            pkcs8,
            public,
            thumbprint,
        })
    }

    /// The private key as the keychain keeps it (base64url of its PKCS#8).
    pub fn to_stored(&self) -> Sensitive<String> {
        Sensitive::new(URL_SAFE_NO_PAD.encode(self.pkcs8.expose()))
    }

    /// The key the keychain kept with [`DpopKey::to_stored`].
    pub(crate) fn from_stored(stored: &str) -> Result<Self, DpopError> {
        let pkcs8 = URL_SAFE_NO_PAD
            .decode(stored)
            .map_err(|_| DpopError::Unreadable)?;
        Self::from_pkcs8(pkcs8)
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: the `jkt` Okta binds tokens to.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for one `method` request to `url` (its query and fragment left out, RFC 9449
    /// §4.2), with the server's `nonce` when it gave one; a fresh `jti` and `iat` each time.
    pub fn proof(&self, method: &str, url: &Url, nonce: Option<&str>) -> Result<String, DpopError> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut jti = [0_u8; 16];
        aws_lc_rs::rand::fill(&mut jti)
            .map_err(|_| DpopError::Sign("the system's random source failed".into()))?;
        let claims = ProofClaims {
            jti: URL_SAFE_NO_PAD.encode(jti),
            htm: method,
            htu: htu.into(),
            iat: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs()),
            nonce,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(PROOF_TYPE.to_owned());
        header.jwk = Some(self.public.clone());
        let key = EncodingKey::from_ec_der(self.pkcs8.expose());
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|error| DpopError::Sign(Box::new(error)))
    }
}

/// The server's latest DPoP nonce (Okta renews it about daily, and an old one stays valid for
/// days): kept so that a request does not first meet `use_dpop_nonce` every time.
#[derive(Debug, Default)]
pub(crate) struct NonceCache(Mutex<Option<String>>);

impl NonceCache {
    /// The nonce to put in the next proof.
    pub(crate) fn current(&self) -> Option<String> {
        self.0.lock().expect("nonce cache poisoned").clone()
    }

    /// Keeps the nonce an answer carried; returns whether it carried one.
    pub(crate) fn remember(&self, headers: &openidconnect::http::HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(NONCE_HEADER)
            .and_then(|value| value.to_str().ok())
        else {
            return false;
        };
        *self.0.lock().expect("nonce cache poisoned") = Some(nonce.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn decoded(proof: &str) -> (Header, serde_json::Value) {
        let header = jsonwebtoken::decode_header(proof).unwrap();
        let key = DecodingKey::from_jwk(header.jwk.as_ref().unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<serde_json::Value>(proof, &key, &validation)
            .unwrap()
            .claims;
        (header, claims)
    }

    #[test]
    fn a_proof_is_signed_by_its_key_and_names_the_request_without_its_query() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://example.okta.com/oauth2/v1/token?x=1#frag").unwrap();
        let proof = key.proof("POST", &url, Some("nonce-1")).unwrap();
        let (header, claims) = decoded(&proof);
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(
            header.jwk.unwrap().thumbprint(ThumbprintHash::SHA256),
            key.thumbprint()
        );
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://example.okta.com/oauth2/v1/token");
        assert_eq!(claims["nonce"], "nonce-1");
        let again = decoded(&key.proof("POST", &url, None).unwrap()).1;
        assert_ne!(claims["jti"], again["jti"], "every proof has its own jti");
        assert!(again.get("nonce").is_none());
    }

    #[test]
    fn a_stored_key_comes_back_as_the_same_key_and_never_prints() {
        let key = DpopKey::generate().unwrap();
        let stored = key.to_stored();
        let back = DpopKey::from_stored(stored.expose()).unwrap();
        assert_eq!(back.thumbprint(), key.thumbprint());
        assert!(!format!("{key:?}").contains(stored.expose().as_str()));
        assert_ne!(DpopKey::generate().unwrap().thumbprint(), key.thumbprint());
        assert!(matches!(
            DpopKey::from_stored("bm90LWEta2V5"),
            Err(DpopError::Unreadable)
        ));
    }
}
