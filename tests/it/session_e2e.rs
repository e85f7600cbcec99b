//! Sign-in end to end: the real app, in a real (virtual) window, signs in to a mock-okta that
//! the test runs, through the person's browser (mock-okta-browser, installed as the desktop's
//! browser, so the app's opener goes through `xdg-open`) and back through the real Linux
//! deep-link path: `gio open` (like Firefox) or `xdg-open` (like Chromium) → the app's
//! `.desktop` entry → the link program, or a second instance of the app where the app is
//! installed alone → the running app's single-instance D-Bus name.

use std::process::Stdio;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desktop_testkit::{terminate, wait_for, Desktop, Driver, IDENTIFIER};
use mock_okta::MockOkta;
use session_testkit::assert_revoked_refresh_then_access;
use sha2::{Digest, Sha256};

use crate::support::{app_desktop, screenshot, AppDesktop, HandOff, LINK_PROGRAM};

const LIMIT: Duration = Duration::from_secs(60);

pub(crate) async fn start_mock() -> MockOkta {
    MockOkta::start(mock_okta::Config::default())
        .await
        .expect("start mock-okta")
}

/// A desktop whose browser and app both use `mock`'s `default` authorization server.
fn desktop_for(mock: &MockOkta, hand_off: HandOff) -> Desktop {
    desktop_on(mock, hand_off, mock.issuer().as_str())
}

/// A desktop whose browser and app both use `mock`, the app its authorization server `issuer`.
/// Where the browser hands links over like Chromium (`xdg-open`), the app is installed alone,
/// so its desktop entry starts a second instance of the app for each link; elsewhere the entry
/// runs the link program. So both ways a link reaches the running app are covered by whole
/// flows.
fn desktop_on(mock: &MockOkta, hand_off: HandOff, issuer: &str) -> Desktop {
    let mut desktop = app_desktop();
    if hand_off == HandOff::XdgOpen {
        desktop.install_app_alone();
    }
    configure_for(&mut desktop, mock, hand_off, issuer);
    desktop
}

/// Has `desktop`'s browser and app both use `mock`, the app its authorization server `issuer`,
/// the browser handing links back with `hand_off`.
pub(crate) fn configure_for(
    desktop: &mut Desktop,
    mock: &MockOkta,
    hand_off: HandOff,
    issuer: &str,
) {
    let ca_file = desktop.install_browser(mock.ca_certificate_pem(), hand_off);
    desktop.set_env("OKTA_SIGNOUT_ISSUER", issuer);
    desktop.set_env("OKTA_SIGNOUT_CLIENT_ID", mock_okta::DEMO_CLIENT_ID);
    desktop.set_env("OKTA_SIGNOUT_CA_FILE", ca_file);
}

/// The window shows Ada signed in, mock-okta has her browser session and the Secret Service
/// holds the app's session, whose tokens mock-okta issued to her.
async fn assert_signed_in_as_ada(mock: &MockOkta, desktop: &Desktop, driver: &Driver) {
    driver.wait_for_session("signed_in").await;
    assert_eq!(driver.text("#user-name").await, "Ada Lovelace");
    assert_eq!(driver.text("#user-email").await, "ada@example.com");
    let sessions = mock.sessions();
    assert!(
        sessions
            .iter()
            .any(|session| session.user == "ada@example.com"),
        "mock-okta has no session for ada: {sessions:?}"
    );
    let tokens = stored_tokens(desktop);
    assert_eq!(tokens.len(), 3, "access, refresh and ID token");
    for token in &tokens {
        let issued = mock.token(token).expect("a token mock-okta issued");
        assert_eq!(issued.user, "ada@example.com");
    }
}

/// The token values in the app's Secret Service entry.
fn stored_tokens(desktop: &Desktop) -> Vec<String> {
    let stored = desktop
        .stored_session()
        .expect("the app's session in the Secret Service");
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("a JSON record");
    ["access_token", "refresh_token", "id_token"]
        .into_iter()
        .filter_map(|field| stored[field].as_str().map(str::to_owned))
        .collect()
}

