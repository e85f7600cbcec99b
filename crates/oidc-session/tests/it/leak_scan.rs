//! No secret of a session ever reaches a log, an event for the window, an error message or a
//! `Debug` print. Full flows run with every log of the process (the core, mock-okta, reqwest,
//! hyper, rustls) captured at TRACE; then everything the app could show or write is searched
//! for every token, authorization code and PKCE verifier the flows used.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mock_okta::browser::Browser;
use oidc_session::callback::{redacted, Callback};
use oidc_session::{error_chain, Config, OutcomeKind, SessionError, SignOutMode};
use session_testkit::{expect_app_redirect, query, Harness, Server, SCHEME};
use sha2::{Digest, Sha256};
use url::Url;

/// Everything the process logged.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn install() -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        // Also routes the `log` records of reqwest and rustls into the same place. Everything
        // at TRACE but the scripted browser's HTML parser, which logs the pages it reads: the
        // app's one-time sign-out page holds the ID token for the browser to post, by design.
        tracing_subscriber::fmt()
            .with_env_filter("trace,html5ever=off,selectors=off")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("the only subscriber of this test binary");
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The secrets the flows used, and everything that must not contain them.
#[derive(Default)]
struct Scan {
    secrets: Vec<(String, String)>,
    /// The PKCE challenges sent: a verifier is found by hashing candidates, as only the core
    /// ever holds it.
    challenges: Vec<String>,
    haystacks: Vec<(String, String)>,
}

impl Scan {
    fn secret(&mut self, what: &str, value: &str) {
        assert!(value.len() >= 16, "{what} is too short to search for");
        self.secrets.push((what.to_owned(), value.to_owned()));
        // A JWT's signature alone would still be a leak of the token.
        if let Some(signature) = value.split('.').nth(2) {
            self.secrets
                .push((format!("{what} (signature)"), signature.to_owned()));
        }
    }

    /// The tokens the keychain holds for the session now.
    fn session_tokens(&mut self, harness: &Harness, when: &str) {
        let stored = harness.vault().load().unwrap().expect("a stored session");
        let tokens = &stored.tokens;
        self.secret(
            &format!("access token {when}"),
            tokens.access_token.secret(),
        );
        self.secret(&format!("ID token {when}"), tokens.id_token.secret());
        if let Some(refresh_token) = &tokens.refresh_token {
            self.secret(&format!("refresh token {when}"), refresh_token.secret());
        }
        self.look_in(
            &format!("Debug of the stored session {when}"),
            format!("{stored:?}"),
        );
    }

    /// The DPoP private key the keychain holds for the session now, in the encodings a
    /// careless log line would use.
    fn dpop_key(&mut self, harness: &Harness) {
        let key = harness
            .vault()
            .load()
            .unwrap()
            .and_then(|stored| stored.dpop_key)
            .expect("a DPoP session's key");
        let stored = key.to_stored();
        let pkcs8 = URL_SAFE_NO_PAD.decode(stored.expose()).unwrap();
        self.secret("DPoP private key (base64url)", stored.expose());
        self.secret("DPoP private key (base64)", &STANDARD.encode(&pkcs8));
        // The private scalar alone, as a JWK's `d` or in hex: in the PKCS#8 it follows the
        // ECPrivateKey's version 1 as a 32-byte OCTET STRING (RFC 5915).
        let at = pkcs8
            .windows(5)
            .position(|window| window == [0x02, 0x01, 0x01, 0x04, 0x20])
            .expect("an ECPrivateKey in the PKCS#8")
            + 5;
        let scalar = &pkcs8[at..at + 32];
        self.secret("DPoP private key (JWK d)", &URL_SAFE_NO_PAD.encode(scalar));
        let hex: String = scalar.iter().map(|byte| format!("{byte:02x}")).collect();
        self.secret("DPoP private key (hex)", &hex);
        self.look_in("Debug of the DPoP key", format!("{key:?}"));
    }

    /// A sign-in's authorization request and the callback the browser brought back.
    fn sign_in_round_trip(&mut self, authorization: &Url, callback: &Url) {
        self.challenges
            .push(query(authorization, "code_challenge").expect("PKCE"));
        self.secret(
            "authorization code",
            &query(callback, "code").expect("a code"),
        );
        let (sign_in, sign_out) = uris();
        let parsed = Callback::parse(callback.as_str(), &sign_in, &sign_out).unwrap();
        self.look_in("Debug of a parsed callback", format!("{parsed:?}"));
        self.look_in("a callback link for the logs", redacted(callback.as_str()));
    }

