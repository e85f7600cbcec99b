//! The back channel: `/v1/token`, `/v1/revoke`, `/v1/introspect`, `/v1/userinfo`, `/v1/keys`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{
    basic_credentials, no_store_headers, presented_access_token, AuthServer, OAuthError,
    RequestFaults, SharedState, TokenScheme,
};
use crate::config::{ClientConfig, Config, UserConfig};
use crate::dpop::{DpopProof, ProofError, ProofTarget, ProofUse, DPOP_NONCE};
use crate::faults::Faults;
use crate::journal::Outcome;
use crate::keys::{at_hash, SigningKey};
use crate::store::{
    random_id, random_secret, token_fingerprint, RevocationEvent, RevocationResult, TokenKind,
    TokenRecord,
};

/// How a client identifies itself on the back channel: `client_id` (+ `client_secret`) in the
/// form, or HTTP Basic.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ClientIdentification {
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl ClientIdentification {
    /// The client the request claims to come from, authenticated or not (for the event log).
    fn claimed_client_id(&self, headers: &HeaderMap) -> Option<String> {
        basic_credentials(headers)
            .map(|(id, _)| id)
            .or_else(|| self.client_id.clone())
    }

    /// Okta's client authentication: secrets for confidential clients, `client_id` alone for
    /// public ones.
    fn authenticate<'a>(
        &self,
        config: &'a Config,
        headers: &HeaderMap,
    ) -> Result<&'a ClientConfig, OAuthError> {
        let (client_id, secret) = match basic_credentials(headers) {
            Some((id, secret)) => (id, Some(secret)),
            None => match &self.client_id {
                Some(id) => (id.clone(), self.client_secret.clone()),
                None => {
                    return Err(OAuthError::invalid_client(
                        "A client_id must be provided in the request.",
                    ))
                }
            },
        };
        let failed = || {
            OAuthError::invalid_client(
                "Client authentication failed. Either the client or the client credentials are invalid.",
            )
        };
        let client = config.client(&client_id).ok_or_else(failed)?;
        if client.client_secret == secret {
            Ok(client)
        } else {
            Err(failed())
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    #[serde(flatten)]
    client: ClientIdentification,
}

#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    access_token: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

pub(crate) async fn token(
    State(state): State<SharedState>,
    Extension(RequestFaults(faults)): Extension<RequestFaults>,
    server: AuthServer,
    target: ProofTarget,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, OAuthError> {
    // Up to two RSA signatures, about a millisecond of CPU: off the threads that serve the
    // other requests meanwhile.
    tokio::task::spawn_blocking(move || grant(&state, &faults, &server, &target, &headers, &form))
        .await
        .expect("a token request does not panic")
}

impl From<ProofError> for OAuthError {
    fn from(error: ProofError) -> OAuthError {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            error.error_code(),
            &error.to_string(),
        )
    }
}

fn grant(
    state: &SharedState,
    faults: &Faults,
    server: &AuthServer,
    target: &ProofTarget,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<Response, OAuthError> {
    let client = form.client.authenticate(&state.config, headers)?;
    if !client.require_dpop || faults.dpop_unsupported {
        return exchange(state, faults, server, form, client, None);
    }
    // The proof comes first: a refused one must not burn the code.
    let answer = state
        .dpop
        .verify(headers, target, ProofUse::TokenRequest)
        .map_err(OAuthError::from)
        .and_then(|proof| exchange(state, faults, server, form, client, Some(proof)));
    // Okta: the app saves the nonce from every token response, errors included.
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    let nonce = HeaderValue::from_str(&state.dpop.nonce()).expect("a nonce is base64url");
    response.headers_mut().insert(DPOP_NONCE, nonce);
    Ok(response)
}

/// The grant of `form`, for `client`; with a DPoP `proof`, the tokens are bound to its key.
fn exchange(
    state: &SharedState,
    faults: &Faults,
    server: &AuthServer,
    form: &TokenForm,
    client: &ClientConfig,
    proof: Option<DpopProof>,
) -> Result<Response, OAuthError> {
    let grant = match form.grant_type.as_deref() {
        Some("authorization_code") => code_grant(state, form, client, server, proof)?,
        Some("refresh_token") => refresh_grant(state, faults, form, client, server, proof)?,
        Some(_) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            ))
        }
        None => {
            return Err(OAuthError::invalid_request(
                "The 'grant_type' parameter is required.",
            ))
        }
    };
    let keys = state.keys.published();
    let response = issue_tokens(state, keys.signing(), server, grant);
    let response = (no_store_headers(), Json(response)).into_response();
    Ok(Outcome("issued".to_owned()).attach(response))
}

