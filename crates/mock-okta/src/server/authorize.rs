//! `/v1/authorize` and the sign-in form: client and redirect checks, PKCE, the browser session
//! and the one-time authorization code.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use time::OffsetDateTime;

use super::{found, session_cookie, start_session_cookie, with_query, AuthServer, SharedState};
use crate::faults::AuthorizationResponseIss;
use crate::pages;
use crate::store::{Authentication, AuthorizationRequest, Session};

/// Scopes every authorization server offers.
pub(crate) const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
}

/// An authorize error that goes back to the app, on its (verified) redirect URI.
struct ErrorRedirect<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: Option<String>,
}

impl ErrorRedirect<'_> {
    fn send(&self, error: &str, description: &str) -> Response {
        found(&with_query(
            self.redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(description)),
                ("state", self.state),
                ("iss", self.issuer.as_deref()),
            ],
        ))
    }
}

/// RFC 9207's `iss` for an authorization response of `server`, as the fault switch has it.
fn response_issuer(state: &SharedState, server: &AuthServer) -> Option<String> {
    match state.faults().authorization_response_iss {
        AuthorizationResponseIss::Sent => Some(server.issuer(&state.urls)),
        AuthorizationResponseIss::NotSupported | AuthorizationResponseIss::Omitted => None,
        AuthorizationResponseIss::OtherIssuer => Some(server.another().issuer(&state.urls)),
    }
}

pub(crate) async fn authorize(
    State(state): State<SharedState>,
    server: AuthServer,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    // Without a known client and one of its redirect URIs there is nowhere safe to send an
    // error, so Okta shows a page instead.
    let Some(client) = params
        .client_id
        .as_deref()
        .and_then(|id| state.config.client(id))
    else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Invalid value for 'client_id' parameter.",
        );
    };
    let Some(redirect_uri) = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uris.iter().any(|known| known == uri))
    else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings",
        );
    };
    let reply = ErrorRedirect {
        redirect_uri,
        state: params.state.as_deref(),
        issuer: response_issuer(&state, &server),
    };

    if params.response_type.as_deref() != Some("code") {
        return reply.send(
            "unsupported_response_type",
            "The response type is not supported by the authorization server. Configured response types: [code].",
        );
    }
    let scopes: Vec<String> = params
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return reply.send("invalid_scope", "The 'scope' parameter is required.");
    }
    if scopes
        .iter()
        .any(|scope| !SUPPORTED_SCOPES.contains(&scope.as_str()))
    {
        return reply.send(
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        );
    }
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, _) if client.is_public() => {
            return reply.send(
                "invalid_request",
                "PKCE code challenge is required when the token endpoint authentication method is 'NONE'.",
            )
        }
        (None, _) => None,
        (Some(challenge), Some("S256")) if is_valid_s256_challenge(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return reply.send("invalid_request", "The PKCE code challenge is invalid.")
        }
        (Some(_), _) => {
            return reply.send(
                "invalid_request",
                "The 'code_challenge_method' parameter must be 'S256'.",
            )
        }
    };
    let prompt = params.prompt.as_deref();
    if !matches!(prompt, None | Some("none" | "login" | "consent")) {
        return reply.send("invalid_request", "Invalid value for 'prompt' parameter.");
    }
    let max_age = match params.max_age.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(seconds)) => Some(time::Duration::seconds(seconds.into())),
        Some(Err(_)) => {
            return reply.send("invalid_request", "Invalid value for 'max_age' parameter.")
        }
    };

    let request = AuthorizationRequest {
        server,
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge,
    };
    let session = session_cookie(&headers).and_then(|cookie| state.store().session(&cookie));
    let reauthenticate = session
        .as_ref()
        .zip(max_age)
        .is_some_and(|(session, max_age)| authenticated_too_long_ago(session, max_age));
    match (prompt, session) {
        (Some("login"), _) => show_sign_in(&state, request),
        (Some("none"), None) => reply.send(
            "login_required",
            "The client specified not to prompt, but the user is not logged in.",
        ),
        (Some("none"), Some(_)) if reauthenticate => reply.send(
            "login_required",
            "The client specified not to prompt, but the user must authenticate again.",
        ),
        // Like prompt=login, whatever auto_login says: the person must authenticate again.
        (_, Some(_)) if reauthenticate => show_sign_in(&state, request),
        (_, Some(session)) => redirect_with_code(&state, request, session, None),
        (_, None) => match state.config.auto_login.clone() {
            Some(username) => {
                let (cookie, session) = state.store().create_session(
                    &username,
                    Authentication::AutoLogin,
                    Some(&request.client_id),
                );
                redirect_with_code(&state, request, session, Some(&cookie))
            }
            None => show_sign_in(&state, request),
        },
    }
}

/// OIDC Core 3.1.2.1: with `max_age`, a session whose authentication is older must
/// authenticate again; `max_age=0` always does.
fn authenticated_too_long_ago(session: &Session, max_age: time::Duration) -> bool {
    max_age.is_zero() || OffsetDateTime::now_utc() - session.created > max_age
}

/// RFC 7636: an S256 challenge is 43 base64url characters.
fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn show_sign_in(state: &SharedState, request: AuthorizationRequest) -> Response {
    let request_id = state.store().park_sign_in(request);
    pages::sign_in(Some(&request_id), None)
}

fn redirect_with_code(
    state: &SharedState,
    request: AuthorizationRequest,
    session: Session,
    new_cookie: Option<&str>,
) -> Response {
    let location_base = request.redirect_uri.clone();
    let request_state = request.state.clone();
    let issuer = response_issuer(state, &request.server);
    let lifetime = state.lifetimes().authorization_code();
    let code = state.store().issue_code(request, session, lifetime);
    let mut response = found(&with_query(
        &location_base,
        &[
            ("code", Some(&code)),
            ("state", request_state.as_deref()),
            ("iss", issuer.as_deref()),
        ],
    ));
    if let Some(cookie) = new_cookie {
        start_session_cookie(&mut response, cookie);
    }
    response
}

pub(crate) async fn sign_in_page() -> Response {
    pages::sign_in(None, None)
}

#[derive(Deserialize)]
pub(crate) struct SignInForm {
    request_id: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn sign_in(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let pending = match form.request_id.as_deref() {
        Some(id) => match state.store().pending_sign_in(id) {
            Some(request) => Some((id, request)),
            None => {
                return pages::error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "This sign-in request has expired. Start again from the app.",
                )
            }
        },
        None => None,
    };
    let Some(user) = state
        .config
        .user(&form.username)
        .filter(|user| user.password == form.password)
    else {
        tracing::info!("sign-in rejected: wrong username or password");
        return pages::sign_in(form.request_id.as_deref(), Some("Unable to sign in"));
    };
    let (cookie, session) = {
        let mut store = state.store();
        // A new sign-in (e.g. prompt=login) replaces the browser's previous session.
        if let Some(old) = session_cookie(&headers) {
            store.end_session(&old);
        }
        let client_id = pending
            .as_ref()
            .map(|(_, request)| request.client_id.as_str());
        store.create_session(&user.username, Authentication::Password, client_id)
    };
    match pending {
        Some((id, request)) => {
            state.store().finish_sign_in(id);
            redirect_with_code(&state, request, session, Some(&cookie))
        }
        None => {
            let mut response = pages::signed_in(&user.name);
            start_session_cookie(&mut response, &cookie);
            response
        }
    }
}
