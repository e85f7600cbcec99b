//! The OIDC provider as the app sees it, through openidconnect: where it is
//! ([`IdentityProvider`]), the HTTP client that reaches it, discovery (with Okta's
//! `end_session_endpoint` and `revocation_endpoint`), the authorization request, the code
//! exchange with full ID token validation, refresh, revocation and the end-session request.

use std::time::{Duration, SystemTime};

use openidconnect::core::CoreRevocableToken;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError,
    ClientId, CsrfToken, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadata, RedirectUrl, RequestTokenError, RevocationUrl, Scope,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::OktaOrg;
use crate::error::{BoxError, SessionError};
use crate::secret::Sensitive;
use crate::tokens::{
    AccessToken, IdToken, RefreshToken, RevocableToken, SessionTokens, UserClaims,
};

/// Why a revocation did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RevocationError {
    /// The IdP could not be reached (offline, refused, timed out, reset).
    #[error("Okta could not be reached")]
    Unreachable(#[source] BoxError),
    /// The IdP answered, but not with success (e.g. a 5xx).
    #[error("Okta did not revoke the token")]
    Failed(#[source] BoxError),
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
    /// The issuer.
    pub issuer: Url,
    /// The app's client ID there.
    pub client_id: String,
    /// An extra trusted root certificate (PEM).
    pub extra_root_pem: Option<Vec<u8>>,
    /// How long one HTTP exchange with it may take before it counts as unreachable
    /// ([`DEFAULT_REQUEST_TIMEOUT`] unless a test needs a hang to end sooner).
    pub request_timeout: Duration,
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
        })
    }

    /// The HTTP client for every call to this IdP: it never follows redirects (a redirect
    /// from a token or revocation endpoint is an error, not a hop), and it gives up in bounded
    /// time. The extra root is trusted besides the built-in ones; TLS verification is never
    /// turned off.
    pub fn http_client(&self) -> Result<reqwest::Client, SessionError> {
        // reqwest and the mock IdP both use rustls: name the provider so neither has to guess.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT.min(self.request_timeout))
            .timeout(self.request_timeout)
            .user_agent(concat!("okta-signout/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.extra_root_pem {
            let certificate =
                reqwest::Certificate::from_pem(pem).map_err(SessionError::CaCertificate)?;
            builder = builder.add_root_certificate(certificate);
        }
        builder.build().map_err(SessionError::HttpClient)
    }
}

/// The two endpoints Okta advertises beyond OIDC Core that sign-out needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct OktaEndpoints {
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
    pub(crate) end_session_endpoint: Option<EndSessionUrl>,
    /// Token revocation (RFC 7009).
    pub(crate) revocation_endpoint: Option<RevocationUrl>,
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