/// What a successful grant entitles the client to.
struct Grant<'a> {
    user: &'a UserConfig,
    client_id: String,
    scopes: Vec<String>,
    session_id: String,
    auth_time: OffsetDateTime,
    nonce: Option<String>,
    refresh_token: RefreshTokenPlan,
    /// The authorization the tokens belong to (see [`TokenRecord::grant_id`]).
    grant_id: String,
    /// `sub` of the ID token: the person's, unless a fault changes it.
    id_token_subject: String,
    /// `iss` of the ID token when a fault makes it another server's.
    id_token_issuer: Option<String>,
    /// The `jkt` of the DPoP key the access and refresh tokens are bound to.
    dpop_jkt: Option<String>,
}

enum RefreshTokenPlan {
    /// No `offline_access`: no refresh token.
    None,
    /// Issue a fresh refresh token expiring then.
    Issue { expires_at: OffsetDateTime },
    /// Rotation off: hand the presented refresh token back.
    Keep(String),
}

fn code_grant<'a>(
    state: &'a SharedState,
    form: &TokenForm,
    client: &ClientConfig,
    server: &AuthServer,
    proof: Option<DpopProof>,
) -> Result<Grant<'a>, OAuthError> {
    let code = form
        .code
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("The 'code' parameter is required."))?;
    let invalid_code =
        || OAuthError::invalid_grant("The authorization code is invalid or has expired.");
    // Redeeming consumes the code, so any failure below still burns it, like Okta.
    let issued = state
        .store()
        .redeem_code(code)
        .map_err(|_| invalid_code())?;
    let request = issued.request;
    if request.client_id != client.client_id || request.server != *server {
        return Err(invalid_code());
    }
    if form.redirect_uri.as_deref() != Some(request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        ));
    }
    if let Some(challenge) = &request.code_challenge {
        let verifier = form.code_verifier.as_deref().ok_or_else(|| {
            OAuthError::invalid_grant("PKCE verification failed: code_verifier is required.")
        })?;
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if &computed != challenge {
            return Err(OAuthError::invalid_grant("PKCE verification failed."));
        }
    }
    let user = state
        .config
        .user(&issued.session.username)
        .ok_or_else(invalid_code)?;
    let refresh_token = if request.scopes.iter().any(|scope| scope == "offline_access") {
        RefreshTokenPlan::Issue {
            expires_at: OffsetDateTime::now_utc() + state.lifetimes().refresh_token(),
        }
    } else {
        RefreshTokenPlan::None
    };
    Ok(Grant {
        user,
        client_id: request.client_id,
        scopes: request.scopes,
        session_id: issued.session.id,
        auth_time: issued.session.created,
        nonce: request.nonce,
        refresh_token,
        grant_id: random_id("grant."),
        id_token_subject: user.sub.clone(),
        id_token_issuer: None,
        dpop_jkt: proof.map(|proof| proof.jkt),
    })
}

