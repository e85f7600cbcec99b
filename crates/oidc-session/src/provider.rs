//! The OIDC provider as the app sees it, through openidconnect: where it is
//! ([`IdentityProvider`]), the HTTP client that reaches it, discovery (with Okta's
//! `end_session_endpoint` and `revocation_endpoint`), the authorization request, the code
//! exchange with full ID token validation, refresh, revocation and the end-session request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use openidconnect::core::CoreRevocationErrorResponse;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreIdTokenClaims,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
    CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode,
    ClaimsVerificationError, ClientId, CsrfToken, EndSessionUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpClientError, HttpRequest, HttpResponse, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, RequestTokenError,
    RevocationUrl, Scope, SignatureVerificationError, TokenResponse,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use url::Url;
use zeroize::Zeroizing;

use crate::config::{Issuer, OktaOrg};
use crate::dpop::{self, DpopKey, NonceCache};
use crate::error::{error_chain, BoxError, CertificateProblem, SessionError};
use crate::secret::Sensitive;
use crate::tokens::{AccessToken, IdToken, RefreshToken, SessionTokens, TokenKind, UserClaims};
use crate::vault::QueuedToken;

/// Why a revocation did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RevocationError {
    /// Okta could not be reached (offline, refused, timed out, reset): try again later.
    #[error("Okta could not be reached")]
    Unreachable(#[source] BoxError),
    /// Okta answered that it cannot take it now (5xx, or 429 too many requests): try again
    /// later.
    #[error("Okta is not revoking tokens right now (HTTP {0})")]
    Unavailable(reqwest::StatusCode),
    /// Refused for good (a 4xx such as `invalid_client`, or nowhere to send it); the message
    /// says why, in words the window can show.
    #[error("{0}")]
    Refused(String),
}

/// Why Okta's end-session request cannot be made or would be refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum EndSessionError {
    /// The IdP could not be reached, or answered with a server error.
    #[error("Okta could not be reached")]
    Unreachable(#[source] BoxError),
    /// The request cannot work; the message says what to fix.
    #[error("{0}")]
    Misconfigured(String),
}

/// Where the session's identity provider is and how to reach it.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    /// The issuer, exactly as configured.
    pub issuer: Issuer,
    /// The app's client ID there.
    pub client_id: String,
    /// Root certificates (PEM, one or several) to trust besides the operating system's.
    pub extra_root_pem: Option<Vec<u8>>,
    /// How long one HTTP exchange with it may take before it counts as unreachable
    /// ([`DEFAULT_REQUEST_TIMEOUT`] unless a test needs a hang to end sooner).
    pub request_timeout: Duration,
    /// How long its discovery document and signing keys are used before they are fetched
    /// again ([`DISCOVERY_MAX_AGE`] unless a test needs them older sooner).
    pub discovery_max_age: Duration,
}

impl IdentityProvider {
    /// The configured Okta org, with its `ca_file` read.
    pub fn from_org(org: &OktaOrg) -> Result<Self, SessionError> {
        let extra_root_pem = org
            .ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|source| SessionError::CaFile {
                    path: path.clone(),
                    source,
                })
            })
            .transpose()?;
        Ok(Self {
            issuer: org.issuer.clone(),
            client_id: org.client_id.clone(),
            extra_root_pem,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            discovery_max_age: DISCOVERY_MAX_AGE,
        })
    }

    /// The HTTP client for every call to this IdP: it never follows redirects (a redirect
    /// from a token or revocation endpoint is an error, not a hop), and it gives up in bounded
    /// time. It trusts what the operating system trusts (a corporate CA installed there
    /// included) and every certificate of `extra_root_pem`; TLS verification is never turned
    /// off.
    pub fn http_client(&self) -> Result<reqwest::Client, SessionError> {
        let tls = tls_config(self.extra_root_pem.as_deref())?;
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(self.request_timeout))
            .timeout(self.request_timeout)
            .user_agent(concat!("okta-signout/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| SessionError::HttpClient(Box::new(error)))
    }
}

/// TLS that verifies Okta's certificate with the platform's verifier (on Linux: the system's
/// CA files, or those `SSL_CERT_FILE` / `SSL_CERT_DIR` name) plus `extra_root_pem`.
fn tls_config(extra_root_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, SessionError> {
    let extra_roots = match extra_root_pem {
        Some(pem) => pem_certificates(pem)?,
        None => Vec::new(),
    };
    // Named rather than guessed: reqwest and the mock IdP both bring rustls.
    let crypto = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, crypto.clone())
            .map_err(|error| SessionError::HttpClient(Box::new(error)))?;
    Ok(rustls::ClientConfig::builder_with_provider(crypto)
        .with_safe_default_protocol_versions()
        .map_err(|error| SessionError::HttpClient(Box::new(error)))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// Why TLS refused the server's certificate, if that is what `error` is. rustls's error sits
/// inside an `io::Error`, whose `source` skips it, so the chain is searched through `get_ref`
/// too.
fn certificate_problem(error: &reqwest::Error) -> Option<CertificateProblem> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        let tls = inner
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| current.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(refused)) = tls {
            return Some(CertificateProblem::of(refused));
        }
        cause = inner.or_else(|| current.source());
    }
    None
}

