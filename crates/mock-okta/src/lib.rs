//! mock-okta: an Okta-shaped mock identity provider for QA and tests.
//!
//! Unlike a generic OIDC mock it behaves like Okta on everything the app touches: exact
//! redirect URIs, mandatory PKCE S256 for public clients, a real browser session cookie,
//! `prompt` and `max_age`, RFC 9207 `iss`, one-time codes, refresh token rotation with its grace
//! period and reuse detection, opaque org-server access tokens, signing-key rotation, RFC 7009
//! revocation with Okta's cascade, "Clear user sessions", an end-session endpoint that
//! verifies `id_token_hint` and `post_logout_redirect_uri`, and DPoP (RFC 9449) with Okta's
//! nonces for a client that requires it. QA can switch on every fault the app must survive,
//! and inspect what happened, over `/__admin/` or in process.
//!
//! The issuer and back channel are HTTPS (self-signed CA, [`MockOkta::ca_certificate_pem`]);
//! the front channel (authorize, sign-in, logout) is also served on a plain-HTTP "browser"
//! port, which discovery advertises, so a person's browser never sees a certificate warning.

#[cfg(feature = "browser")]
pub mod browser;
mod config;
mod dpop;
mod faults;
mod journal;
mod keys;
mod pages;
mod server;
mod store;
mod tls;

use std::sync::Arc;

use url::Url;

pub use config::{
    ClientConfig, Config, ConfigError, Lifetimes, UserConfig, DEFAULT_AUTHORIZATION_SERVER,
    DEFAULT_HISTORY, DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_POST_LOGOUT_REDIRECT_URI,
    DEMO_REDIRECT_URI, DEMO_SECOND_USERNAME, DEMO_USERNAME,
};
pub use faults::{
    AuthorizationResponseIss, Endpoint, EndpointFault, ExpiredHintPolicy, Faults, UnknownEndpoint,
};
pub use journal::{JournalEntry, Param, SecretKind};
pub use keys::{KeyError, SigningKey};
pub use server::{ADMIN_PREFIX, UNREGISTERED_POST_LOGOUT_REDIRECT_URI};
pub use store::{
    short_fingerprint, token_fingerprint, Authentication, ClearedSessions, LogoutEvent,
    LogoutOutcome, RevocationEvent, RevocationResult, SessionInfo, TokenInfo, TokenKind,
    TokenState,
};

use server::{AppState, AuthServer, Listeners, SharedState, TlsAcceptor, Urls};

/// A running mock Okta org on 127.0.0.1: an HTTPS port and a plain-HTTP browser port that
/// serve the same routes and share state.
pub struct MockOkta {
    state: SharedState,
    router: axum::Router,
    tls: TlsAcceptor,
    ca_certificate_pem: String,
    port: u16,
    browser_port: u16,
    listeners: tokio::sync::Mutex<Option<Listeners>>,
}

impl MockOkta {
    /// Validates `config`, generates the TLS identity, binds `config.port` (HTTPS) and
    /// `config.browser_port` (HTTP) on 127.0.0.1 (0 = any free port) and starts serving.
    /// Without [`Config::signing_key_pem`], the first mock of a process generates an RSA key
    /// before it listens, and later ones reuse it.
    pub async fn start(config: Config) -> std::io::Result<MockOkta> {
        config.validate().map_err(invalid_input)?;
        // The signing key is ready before the ports open (see `KeyStore::new`); the TLS
        // identity is made meanwhile.
        let configured_key = config.signing_key_pem.clone();
        let keys =
            tokio::task::spawn_blocking(move || keys::KeyStore::new(configured_key.as_deref()));
        let tls = tls::generate()?;
        let keys = keys
            .await
            .expect("making the signing key does not panic")
            .map_err(invalid_input)?;
        let https = server::bind(config.port).await?;
        let http = server::bind(config.browser_port).await?;
        let port = https.local_addr()?.port();
        let browser_port = http.local_addr()?.port();
        let browser = loopback_url("http", browser_port);
        let urls = Urls {
            base: if config.plain_http_issuer {
                browser.clone()
            } else {
                loopback_url("https", port)
            },
            browser,
        };
        let state = Arc::new(AppState::new(config, urls, keys));
        let router = server::router(state.clone());
        let acceptor = TlsAcceptor::from(tls.server_config);
        let listeners = Listeners::serve(https, http, acceptor.clone(), router.clone());
        tracing::info!(port, browser_port, "mock-okta started");
        Ok(MockOkta {
            state,
            router,
            tls: acceptor,
            ca_certificate_pem: tls.ca_certificate_pem,
            port,
            browser_port,
            listeners: tokio::sync::Mutex::new(Some(listeners)),
        })
    }