fn refresh_grant<'a>(
    state: &'a SharedState,
    faults: &Faults,
    form: &TokenForm,
    client: &ClientConfig,
    server: &AuthServer,
    proof: Option<DpopProof>,
) -> Result<Grant<'a>, OAuthError> {
    let presented = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("The 'refresh_token' parameter is required."))?;
    let invalid = || OAuthError::invalid_grant("The refresh token is invalid or expired.");
    let lifetimes = state.lifetimes();
    let issuer = server.issuer(&state.urls);
    let now = OffsetDateTime::now_utc();
    let mut store = state.store();
    let record = store
        .token(presented)
        .filter(|record| {
            record.kind == TokenKind::Refresh
                && record.client_id == client.client_id
                && record.issuer == issuer
        })
        .cloned()
        .ok_or_else(invalid)?;
    // Only the holder of its key may use a bound refresh token, so a thief cannot set off
    // reuse detection either; it stays bound when DPoP is no longer in force for the client
    // (RFC 9449 §5), so a request without a proof cannot downgrade it to bearer tokens.
    match (&record.dpop_jkt, &proof) {
        (Some(bound), Some(proof)) if *bound != proof.jkt => {
            return Err(ProofError::RefreshTokenKey.into())
        }
        (Some(_), None) => return Err(ProofError::Missing.into()),
        _ => {}
    }
    if record.is_reuse_after_grace(now) {
        tracing::info!("refresh token reuse after the grace period: revoking the grant");
        store.revoke_grant(&record.grant_id);
        return Err(invalid());
    }
    if !record.is_usable(now) {
        return Err(invalid());
    }
    let scopes = match form.scope.as_deref() {
        None => record.scopes.clone(),
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            if requested.iter().any(|scope| !record.scopes.contains(scope)) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The requested scope is invalid, unknown, or malformed.",
                ));
            }
            requested
        }
    };
    let refresh_token = if lifetimes.refresh_token_rotation {
        // A rotated token presented again within its grace period gets a fresh set too (the
        // grant's newest refresh token is rotated in turn); the new one keeps the expiry.
        store.rotate_refresh_tokens(&record.grant_id, now + lifetimes.refresh_token_grace());
        RefreshTokenPlan::Issue {
            expires_at: record.expires_at,
        }
    } else {
        RefreshTokenPlan::Keep(presented.to_owned())
    };
    let user = state.config.user(&record.username).ok_or_else(invalid)?;
    let id_token_subject = if faults.refresh_changes_subject {
        another_subject(&state.config, user)
    } else {
        user.sub.clone()
    };
    Ok(Grant {
        user,
        client_id: record.client_id,
        scopes,
        session_id: record.session_id,
        auth_time: record.auth_time,
        nonce: None,
        refresh_token,
        grant_id: record.grant_id,
        id_token_subject,
        id_token_issuer: faults
            .refresh_changes_issuer
            .then(|| server.another().issuer(&state.urls)),
        dpop_jkt: proof.map(|proof| proof.jkt),
    })
}

/// A `sub` that is not `user`'s: another configured person's, or a made-up one.
fn another_subject(config: &Config, user: &UserConfig) -> String {
    config
        .users
        .iter()
        .map(|other| &other.sub)
        .find(|sub| **sub != user.sub)
        .cloned()
        .unwrap_or_else(|| format!("{}-other", user.sub))
}

#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    ver: u8,
    jti: String,
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    cid: &'a str,
    uid: &'a str,
    scp: &'a [String],
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