impl CertificateProblem {
    fn of(refused: &rustls::CertificateError) -> Self {
        use rustls::CertificateError as Refused;
        match refused {
            Refused::UnknownIssuer => Self::UnknownCa,
            Refused::Expired
            | Refused::ExpiredContext { .. }
            | Refused::NotValidYet
            | Refused::NotValidYetContext { .. } => Self::OutsideValidity,
            Refused::NotValidForName | Refused::NotValidForNameContext { .. } => Self::OtherHost,
            _ => Self::Other,
        }
    }
}

/// Every certificate of a PEM file or bundle; an error when it holds none or a broken one.
fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, SessionError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| SessionError::CaCertificate(Box::new(error)))?;
    if certificates.is_empty() {
        return Err(SessionError::CaCertificate(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certificates)
}

/// What Okta advertises beyond OIDC Core that the app needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct OktaEndpoints {
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
    pub(crate) end_session_endpoint: Option<EndSessionUrl>,
    /// Token revocation (RFC 7009).
    pub(crate) revocation_endpoint: Option<RevocationUrl>,
    /// Whether authorization responses name their issuer in `iss` (RFC 9207).
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
    /// The algorithms DPoP proofs may be signed with (RFC 9449 §5.1); none: no DPoP.
    #[serde(default)]
    pub(crate) dpop_signing_alg_values_supported: Vec<String>,
}
impl AdditionalProviderMetadata for OktaEndpoints {}

/// Discovery metadata with Okta's extra endpoints.
type OktaProviderMetadata = ProviderMetadata<
    OktaEndpoints,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long one HTTP exchange with the IdP may take, connection included, unless the
/// [`crate::IdentityProvider`] says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long connecting may take, within the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long discovery and the signing keys are used before they are fetched again, unless
/// the [`crate::IdentityProvider`] says otherwise. Okta rotates its keys a few times a year, and
/// a token signed with a key the app has not seen makes it fetch them sooner.
pub const DISCOVERY_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The least time between two fetches of the signing keys that a token with an unknown key
/// causes: a flood of such tokens cannot make the app hammer Okta.
const KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// What the browser round-trip of one sign-in needs to finish it.
pub(crate) struct AuthorizationRequest {
    /// The URL to open in the browser.
    pub(crate) url: Url,
    /// The `state` the callback must carry.
    pub(crate) state: Sensitive<String>,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// The keys that sign Okta's ID tokens.
struct SigningKeys {
    set: CoreJsonWebKeySet,
    /// When a token with an unknown key last made the app fetch them again.
    refetched_at: Option<Instant>,
}

/// A discovered provider, ready for this app's client.
pub(crate) struct Provider {
    issuer: Issuer,
    issuer_url: IssuerUrl,
    client: DiscoveredClient,
    endpoints: OktaEndpoints,
    jwks_uri: JsonWebKeySetUrl,
    keys: tokio::sync::Mutex<SigningKeys>,
    http: reqwest::Client,
    discovered_at: Instant,
    /// The token endpoint's latest DPoP nonce.
    dpop_nonce: NonceCache,
}

impl Provider {
    /// Fetches `{issuer}/.well-known/openid-configuration` and the JWKS. The document must
    /// name exactly the configured issuer (OIDC Discovery 4.3).
    pub(crate) async fn discover(
        issuer: &Issuer,
        client_id: &str,
        redirect_uri: &Url,
        http: reqwest::Client,
    ) -> Result<Self, SessionError> {
        let failed = |source: BoxError| SessionError::Discovery {
            issuer: issuer.to_string(),
            source,
        };
        let issuer_url =
            IssuerUrl::new(issuer.as_str().to_owned()).map_err(|error| failed(Box::new(error)))?;
        let url = issuer_url
            .join(".well-known/openid-configuration")
            .map_err(|error| failed(Box::new(error)))?;
        let response = http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| match certificate_problem(&error) {
                Some(problem) => SessionError::UntrustedCertificate {
                    issuer: issuer.to_string(),
                    problem,
                    source: Box::new(error),
                },
                None => failed(Box::new(error)),
            })?;
        let status = response.status();
        // Nothing at that address: a mistyped issuer. Any other refusal (429, 403 from a
        // proxy) may pass, so it is no reason to blame the configuration.
        if matches!(
            status,
            reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::GONE
        ) {
            return Err(SessionError::NotAnIssuer {
                issuer: issuer.to_string(),
                reason: format!("HTTP {status} at {url}"),
            });
        }
        if !status.is_success() {
            return Err(failed(format!("HTTP {status} at {url}").into()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| failed(Box::new(error)))?;
        let metadata: OktaProviderMetadata = serde_json::from_slice(&body).map_err(|error| {
            failed(format!("{url} is not a discovery document: {error}").into())
        })?;
        if metadata.issuer().as_str() != issuer.as_str() {
            return Err(SessionError::IssuerMismatch {
                configured: issuer.to_string(),
                discovered: metadata.issuer().as_str().to_owned(),
            });
        }
        let jwks_uri = metadata.jwks_uri().clone();
        let keys = JsonWebKeySet::fetch_async(&jwks_uri, &http)
            .await
            .map_err(|error| failed(Box::new(error)))?;
        let endpoints = metadata.additional_metadata().clone();
        let client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.to_owned()), None)
                .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        Ok(Self {
            issuer: issuer.clone(),
            issuer_url,
            client,
            endpoints,
            jwks_uri,
            keys: tokio::sync::Mutex::new(SigningKeys {
                set: keys,
                refetched_at: None,
            }),
            http,
            discovered_at: Instant::now(),
            dpop_nonce: NonceCache::default(),
        })
    }