    /// The issuer of the `default` authorization server: `https://127.0.0.1:P/oauth2/default`
    /// (`http://127.0.0.1:B/oauth2/default` with [`Config::plain_http_issuer`]).
    pub fn issuer(&self) -> Url {
        self.custom_issuer(DEFAULT_AUTHORIZATION_SERVER)
    }

    /// The issuer of custom authorization server `id`: `https://127.0.0.1:P/oauth2/{id}`.
    pub fn custom_issuer(&self, id: &str) -> Url {
        Url::parse(&AuthServer::Custom(id.to_owned()).issuer(&self.state.urls))
            .expect("issuer URLs are valid")
    }

    /// The org authorization server's issuer, the base URL without a trailing slash as Okta
    /// writes it: `https://127.0.0.1:P`.
    pub fn org_issuer(&self) -> String {
        AuthServer::Org.issuer(&self.state.urls)
    }

    /// `https://127.0.0.1:P/` (`http://127.0.0.1:B/` with [`Config::plain_http_issuer`]).
    pub fn base_url(&self) -> Url {
        self.state.urls.base.clone()
    }

    /// `http://127.0.0.1:B/`: the front-channel origin, where the session cookie lives.
    pub fn browser_url(&self) -> Url {
        self.state.urls.browser.clone()
    }

    /// `https://127.0.0.1:P/__admin/`.
    pub fn admin_url(&self) -> Url {
        self.state
            .urls
            .base
            .join(&format!("{ADMIN_PREFIX}/"))
            .expect("the admin prefix is a valid path")
    }

    /// The HTTPS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The plain-HTTP browser port.
    pub fn browser_port(&self) -> u16 {
        self.browser_port
    }

    /// PEM of the CA certificate that signs the HTTPS certificate: the root to trust.
    pub fn ca_certificate_pem(&self) -> &str {
        &self.ca_certificate_pem
    }

    /// The configuration the mock started with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Closes both listeners and drops every open connection: connections are refused from
    /// now on. State, keys and certificate are kept for [`MockOkta::go_online`].
    pub async fn go_offline(&self) {
        if let Some(listeners) = self.listeners.lock().await.take() {
            listeners.close().await;
            tracing::info!("offline");
        }
    }

    /// Binds the same two ports again and serves the same state; a no-op when online.
    pub async fn go_online(&self) -> std::io::Result<()> {
        let mut listeners = self.listeners.lock().await;
        if listeners.is_none() {
            let https = server::bind(self.port).await?;
            let http = server::bind(self.browser_port).await?;
            *listeners = Some(Listeners::serve(
                https,
                http,
                self.tls.clone(),
                self.router.clone(),
            ));
            tracing::info!("online");
        }
        Ok(())
    }

    /// Whether the listeners are up.
    pub async fn is_online(&self) -> bool {
        self.listeners.lock().await.is_some()
    }

    /// Stops serving and waits until both listeners and all connections are closed.
    pub async fn shutdown(self) {
        self.go_offline().await;
    }