    fn look_in(&mut self, what: &str, text: impl Into<String>) {
        self.haystacks.push((what.to_owned(), text.into()));
    }

    fn error(&mut self, what: &str, error: &SessionError) {
        self.look_in(&format!("{what} (Display)"), error.to_string());
        self.look_in(&format!("{what} (Debug)"), format!("{error:?}"));
        self.look_in(
            &format!("{what} (its message, as the UI gets it)"),
            error_chain(error),
        );
    }

    fn events(&mut self, harness: &Harness) {
        for view in harness.app.events.views() {
            self.look_in("a session view event", view);
        }
        for outcome in harness.app.events.outcomes() {
            self.look_in("a sign-out outcome (Debug)", format!("{outcome:?}"));
            self.look_in(
                "a sign-out outcome event",
                serde_json::to_string(&outcome).unwrap(),
            );
        }
    }

    /// Every leak: (what leaked, where).
    fn leaks(&self) -> Vec<(String, String)> {
        let mut leaks = Vec::new();
        for (place, text) in &self.haystacks {
            for (what, secret) in &self.secrets {
                if text.contains(secret.as_str()) {
                    leaks.push((what.clone(), place.clone()));
                }
            }
            if pkce_verifier_candidates(text).any(|candidate| {
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(candidate.as_bytes()));
                self.challenges.contains(&challenge)
            }) {
                leaks.push(("a PKCE verifier".to_owned(), place.clone()));
            }
        }
        leaks
    }
}

/// Every 43-character window of every run of RFC 7636 verifier characters (a verifier of 32
/// random bytes, as openidconnect makes them, is 43 characters long).
fn pkce_verifier_candidates(text: &str) -> impl Iterator<Item = &str> {
    const VERIFIER_LENGTH: usize = 43;
    text.split(|character: char| !(character.is_ascii_alphanumeric() || "-._~".contains(character)))
        .flat_map(|run| {
            (0..(run.len() + 1).saturating_sub(VERIFIER_LENGTH))
                .map(move |start| &run[start..start + VERIFIER_LENGTH])
        })
}

fn uris() -> (Url, Url) {
    let config = Config::defaults(SCHEME);
    (config.redirect_uri, config.post_logout_redirect_uri)
}

/// A sign-in through the browser, recorded in `scan`.
async fn sign_in(harness: &mut Harness, browser: &Browser, scan: &mut Scan) {
    let (authorization, task) = harness.app.begin_sign_in().await;
    let callback = expect_app_redirect(browser.open(authorization.clone()).await.unwrap());
    scan.sign_in_round_trip(&authorization, &callback);
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let user = task.await.unwrap().expect("sign-in succeeds");
    scan.look_in("the user's claims (Debug)", format!("{user:?}"));
    scan.session_tokens(harness, "after sign-in");
}

/// Set in the child process that runs the flows with every log captured.
const CHILD_VAR: &str = "OIDC_SESSION_LEAK_SCAN_CHILD";