/// RFC 9449 §6.1: the DPoP key an access token is bound to.
#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    ver: u8,
    jti: String,
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    exp: i64,
    auth_time: i64,
    amr: [&'static str; 1],
    sid: &'a str,
    at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

fn issue_tokens(
    state: &SharedState,
    key: &SigningKey,
    server: &AuthServer,
    grant: Grant<'_>,
) -> TokenResponse {
    let lifetimes = state.lifetimes();
    let now = OffsetDateTime::now_utc();
    let issuer = server.issuer(&state.urls);
    let audience = server.audience(&state.urls);
    let has_scope = |wanted: &str| grant.scopes.iter().any(|scope| scope == wanted);
    let record = |kind, value: &str, expires_at, refresh_fingerprint| TokenRecord {
        fingerprint: token_fingerprint(value),
        kind,
        client_id: grant.client_id.clone(),
        username: grant.user.username.clone(),
        issuer: issuer.clone(),
        audience: audience.clone(),
        scopes: grant.scopes.clone(),
        session_id: grant.session_id.clone(),
        auth_time: grant.auth_time,
        issued_at: now,
        expires_at,
        revoked: false,
        refresh_fingerprint,
        grant_id: grant.grant_id.clone(),
        rotated_grace_until: None,
        retired: false,
        // ID tokens are not bound (RFC 9449 binds access and refresh tokens).
        dpop_jkt: grant.dpop_jkt.clone().filter(|_| kind != TokenKind::Id),
    };

    let refresh_token = match grant.refresh_token {
        RefreshTokenPlan::None => None,
        RefreshTokenPlan::Keep(ref value) => Some(value.clone()),
        RefreshTokenPlan::Issue { expires_at } => {
            let value = random_secret();
            state
                .store()
                .record_token(record(TokenKind::Refresh, &value, expires_at, None));
            Some(value)
        }
    };

    let access_expires_at = now + lifetimes.access_token();
    let access_token = match server {
        // Okta's org server access tokens are for Okta alone; clients must treat them as
        // opaque, so the mock makes them opaque and an app that decodes them fails here.
        AuthServer::Org => random_secret(),
        AuthServer::Custom(_) => key.sign(&AccessTokenClaims {
            ver: 1,
            jti: random_id("AT."),
            iss: &issuer,
            aud: &audience,
            sub: &grant.user.username,
            iat: now.unix_timestamp(),
            exp: access_expires_at.unix_timestamp(),
            cid: &grant.client_id,
            uid: &grant.user.sub,
            scp: &grant.scopes,
            auth_time: grant.auth_time.unix_timestamp(),
            cnf: grant.dpop_jkt.as_deref().map(|jkt| Confirmation { jkt }),
        }),
    };
    state.store().record_token(record(
        TokenKind::Access,
        &access_token,
        access_expires_at,
        refresh_token.as_deref().map(token_fingerprint),
    ));

    let id_token = has_scope("openid").then(|| {
        let expires_at = now + lifetimes.id_token();
        let profile = has_scope("profile");
        let email = has_scope("email");
        let id_token = key.sign(&IdTokenClaims {
            ver: 1,
            jti: random_id("ID."),
            iss: grant.id_token_issuer.as_deref().unwrap_or(&issuer),
            aud: &grant.client_id,
            sub: &grant.id_token_subject,
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            auth_time: grant.auth_time.unix_timestamp(),
            amr: ["pwd"],
            sid: &grant.session_id,
            at_hash: at_hash(&access_token),
            nonce: grant.nonce.as_deref(),
            name: profile.then_some(grant.user.name.as_str()),
            preferred_username: profile.then_some(grant.user.username.as_str()),
            email: email.then_some(grant.user.email.as_str()),
            email_verified: email.then_some(true),
        });
        state
            .store()
            .record_token(record(TokenKind::Id, &id_token, expires_at, None));
        id_token
    });

    TokenResponse {
        token_type: token_type(grant.dpop_jkt.is_some()),
        expires_in: lifetimes.access_token_secs,
        access_token,
        scope: grant.scopes.join(" "),
        refresh_token,
        id_token,
    }
}

/// How an access token is used: `DPoP` when bound to a key (RFC 9449 §5), else `Bearer`.
fn token_type(dpop_bound: bool) -> &'static str {
    if dpop_bound {
        "DPoP"
    } else {
        "Bearer"
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenLookupForm {
    token: Option<String>,
    token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientIdentification,
}

/// RFC 7009 as Okta does it: 200 with an empty body whenever the client is authenticated.
pub(crate) async fn revoke(
    State(state): State<SharedState>,
    server: AuthServer,
    headers: HeaderMap,
    Form(form): Form<TokenLookupForm>,
) -> Response {
    let (result, response) = revoke_outcome(&state, &server, &headers, &form);
    state.store().record_revocation(RevocationEvent {
        time: OffsetDateTime::now_utc(),
        token_fingerprint: form.token.as_deref().map(token_fingerprint),
        token_type_hint: form.token_type_hint.clone(),
        client_id: form.client.claimed_client_id(&headers),
        result,
    });
    Outcome::named(&result).attach(response)
}

fn revoke_outcome(
    state: &SharedState,
    server: &AuthServer,
    headers: &HeaderMap,
    form: &TokenLookupForm,
) -> (RevocationResult, Response) {
    let client = match form.client.authenticate(&state.config, headers) {
        Ok(client) => client,
        Err(error) => return (RevocationResult::InvalidClient, error.into_response()),
    };
    let Some(token) = form.token.as_deref() else {
        let error = OAuthError::invalid_request("The 'token' parameter is required.");
        return (RevocationResult::InvalidRequest, error.into_response());
    };
    if !matches!(
        form.token_type_hint.as_deref(),
        None | Some("access_token" | "refresh_token")
    ) {
        let error = OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_token_type",
            "The authorization server does not support the revocation of the presented token type.",
        );
        return (RevocationResult::InvalidRequest, error.into_response());
    }
    let issuer = server.issuer(&state.urls);
    let mut store = state.store();
    let found = store
        .token(token)
        .filter(|record| {
            record.kind != TokenKind::Id
                && record.client_id == client.client_id
                && record.issuer == issuer
        })
        .map(|record| {
            (
                record.fingerprint.clone(),
                record.is_usable(OffsetDateTime::now_utc()),
            )
        });
    let result = match found {
        Some((fingerprint, true)) => {
            store.revoke(&fingerprint);
            RevocationResult::Revoked
        }
        Some((_, false)) => RevocationResult::AlreadyInactive,
        None => RevocationResult::Unknown,
    };
    (result, StatusCode::OK.into_response())
}

/// RFC 7662: `{"active": false}` for anything not usable by this client.
pub(crate) async fn introspect(
    State(state): State<SharedState>,
    server: AuthServer,
    headers: HeaderMap,
    Form(form): Form<TokenLookupForm>,
) -> Result<Response, OAuthError> {
    let client = form.client.authenticate(&state.config, &headers)?;
    let token = form
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("The 'token' parameter is required."))?;
    let issuer = server.issuer(&state.urls);
    let store = state.store();
    let active = store.token(token).filter(|record| {
        record.client_id == client.client_id
            && record.issuer == issuer
            && record.is_usable(OffsetDateTime::now_utc())
    });
    let body = match active {
        None => serde_json::json!({ "active": false }),
        Some(record) => {
            let token_type = match record.kind {
                TokenKind::Access => token_type(record.dpop_jkt.is_some()),
                TokenKind::Refresh => "refresh_token",
                TokenKind::Id => "id_token",
            };
            let sub = state
                .config
                .user(&record.username)
                .map_or(record.username.as_str(), |user| user.sub.as_str());
            let mut body = serde_json::json!({
                "active": true,
                "token_type": token_type,
                "scope": record.scopes.join(" "),
                "client_id": record.client_id,
                "username": record.username,
                "sub": sub,
                "iss": record.issuer,
                "aud": record.audience,
                "iat": record.issued_at.unix_timestamp(),
                "exp": record.expires_at.unix_timestamp(),
            });
            // RFC 9449 §6.2: the key a bound token is for.
            if let Some(jkt) = &record.dpop_jkt {
                body["cnf"] = serde_json::json!({ "jkt": jkt });
            }
            body
        }
    };
    Ok((no_store_headers(), Json(body)).into_response())
}

