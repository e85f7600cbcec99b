//! The HTTP side: shared state, routing, request logging and fault injection.

mod admin;
mod authorize;
mod console;
mod discovery;
mod listen;
mod logout;
mod tokens;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use url::Url;

use crate::config::{Config, Lifetimes, DEFAULT_AUTHORIZATION_SERVER};
use crate::dpop::{DpopVerifier, ProofTarget};
use crate::faults::{Endpoint, Faults};
use crate::journal::{self, Journal, JournalEntry, Outcome};
use crate::keys::KeyStore;
use crate::pages;
use crate::store::{ClearedSessions, Store};

pub(crate) use listen::{bind, Listeners, TlsAcceptor};
pub use logout::UNREGISTERED_POST_LOGOUT_REDIRECT_URI;

/// Prefix of the inspection and control API.
pub const ADMIN_PREFIX: &str = "/__admin";

/// Name of the Okta session cookie on the browser origin.
const SESSION_COOKIE: &str = "sid";

/// The two origins the mock answers on.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// `https://127.0.0.1:{port}/`: issuer and back channel.
    pub(crate) base: Url,
    /// `http://127.0.0.1:{browser_port}/`: front channel, where the session cookie lives.
    pub(crate) browser: Url,
}

/// State shared by both listeners and the in-process API.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) urls: Urls,
    pub(crate) keys: KeyStore,
    /// DPoP nonces and the proofs seen, for every authorization server.
    pub(crate) dpop: DpopVerifier,
    store: Mutex<Store>,
    journal: Mutex<Journal>,
    faults: RwLock<Faults>,
    /// Bumped at every change of the faults, a count running down included: what a console
    /// form was rendered from, so that a form older than the faults in force is refused.
    faults_version: AtomicU64,
    lifetimes: RwLock<Lifetimes>,
    /// Per endpoint, in the order of [`Endpoint::ALL`].
    requests_served: [AtomicU64; Endpoint::ALL.len()],
}

pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    pub(crate) fn new(config: Config, urls: Urls, keys: KeyStore) -> AppState {
        AppState {
            faults: RwLock::new(config.faults.clone()),
            faults_version: AtomicU64::new(0),
            lifetimes: RwLock::new(config.lifetimes),
            urls,
            keys,
            dpop: DpopVerifier::new(),
            store: Mutex::new(Store::new(config.history)),
            journal: Mutex::new(Journal::new(config.history)),
            config,
            requests_served: Default::default(),
        }
    }

    fn request_counter(&self, endpoint: Endpoint) -> &AtomicU64 {
        // `Endpoint::ALL` lists the variants in declaration order.
        &self.requests_served[endpoint as usize]
    }

    /// How many requests reached `endpoint`'s fault layer (and, unless a fault answered, its
    /// handler) since start or the last reset.
    pub(crate) fn requests_served(&self, endpoint: Endpoint) -> u64 {
        self.request_counter(endpoint).load(Ordering::Relaxed)
    }

    /// The store; a panic while holding it leaves it usable, the data is plain records.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The faults in force for one request to `endpoint`, counted against the endpoint's
    /// `count`: the request that uses the count up turns the endpoint's faults off after it.
    /// Every request to the endpoint counts, whether a fault changes its answer or not.
    fn faults_for_request(&self, endpoint: Endpoint) -> Faults {
        let in_force = self.faults();
        if in_force.endpoint(endpoint).count.is_none() {
            return in_force;
        }
        let mut faults = self
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another request may have used the count up meanwhile: decide on what is in force now.
        let in_force = faults.clone();
        match faults.endpoint(endpoint).count {
            None => {}
            Some(left) if left > 1 => faults.endpoint_mut(endpoint).count = Some(left - 1),
            Some(_) => faults.clear_endpoint(endpoint),
        }
        self.faults_version.fetch_add(1, Ordering::Relaxed);
        in_force
    }

    /// Replaces the faults; the caller validated them ([`Faults::validate`]).
    pub(crate) fn set_faults(&self, faults: Faults) {
        *self
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = faults;
        self.faults_version.fetch_add(1, Ordering::Relaxed);
    }

    /// See [`AppState::faults_version`]'s field.
    pub(crate) fn faults_version(&self) -> u64 {
        self.faults_version.load(Ordering::Relaxed)
    }

    pub(crate) fn lifetimes(&self) -> Lifetimes {
        *self
            .lifetimes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn set_lifetimes(&self, lifetimes: Lifetimes) {
        *self
            .lifetimes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = lifetimes;
    }

    /// Forgets sessions, codes, tokens, events and request counts, and restores the configured
    /// faults and lifetimes; keys, DPoP nonces and certificate stay.
    pub(crate) fn reset(&self) {
        *self.store() = Store::new(self.config.history);
        self.journal().clear();
        for counter in &self.requests_served {
            counter.store(0, Ordering::Relaxed);
        }
        self.set_faults(self.config.faults.clone());
        self.set_lifetimes(self.config.lifetimes);
    }

    /// Rotates the signing key (see [`crate::MockOkta::rotate_signing_key`]); returns the
    /// published kids, newest (the signing one) first.
    pub(crate) async fn rotate_signing_key(&self, keep_old: bool) -> Vec<String> {
        let published = self.keys.rotate(keep_old).await.kids();
        tracing::info!(keep_old, ?published, "signing key rotated");
        published
    }

    /// Makes a new DPoP nonce (see [`crate::MockOkta::rotate_dpop_nonce`]) and returns it.
    pub(crate) fn rotate_dpop_nonce(&self, keep_previous: bool) -> String {
        let nonce = self.dpop.rotate_nonce(keep_previous);
        tracing::info!(keep_previous, "DPoP nonce rotated");
        nonce
    }

    /// Ends the browser sessions and revokes the tokens of `username`.
    pub(crate) fn clear_user_sessions(&self, username: &str) -> ClearedSessions {
        let cleared = self.store().clear_user_sessions(username);
        tracing::info!(?cleared, "user sessions cleared");
        cleared
    }

    /// The browser-origin sign-in page, where logout without a redirect URI lands.
    pub(crate) fn sign_in_url(&self) -> Url {
        self.urls
            .browser
            .join(pages::SIGN_IN_PATH)
            .expect("a path joins onto an http base URL")
    }
}