#[test]
fn no_secret_reaches_logs_events_errors_or_debug_output() {
    if std::env::var_os(CHILD_VAR).is_some() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        return runtime.block_on(scan_flows());
    }
    // The log subscriber is global to a process: the flows run in one of their own, so that
    // what the scan reads is theirs alone.
    let output = crate::rerun("leak_scan::no_secret_reaches_logs_events_errors_or_debug_output")
        .env(CHILD_VAR, "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn scan_flows() {
    let logs = CapturedLogs::install();
    let mut scan = Scan::default();
    let mut harness = Harness::start("leak-scan").await;
    // Inside the refresh margin: the restore below refreshes.
    harness.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 30);
    let browser = harness.browser();

    // Sign-in, restore with refresh, full sign-out.
    sign_in(&mut harness, &browser, &mut scan).await;
    scan.events(&harness);
    harness.restart().await;
    harness.app.manager.restored().await.unwrap();
    scan.session_tokens(&harness, "after the refresh");
    harness.app.sign_out(&browser).await;
    assert_eq!(
        harness.app.events.outcomes()[0].kind,
        OutcomeKind::Completed
    );
    scan.events(&harness);

    // App-only sign-out; then offline sign-out (the tokens wait in the keychain).
    harness.restart().await;
    sign_in(&mut harness, &browser, &mut scan).await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    sign_in(&mut harness, &browser, &mut scan).await;
    harness.mock.go_offline().await;
    harness.app.sign_out_now(SignOutMode::Full).await;
    let pending = harness.pending().expect("queued tokens");
    scan.look_in("Debug of the queued tokens", format!("{pending:?}"));
    harness.mock.go_online().await.unwrap();
    scan.events(&harness);

    // Error paths: a forged callback carrying a code, a replayed code, a token endpoint
    // failure, a refresh token Okta no longer takes, a failing revocation.
    harness.restart().await;
    let (authorization, task) = harness.app.begin_sign_in().await;
    let callback = expect_app_redirect(browser.open(authorization.clone()).await.unwrap());
    scan.sign_in_round_trip(&authorization, &callback);
    let mut forged = callback.clone();
    forged.set_query(Some(&format!(
        "code={}&state=forged",
        query(&callback, "code").unwrap()
    )));
    assert!(!harness.app.manager.handle_deep_link(forged.as_str()));
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    task.await.unwrap().unwrap();
    scan.session_tokens(&harness, "before the error paths");
    harness.app.sign_out_now(SignOutMode::AppOnly).await;

    let (authorization, task) = harness.app.begin_sign_in().await;
    let replayed = format!(
        "{}?code={}&state={}&iss={}",
        uris().0,
        query(&callback, "code").unwrap(),
        query(&authorization, "state").unwrap(),
        query(&callback, "iss").unwrap()
    );
    assert!(harness.app.manager.handle_deep_link(&replayed));
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(error.code(), "grant_rejected", "{error}");
    scan.error("a replayed code", &error);

    harness
        .mock
        .update_faults(|faults| faults.token.status = Some(500));
    let (authorization, task) = harness.app.begin_sign_in().await;
    let callback = expect_app_redirect(browser.open(authorization.clone()).await.unwrap());
    scan.sign_in_round_trip(&authorization, &callback);
    assert!(harness.app.manager.handle_deep_link(callback.as_str()));
    let error = task.await.unwrap().unwrap_err();
    scan.error("a token endpoint failure", &error);
    harness
        .mock
        .update_faults(|faults| faults.token.status = None);

    sign_in(&mut harness, &browser, &mut scan).await;
    let stored = harness.vault().load().unwrap().unwrap();
    let refresh_token = stored.tokens.refresh_token.clone().unwrap();
    // Okta revokes the refresh token elsewhere (an admin); the next start finds it dead.
    let http = harness
        .app
        .manager
        .identity_provider()
        .http_client()
        .unwrap();
    let revoke = http
        .post(harness.mock.issuer().to_string() + "/v1/revoke")
        .form(&[
            ("token", refresh_token.secret()),
            ("client_id", mock_okta::DEMO_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    harness.restart().await;
    harness.app.manager.restored().await.unwrap();
    assert!(
        harness.vault().load().unwrap().is_none(),
        "the dead session is gone"
    );

    harness.restart().await;
    sign_in(&mut harness, &browser, &mut scan).await;
    harness
        .mock
        .update_faults(|faults| faults.revoke.status = Some(503));
    harness.app.sign_out(&browser).await;
    assert!(harness
        .app
        .events
        .outcomes()
        .iter()
        .any(|outcome| outcome.revocation_pending));
    scan.events(&harness);

    // DPoP: sign-in, refresh and full sign-out with tokens bound to a key in the keychain.
    let mock_config = mock_okta::Config::default().with_dpop_required(true);
    let dpop = Config {
        dpop: true,
        ..Config::defaults(SCHEME)
    };
    let mut bound =
        Harness::start_against("leak-scan-dpop", dpop, mock_config, Server::Default).await;
    let browser = bound.browser();
    sign_in(&mut bound, &browser, &mut scan).await;
    scan.dpop_key(&bound);
    bound.app.manager.refresh_now().await.unwrap();
    scan.session_tokens(&bound, "after a DPoP refresh");
    bound.app.sign_out(&browser).await;
    scan.events(&bound);

    let logs = logs.text();
    assert!(
        logs.contains("oidc_session") && logs.contains("TRACE"),
        "the scan sees the core's logs and TRACE ones"
    );
    scan.look_in("the logs", logs);
    assert!(scan.secrets.len() >= 20, "{} secrets", scan.secrets.len());
    assert!(scan.challenges.len() >= 6);
    let leaks = scan.leaks();
    assert!(leaks.is_empty(), "{leaks:#?}");
}