/// Records every message the window hears from now on (on a channel of its own, opened as the
/// UI opens its own), and checks that it cannot listen to the deep-link plugin's event, which
/// carries every incoming link.
async fn record_window_messages(driver: &Driver) {
    let answer = driver
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.windowMessages = [];
             const channel = new window.__TAURI__.core.Channel();
             channel.onmessage = (message) => window.windowMessages.push(JSON.stringify(message));
             window.__TAURI__.core.invoke('watch', { channel })
               .then(() => window.__TAURI__.core.invoke('plugin:event|listen', {
                 event: 'deep-link://new-url',
                 target: { kind: 'Any' },
                 handler: window.__TAURI_INTERNALS__.transformCallback(() => {}),
               }))
               .then(() => done('listening to deep links'), (error) => done(String(error)));",
            Vec::new(),
        )
        .await
        .expect("watch the window's messages");
    let answer = answer.as_str().unwrap_or_default().to_owned();
    assert!(
        answer.contains("not allowed"),
        "the window could listen to the deep-link plugin's event: {answer}"
    );
}

/// Everything the window received or shows: recorded events, the answers of the commands it
/// calls, and its DOM.
async fn what_the_window_got(driver: &Driver) -> Vec<String> {
    let mut seen: Vec<String> =
        serde_json::from_value(driver.execute("return window.windowMessages || [];").await)
            .unwrap();
    assert!(
        seen.iter().any(|message| message.contains("signed_in")),
        "no session change was recorded: {seen:?}"
    );
    for command in ["session_state", "app_info", "revocation_status"] {
        let answer = driver
            .client
            .execute_async(
                "const [command, done] = arguments;
                 window.__TAURI__.core.invoke(command).then(
                   (answer) => done(JSON.stringify(answer)),
                   (error) => done('error: ' + JSON.stringify(error)));",
                vec![command.into()],
            )
            .await
            .unwrap_or_else(|error| panic!("invoke {command}: {error}"));
        seen.push(answer.as_str().unwrap().to_owned());
    }
    seen.push(
        driver
            .execute("return document.documentElement.outerHTML;")
            .await
            .as_str()
            .unwrap()
            .to_owned(),
    );
    seen
}