    /// Whether the server takes DPoP proofs signed as the app signs them (ES256); an error
    /// that says what to change when it does not.
    pub(crate) fn check_dpop_support(&self) -> Result<(), SessionError> {
        let advertised = &self.endpoints.dpop_signing_alg_values_supported;
        if advertised.iter().any(|alg| alg == dpop::PROOF_ALGORITHM) {
            return Ok(());
        }
        Err(SessionError::DpopUnsupported {
            issuer: self.issuer.to_string(),
            advertised: advertised.clone(),
        })
    }

    /// Whether discovery is `max_age` old or older and should be made again.
    pub(crate) fn is_stale(&self, max_age: Duration) -> bool {
        self.discovered_at.elapsed() >= max_age
    }

    /// A fresh authorization request: PKCE S256, a random `state` and `nonce`; with
    /// `prompt=login` when `fresh_login` is asked for, so that Okta asks for a password even
    /// while the browser still has an Okta session.
    pub(crate) fn authorization_request(
        &self,
        scopes: &[String],
        fresh_login: bool,
    ) -> AuthorizationRequest {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in scopes.iter().filter(|scope| *scope != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if fresh_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        AuthorizationRequest {
            url,
            state: Sensitive::new(state.into_secret()),
            nonce,
            verifier,
        }
    }

    /// Checks the `iss` of an authorization response (RFC 9207): when present it must be this
    /// issuer, and a provider that advertises the parameter must send it. Otherwise the
    /// response may come from another authorization server (a mix-up attack).
    pub(crate) fn check_response_issuer(&self, issuers: &[String]) -> Result<(), SessionError> {
        let supported = self
            .endpoints
            .authorization_response_iss_parameter_supported;
        match issuers {
            [iss] if iss == self.issuer.as_str() => Ok(()),
            [] if !supported => Ok(()),
            received => Err(SessionError::ResponseIssuer {
                expected: self.issuer.to_string(),
                received: received.to_vec(),
            }),
        }
    }

    /// Exchanges the code for tokens (bound to `dpop` when given) and validates the ID token
    /// fully: signature (JWKS, or the connection while Okta's keys cannot be fetched; see
    /// `verify_id_token`), issuer, audience, expiry, nonce and `at_hash`.
    pub(crate) async fn exchange_code(
        &self,
        code: Sensitive<String>,
        request: AuthorizationRequest,
        dpop: Option<&DpopKey>,
    ) -> Result<(SessionTokens, UserClaims), GrantError> {
        let exchange = self
            .client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .map_err(|error| self.unusable(error))?
            .set_pkce_verifier(request.verifier);
        let response = exchange
            .request_async(&self.token_client(dpop))
            .await
            .map_err(token_error)?;
        let Some(id_token) = response.id_token() else {
            return Err(
                SessionError::InvalidIdToken("the token response has no ID token".into()).into(),
            );
        };
        let issued = || Some(tokens_from(&response, id_token, None));
        let checked = match check_binding(&response, dpop) {
            Ok(()) => self
                .verify_id_token(id_token, &response, Some(&request.nonce))
                .await
                .map_err(SessionError::from),
            Err(error) => Err(error),
        };
        match checked {
            Ok(claims) => Ok((tokens_from(&response, id_token, None), claims)),
            Err(error) => Err(GrantError {
                error,
                issued: issued(),
            }),
        }
    }

    /// Refreshes the tokens with `refresh_token` (with a proof of `dpop` when the session has
    /// a key), for the person `subject` names. A refresh response without a new refresh token
    /// keeps this one; without a new ID token keeps `id_token`. A new ID token must name the
    /// same issuer and subject (OIDC Core 12.2).
    pub(crate) async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        id_token: &IdToken,
        subject: &str,
        dpop: Option<&DpopKey>,
    ) -> Result<(SessionTokens, Option<UserClaims>), GrantError> {
        // Read before asking Okta, so that nothing is issued in vain.
        let id_token: CoreIdToken = id_token.secret().parse().map_err(|error| {
            SessionError::InvalidIdToken(
                format!("the stored ID token is unreadable: {error}").into(),
            )
        })?;
        let secret = openidconnect::RefreshToken::new(refresh_token.secret().to_owned());
        let exchange = self
            .client
            .exchange_refresh_token(&secret)
            .map_err(|error| self.unusable(error))?;
        let response = exchange
            .request_async(&self.token_client(dpop))
            .await
            .map_err(token_error)?;
        // Okta has issued the tokens, and may have rotated the refresh token away: an answer
        // the app cannot use leaves live tokens to revoke.
        if let Err(error) = check_binding(&response, dpop) {
            let id_token = response.id_token().unwrap_or(&id_token);
            return Err(GrantError {
                error,
                issued: Some(tokens_from(&response, id_token, Some(refresh_token))),
            });
        }
        match response.id_token() {
            Some(fresh_id_token) => {
                let unusable = |error| GrantError {
                    error,
                    issued: Some(tokens_from(&response, fresh_id_token, None)),
                };
                let claims = match self.verify_id_token(fresh_id_token, &response, None).await {
                    Ok(claims) if claims.subject == subject => claims,
                    Ok(_) | Err(IdTokenProblem::OtherIssuer) => {
                        return Err(unusable(SessionError::IdentityChanged))
                    }
                    Err(problem) => return Err(unusable(problem.into())),
                };
                let tokens = tokens_from(&response, fresh_id_token, Some(refresh_token));
                Ok((tokens, Some(claims)))
            }
            None => Ok((tokens_from(&response, &id_token, Some(refresh_token)), None)),
        }
    }

