//! The inspection and control API under [`super::ADMIN_PREFIX`]: JSON, and for a browser the
//! console ([`super::console`]); never affected by faults.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{console, SharedState};
use crate::config::Lifetimes;
use crate::faults::Faults;
use crate::journal::JournalEntry;
use crate::store::{LogoutEvent, RevocationEvent, SessionInfo, TokenInfo};

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route(
            console::LIVE_PATH.trim_start_matches(super::ADMIN_PREFIX),
            get(console::live),
        )
        .route("/console/faults", post(console::apply_faults))
        .route("/console/lifetimes", post(console::apply_lifetimes))
        .route("/console/rotate-key", post(console::rotate_key))
        .route(
            "/console/rotate-dpop-nonce",
            post(console::rotate_dpop_nonce),
        )
        .route("/console/reset", post(console::reset))
        .route("/sessions", get(sessions))
        .route("/users/{username}/sessions", delete(clear_user_sessions))
        .route("/tokens", get(tokens))
        .route("/revocations", get(revocations))
        .route("/logout-events", get(logout_events))
        .route("/requests", get(requests))
        .route("/faults", get(faults).put(put_faults))
        .route("/lifetimes", get(lifetimes).put(put_lifetimes))
        .route("/keys", get(keys))
        .route("/keys/rotate", post(rotate_keys))
        .route("/dpop-nonce/rotate", post(rotate_dpop_nonce))
        .route("/reset", post(reset))
}

/// The console for a browser ([`console`]); for anything else, the list of the admin
/// endpoints. Served at both `/__admin` and `/__admin/`.
pub(crate) async fn index(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if console::wants_html(&headers) {
        return console::page(&state);
    }
    Json(serde_json::json!({
        "endpoints": [
            "GET /__admin/sessions[?user=USERNAME]",
            "DELETE /__admin/users/{username}/sessions",
            "GET /__admin/tokens",
            "GET /__admin/revocations",
            "GET /__admin/logout-events",
            "GET /__admin/requests[?since=N]",
            "GET|PUT /__admin/faults",
            "GET|PUT /__admin/lifetimes",
            "GET /__admin/keys",
            "POST /__admin/keys/rotate",
            "POST /__admin/dpop-nonce/rotate",
            "POST /__admin/reset",
        ]
    }))
    .into_response()
}

#[derive(Deserialize)]
struct SessionFilter {
    user: Option<String>,
}

async fn sessions(
    State(state): State<SharedState>,
    Query(filter): Query<SessionFilter>,
) -> Json<Vec<SessionInfo>> {
    let mut sessions = state.store().sessions();
    if let Some(user) = filter.user {
        sessions.retain(|session| session.user == user);
    }
    Json(sessions)
}

/// Okta's "Clear user sessions": 404 with Okta's error body for an unknown user.
async fn clear_user_sessions(
    State(state): State<SharedState>,
    Path(username): Path<String>,
) -> Response {
    if state.config.user(&username).is_none() {
        let body = serde_json::json!({
            "errorCode": "E0000007",
            "errorSummary": format!("Not found: Resource not found: {username} (User)"),
        });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    Json(state.clear_user_sessions(&username)).into_response()
}

async fn tokens(State(state): State<SharedState>) -> Json<Vec<TokenInfo>> {
    Json(state.store().tokens())
}

async fn revocations(State(state): State<SharedState>) -> Json<Vec<RevocationEvent>> {
    Json(state.store().revocations())
}

async fn logout_events(State(state): State<SharedState>) -> Json<Vec<LogoutEvent>> {
    Json(state.store().logout_events())
}

#[derive(Deserialize)]
struct JournalPosition {
    #[serde(default)]
    since: u64,
}

async fn requests(
    State(state): State<SharedState>,
    Query(position): Query<JournalPosition>,
) -> Json<Vec<JournalEntry>> {
    Json(state.journal().since(position.since))
}

async fn faults(State(state): State<SharedState>) -> Json<Faults> {
    Json(state.faults())
}

async fn put_faults(State(state): State<SharedState>, Json(faults): Json<Faults>) -> Response {
    if let Err(error) = faults.validate() {
        return unprocessable(&error);
    }
    tracing::info!(?faults, "faults replaced");
    state.set_faults(faults);
    Json(state.faults()).into_response()
}

/// A well-formed body with an unusable value: 422 with what is wrong.
fn unprocessable(error: &str) -> Response {
    let body = serde_json::json!({ "error": error });
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

async fn lifetimes(State(state): State<SharedState>) -> Json<Lifetimes> {
    Json(state.lifetimes())
}

async fn put_lifetimes(
    State(state): State<SharedState>,
    Json(lifetimes): Json<Lifetimes>,
) -> Response {
    if let Err(error) = lifetimes.validate() {
        return unprocessable(&error.to_string());
    }
    tracing::info!(?lifetimes, "lifetimes replaced");
    state.set_lifetimes(lifetimes);
    Json(state.lifetimes()).into_response()
}

#[derive(Serialize)]
struct PublishedKeyIds {
    /// The kid that signs new tokens.
    signing: String,
    /// Every kid in the JWKS, newest first.
    published: Vec<String>,
}

async fn keys(State(state): State<SharedState>) -> Json<PublishedKeyIds> {
    let published = state.keys.published().kids();
    Json(PublishedKeyIds {
        signing: published[0].clone(),
        published,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    #[serde(default = "keep_old_by_default")]
    keep_old: bool,
}

/// Okta keeps publishing the previous key after a rotation.
fn keep_old_by_default() -> bool {
    true
}

#[derive(Serialize)]
struct Rotated {
    /// The new signing key's kid.
    kid: String,
    /// Every kid in the JWKS after the rotation, newest first.
    published: Vec<String>,
}

/// The body is optional: without one, the old keys stay published.
async fn rotate_keys(
    State(state): State<SharedState>,
    request: Option<Json<RotateRequest>>,
) -> Json<Rotated> {
    let keep_old = request.map_or_else(keep_old_by_default, |Json(request)| request.keep_old);
    let published = state.rotate_signing_key(keep_old).await;
    Json(Rotated {
        kid: published[0].clone(),
        published,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NonceRotateRequest {
    #[serde(default = "keep_previous_by_default")]
    keep_previous: bool,
}

/// Okta keeps accepting a nonce for three days after it was made.
fn keep_previous_by_default() -> bool {
    true
}

#[derive(Serialize)]
struct RotatedNonce {
    /// The nonce token responses hand out from now on.
    nonce: String,
}

/// The body is optional: without one, the earlier nonces stay accepted.
async fn rotate_dpop_nonce(
    State(state): State<SharedState>,
    request: Option<Json<NonceRotateRequest>>,
) -> Json<RotatedNonce> {
    let keep_previous = request.map_or_else(keep_previous_by_default, |Json(request)| {
        request.keep_previous
    });
    Json(RotatedNonce {
        nonce: state.rotate_dpop_nonce(keep_previous),
    })
}

async fn reset(State(state): State<SharedState>) -> StatusCode {
    state.reset();
    tracing::info!("state reset");
    StatusCode::NO_CONTENT
}
