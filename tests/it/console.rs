//! mock-okta's console in a real browser: WebKitGTK's MiniBrowser, driven by WebDriver on a
//! private desktop. It shows what happened without a token's text, and a fault switch flipped
//! on the page takes effect on the next request, and only on it.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desktop_testkit::{Desktop, Driver};
use mock_okta::browser::{Browser, Landing};
use mock_okta::{MockOkta, DEMO_CLIENT_ID, DEMO_REDIRECT_URI, DEMO_USERNAME};
use sha2::{Digest, Sha256};

use crate::session_e2e::start_mock;
use crate::support::screenshot;

/// The page refreshes its tables every second; this is only a safety net.
const LIMIT: Duration = Duration::from_secs(30);

/// The back channel as the app uses it: trusts only mock-okta's CA, follows no redirects.
fn back_channel(mock: &MockOkta) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(mock.ca_certificate_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs Ada in with the scripted browser and exchanges the code: the access token.
async fn sign_in(mock: &MockOkta, client: &reqwest::Client) -> String {
    let verifier = "console-test-verifier-0123456789abcdefghijklmnopqrstuvwxyz";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    let mut authorize = mock
        .browser_url()
        .join("oauth2/default/v1/authorize")
        .unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("client_id", DEMO_CLIENT_ID),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("response_type", "code"),
        ("scope", "openid profile offline_access"),
        ("state", "console"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let browser = Browser::for_mock(mock).unwrap();
    let Landing::AppRedirect(redirect) = browser.open(authorize).await.unwrap() else {
        panic!("the sign-in did not come back to the app");
    };
    let code = redirect
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: serde_json::Value = client
        .post(mock.base_url().join("oauth2/default/v1/token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn revoke(mock: &MockOkta, client: &reqwest::Client, token: &str) -> u16 {
    client
        .post(mock.base_url().join("oauth2/default/v1/revoke").unwrap())
        .form(&[("token", token), ("client_id", DEMO_CLIENT_ID)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits until the page's element `css` shows `text`, refreshed by the page itself. Read in
/// one script: the refresh replaces the tables' elements, so a WebDriver element reference
/// found before it would be stale after.
async fn wait_for_text(driver: &Driver, css: &str, text: &str) {
    let read = format!("return document.querySelector({css:?})?.innerText ?? '';");
    let start = std::time::Instant::now();
    loop {
        let shown = driver.execute(&read).await;
        let shown = shown.as_str().unwrap_or_default();
        if shown.contains(text) {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "{css} never showed {text:?}; it shows:\n{shown}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_what_happened_and_a_switch_flipped_there_takes_effect() {
    let mock = start_mock().await;
    let client = back_channel(&mock);
    let access_token = sign_in(&mock, &client).await;
    assert_eq!(revoke(&mock, &client, &access_token).await, 200);

    let desktop = Desktop::start("/usr/bin/WebKitWebDriver");
    let driver = Driver::start_browser(&desktop).await;
    let console = mock.browser_url().join("__admin/").unwrap();
    driver.client.goto(console.as_str()).await.unwrap();
    assert_eq!(driver.client.title().await.unwrap(), "mock-okta console");
    wait_for_text(&driver, "#sessions", DEMO_USERNAME).await;
    wait_for_text(&driver, "#sessions", DEMO_CLIENT_ID).await;
    wait_for_text(&driver, "#tokens", "revoked").await;
    wait_for_text(&driver, "#requests", "/oauth2/default/v1/revoke").await;
    let source = driver.client.source().await.unwrap();
    assert!(
        !source.contains(&access_token),
        "a token's text is on the page"
    );
    driver.screenshot(&screenshot("mock-okta-console")).await;

    // Make the next revoke, and only it, fail with 503, from the page.
    driver.fill("[name='revoke.status']", "503").await;
    driver.fill("[name='revoke.count']", "1").await;
    driver.click("#apply-faults").await;
    // The form posts, and the browser comes back to the console showing the switch set.
    let start = std::time::Instant::now();
    while mock.faults().revoke.status != Some(503) {
        if start.elapsed() > LIMIT {
            let at = driver.client.current_url().await.unwrap();
            let page = driver.client.source().await.unwrap();
            panic!("the form never changed the faults; the browser is at {at}:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mock.faults().revoke.count, Some(1));
    wait_for_text(
        &driver,
        "#faults-in-force",
        "revoke: answers 503, for the next 1 request(s)",
    )
    .await;
    assert_eq!(revoke(&mock, &client, "any").await, 503);
    assert_eq!(revoke(&mock, &client, "any").await, 200);
    wait_for_text(&driver, "#requests", "fault: status 503").await;
    wait_for_text(&driver, "#faults-in-force", "None").await;
    driver
        .screenshot(&screenshot("mock-okta-console-fault"))
        .await;
    driver.quit().await;
}
