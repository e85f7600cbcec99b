//! The inspection and control API under [`super::ADMIN_PREFIX`]: JSON, never affected by faults.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::SharedState;
use crate::config::Lifetimes;
use crate::faults::Faults;
use crate::store::{LogoutEvent, RevocationEvent, SessionInfo, TokenInfo};

pub(crate) fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/sessions", get(sessions))
        .route("/tokens", get(tokens))
        .route("/revocations", get(revocations))
        .route("/logout-events", get(logout_events))
        .route("/faults", get(faults).put(put_faults))
        .route("/lifetimes", get(lifetimes).put(put_lifetimes))
        .route("/reset", post(reset))
}

/// Lists the admin endpoints; served at both `/__admin` and `/__admin/`.
pub(crate) async fn index() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "endpoints": [
            "GET /__admin/sessions[?user=USERNAME]",
            "GET /__admin/tokens",
            "GET /__admin/revocations",
            "GET /__admin/logout-events",
            "GET|PUT /__admin/faults",
            "GET|PUT /__admin/lifetimes",
            "POST /__admin/reset",
        ]
    }))
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

async fn tokens(State(state): State<SharedState>) -> Json<Vec<TokenInfo>> {
    Json(state.store().tokens())
}

async fn revocations(State(state): State<SharedState>) -> Json<Vec<RevocationEvent>> {
    Json(state.store().revocations())
}

async fn logout_events(State(state): State<SharedState>) -> Json<Vec<LogoutEvent>> {
    Json(state.store().logout_events())
}

async fn faults(State(state): State<SharedState>) -> Json<Faults> {
    Json(state.faults())
}

async fn put_faults(State(state): State<SharedState>, Json(faults): Json<Faults>) -> Json<Faults> {
    tracing::info!(?faults, "faults replaced");
    state.set_faults(faults);
    Json(state.faults())
}

async fn lifetimes(State(state): State<SharedState>) -> Json<Lifetimes> {
    Json(state.lifetimes())
}

async fn put_lifetimes(
    State(state): State<SharedState>,
    Json(lifetimes): Json<Lifetimes>,
) -> Json<Lifetimes> {
    tracing::info!(?lifetimes, "lifetimes replaced");
    state.set_lifetimes(lifetimes);
    Json(state.lifetimes())
}

async fn reset(State(state): State<SharedState>) -> StatusCode {
    state.reset();
    tracing::info!("state reset");
    StatusCode::NO_CONTENT
}
