//! `/v1/logout` (GET and form POST): Okta's end-session endpoint.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{
    clear_session_cookie, found, session_cookie, with_query, AuthServer, RequestFaults, SharedState,
};
use crate::faults::{ExpiredHintPolicy, Faults};
use crate::journal::Outcome;
use crate::pages;
use crate::store::{LogoutEvent, LogoutOutcome};

/// Okta's exact message for an unregistered `post_logout_redirect_uri`.
pub const UNREGISTERED_POST_LOGOUT_REDIRECT_URI: &str =
    "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings";

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

pub(crate) async fn logout_get(
    State(state): State<SharedState>,
    Extension(RequestFaults(faults)): Extension<RequestFaults>,
    server: AuthServer,
    headers: HeaderMap,
    Query(params): Query<LogoutParams>,
) -> Response {
    logout(&state, &faults, &server, &headers, "GET", params).await
}

pub(crate) async fn logout_post(
    State(state): State<SharedState>,
    Extension(RequestFaults(faults)): Extension<RequestFaults>,
    server: AuthServer,
    headers: HeaderMap,
    Form(params): Form<LogoutParams>,
) -> Response {
    logout(&state, &faults, &server, &headers, "POST", params).await
}

async fn logout(
    state: &SharedState,
    faults: &Faults,
    server: &AuthServer,
    headers: &HeaderMap,
    method: &str,
    params: LogoutParams,
) -> Response {
    let cookie = session_cookie(headers);
    let had_session = cookie
        .as_deref()
        .is_some_and(|cookie| state.store().session(cookie).is_some());
    let (outcome, error, response) = match check(state, faults, server, &params) {
        Err(message) => (
            LogoutOutcome::Rejected,
            Some(message.clone()),
            pages::error(StatusCode::BAD_REQUEST, "invalid_request", &message),
        ),
        Ok(()) => {
            // Logout ends the browser session; it does not revoke tokens.
            if let Some(cookie) = &cookie {
                state.store().end_session(cookie);
            }
            let (outcome, mut response) = respond(state, faults, &params);
            clear_session_cookie(&mut response);
            (outcome, None, response)
        }
    };
    tracing::info!(had_session, ?outcome, "logout");
    let response = Outcome::named(&outcome).attach(response);
    state.store().record_logout(LogoutEvent {
        time: OffsetDateTime::now_utc(),
        method: method.to_owned(),
        issuer: server.issuer(&state.urls),
        had_session,
        post_logout_redirect_uri: params.post_logout_redirect_uri,
        state: params.state,
        outcome,
        error,
    });
    response
}

/// Okta's checks, in its order; the error is the message of the 400 page.
fn check(
    state: &SharedState,
    faults: &Faults,
    server: &AuthServer,
    params: &LogoutParams,
) -> Result<(), String> {
    if faults.logout_error_page {
        return Err("The logout request could not be processed (mock-okta fault).".to_owned());
    }
    let hint = params
        .id_token_hint
        .as_deref()
        .filter(|hint| !hint.is_empty())
        .ok_or(if params.client_id.is_some() {
            // Okta documents the hint as required.
            "The 'id_token_hint' parameter is required."
        } else {
            // Okta's words for a request with neither.
            "A client_id must be provided in the request."
        })?;
    let client_ids: Vec<&str> = state
        .config
        .clients
        .iter()
        .map(|client| client.client_id.as_str())
        .collect();
    // Any published key will do: a hint signed before a rotation that kept the old key is
    // still valid, one whose key is no longer published is not.
    let claims = state
        .keys
        .published()
        .verify_id_token_hint(hint, &server.issuer(&state.urls), &client_ids)
        .map_err(|_| "The 'id_token_hint' parameter is not a valid ID token.".to_owned())?;
    let expired = claims.exp <= OffsetDateTime::now_utc().unix_timestamp().unsigned_abs();
    if expired && faults.expired_id_token_hint == ExpiredHintPolicy::Reject {
        return Err("The 'id_token_hint' parameter has expired.".to_owned());
    }
    if let Some(uri) = &params.post_logout_redirect_uri {
        let registered = state
            .config
            .client(&claims.aud)
            .is_some_and(|client| client.post_logout_redirect_uris.contains(uri));
        if !registered {
            return Err(UNREGISTERED_POST_LOGOUT_REDIRECT_URI.to_owned());
        }
    }
    Ok(())
}

/// The answer to a valid logout, per the logout fault switches.
fn respond(
    state: &SharedState,
    faults: &Faults,
    params: &LogoutParams,
) -> (LogoutOutcome, Response) {
    if faults.logout_never_redirects {
        return (LogoutOutcome::NeverRedirected, pages::signed_out_dead_end());
    }
    let (outcome, target) = match &params.post_logout_redirect_uri {
        Some(uri) => (
            LogoutOutcome::Redirected,
            with_query(uri, &[("state", params.state.as_deref())]),
        ),
        None => (
            LogoutOutcome::RedirectedToSignIn,
            state.sign_in_url().to_string(),
        ),
    };
    if faults.logout_interstitial {
        (LogoutOutcome::Interstitial, pages::interstitial(&target))
    } else {
        (outcome, found(&target))
    }
}