/// What the browser round-trip of one sign-in needs to finish it.
pub(crate) struct AuthorizationRequest {
    /// The URL to open in the browser.
    pub(crate) url: Url,
    /// The `state` the callback must carry.
    pub(crate) state: Sensitive<String>,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// A discovered provider, ready for this app's client.
pub(crate) struct Provider {
    issuer: Url,
    client: DiscoveredClient,
    endpoints: OktaEndpoints,
    http: reqwest::Client,
}

impl Provider {
    /// Fetches `{issuer}/.well-known/openid-configuration` and the JWKS.
    pub(crate) async fn discover(
        issuer: &Url,
        client_id: &str,
        redirect_uri: &Url,
        http: reqwest::Client,
    ) -> Result<Self, SessionError> {
        let issuer_url = IssuerUrl::from_url(issuer.clone());
        let metadata = OktaProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|error| SessionError::Discovery {
                issuer: issuer.to_string(),
                source: Box::new(error),
            })?;
        let endpoints = metadata.additional_metadata().clone();
        let client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.to_owned()), None)
                .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        Ok(Self {
            issuer: issuer.clone(),
            client,
            endpoints,
            http,
        })
    }

    /// A fresh authorization request: PKCE S256, a random `state` and `nonce`.
    pub(crate) fn authorization_request(&self, scopes: &[String]) -> AuthorizationRequest {
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
        let (url, state, nonce) = request.url();
        AuthorizationRequest {
            url,
            state: Sensitive::new(state.into_secret()),
            nonce,
            verifier,
        }
    }

    /// Exchanges the code for tokens and validates the ID token fully: signature (JWKS),
    /// issuer, audience, expiry, nonce and `at_hash`.
    pub(crate) async fn exchange_code(
        &self,
        code: Sensitive<String>,
        request: AuthorizationRequest,
    ) -> Result<(SessionTokens, UserClaims), SessionError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.expose().clone()))
            .map_err(|error| self.unusable(error))?
            .set_pkce_verifier(request.verifier)
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = response.id_token().ok_or_else(|| {
            SessionError::InvalidIdToken("the token response has no ID token".into())
        })?;
        let claims = self.verify_id_token(id_token, &response, Some(&request.nonce))?;
        Ok((tokens_from(&response, id_token, None), claims))
    }

    /// Refreshes the tokens with `refresh_token`. A refresh response without a new refresh
    /// token keeps this one; without a new ID token keeps `id_token`.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        id_token: &IdToken,
    ) -> Result<(SessionTokens, Option<UserClaims>), SessionError> {
        let response = self
            .client
            .exchange_refresh_token(&openidconnect::RefreshToken::new(
                refresh_token.secret().to_owned(),
            ))
            .map_err(|error| self.unusable(error))?
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        match response.id_token() {
            Some(fresh_id_token) => {
                let claims = self.verify_id_token(fresh_id_token, &response, None)?;
                let tokens = tokens_from(&response, fresh_id_token, Some(refresh_token));
                Ok((tokens, Some(claims)))
            }
            None => {
                let id_token: CoreIdToken = id_token.secret().parse().map_err(|error| {
                    SessionError::InvalidIdToken(
                        format!("the stored ID token is unreadable: {error}").into(),
                    )
                })?;
                Ok((tokens_from(&response, &id_token, Some(refresh_token)), None))
            }
        }
    }

    /// The provider's metadata lacks what this request needs (a token endpoint).
    fn unusable(&self, error: openidconnect::ConfigurationError) -> SessionError {
        SessionError::Discovery {
            issuer: self.issuer.to_string(),
            source: Box::new(error),
        }
    }

    /// Revokes `token` at the `revocation_endpoint` (RFC 7009, with `token_type_hint` and the
    /// public client's `client_id`).
    pub(crate) async fn revoke(&self, token: &RevocableToken) -> Result<(), RevocationError> {
        let endpoint = self.endpoints.revocation_endpoint.clone().ok_or_else(|| {
            RevocationError::Failed("Okta's discovery document has no revocation_endpoint".into())
        })?;
        let token = match token {
            RevocableToken::Refresh(token) => CoreRevocableToken::from(
                openidconnect::RefreshToken::new(token.secret().to_owned()),
            ),
            RevocableToken::Access(token) => {
                CoreRevocableToken::from(openidconnect::AccessToken::new(token.secret().to_owned()))
            }
        };
        self.client
            .clone()
            .set_revocation_url(endpoint)
            .revoke_token(token)
            .map_err(|error| RevocationError::Failed(Box::new(error)))?
            .request_async(&self.http)
            .await
            .map_err(|error| match error {
                RequestTokenError::Request(error) => RevocationError::Unreachable(Box::new(error)),
                RequestTokenError::ServerResponse(response) => {
                    RevocationError::Failed(response.to_string().into())
                }
                RequestTokenError::Parse(error, _body) => RevocationError::Failed(Box::new(error)),
                RequestTokenError::Other(message) => RevocationError::Failed(message.into()),
            })
    }

    /// Whether `id_token` has expired (it is otherwise valid: signed by the IdP for us).
    pub(crate) fn id_token_expired(&self, id_token: &IdToken) -> bool {
        let Ok(id_token) = id_token.secret().parse::<CoreIdToken>() else {
            return false;
        };
        matches!(
            id_token.claims(&self.client.id_token_verifier(), |_: Option<&Nonce>| Ok(())),
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

    /// Asks Okta, without the browser's session cookie, whether it would accept `url`: Okta
    /// answers a bad `post_logout_redirect_uri` or a rejected `id_token_hint` with a 400 page
    /// and no redirect, and the browser would then never come back to the app.
    pub(crate) async fn check_end_session(
        &self,
        url: &Url,
        post_logout_redirect_uri: &Url,
    ) -> Result<(), EndSessionError> {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            // The request URL carries the ID token: keep it out of the message.
            .map_err(|error| EndSessionError::Unreachable(Box::new(error.without_url())))?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            return Ok(());
        }
        // An outage, not a setting to fix: the browser would get the same answer.
        if status.is_server_error() {
            return Err(EndSessionError::Unreachable(
                format!("Okta answered HTTP {status}").into(),
            ));
        }
        let page = response.text().await.unwrap_or_default();
        let reason = if page.contains("post_logout_redirect_uri") {
            format!("Okta does not accept the app's sign-out redirect URI: in the Okta admin console, add {post_logout_redirect_uri} to the app's Sign-out redirect URIs")
        } else if page.contains("id_token_hint") {
            "Okta does not accept the app's ID token as a sign-out hint; if your Okta org rejects expired ID tokens, sign out of Okta in your browser".to_owned()
        } else {
            format!("Okta refused the sign-out request (HTTP {status})")
        };
        Err(EndSessionError::Misconfigured(reason))
    }

    fn verify_id_token(
        &self,
        id_token: &CoreIdToken,
        response: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> Result<UserClaims, SessionError> {
        let verifier = self.client.id_token_verifier();
        let invalid = |error: BoxError| SessionError::InvalidIdToken(error);
        let claims: &CoreIdTokenClaims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce),
            // A refreshed ID token carries no nonce of ours to check.
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|error| invalid(Box::new(error)))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token
                .signing_alg()
                .map_err(|error| invalid(Box::new(error)))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|error| invalid(Box::new(error)))?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|error| invalid(Box::new(error)))?;
            if &actual != expected {
                return Err(SessionError::InvalidIdToken(
                    "the ID token's at_hash does not match the access token".into(),
                ));
            }
        }
        Ok(user_claims(claims))
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