/// The OIDC UserInfo endpoint: claims for the scopes of a live access token, presented as
/// `Bearer`, or as `DPoP` with a proof by its key when it is DPoP-bound.
pub(crate) async fn userinfo(
    State(state): State<SharedState>,
    server: AuthServer,
    target: ProofTarget,
    headers: HeaderMap,
) -> Response {
    let (record, user) = match token_holder(&state, &server, &target, &headers) {
        Ok(holder) => holder,
        Err(refusal) => return refusal.into_response(),
    };
    let has_scope = |wanted: &str| record.scopes.iter().any(|scope| scope == wanted);
    let mut claims = serde_json::json!({ "sub": user.sub });
    if has_scope("profile") {
        claims["name"] = user.name.clone().into();
        claims["preferred_username"] = user.username.clone().into();
    }
    if has_scope("email") {
        claims["email"] = user.email.clone().into();
        claims["email_verified"] = true.into();
    }
    (no_store_headers(), Json(claims)).into_response()
}

/// The live access token of the request and its person, or why it is refused.
fn token_holder<'a>(
    state: &'a SharedState,
    server: &AuthServer,
    target: &ProofTarget,
    headers: &HeaderMap,
) -> Result<(TokenRecord, &'a UserConfig), Unauthorized> {
    let (scheme, token) =
        presented_access_token(headers).ok_or_else(|| invalid_token(TokenScheme::Bearer))?;
    let issuer = server.issuer(&state.urls);
    let record = state
        .store()
        .token(token)
        .filter(|record| {
            record.kind == TokenKind::Access
                && record.issuer == issuer
                && record.is_usable(OffsetDateTime::now_utc())
        })
        .cloned()
        .ok_or_else(|| invalid_token(scheme))?;
    let user = state
        .config
        .user(&record.username)
        .ok_or_else(|| invalid_token(scheme))?;
    match (scheme, &record.dpop_jkt) {
        (TokenScheme::Bearer, None) => {}
        (TokenScheme::Dpop, Some(bound)) => {
            let proof = state
                .dpop
                .verify(
                    headers,
                    target,
                    ProofUse::Resource {
                        access_token: token,
                    },
                )
                .map_err(invalid_proof)?;
            if proof.jkt != *bound {
                return Err(invalid_proof(ProofError::AccessTokenKey));
            }
        }
        // A bound token as Bearer would let anyone who saw it use it (RFC 9449 §7.2); an
        // unbound one has no key to prove.
        (TokenScheme::Bearer, Some(_)) | (TokenScheme::Dpop, None) => {
            return Err(invalid_token(TokenScheme::Dpop))
        }
    }
    Ok((record, user))
}

/// A refused access token: 401 with the `WWW-Authenticate` challenge of `scheme` (RFC 6750
/// §3, RFC 9449 §7.1).
struct Unauthorized {
    scheme: TokenScheme,
    error: &'static str,
    description: String,
}

fn invalid_token(scheme: TokenScheme) -> Unauthorized {
    Unauthorized {
        scheme,
        error: "invalid_token",
        description: "The access token is invalid.".to_owned(),
    }
}

fn invalid_proof(error: ProofError) -> Unauthorized {
    Unauthorized {
        scheme: TokenScheme::Dpop,
        error: error.error_code(),
        description: error.to_string(),
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let scheme = match self.scheme {
            TokenScheme::Bearer => "Bearer",
            TokenScheme::Dpop => "DPoP",
        };
        let challenge = format!(
            "{scheme} error=\"{}\", error_description=\"{}\"",
            self.error, self.description
        );
        let response = (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
        Outcome(self.error.to_owned()).attach(response)
    }
}

/// The JWKS of every published key.
pub(crate) async fn keys(State(state): State<SharedState>, _server: AuthServer) -> Response {
    Json(state.keys.published().jwks()).into_response()
}