/// Which authorization server a request addresses: the org server (`/oauth2/v1/…`) or a
/// custom one (`/oauth2/{id}/v1/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthServer {
    Org,
    Custom(String),
}

impl AuthServer {
    /// Okta's issuer: the base URL without path for the org server.
    pub(crate) fn issuer(&self, urls: &Urls) -> String {
        let base = urls.base.as_str().trim_end_matches('/');
        match self {
            AuthServer::Org => base.to_owned(),
            AuthServer::Custom(id) => format!("{base}/oauth2/{id}"),
        }
    }

    /// Another authorization server of the same org: the `default` one for the org server,
    /// the org server for a custom one (what a mix-up or a misbehaving IdP would name).
    pub(crate) fn another(&self) -> AuthServer {
        match self {
            AuthServer::Org => AuthServer::Custom(DEFAULT_AUTHORIZATION_SERVER.to_owned()),
            AuthServer::Custom(_) => AuthServer::Org,
        }
    }

    /// `aud` of access tokens: `api://{id}` on custom servers, the issuer on the org server.
    pub(crate) fn audience(&self, urls: &Urls) -> String {
        match self {
            AuthServer::Org => self.issuer(urls),
            AuthServer::Custom(id) => format!("api://{id}"),
        }
    }

    /// The URL of endpoint `name` (e.g. `token`) on `origin`.
    pub(crate) fn endpoint(&self, origin: &Url, name: &str) -> String {
        let origin = origin.as_str().trim_end_matches('/');
        match self {
            AuthServer::Org => format!("{origin}/oauth2/v1/{name}"),
            AuthServer::Custom(id) => format!("{origin}/oauth2/{id}/v1/{name}"),
        }
    }
}

impl FromRequestParts<SharedState> for AuthServer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some((_, id)) = params.iter().find(|(name, _)| *name == "server") else {
            return Ok(AuthServer::Org);
        };
        if state
            .config
            .authorization_servers
            .iter()
            .any(|known| known == id)
        {
            Ok(AuthServer::Custom(id.to_owned()))
        } else {
            // Okta's answer for an unknown authorization server.
            let body = serde_json::json!({
                "errorCode": "E0000007",
                "errorSummary": format!("Not found: Resource not found: {id} (AuthorizationServer)"),
            });
            Err((StatusCode::NOT_FOUND, Json(body)).into_response())
        }
    }
}

impl FromRequestParts<SharedState> for ProofTarget {
    type Rejection = std::convert::Infallible;

    /// The request's method and target URI: the scheme of the listener it reached, the `Host`
    /// it named and its path, as the client that signed the proof saw them.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let scheme = parts
            .extensions
            .get::<ConnectionScheme>()
            .map(|ConnectionScheme(scheme)| *scheme);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let uri = scheme.zip(host).and_then(|(scheme, host)| {
            Url::parse(&format!("{scheme}://{host}{}", parts.uri.path())).ok()
        });
        Ok(ProofTarget {
            method: parts.method.clone(),
            uri,
        })
    }
}