    /// Live browser sessions, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.state.store().sessions()
    }

    /// Every token issued, in issue order, with its current state.
    pub fn tokens(&self) -> Vec<TokenInfo> {
        self.state.store().tokens()
    }

    /// The recorded token issued with value `token`, if any.
    pub fn token(&self, token: &str) -> Option<TokenInfo> {
        let fingerprint = token_fingerprint(token);
        self.tokens()
            .into_iter()
            .find(|info| info.fingerprint == fingerprint)
    }

    /// Every revoke request, in arrival order.
    pub fn revocations(&self) -> Vec<RevocationEvent> {
        self.state.store().revocations()
    }

    /// Every logout request, in arrival order.
    pub fn logout_events(&self) -> Vec<LogoutEvent> {
        self.state.store().logout_events()
    }

    /// The request journal after position `since` (0: all it keeps), oldest first: every
    /// request to the protocol endpoints and the sign-in page, secrets fingerprinted.
    pub fn requests(&self, since: u64) -> Vec<JournalEntry> {
        self.state.journal().since(since)
    }

    /// The journal's position now: pass it to [`MockOkta::requests`] later to see what came
    /// after.
    pub fn journal_position(&self) -> u64 {
        self.state.journal().position()
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Replaces all fault switches.
    ///
    /// # Panics
    ///
    /// If they cannot be used ([`Faults::validate`]): a test asking for a count of 0 would test
    /// nothing.
    pub fn set_faults(&self, faults: Faults) {
        if let Err(error) = faults.validate() {
            panic!("mock-okta: {error}");
        }
        self.state.set_faults(faults);
    }

    /// Changes some fault switches, keeping the others.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) {
        let mut faults = self.faults();
        change(&mut faults);
        self.set_faults(faults);
    }

    /// The token lifetimes in force.
    pub fn lifetimes(&self) -> Lifetimes {
        self.state.lifetimes()
    }

    /// Replaces the token lifetimes (for tokens issued from now on).
    ///
    /// # Panics
    ///
    /// If Okta would refuse them ([`Lifetimes::validate`]): a test asking for a grace period
    /// Okta cannot have would test nothing real.
    pub fn set_lifetimes(&self, lifetimes: Lifetimes) {
        if let Err(error) = lifetimes.validate() {
            panic!("mock-okta: {error}");
        }
        self.state.set_lifetimes(lifetimes);
    }

    /// Changes some token lifetimes, keeping the others (see [`MockOkta::set_lifetimes`]).
    pub fn update_lifetimes(&self, change: impl FnOnce(&mut Lifetimes)) {
        let mut lifetimes = self.lifetimes();
        change(&mut lifetimes);
        self.set_lifetimes(lifetimes);
    }

    /// Rotates the signing key, as Okta does about four times a year: a new RSA key signs every
    /// token from now on and is published first in the JWKS of every authorization server; the
    /// old keys stay published when `keep_old`, and are dropped otherwise. Returns the new
    /// key's `kid`.
    pub async fn rotate_signing_key(&self, keep_old: bool) -> String {
        self.state.rotate_signing_key(keep_old).await.swap_remove(0)
    }

    /// Makes a new DPoP nonce, which token responses hand out from now on, and returns it.
    /// With `keep_previous` the earlier nonces stay accepted (Okta: for three days after each
    /// was made); without, they are refused at once, so that the client's next token request
    /// gets `use_dpop_nonce` with the new one. Async like [`MockOkta::rotate_signing_key`],
    /// though it returns at once.
    pub async fn rotate_dpop_nonce(&self, keep_previous: bool) -> String {
        self.state.rotate_dpop_nonce(keep_previous)
    }

    /// How many requests reached `endpoint` (its fault layer, and the handler unless a fault
    /// answered) since start or the last [`MockOkta::reset`]; the sign-in form counts as
    /// [`Endpoint::Authorize`].
    pub fn requests_served(&self, endpoint: Endpoint) -> u64 {
        self.state.requests_served(endpoint)
    }

    /// Okta's "Clear user sessions" (`DELETE /api/v1/users/{id}/sessions?oauthTokens=true`,
    /// also what Universal Logout does): ends every browser session of `username` and revokes
    /// every access and refresh token issued for them. An unknown user has nothing to clear.
    pub fn clear_user_sessions(&self, username: &str) -> ClearedSessions {
        self.state.clear_user_sessions(username)
    }

    /// Forgets sessions, codes, tokens, events and request counts; restores configured faults
    /// and lifetimes. Keys (rotated ones included), DPoP nonces and certificate stay.
    pub fn reset(&self) {
        self.state.reset();
    }
}

fn loopback_url(scheme: &str, port: u16) -> Url {
    Url::parse(&format!("{scheme}://127.0.0.1:{port}/")).expect("loopback URLs are valid")
}

fn invalid_input(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
}
