//! `/.well-known/openid-configuration` and `oauth-authorization-server`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;

use super::{AuthServer, RequestFaults, SharedState};
use crate::dpop::DPOP_SIGNING_ALGS;

/// The discovery document. Front-channel endpoints point at the plain-HTTP browser origin so a
/// person's browser never meets the self-signed certificate; everything else stays on HTTPS.
pub(crate) async fn document(
    State(state): State<SharedState>,
    Extension(RequestFaults(faults)): Extension<RequestFaults>,
    server: AuthServer,
) -> Response {
    if faults.malformed_discovery {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"issuer\": \"truncated",
        )
            .into_response();
    }
    let urls = &state.urls;
    let back = |name| server.endpoint(&urls.base, name);
    let front = |name| server.endpoint(&urls.browser, name);
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    let mut document = serde_json::json!({
        "issuer": server.issuer(urls),
        "authorization_endpoint": front("authorize"),
        "end_session_endpoint": front("logout"),
        "token_endpoint": back("token"),
        "userinfo_endpoint": back("userinfo"),
        "jwks_uri": back("keys"),
        "revocation_endpoint": back("revoke"),
        "introspection_endpoint": back("introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": super::authorize::SUPPORTED_SCOPES,
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "claims_supported": [
            "iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "at_hash", "sid",
            "name", "preferred_username", "email", "email_verified"
        ],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    // RFC 9207 §3: absent means false, as older Okta orgs have it.
    if faults.authorization_response_iss.is_advertised() {
        document["authorization_response_iss_parameter_supported"] = true.into();
    }
    // RFC 9449 §5.1: absent means no DPoP, as at a provider without it.
    if !faults.dpop_unsupported {
        document["dpop_signing_alg_values_supported"] = DPOP_SIGNING_ALGS.as_slice().into();
    }
    Json(document).into_response()
}