/// The OAuth 2.0 error response Okta's back channel gives: JSON `error` and
/// `error_description`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    pub(crate) fn new(status: StatusCode, error: &'static str, description: &str) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.to_owned(),
        }
    }

    pub(crate) fn invalid_request(description: &str) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: &str) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn invalid_client(description: &str) -> OAuthError {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let response = (self.status, no_store_headers(), Json(body)).into_response();
        Outcome(self.error.to_owned()).attach(response)
    }
}

/// Token responses and errors must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store_headers() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// A 302 to `location` (Okta redirects with 302, not axum's 303).
pub(crate) fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(header::LOCATION, value)]).into_response(),
        Err(_) => pages::error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The redirect URI is not a valid URL.",
        ),
    }
}

/// `location` with `params` appended to its query.
pub(crate) fn with_query(location: &str, params: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = Url::parse(location) else {
        return location.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    url.into()
}

/// `Authorization: Basic` credentials (scheme in any case), form-URL-decoded as RFC 6749
/// §2.3.1 requires: the client id and secret.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let (scheme, encoded) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// How a request presents its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenScheme {
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP <token>`, with a proof in the `DPoP` header (RFC 9449 §7.1).
    Dpop,
}

/// The access token of `Authorization: Bearer <token>` or `DPoP <token>`, scheme in any case
/// (RFC 9110 §11.1).
pub(crate) fn presented_access_token(headers: &HeaderMap) -> Option<(TokenScheme, &str)> {
    let (scheme, token) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        TokenScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        TokenScheme::Dpop
    } else {
        return None;
    };
    Some((scheme, token.trim()))
}

/// The value of the Okta session cookie, if the browser sent one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// Adds the `Set-Cookie` that starts the browser session.
pub(crate) fn start_session_cookie(response: &mut Response, value: &str) {
    append_set_cookie(
        response,
        &format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"),
    );
}

/// Adds the `Set-Cookie` that deletes the browser session cookie.
pub(crate) fn clear_session_cookie(response: &mut Response) {
    append_set_cookie(
        response,
        &format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
}

fn append_set_cookie(response: &mut Response, cookie: &str) {
    let value = HeaderValue::from_str(cookie).expect("cookie values are base64url");
    response.headers_mut().append(header::SET_COOKIE, value);
}

/// The router both listeners serve.
pub(crate) fn router(state: SharedState) -> Router {
    let protocol: [(&str, Endpoint, MethodRouter<SharedState>); 7] = [
        (
            "/v1/authorize",
            Endpoint::Authorize,
            get(authorize::authorize),
        ),
        ("/v1/token", Endpoint::Token, post(tokens::token)),
        ("/v1/revoke", Endpoint::Revoke, post(tokens::revoke)),
        (
            "/v1/logout",
            Endpoint::Logout,
            get(logout::logout_get).post(logout::logout_post),
        ),
        (
            "/v1/introspect",
            Endpoint::Introspect,
            post(tokens::introspect),
        ),
        (
            "/v1/userinfo",
            Endpoint::Userinfo,
            get(tokens::userinfo).post(tokens::userinfo),
        ),
        ("/v1/keys", Endpoint::Keys, get(tokens::keys)),
    ];
    let mut router = Router::new();
    for (suffix, endpoint, handler) in protocol {
        let handler = with_faults(handler, &state, endpoint);
        router = router
            .route(&format!("/oauth2{suffix}"), handler.clone())
            .route(&format!("/oauth2/{{server}}{suffix}"), handler);
    }
    for document in ["openid-configuration", "oauth-authorization-server"] {
        let handler = with_faults(get(discovery::document), &state, Endpoint::Discovery);
        router = router
            .route(&format!("/.well-known/{document}"), handler.clone())
            .route(
                &format!("/oauth2/{{server}}/.well-known/{document}"),
                handler,
            );
    }
    let sign_in = get(authorize::sign_in_page).post(authorize::sign_in);
    router
        .route(
            pages::SIGN_IN_PATH,
            with_faults(sign_in, &state, Endpoint::Authorize),
        )
        .nest(ADMIN_PREFIX, admin::routes())
        .route(&format!("{ADMIN_PREFIX}/"), get(admin::index))
        .layer(from_fn_with_state(state.clone(), journal_request))
        .with_state(state)
}

fn with_faults(
    handler: MethodRouter<SharedState>,
    state: &SharedState,
    endpoint: Endpoint,
) -> MethodRouter<SharedState> {
    handler.layer(from_fn_with_state((state.clone(), endpoint), apply_faults))
}

/// Set on every request by the connection that carries it, so a fault can drop it.
#[derive(Clone)]
pub(crate) struct ConnectionAbort(pub(crate) tokio_util::sync::CancellationToken);

/// Set on every request by the listener that accepted it: `https` or `http`, the scheme of
/// the URI the client addressed (what a DPoP proof's `htu` names).
#[derive(Clone, Copy)]
pub(crate) struct ConnectionScheme(pub(crate) &'static str);

/// The faults in force for the request at hand (see [`AppState::faults_for_request`]), for
/// the handlers whose answer a fault switch changes.
#[derive(Clone)]
pub(crate) struct RequestFaults(pub(crate) Faults);

async fn apply_faults(
    State((state, endpoint)): State<(SharedState, Endpoint)>,
    mut request: Request,
    next: Next,
) -> Response {
    state
        .request_counter(endpoint)
        .fetch_add(1, Ordering::Relaxed);
    let faults = state.faults_for_request(endpoint);
    let fault = faults.endpoint(endpoint).clone();
    if let Some(latency) = fault.latency() {
        tokio::time::sleep(latency).await;
    }
    if fault.drop_connection {
        tracing::info!(%endpoint, "fault: dropping the connection without a response");
        // Filed before the connection goes, so a test that sees it go finds the entry.
        if let Some(pending) = request.extensions().get::<PendingEntry>() {
            pending.file(None, "fault: connection dropped".to_owned());
        }
        if let Some(abort) = request.extensions().get::<ConnectionAbort>() {
            abort.0.cancel();
        }
        // The connection task drops the connection; this response is never sent.
        return std::future::pending().await;
    }
    if let Some(status) = fault.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::info!(%endpoint, status = status.as_u16(), "fault: forced status");
        let response =
            (status, format!("mock-okta fault: forced status {status}\n")).into_response();
        return Outcome(format!("fault: status {}", status.as_u16())).attach(response);
    }
    request.extensions_mut().insert(RequestFaults(faults));
    next.run(request).await
}

/// The largest body the journal reads: Okta's form posts are a few kilobytes.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A browser asks for it on every page; it is nothing the app did.
const FAVICON_PATH: &str = "/favicon.ico";

/// Journals every request but the admin API's own and a browser's favicon, and logs one info
/// line per request without query string or body: those carry codes and tokens.
async fn journal_request(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = if path.starts_with(ADMIN_PREFIX) || path == FAVICON_PATH {
        next.run(request).await
    } else {
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| {
                value
                    .as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
        let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes());
        let form = url::form_urlencoded::parse(if is_form { &body } else { &[] });
        let params = journal::params(
            query
                .chain(form)
                .map(|(name, value)| (name.into_owned(), value.into_owned())),
            &parts.headers,
            |token| state.store().token(token).map(|record| record.kind),
        );
        let pending = PendingEntry {
            state: state.clone(),
            entry: Arc::new(Mutex::new(Some(JournalEntry {
                seq: 0,
                time: time::OffsetDateTime::now_utc(),
                method: method.to_string(),
                path: path.clone(),
                endpoint: Endpoint::of_path(&path),
                params,
                status: None,
                outcome: String::new(),
            }))),
        };
        let unanswered = FileWhenDropped(pending.clone());
        let mut request = Request::from_parts(parts, Body::from(body));
        request.extensions_mut().insert(pending.clone());
        let response = next.run(request).await;
        pending.answered(&response);
        drop(unanswered);
        response
    };
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_millis() as u64;
    // An open console asks for its tables every second: not worth a line each at info.
    if path == console::LIVE_PATH {
        tracing::debug!(%method, %path, status, latency_ms, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, "request");
    }
    response
}

/// A request's journal entry until it is filed: when the request is answered, when a fault
/// drops its connection, or, when the connection goes first (the client gave up), when the
/// request's future is dropped. Shared by the journal layer and the fault layer.
#[derive(Clone)]
pub(crate) struct PendingEntry {
    state: SharedState,
    entry: Arc<Mutex<Option<JournalEntry>>>,
}

impl PendingEntry {
    /// Files the entry with `status` and `outcome`, unless it is filed already.
    fn file(&self, status: Option<u16>, outcome: String) {
        let entry = self
            .entry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(mut entry) = entry {
            entry.status = status;
            entry.outcome = outcome;
            self.state.journal().record(entry);
        }
    }

    fn answered(&self, response: &Response) {
        let status = response.status();
        let outcome = match response.extensions().get::<Outcome>() {
            Some(Outcome(outcome)) => outcome.clone(),
            None => status
                .canonical_reason()
                .unwrap_or("unknown status")
                .to_lowercase(),
        };
        self.file(Some(status.as_u16()), outcome);
    }
}

/// Files its entry as unanswered if the request's future is dropped before an answer.
struct FileWhenDropped(PendingEntry);

impl Drop for FileWhenDropped {
    fn drop(&mut self) {
        self.0
            .file(None, "no response: the connection closed first".to_owned());
    }
}