    /// The HTTP client of a token request, with proofs of `dpop` when the session has a key.
    fn token_client<'a>(&'a self, dpop: Option<&'a DpopKey>) -> TokenClient<'a> {
        TokenClient {
            http: &self.http,
            dpop,
            nonce: &self.dpop_nonce,
        }
    }

    /// The provider's metadata lacks what this request needs (a token endpoint).
    fn unusable(&self, error: openidconnect::ConfigurationError) -> SessionError {
        SessionError::Discovery {
            issuer: self.issuer.to_string(),
            source: Box::new(error),
        }
    }

    /// Revokes `queued` at the `revocation_endpoint` (RFC 7009: one form POST with `token`,
    /// `token_type_hint` and the `client_id` it was issued to). Sent directly rather than
    /// through oauth2, whose client refuses a plain-http endpoint that the app accepts on
    /// loopback: every issuer that can sign in can revoke.
    pub(crate) async fn revoke(&self, queued: &QueuedToken) -> Result<(), RevocationError> {
        let client_id = match &queued.origin {
            Some(origin) if origin.issuer != self.issuer.as_str() => {
                return Err(RevocationError::Refused(format!(
                    "it was issued by {}, and the app now signs in to {}",
                    origin.issuer, self.issuer
                )))
            }
            Some(origin) => origin.client_id.as_str(),
            None => self.client.client_id().as_str(),
        };
        let endpoint = self.endpoints.revocation_endpoint.as_ref().ok_or_else(|| {
            RevocationError::Refused(format!(
                "Okta's discovery document at {} has no revocation_endpoint",
                self.issuer
            ))
        })?;
        let hint = match queued.token.kind() {
            TokenKind::RefreshToken => "refresh_token",
            TokenKind::AccessToken => "access_token",
        };
        let form = [
            ("token", queued.token.secret()),
            ("token_type_hint", hint),
            ("client_id", client_id),
        ];
        let response = self
            .http
            .post(endpoint.url().clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|error| RevocationError::Unreachable(Box::new(error.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(RevocationError::Unavailable(status));
        }
        let body = response.bytes().await.unwrap_or_default();
        let said = serde_json::from_slice::<CoreRevocationErrorResponse>(&body).map_or_else(
            |_| format!("HTTP {status}"),
            |error| format!("{error} (HTTP {status})"),
        );
        Err(RevocationError::Refused(format!("Okta refused: {said}")))
    }

    /// Whether `id_token` has expired. It was verified when Okta issued it; its signature is
    /// not checked again, so that a key Okta has since rotated away does not hide the expiry.
    pub(crate) fn id_token_expired(&self, id_token: &IdToken) -> bool {
        let Ok(id_token) = id_token.secret().parse::<CoreIdToken>() else {
            return false;
        };
        let verifier = self
            .verifier(CoreJsonWebKeySet::new(Vec::new()))
            .insecure_disable_signature_check();
        matches!(
            id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
            Err(ClaimsVerificationError::Expired(_))
        )
    }

    /// Okta's end-session request (OpenID Connect RP-Initiated Logout), built by
    /// openidconnect: `id_token_hint`, `client_id`, `post_logout_redirect_uri`, `state`.
    pub(crate) fn end_session_url(
        &self,
        id_token: &IdToken,
        post_logout_redirect_uri: &Url,
        state: &Sensitive<String>,
    ) -> Result<Url, EndSessionError> {
        let endpoint = self.endpoints.end_session_endpoint.clone().ok_or_else(|| {
            EndSessionError::Misconfigured(format!(
                "Okta's discovery document at {} has no end_session_endpoint; check the issuer",
                self.issuer
            ))
        })?;
        let id_token: CoreIdToken = id_token.secret().parse().map_err(|error| {
            EndSessionError::Misconfigured(format!("the ID token is unreadable: {error}"))
        })?;
        Ok(LogoutRequest::from(endpoint)
            .set_id_token_hint(&id_token)
            .set_client_id(self.client.client_id().clone())
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
                post_logout_redirect_uri.clone(),
            ))
            .set_state(CsrfToken::new(state.expose().clone()))
            .http_get_url())
    }