/// No secret of the flows so far reached the window: no token (nor a JWT's signature), no
/// code, `state` or `id_token_hint` that the browser saw, no PKCE verifier (found by hashing
/// every word against the challenges the browser saw). Nor the app's log, which may name a
/// link's `state` (single-use) but nothing else of these. `tokens` are the session's, read
/// from the keychain while it held them.
async fn assert_no_secret_reached_the_window(
    desktop: &Desktop,
    driver: &Driver,
    tokens: &[String],
) {
    let window = what_the_window_got(driver).await;
    assert!(window.iter().any(|text| text.contains("Ada Lovelace")));
    let log = desktop.app_log();
    let history = browser_history(desktop);
    let parameter = |name: &str| -> Vec<String> {
        history
            .iter()
            .flat_map(|url| {
                url.query_pairs()
                    .filter(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (codes, states, hints, challenges) = (
        parameter("code"),
        parameter("state"),
        parameter("id_token_hint"),
        parameter("code_challenge"),
    );
    assert!(
        !codes.is_empty() && !states.is_empty() && !challenges.is_empty(),
        "the browser saw no sign-in: {history:?}"
    );
    let mut secrets: Vec<&str> = tokens.iter().map(String::as_str).collect();
    // A JWT's signature alone identifies the token too.
    secrets.extend(tokens.iter().filter_map(|token| token.rsplit('.').next()));
    secrets.extend(codes.iter().chain(&hints).map(String::as_str));
    let verifier_in = |text: &str| {
        text.split(|character: char| {
            !(character.is_ascii_alphanumeric() || "-._~".contains(character))
        })
        .filter(|word| (43..=128).contains(&word.len()))
        .any(|word| challenges.contains(&URL_SAFE_NO_PAD.encode(Sha256::digest(word))))
    };
    // The window must not show a link's state either.
    let window_secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .chain(states.iter().map(String::as_str))
        .collect();
    for text in &window {
        for secret in &window_secrets {
            assert!(
                !text.contains(secret),
                "a secret reached the window: {text}"
            );
        }
        assert!(
            !verifier_in(text),
            "a PKCE verifier reached the window: {text}"
        );
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret),
            "a secret reached the app's log: {log}"
        );
    }
    assert!(!verifier_in(&log), "a PKCE verifier reached the app's log");
}

/// Every URL the browser was asked to open or handed back to the desktop.
fn browser_history(desktop: &Desktop) -> Vec<url::Url> {
    std::fs::read_to_string(desktop.home().join(".mock-okta-browser/history"))
        .unwrap_or_default()
        .lines()
        .map(|line| url::Url::parse(line).expect("a URL in the browser's history"))
        .collect()
}

/// Opens a forged sign-in callback through the desktop, as a hostile program could, and checks
/// that the running app ignored it for `reason` and that the second instance exited.
fn forge_sign_in_callback(desktop: &Desktop, reason: &str) {
    let ignored_before = ignored_links(desktop).len();
    let url = format!("{IDENTIFIER}:/callback?code=forged-code&state=forged-state");
    let status = desktop.run("xdg-open", &[&url], LIMIT);
    assert!(status.success(), "xdg-open failed: {status}");
    let ignored = wait_for("the app to ignore the forged link", LIMIT, || {
        ignored_links(desktop).get(ignored_before).cloned()
    });
    assert!(
        ignored.contains(reason),
        "ignored for another reason: {ignored}"
    );
    wait_for("the second instance to exit", LIMIT, || {
        (desktop.app_pids().len() == 1).then_some(())
    });
    assert_eq!(desktop.app_window_count(), 1, "a second window appeared");
}

fn ignored_links(desktop: &Desktop) -> Vec<String> {
    desktop
        .app_log()
        .lines()
        .filter(|line| line.contains("deep link ignored"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_through_the_browser_handing_back_with_gio_open() {
    let mock = start_mock().await;
    let mut desktop = desktop_for(&mock, HandOff::Gio);
    desktop.hold_browser();
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    driver.screenshot(&screenshot("session-signed-out")).await;
    record_window_messages(&driver).await;

    driver.click("#sign-in").await;
    driver.wait_for_session("signing_in").await;
    // The app's opener went through xdg-open to the browser, which now holds.
    desktop.wait_for_browser_log("holding", LIMIT);
    assert_eq!(
        driver.text("#screen-signing-in h2").await,
        "Waiting for your browser…"
    );
    driver.screenshot(&screenshot("session-waiting")).await;

    desktop.release_browser();
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    driver.screenshot(&screenshot("session-signed-in")).await;
    desktop.wait_for_browser_log("how=Gio", LIMIT);
    desktop.wait_for_log("callback accepted", LIMIT);
    assert_eq!(
        desktop.link_entry_program(),
        std::fs::canonicalize(LINK_PROGRAM).unwrap()
    );
    let tokens = stored_tokens(&desktop);
    assert_no_secret_reached_the_window(&desktop, &driver, &tokens).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_through_the_browser_handing_back_with_xdg_open() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::XdgOpen);
    let driver = Driver::start(&desktop).await;
    sign_in_through_the_window(&mock, &desktop, &driver).await;
    desktop.wait_for_browser_log("how=XdgOpen", LIMIT);
    desktop.wait_for_log("callback accepted", LIMIT);
    // The entry ran a second instance of the app, which handed the callback over.
    assert_eq!(
        desktop.link_entry_program(),
        std::fs::canonicalize(desktop.app()).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_deep_links_change_nothing_while_waiting_or_signed_in() {
    let mock = start_mock().await;
    let mut desktop = desktop_for(&mock, HandOff::Gio);
    desktop.hold_browser();
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    driver.click("#sign-in").await;
    driver.wait_for_session("signing_in").await;
    desktop.wait_for_browser_log("holding", LIMIT);

    forge_sign_in_callback(&desktop, "state does not match");
    assert_eq!(driver.session().await, "signing_in");
    assert!(mock.tokens().is_empty(), "the forged code was redeemed");

    // The real callback still completes the sign-in that was waiting.
    desktop.release_browser();
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    let stored = desktop.stored_session();

    forge_sign_in_callback(&desktop, "nothing is waiting");
    assert_eq!(driver.session().await, "signed_in");
    assert_eq!(driver.text("#user-name").await, "Ada Lovelace");
    assert_eq!(
        desktop.stored_session(),
        stored,
        "the stored session changed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deep_link_that_starts_the_app_changes_nothing() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::Gio);
    // An earlier run registered the app's .desktop handler in this HOME.
    let app = desktop.launch_app(&[]);
    desktop.wait_for_log("deep-link handler registered", LIMIT);
    drop(app);
    wait_for("the app to exit", LIMIT, || {
        desktop.app_pids().is_empty().then_some(())
    });

    // Generic xdg-open runs the handler in the foreground: it ends with the app.
    let url = format!("{IDENTIFIER}:/callback?code=stray-code&state=stray-state");
    let mut opener = desktop
        .command("xdg-open")
        .arg(&url)
        .stdin(Stdio::null())
        .spawn()
        .expect("xdg-open");
    let ignored = wait_for("the started app to ignore the link", LIMIT, || {
        ignored_links(&desktop).first().cloned()
    });
    assert!(ignored.contains("nothing is waiting"), "{ignored}");
    wait_for("the app's window", LIMIT, || {
        (desktop.app_window_count() == 1).then_some(())
    });
    desktop.screenshot(&screenshot("session-cold-start-deep-link"));
    let pids = desktop.app_pids();
    assert_eq!(pids.len(), 1, "the app is not running: {pids:?}");
    assert_eq!(
        opener.try_wait().unwrap(),
        None,
        "xdg-open ended: the app crashed"
    );
    assert_eq!(desktop.app_log().matches("starting").count(), 2);
    assert!(!desktop.app_log().contains("signed in"));
    assert_eq!(desktop.stored_session(), None);
    assert!(mock.tokens().is_empty());

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pids[0].to_string()])
        .status();
    terminate(&mut opener);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_app_restores_the_session() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::XdgOpen);
    let driver = Driver::start(&desktop).await;
    sign_in_through_the_window(&mock, &desktop, &driver).await;

    let driver = restart_app(driver, &desktop).await;
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    desktop.wait_for_log("session restored", LIMIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_waiting_for_a_browser_that_never_comes_back() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::Never);
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    driver.click("#sign-in").await;
    driver.wait_for_session("signing_in").await;
    desktop.wait_for_browser_log("not handing", LIMIT);

    driver.click("#cancel-sign-in").await;
    driver.wait_for_session("signed_out").await;
    assert_eq!(driver.text("#notice-title").await, "Sign-in cancelled");
    assert_eq!(desktop.stored_session(), None);
}

/// Everything the Secret Service holds under the app's service name (`secret-tool search`).
fn app_secrets(desktop: &Desktop) -> String {
    let output = desktop
        .command("secret-tool")
        .args(["search", "--all", "--unlock", "service", IDENTIFIER])
        .output()
        .expect("secret-tool (apt install libsecret-tools)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until the window reports a sign-out outcome of `kind` and returns its message.
pub(crate) async fn wait_for_outcome(driver: &Driver, kind: &str) -> String {
    let shown = wait_for_async("a sign-out outcome", || async {
        let outcome = driver
            .execute("return document.documentElement.dataset.outcome || '';")
            .await;
        let outcome = outcome.as_str().unwrap_or_default().to_owned();
        (!outcome.is_empty()).then_some(outcome)
    })
    .await;
    assert_eq!(shown, kind, "{}", driver.text("#notice-text").await);
    driver.text("#notice-text").await
}

async fn wait_for_async<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Quits the app and starts it again in the same desktop (HOME, keychain, bus).
async fn restart_app(driver: Driver, desktop: &Desktop) -> Driver {
    driver.quit().await;
    wait_for("the app to exit", LIMIT, || {
        desktop.app_pids().is_empty().then_some(())
    });
    Driver::start(desktop).await
}

/// Signs Ada in through the window; returns her tokens' values.
pub(crate) async fn sign_in_through_the_window(
    mock: &MockOkta,
    desktop: &Desktop,
    driver: &Driver,
) -> Vec<String> {
    driver.wait_for_session("signed_out").await;
    driver.click("#sign-in").await;
    assert_signed_in_as_ada(mock, desktop, driver).await;
    stored_tokens(desktop)
}

/// After a full sign-out: the keychain holds none of the app's entries, mock-okta no browser
/// session, and the session's `tokens` are revoked.
pub(crate) fn assert_signed_out_everywhere(mock: &MockOkta, desktop: &Desktop, tokens: &[String]) {
    assert_eq!(
        app_secrets(desktop),
        "",
        "the Secret Service still holds the app's entries"
    );
    assert!(
        mock.sessions().is_empty(),
        "the Okta session is still alive"
    );
    assert_revoked(mock, tokens);
}

fn assert_revoked(mock: &MockOkta, tokens: &[String]) {
    // The ID token is not revocable; the access and refresh tokens are.
    for token in tokens {
        let issued = mock.token(token).unwrap();
        if issued.kind != mock_okta::TokenKind::Id {
            assert_eq!(issued.state, mock_okta::TokenState::Revoked, "{issued:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_ends_the_app_session_and_the_okta_session_in_the_browser() {
    let mock = start_mock().await;
    // The org authorization server, whose issuer has no path: what an org without API Access
    // Management has.
    let desktop = desktop_on(&mock, HandOff::Gio, &mock.org_issuer());
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    record_window_messages(&driver).await;
    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;
    let signed_in_at = mock.journal_position();

    driver.click("#sign-out").await;
    let message = wait_for_outcome(&driver, "completed").await;
    assert_eq!(
        message,
        "You are signed out of this app and of Okta in your browser."
    );
    driver.wait_for_session("signed_out").await;
    driver
        .screenshot(&screenshot("session-signed-out-completed"))
        .await;
    assert_signed_out_everywhere(&mock, &desktop, &tokens);
    // What mock-okta's journal shows: the org server's revocations in the app's order, then
    // the browser's end-session request, which Okta answered with the redirect to the app.
    assert_revoked_refresh_then_access(&mock, signed_in_at, &tokens, "/oauth2");
    let ended_in_browser = mock.requests(signed_in_at).into_iter().any(|entry| {
        entry.path == "/oauth2/v1/logout" && entry.method == "POST" && entry.outcome == "redirected"
    });
    assert!(ended_in_browser, "no end-session request from the browser");
    let logouts = mock.logout_events();
    assert!(
        logouts.iter().any(|event| event.had_session),
        "no logout ended a browser session: {logouts:?}"
    );
    // Over the whole flow, sign-in to sign-out, nothing secret reached the window.
    assert_no_secret_reached_the_window(&desktop, &driver, &tokens).await;

    // A restart after signing out stays signed out.
    let driver = restart_app(driver, &desktop).await;
    driver.wait_for_session("signed_out").await;
    assert_eq!(app_secrets(&desktop), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_dpop_set_the_app_signs_in_and_out_with_tokens_bound_to_its_key() {
    // The app's Okta client requires DPoP, and the app is set to use it.
    let config = mock_okta::Config::default().with_dpop_required(true);
    let mock = MockOkta::start(config).await.expect("start mock-okta");
    let mut desktop = desktop_for(&mock, HandOff::Gio);
    desktop.set_env("OKTA_SIGNOUT_DPOP", "true");
    let driver = Driver::start(&desktop).await;
    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;
    let keys: Vec<_> = tokens
        .iter()
        .filter_map(|token| mock.token(token))
        .filter(|issued| issued.kind != mock_okta::TokenKind::Id)
        .map(|issued| issued.dpop_jkt)
        .collect();
    assert_eq!(keys.len(), 2, "an access and a refresh token");
    assert!(
        keys[0].is_some() && keys.iter().all(|key| *key == keys[0]),
        "both bound to one key: {keys:?}"
    );
    let stored: serde_json::Value =
        serde_json::from_str(&desktop.stored_session().unwrap()).unwrap();
    assert!(
        stored["dpop_key"].is_string(),
        "the private key lives in the session's keychain entry"
    );

    driver.click("#sign-out").await;
    wait_for_outcome(&driver, "completed").await;
    assert_signed_out_everywhere(&mock, &desktop, &tokens);
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_of_the_app_only_keeps_the_okta_session_for_silent_sso() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::XdgOpen);
    let driver = Driver::start(&desktop).await;
    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;
    let okta_session = mock.sessions();
    assert_eq!(okta_session.len(), 1);

    driver.click("#sign-out-app-only").await;
    wait_for_outcome(&driver, "signed_out_of_app_only").await;
    driver.wait_for_session("signed_out").await;
    driver
        .screenshot(&screenshot("session-signed-out-app-only"))
        .await;
    assert_eq!(app_secrets(&desktop), "");
    assert_revoked(&mock, &tokens);
    assert_eq!(mock.sessions(), okta_session, "the Okta session must stay");

    // Signing in again reuses the browser's Okta session: no new session, no form.
    driver.click("#sign-in").await;
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    assert_eq!(
        mock.sessions(),
        okta_session,
        "a new Okta session: not silent SSO"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_sign_out_is_immediate_and_the_window_follows_the_revocations_live() {
    let mock = start_mock().await;
    let desktop = desktop_for(&mock, HandOff::Gio);
    let driver = Driver::start(&desktop).await;
    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;

    mock.go_offline().await;
    driver.click("#sign-out").await;
    let message = wait_for_outcome(&driver, "offline").await;
    assert!(message.contains("Okta cannot be reached"), "{message}");
    driver.wait_for_session("signed_out").await;
    assert_eq!(
        desktop.stored_session(),
        None,
        "the app session must end offline too"
    );
    assert!(
        app_secrets(&desktop).contains("pending-revocation"),
        "the tokens wait in the pending entry"
    );
    // The window says what waits, why, and when the app tries again.
    wait_for_revocations(&driver, "pending").await;
    let waiting = driver.text("#revocations-text").await;
    for words in [
        "2 tokens are not revoked yet",
        "Last try: Okta could not be reached",
        "again",
    ] {
        assert!(waiting.contains(words), "{words:?} in {waiting:?}");
    }
    driver
        .screenshot(&screenshot("session-signed-out-offline"))
        .await;

    // Okta is back: "Retry now", and the notice changes without a restart.
    mock.go_online().await.expect("mock-okta back");
    driver.click("#retry-revocations").await;
    wait_for_revocations(&driver, "revoked").await;
    assert_eq!(
        driver.text("#revocations-title").await,
        "Nothing left to revoke"
    );
    assert_eq!(
        driver.text("#notice-text").await,
        message,
        "the outcome stays, and never spoke of revocation"
    );
    assert_revoked(&mock, &tokens);
    assert!(!app_secrets(&desktop).contains("pending-revocation"));
}

/// Waits until the window's revocation notice is in `state` ("pending", "revoked").
async fn wait_for_revocations(driver: &Driver, state: &str) {
    wait_for_async(&format!("the revocation notice to say {state}"), || async {
        let shown = driver
            .execute("return document.documentElement.dataset.revocations || '';")
            .await;
        (shown.as_str() == Some(state)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_sign_out_redirect_is_reported_with_what_to_fix() {
    let mock = start_mock().await;
    let mut desktop = desktop_for(&mock, HandOff::Gio);
    desktop.set_env(
        "OKTA_SIGNOUT_POST_LOGOUT_REDIRECT_URI",
        format!("{IDENTIFIER}:/signed-out"),
    );
    let driver = Driver::start(&desktop).await;
    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;

    driver.click("#sign-out").await;
    let message = wait_for_outcome(&driver, "preflight_failed").await;
    assert!(
        message.contains(mock_okta::UNREGISTERED_POST_LOGOUT_REDIRECT_URI),
        "{message}"
    );
    assert!(
        message.contains(&format!("{IDENTIFIER}:/signed-out")),
        "{message}"
    );
    driver.wait_for_session("signed_out").await;
    driver
        .screenshot(&screenshot("session-sign-out-preflight-failed"))
        .await;
    assert_eq!(app_secrets(&desktop), "");
    assert_revoked(&mock, &tokens);
    assert_eq!(
        mock.sessions().len(),
        1,
        "Okta's session could not be ended"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_an_unconfirmed_sign_out_the_window_says_the_next_sign_in_asks_for_a_password() {
    let (mock, desktop, driver) = signed_in_with_a_held_browser().await;

    // The browser hangs on its way to Okta's end-session page; the person stops waiting.
    desktop.hold_browser_again();
    driver.click("#sign-out").await;
    wait_for_browser_holds(&desktop, 2);
    driver.click("#cancel-sign-out").await;
    let message = wait_for_outcome(&driver, "cancelled").await;
    assert!(
        message.contains("The next sign-in here asks you to sign in to Okta again"),
        "{message}"
    );
    driver.wait_for_session("signed_out").await;
    assert!(password_required_shown(&driver).await);
    driver
        .screenshot(&screenshot("session-signed-out-password-required"))
        .await;

    // The browser gets to Okta late, after the app stopped waiting: Okta's session ends, and
    // the app ignores the late confirmation.
    desktop.release_browser();
    desktop.wait_for_browser_log("/v1/logout", LIMIT);
    desktop.wait_for_log("deep link ignored", LIMIT);
    assert_eq!(mock.sessions(), []);
    driver.click("#sign-in").await;
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    // The app asked Okta for a fresh sign-in (prompt=login).
    desktop.wait_for_log("fresh_login=true", LIMIT);
    let sessions = mock.sessions();
    assert_eq!(
        sessions[0].authenticated_by,
        mock_okta::Authentication::Password
    );
}

/// An administrator clears Ada's sessions in Okta while the app runs: the app finds out at its
/// next background renewal and the window says why by itself; then **Use another account**
/// asks Okta for a password.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_says_the_organization_ended_the_session_and_offers_another_account() {
    let mock = start_mock().await;
    // Short-lived access tokens: the app renews them in the background, about every second.
    mock.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 2);
    let desktop = desktop_for(&mock, HandOff::Gio);
    let driver = Driver::start(&desktop).await;
    sign_in_through_the_window(&mock, &desktop, &driver).await;

    assert!(mock.clear_user_sessions(mock_okta::DEMO_USERNAME).tokens > 0);
    let title = "Your organization ended this session";
    wait_for_async("the window to say why", || async {
        (driver.text("#notice-title").await == title).then_some(())
    })
    .await;
    driver.wait_for_session("signed_out").await;
    assert!(driver.text("#notice-text").await.contains("Sign in again"));
    driver
        .screenshot(&screenshot("session-ended-by-organization"))
        .await;
    assert_eq!(app_secrets(&desktop), "");

    // Okta's session is gone too, so only Okta's journal tells whether the app asked for a
    // password whatever session the browser had.
    let signed_out_at = mock.journal_position();
    driver.click("#sign-in-another").await;
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    let asked_for_a_password = mock.requests(signed_out_at).iter().any(|entry| {
        entry.endpoint == Some(mock_okta::Endpoint::Authorize)
            && entry.value("prompt") == Some("login")
    });
    assert!(asked_for_a_password, "no prompt=login reached Okta");
}

/// Ada signed in through a browser that holds before each page it is sent to, until released
/// (`hold_browser_again` makes it hold again); the signed-out screen asked for no password.
async fn signed_in_with_a_held_browser() -> (MockOkta, Desktop, Driver) {
    let mock = start_mock().await;
    let mut desktop = desktop_for(&mock, HandOff::Gio);
    desktop.hold_browser();
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    assert!(!password_required_shown(&driver).await);
    driver.click("#sign-in").await;
    wait_for_browser_holds(&desktop, 1);
    desktop.release_browser();
    assert_signed_in_as_ada(&mock, &desktop, &driver).await;
    (mock, desktop, driver)
}

/// Whether the signed-out screen says that the next sign-in asks for a password.
async fn password_required_shown(driver: &Driver) -> bool {
    driver
        .execute("return !document.getElementById('password-required').hidden;")
        .await
        .as_bool()
        .unwrap()
}

/// Waits until `count` browser runs have started holding.
fn wait_for_browser_holds(desktop: &Desktop, count: usize) {
    wait_for("the browser to hold", LIMIT, || {
        (desktop.browser_log().matches("holding").count() >= count).then_some(())
    });
}

/// The sign-out's page reached the browser without the ID token on its command line or in its
/// history; and while the window waits on a browser that did not come back, it offers the page
/// again and a one-time link to paste, which ends Okta's session too.
#[tokio::test(flavor = "multi_thread")]
async fn a_browser_that_did_not_come_back_gets_the_page_again_or_a_link() {
    let (mock, desktop, driver) = signed_in_with_a_held_browser().await;
    let tokens = stored_tokens(&desktop);

    // The browser is opened for the sign-out, and holds: it did not come to the front, say.
    desktop.hold_browser_again();
    driver.click("#sign-out").await;
    wait_for_browser_holds(&desktop, 2);
    driver.click("#signing-out .open-again").await;
    wait_for_browser_holds(&desktop, 3);
    let link = driver
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI__.core.invoke('copy_browser_link').then(done, (error) => done(String(error)));",
            Vec::new(),
        )
        .await
        .unwrap();
    let link = url::Url::parse(link.as_str().unwrap()).expect("a link");
    assert_eq!(
        (link.host_str(), link.query()),
        (Some("127.0.0.1"), None),
        "{link}"
    );

    // The person pastes the link into the browser (its Okta session cookie included).
    let browser = mock_okta::browser::Browser::for_mock(&mock).unwrap();
    let cookies = std::fs::read(desktop.home().join(".mock-okta-browser/cookies.json")).unwrap();
    browser.load_cookies(cookies.as_slice()).unwrap();
    let landing = browser.open(link).await.unwrap();
    let mock_okta::browser::Landing::AppRedirect(callback) = landing else {
        panic!("the link did not lead back to the app: {landing:?}");
    };
    assert!(desktop
        .run("gio", &["open", callback.as_str()], LIMIT)
        .success());
    let message = wait_for_outcome(&driver, "completed").await;
    assert!(
        message.starts_with("You are signed out of this app and of Okta"),
        "{message}"
    );
    assert!(
        mock.sessions().is_empty(),
        "the Okta session is still alive"
    );
    let ended = mock.logout_events().pop().unwrap();
    assert_eq!((ended.method.as_str(), ended.had_session), ("POST", true));

    // What the browser was asked to open (its command line) and its history: the sign-in's
    // Okta page, and loopback pages without a query for the sign-out; never a token.
    let history = browser_history(&desktop);
    let sign_out_pages: Vec<_> = history
        .iter()
        .filter(|url| url.host_str() == Some("127.0.0.1") && !url.as_str().contains("/oauth2/"))
        .collect();
    assert_eq!(sign_out_pages.len(), 2, "{history:?}");
    assert!(sign_out_pages.iter().all(|url| url.query().is_none()));
    for url in &history {
        for token in &tokens {
            assert!(
                !url.as_str().contains(token.as_str()),
                "a token in the browser's history: {url}"
            );
        }
    }
}
