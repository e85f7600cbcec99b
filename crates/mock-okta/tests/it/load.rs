//! mock-okta under load: a thousand sign-in and sign-out flows at once (bounded in-flight,
//! loopback only), by several people in their own browsers. None may fail, and none may see
//! another person's tokens or end another person's session.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mock_okta::browser::Browser;
use mock_okta::{
    LogoutOutcome, MockOkta, TokenState, UserConfig, DEMO_CLIENT_ID, DEMO_PASSWORD,
    DEMO_REDIRECT_URI,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::{
    authorize_url, expect_app_redirect, http, logout_params, logout_url, query_param, test_config,
    Pkce, TokenResponse,
};

const FLOWS: usize = 1_000;
const USERS: usize = 8;
/// How many flows run at once.
const IN_FLIGHT: usize = 100;

fn user(index: usize) -> UserConfig {
    UserConfig {
        username: format!("load-{index}@example.com"),
        password: DEMO_PASSWORD.to_owned(),
        name: format!("Load User {index}"),
        email: format!("load-{index}@example.com"),
        sub: format!("00uload{index:013}"),
    }
}

/// The claims of a JWT, read without verifying it (the mock signed it; the app's tests
/// verify signatures).
fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    condition.then_some(()).ok_or_else(what)
}

/// One person's whole round: sign in through their browser, get tokens, revoke, sign out.
async fn flow(
    mock: Arc<MockOkta>,
    back_channel: reqwest::Client,
    flow: usize,
) -> Result<(), String> {
    let person = user(flow % USERS);
    let browser = Browser::new(mock.ca_certificate_pem())
        .map_err(|error| error.to_string())?
        .with_credentials(&person.username, &person.password);
    let verifier = format!("load-verifier-{flow:06}-0123456789abcdefghijklmnopqrstuvwxyz");
    let pkce = Pkce {
        challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        verifier,
    };
    let state = format!("state-{flow}");
    let authorize = authorize_url(&mock, &pkce, &[("state", Some(&state))]);
    let redirect = expect_app_redirect(
        browser
            .open(authorize)
            .await
            .map_err(|error| format!("authorize: {error}"))?,
    );
    ensure(
        query_param(&redirect, "state") == Some(state.clone()),
        || format!("flow {flow} got the redirect {redirect}"),
    )?;
    let code = query_param(&redirect, "code").ok_or("no code")?;

    let response = back_channel
        .post(mock.base_url().join("oauth2/default/v1/token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .map_err(|error| format!("token: {error}"))?;
    ensure(response.status() == 200, || {
        format!("token: {}", response.status())
    })?;
    let tokens: TokenResponse = response.json().await.map_err(|error| error.to_string())?;
    let id_token = tokens.id_token.ok_or("no ID token")?;
    let refresh_token = tokens.refresh_token.ok_or("no refresh token")?;
    let id_claims = claims(&id_token);
    ensure(id_claims["sub"] == person.sub.as_str(), || {
        format!(
            "flow {flow} for {} got the ID token of {}",
            person.sub, id_claims["sub"]
        )
    })?;
    ensure(
        claims(&tokens.access_token)["uid"] == person.sub.as_str(),
        || format!("flow {flow}: the access token is someone else's"),
    )?;
    let sid = id_claims["sid"].as_str().ok_or("no sid")?.to_owned();
    let own_session = mock
        .sessions()
        .into_iter()
        .find(|session| session.id == sid)
        .ok_or_else(|| format!("flow {flow}: its session {sid} is not live"))?;
    ensure(own_session.user == person.username, || {
        format!("flow {flow}: session {sid} belongs to {}", own_session.user)
    })?;
    for token in [&refresh_token, &tokens.access_token] {
        let issued = mock.token(token).ok_or("an unknown token")?;
        ensure(issued.user == person.username, || {
            format!("flow {flow}: a token of {} came back", issued.user)
        })?;
    }

    let response = back_channel
        .post(mock.base_url().join("oauth2/default/v1/revoke").unwrap())
        .form(&[
            ("token", refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .map_err(|error| format!("revoke: {error}"))?;
    ensure(response.status() == 200, || {
        format!("revoke: {}", response.status())
    })?;
    for token in [&refresh_token, &tokens.access_token] {
        let state = mock.token(token).map(|token| token.state);
        ensure(state == Some(TokenState::Revoked), || {
            format!("flow {flow}: a token is {state:?} after revocation")
        })?;
    }

    let logout_state = format!("logout-{flow}");
    let landing = browser
        .open(logout_url(&mock, &logout_params(&id_token, &logout_state)))
        .await
        .map_err(|error| format!("logout: {error}"))?;
    let back = expect_app_redirect(landing);
    ensure(query_param(&back, "state") == Some(logout_state), || {
        format!("flow {flow}: logout came back with {back}")
    })?;
    ensure(
        mock.sessions().iter().all(|session| session.id != sid),
        || format!("flow {flow}: its session outlived its logout"),
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_flows_stay_apart() {
    let mut config = test_config();
    config.users.extend((0..USERS).map(user));
    let mock = Arc::new(MockOkta::start(config).await.unwrap());
    let back_channel = http(&mock);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let flows: Vec<_> = (0..FLOWS)
        .map(|index| {
            let (mock, back_channel, in_flight) =
                (mock.clone(), back_channel.clone(), in_flight.clone());
            tokio::spawn(async move {
                let _permit = in_flight.acquire_owned().await.unwrap();
                flow(mock, back_channel, index).await
            })
        })
        .collect();
    let mut errors = Vec::new();
    for task in flows {
        if let Err(error) = task.await.unwrap() {
            errors.push(error);
        }
    }
    assert!(
        errors.is_empty(),
        "{} failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );

    // Each logout found a session to end (its own: an ended session cannot be ended twice),
    // and none is left.
    let logouts = mock.logout_events();
    assert_eq!(logouts.len(), FLOWS);
    assert!(logouts
        .iter()
        .all(|event| event.had_session && event.outcome == LogoutOutcome::Redirected));
    assert!(mock.sessions().is_empty());
    assert_eq!(mock.revocations().len(), FLOWS);
}