    /// Asks Okta, without the browser's session cookie, whether it would accept `url`: it
    /// passes only when Okta redirects to exactly `post_logout_redirect_uri` with our `state`,
    /// or shows a page without an error (Okta's interstitial, which then redirects). Okta
    /// answers a bad `post_logout_redirect_uri` or a rejected `id_token_hint` with an error
    /// page and no redirect, and the browser would then never come back to the app. Without a
    /// session cookie, Okta has no session to end: the request changes nothing there.
    pub(crate) async fn check_end_session(
        &self,
        url: &Url,
        post_logout_redirect_uri: &Url,
        state: &Sensitive<String>,
    ) -> Result<(), EndSessionError> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            // The request URL carries the ID token: keep it out of the message.
            .map_err(|error| EndSessionError::Unreachable(Box::new(error.without_url())))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| Url::parse(location).ok());
            return match location {
                Some(location) if redirects_back(&location, post_logout_redirect_uri, state) => {
                    Ok(())
                }
                Some(mut location) => {
                    location.set_query(None);
                    Err(EndSessionError::Misconfigured(format!(
                        "Okta would send your browser to {location} instead of back to this app ({post_logout_redirect_uri})"
                    )))
                }
                None => Err(EndSessionError::Misconfigured(format!(
                    "Okta answered HTTP {status} without a valid place to go"
                ))),
            };
        }
        // An outage, not a setting to fix: the browser would get the same answer.
        if status.is_server_error() {
            return Err(EndSessionError::Unreachable(
                format!("Okta answered HTTP {status}").into(),
            ));
        }
        let page = response.text().await.unwrap_or_default();
        match (status.is_success(), OktaErrorPage::read(&page)) {
            (true, None) => Ok(()),
            (_, Some(error)) => Err(EndSessionError::Misconfigured(format!(
                "Okta refused the sign-out request for {post_logout_redirect_uri} (HTTP {status}): {error}"
            ))),
            (false, None) => Err(EndSessionError::Misconfigured(format!(
                "Okta refused the sign-out request for {post_logout_redirect_uri} (HTTP {status})"
            ))),
        }
    }

    /// Verifies `id_token` fully: signature, issuer, audience, expiry, `nonce` (when one was
    /// sent) and `at_hash`. A key the app has not seen (Okta rotated its signing key) makes it
    /// fetch Okta's keys again and verify once more. When they cannot be fetched, the
    /// connection vouches for the signature instead (verified TLS, or loopback for an http
    /// issuer on this machine), as OIDC Core 3.1.3.7 allows for an ID token that came straight
    /// from the token endpoint (every other claim is still checked): an outage of Okta's keys
    /// alone must not end a session.
    async fn verify_id_token(
        &self,
        id_token: &CoreIdToken,
        response: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> Result<UserClaims, IdTokenProblem> {
        let known = self.keys.lock().await.set.clone();
        match self.check_id_token(id_token, response, nonce, Some(known)) {
            Err(IdTokenProblem::UnknownKey) => {
                let keys = self.refetch_keys().await;
                if keys.is_none() {
                    tracing::warn!("the ID token's signing key is unknown and Okta's keys cannot be fetched; the connection to Okta's token endpoint vouches for it");
                }
                self.check_id_token(id_token, response, nonce, keys)
            }
            verified => verified,
        }
    }

    /// Checks `id_token`, its signature with `keys` (none: the signature is not checked, and
    /// neither is `at_hash`, which needs the signing key).
    fn check_id_token(
        &self,
        id_token: &CoreIdToken,
        response: &CoreTokenResponse,
        nonce: Option<&Nonce>,
        keys: Option<CoreJsonWebKeySet>,
    ) -> Result<UserClaims, IdTokenProblem> {
        let signature_checked = keys.is_some();
        let verifier = match keys {
            Some(keys) => self.verifier(keys),
            None => self
                .verifier(CoreJsonWebKeySet::new(Vec::new()))
                .insecure_disable_signature_check(),
        };
        let claims: &CoreIdTokenClaims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce),
            // A refreshed ID token carries no nonce of ours to check.
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|error| match error {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => IdTokenProblem::UnknownKey,
            ClaimsVerificationError::InvalidIssuer(_) => IdTokenProblem::OtherIssuer,
            error => IdTokenProblem::Invalid(Box::new(error)),
        })?;
        if let Some(expected) = claims.access_token_hash().filter(|_| signature_checked) {
            let invalid = |error: BoxError| IdTokenProblem::Invalid(error);
            let algorithm = id_token
                .signing_alg()
                .map_err(|error| invalid(Box::new(error)))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|error| invalid(Box::new(error)))?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|error| invalid(Box::new(error)))?;
            if &actual != expected {
                return Err(invalid(
                    "the ID token's at_hash does not match the access token".into(),
                ));
            }
        }
        Ok(user_claims(claims))
    }

    /// This client's ID token verifier with `keys`: issuer compared as a string, audience
    /// this client.
    fn verifier(&self, keys: CoreJsonWebKeySet) -> CoreIdTokenVerifier<'static> {
        CoreIdTokenVerifier::new_public_client(
            self.client.client_id().clone(),
            self.issuer_url.clone(),
            keys,
        )
    }

    /// Okta's signing keys after a token named one the app has not seen: fetched again,
    /// unless such a fetch succeeded less than [`KEY_REFETCH_INTERVAL`] ago (then the keys as
    /// they are, which that fetch may have brought up to date: a token whose key they lack is
    /// signed with a key Okta does not publish). The limit keeps the app's own retries from
    /// asking Okta for its keys over and over. `None` when Okta's keys cannot be fetched.
    async fn refetch_keys(&self) -> Option<CoreJsonWebKeySet> {
        let mut keys = self.keys.lock().await;
        if keys
            .refetched_at
            .is_some_and(|at| at.elapsed() < KEY_REFETCH_INTERVAL)
        {
            tracing::warn!("a token names an unknown signing key; Okta's keys were fetched again less than a minute ago");
            return Some(keys.set.clone());
        }
        match JsonWebKeySet::fetch_async(&self.jwks_uri, &self.http).await {
            Ok(set) => {
                tracing::info!("a token names an unknown signing key; fetched Okta's keys again");
                keys.set = set;
                keys.refetched_at = Some(Instant::now());
                Some(keys.set.clone())
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "could not fetch Okta's signing keys again");
                None
            }
        }
    }
}

