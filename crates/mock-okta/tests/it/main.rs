//! Integration tests over real HTTP on 127.0.0.1: one binary, one module per area.

mod admin;
mod authorize;
mod binary;
mod browser;
mod discovery;
mod dpop;
mod faults;
mod journal;
mod keys;
mod load;
mod logout;
mod revoke;
mod token;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mock_okta::browser::{Browser, Landing};
use mock_okta::{
    Config, MockOkta, DEMO_CLIENT_ID, DEMO_POST_LOGOUT_REDIRECT_URI, DEMO_REDIRECT_URI,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

/// A fixed signing key, so tests do not pay for RSA generation each time.
pub const SIGNING_KEY_PEM: &str = include_str!("../fixtures/signing-key.pem");
/// A key the mock does not know, to forge signatures with.
pub const FORGER_KEY_PEM: &str = include_str!("../fixtures/forger-key.pem");

pub(crate) fn test_config() -> Config {
    Config {
        signing_key_pem: Some(SIGNING_KEY_PEM.to_owned()),
        ..Config::default()
    }
}

pub(crate) async fn start() -> MockOkta {
    start_with(test_config()).await
}

pub(crate) async fn start_with(config: Config) -> MockOkta {
    MockOkta::start(config).await.expect("mock-okta starts")
}

/// An HTTP client like the app's: trusts only the mock's CA, follows no redirects.
pub(crate) fn http(mock: &MockOkta) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(mock.ca_certificate_pem().as_bytes()).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

pub(crate) fn pkce() -> Pkce {
    let verifier = format!(
        "verifier-{}-0123456789abcdefghijklmnopqrstuvwxyz",
        rand_suffix()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The front-channel authorize URL of `issuer_path` (e.g. `oauth2/default`) with the demo
/// client's parameters, overridden or removed (`None`) by `overrides`.
pub(crate) fn authorize_url(
    mock: &MockOkta,
    pkce: &Pkce,
    overrides: &[(&str, Option<&str>)],
) -> Url {
    let mut url = mock
        .browser_url()
        .join("oauth2/default/v1/authorize")
        .unwrap();
    let defaults = [
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in defaults {
            if !overrides.iter().any(|(overridden, _)| *overridden == name) {
                query.append_pair(name, value);
            }
        }
        for (name, value) in overrides {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    url
}

pub(crate) fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// GETs `url` from mock-okta, expecting 200 and JSON.
pub(crate) async fn get_json(mock: &MockOkta, url: Url) -> serde_json::Value {
    let response = http(mock).get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// Whether the browser ended on mock-okta's sign-in form.
pub(crate) fn shows_sign_in_form(landing: &Landing) -> bool {
    matches!(landing, Landing::Page { status: 200, body } if body.contains("sign-in-form"))
}

pub(crate) fn expect_app_redirect(landing: Landing) -> Url {
    match landing {
        Landing::AppRedirect(url) => url,
        Landing::Page { status, body } => panic!("expected an app redirect, got {status}: {body}"),
    }
}

/// Signs in with `browser` and returns the authorization code.
pub(crate) async fn sign_in(mock: &MockOkta, browser: &Browser, pkce: &Pkce) -> String {
    let landing = browser.open(authorize_url(mock, pkce, &[])).await.unwrap();
    let redirect = expect_app_redirect(landing);
    assert!(
        redirect.as_str().starts_with(DEMO_REDIRECT_URI),
        "{redirect}"
    );
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some("state-123")
    );
    query_param(&redirect, "code").expect("code in redirect")
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) id_token: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) token_type: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
}

pub(crate) async fn post_form(
    mock: &MockOkta,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http(mock)
        .post(mock.base_url().join(path).unwrap())
        .form(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn exchange_code(mock: &MockOkta, code: &str, pkce: &Pkce) -> reqwest::Response {
    post_form(
        mock,
        "oauth2/default/v1/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await
}

/// A full sign-in: browser, code, tokens.
pub(crate) async fn signed_in_tokens(mock: &MockOkta, browser: &Browser) -> TokenResponse {
    let pkce = pkce();
    let code = sign_in(mock, browser, &pkce).await;
    let response = exchange_code(mock, &code, &pkce).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub(crate) async fn oauth_error(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The logout URL on the browser origin.
pub(crate) fn logout_url(mock: &MockOkta, params: &[(&str, &str)]) -> Url {
    let mut url = mock.browser_url().join("oauth2/default/v1/logout").unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url
}

pub(crate) fn logout_params<'a>(id_token: &'a str, state: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", DEMO_POST_LOGOUT_REDIRECT_URI),
        ("state", state),
    ]
}

/// Opens the end-session request for `tokens`' ID token with `state` in `browser`.
pub(crate) async fn sign_out_in(
    browser: &Browser,
    mock: &MockOkta,
    tokens: &TokenResponse,
    state: &str,
) -> Landing {
    let id_token = tokens.id_token.as_deref().expect("an ID token");
    browser
        .open(logout_url(mock, &logout_params(id_token, state)))
        .await
        .unwrap()
}

/// Redeems `refresh_token` at the default server's token endpoint as the demo client.
pub(crate) async fn refresh(mock: &MockOkta, refresh_token: &str) -> reqwest::Response {
    post_form(
        mock,
        "oauth2/default/v1/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await
}

/// Revokes `token` with `token_type_hint` `hint` at the default server as the demo client.
pub(crate) async fn revoke(mock: &MockOkta, token: &str, hint: &str) -> reqwest::Response {
    post_form(
        mock,
        "oauth2/default/v1/revoke",
        &[
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await
}