/// Why an ID token was not accepted.
#[derive(Debug, thiserror::Error)]
enum IdTokenProblem {
    /// It is signed with a key that is not among Okta's keys as the app knows them.
    #[error("the ID token is signed with a key Okta does not publish")]
    UnknownKey,
    /// It names another issuer.
    #[error("the ID token names another issuer")]
    OtherIssuer,
    /// It failed another check.
    #[error(transparent)]
    Invalid(BoxError),
}

impl From<IdTokenProblem> for SessionError {
    fn from(problem: IdTokenProblem) -> Self {
        SessionError::InvalidIdToken(Box::new(problem))
    }
}

/// A token request (code exchange or refresh) that failed; when Okta answered but the app
/// cannot use the answer, the tokens it issued, which are live (and may have replaced the
/// refresh token), to be revoked.
pub(crate) struct GrantError {
    /// What went wrong.
    pub(crate) error: SessionError,
    /// The tokens Okta issued with an answer the app cannot use.
    pub(crate) issued: Option<SessionTokens>,
}

impl From<SessionError> for GrantError {
    fn from(error: SessionError) -> Self {
        Self {
            error,
            issued: None,
        }
    }
}

fn user_claims(claims: &CoreIdTokenClaims) -> UserClaims {
    UserClaims {
        subject: claims.subject().to_string(),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.to_string()),
        email: claims.email().map(|email| email.to_string()),
        username: claims
            .preferred_username()
            .map(|username| username.to_string()),
    }
}

/// With a DPoP key, the tokens must come back bound to it (`token_type` `DPoP`, RFC 9449
/// §5): a server that ignored the proof issued bearer tokens that anyone holding them can use.
fn check_binding(response: &CoreTokenResponse, dpop: Option<&DpopKey>) -> Result<(), SessionError> {
    let token_type = response.token_type().as_ref();
    if dpop.is_none() || token_type.eq_ignore_ascii_case("DPoP") {
        return Ok(());
    }
    Err(SessionError::NotDpopBound {
        token_type: token_type.to_owned(),
    })
}

/// The HTTP client of token requests. Without a DPoP key, the IdP's client itself. With one,
/// each request carries a fresh proof with the server's latest nonce, and goes once more when
/// the server answers that it wants a new one (`400 use_dpop_nonce` with a `DPoP-Nonce`
/// header, RFC 9449 §8). Never follows redirects, like the client it wraps.
struct TokenClient<'a> {
    http: &'a reqwest::Client,
    dpop: Option<&'a DpopKey>,
    nonce: &'a NonceCache,
}

impl<'c> AsyncHttpClient<'c> for TokenClient<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        let Some(key) = self.dpop else {
            return self.http.call(request);
        };
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // The form holds the code and verifier, or the refresh token: this copy, kept for
            // a second attempt, is wiped.
            let body = Zeroizing::new(body);
            let url = Url::parse(&parts.uri.to_string())
                .map_err(|error| HttpClientError::Other(error.to_string()))?;
            let mut asked_for_nonce = false;
            loop {
                let proof = key
                    .proof(parts.method.as_str(), &url, self.nonce.current().as_deref())
                    .map_err(|error| HttpClientError::Other(error_chain(&error)))?;
                let mut attempt = HttpRequest::new(body.to_vec());
                *attempt.method_mut() = parts.method.clone();
                *attempt.uri_mut() = parts.uri.clone();
                *attempt.headers_mut() = parts.headers.clone();
                attempt.headers_mut().insert(
                    dpop::PROOF_HEADER,
                    proof.parse().map_err(|_| {
                        HttpClientError::Other("a DPoP proof is not a header".into())
                    })?,
                );
                let response = self.http.call(attempt).await?;
                let nonce_given = self.nonce.remember(response.headers());
                if nonce_given && !asked_for_nonce && wants_new_nonce(&response) {
                    asked_for_nonce = true;
                    continue;
                }
                return Ok(response);
            }
        })
    }
}

/// Whether a token endpoint's answer is `400 use_dpop_nonce`.
fn wants_new_nonce(response: &HttpResponse) -> bool {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
    }
    response.status() == reqwest::StatusCode::BAD_REQUEST
        && serde_json::from_slice::<OAuthError>(response.body())
            .is_ok_and(|answer| answer.error == "use_dpop_nonce")
}

fn tokens_from(
    response: &CoreTokenResponse,
    id_token: &CoreIdToken,
    previous_refresh_token: Option<&RefreshToken>,
) -> SessionTokens {
    let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
    SessionTokens {
        access_token: AccessToken::new(response.access_token().secret().clone()),
        access_expires_at: SystemTime::now() + lifetime,
        refresh_token: response
            .refresh_token()
            .map(|token| RefreshToken::new(token.secret().clone()))
            .or_else(|| previous_refresh_token.cloned()),
        id_token: IdToken::new(id_token.to_string()),
    }
}

/// Maps a token endpoint failure: `invalid_grant` means the grant (code or refresh token) is
/// dead; a transport failure means the IdP could not be reached.
fn token_error<RE: std::error::Error + Send + Sync + 'static>(
    error: RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> SessionError {
    use openidconnect::core::CoreErrorResponseType;
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            CoreErrorResponseType::InvalidGrant => SessionError::GrantRejected {
                description: response.error_description().cloned(),
            },
            other => SessionError::IdpError {
                code: other.to_string(),
                description: response.error_description().cloned(),
            },
        },
        RequestTokenError::Request(error) => SessionError::Network(Box::new(error)),
        // The body is not kept: a token response may carry tokens.
        RequestTokenError::Parse(error, _body) => SessionError::Network(Box::new(error)),
        RequestTokenError::Other(message) => SessionError::Network(message.into()),
    }
}
/// Whether `location` is `post_logout_redirect_uri` exactly, with our `state` and nothing
/// that contradicts it.
fn redirects_back(
    location: &Url,
    post_logout_redirect_uri: &Url,
    state: &Sensitive<String>,
) -> bool {
    let mut without_query = location.clone();
    without_query.set_query(None);
    let states: Vec<_> = location
        .query_pairs()
        .filter(|(name, _)| name == "state")
        .map(|(_, value)| value)
        .collect();
    without_query == *post_logout_redirect_uri
        && states.len() == 1
        && states[0] == state.expose().as_str()
        && !location.query_pairs().any(|(name, _)| name == "error")
}

/// The OAuth error on one of Okta's error pages: its "Error Code" and "Description" fields.
struct OktaErrorPage {
    code: String,
    description: Option<String>,
}

impl OktaErrorPage {
    /// The error `page` shows, if it shows one.
    fn read(page: &str) -> Option<Self> {
        let text = page_text(page);
        let field = |label: &str| {
            let start = text.find(label)? + label.len();
            let rest = &text[start..];
            // A field ends where the next one begins.
            let end = ["Error Code:", "Description:"]
                .iter()
                .filter_map(|next| rest.find(next))
                .min()
                .unwrap_or(rest.len());
            Some(rest[..end].trim().to_owned()).filter(|value| !value.is_empty())
        };
        Some(Self {
            code: field("Error Code:")?,
            description: field("Description:"),
        })
    }
}

impl std::fmt::Display for OktaErrorPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(description) => write!(f, "{}: {description}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

/// The visible text of an HTML `page`: tags, scripts and styles dropped, the common entities
/// decoded, whitespace collapsed.
fn page_text(page: &str) -> String {
    let mut text = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        let skipped = ["<script", "<style"]
            .iter()
            .find(|name| {
                tag.get(..name.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(name))
            })
            .and_then(|name| {
                let close = format!("</{}", &name[1..]);
                tag.to_ascii_lowercase().find(&close)
            });
        let from = skipped.unwrap_or(0);
        rest = match tag[from..].find('>') {
            Some(close) => &tag[from + close + 1..],
            None => "",
        };
    }
    text.push_str(rest);
    let decoded = text
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_certificate_names_what_to_fix() {
        use rustls::CertificateError as Refused;
        for (refused, problem) in [
            (Refused::UnknownIssuer, CertificateProblem::UnknownCa),
            (Refused::Expired, CertificateProblem::OutsideValidity),
            (Refused::NotValidYet, CertificateProblem::OutsideValidity),
            (Refused::NotValidForName, CertificateProblem::OtherHost),
            (Refused::Revoked, CertificateProblem::Other),
        ] {
            assert_eq!(CertificateProblem::of(&refused), problem, "{refused:?}");
        }
        let expired = SessionError::UntrustedCertificate {
            issuer: "https://example.okta.com".into(),
            problem: CertificateProblem::OutsideValidity,
            source: "expired".into(),
        };
        assert!(expired
            .to_string()
            .contains("check this computer's date and time"));
    }

    /// A token endpoint on 127.0.0.1 that always answers `400 use_dpop_nonce` with a new nonce,
    /// and the proofs it got.
    async fn nonce_demanding_endpoint() -> (Url, Arc<std::sync::Mutex<Vec<String>>>) {
        use axum::http::HeaderMap;
        let proofs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = proofs.clone();
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(move |headers: HeaderMap| async move {
                let mut seen = seen.lock().unwrap();
                seen.push(headers["dpop"].to_str().unwrap().to_owned());
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    [(dpop::NONCE_HEADER, format!("nonce-{}", seen.len()))],
                    r#"{"error": "use_dpop_nonce"}"#,
                )
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, proofs)
    }

    /// The claims of a proof, unverified.
    fn claims(proof: &str) -> serde_json::Value {
        use base64::Engine as _;
        let payload = proof.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[tokio::test]
    async fn a_request_goes_once_more_with_the_nonce_asked_for_and_no_more() {
        let (url, proofs) = nonce_demanding_endpoint().await;
        let http = reqwest::Client::new();
        let key = DpopKey::generate().unwrap();
        let nonce = NonceCache::default();
        let client = TokenClient {
            http: &http,
            dpop: Some(&key),
            nonce: &nonce,
        };
        let mut request = HttpRequest::new(b"grant_type=refresh_token".to_vec());
        *request.method_mut() = openidconnect::http::Method::POST;
        *request.uri_mut() = url.as_str().parse().unwrap();
        let response = client.call(request).await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
        let proofs = proofs.lock().unwrap();
        assert_eq!(proofs.len(), 2, "one retry, not a loop");
        let (first, second) = (claims(&proofs[0]), claims(&proofs[1]));
        assert!(first.get("nonce").is_none());
        assert_eq!(second["nonce"], "nonce-1");
        assert_ne!(first["jti"], second["jti"]);
        assert_eq!(
            nonce.current().as_deref(),
            Some("nonce-2"),
            "the latest is kept"
        );
    }

    #[test]
    fn an_error_page_is_read_from_its_fields() {
        let okta = "<html><head><style>p { color: red }</style><script>var x = '<p>Error Code: no</p>';</script></head>\
            <body><h2>Identity Provider:</h2><p>Error Code: <b>invalid_request</b></p>\n\
            <p>Description: The &#39;post_logout_redirect_uri&#39; parameter must be a Logout redirect URI in the client app settings: https://example-admin.okta.com/admin/app/oidc_client/instance/0oa1</p></body></html>";
        let error = OktaErrorPage::read(okta).unwrap();
        assert_eq!(error.code, "invalid_request");
        assert_eq!(
            error.to_string(),
            "invalid_request: The 'post_logout_redirect_uri' parameter must be a Logout redirect \
             URI in the client app settings: https://example-admin.okta.com/admin/app/oidc_client/instance/0oa1"
        );
        assert!(OktaErrorPage::read("<p>You have been signed out.</p>").is_none());
        assert!(OktaErrorPage::read("<p>Error Code:</p>").is_none());
        assert_eq!(
            OktaErrorPage::read("<p>Error Code: server_error</p>")
                .unwrap()
                .to_string(),
            "server_error"
        );
    }

    #[test]
    fn only_the_exact_post_logout_redirect_with_our_state_counts() {
        let uri = Url::parse("com.example.app:/logout/callback").unwrap();
        let state = Sensitive::new("s1".to_owned());
        let back = |location: &str| redirects_back(&Url::parse(location).unwrap(), &uri, &state);
        assert!(back("com.example.app:/logout/callback?state=s1"));
        for other in [
            "com.example.app:/logout/callback",
            "com.example.app:/logout/callback?state=s2",
            "com.example.app:/logout/callback?state=s1&state=s2",
            "com.example.app:/logout/callback?state=s1&error=access_denied",
            "com.example.app:/logout/callback/?state=s1",
            "com.example.app:/callback?state=s1",
            "https://example.okta.com/login?state=s1",
        ] {
            assert!(!back(other), "{other}");
        }
    }
}
