//! mock-okta's speed, as the app's core sees it:
//! - start: spawning the release binary until a client that trusts its CA certificate gets the
//!   first discovery answer over HTTPS (polled every millisecond), and the first JWKS answer
//!   (the first token can be signed then): with a signing key given (`--signing-key`), and with
//!   the key the binary generates before it listens;
//! - flows: full sign-in + full sign-out flows per second (the real session core, mock-okta's
//!   scripted browser, revocation, Okta's end-session request and its confirmation), with
//!   `BENCH_CLIENTS` (default 8) concurrent clients against one in-process mock-okta. Their
//!   tokens go to keyring's mock store, so the keychain is not what is measured.
//!
//! `MOCK_OKTA_BIN` names the binary (scripts/bench builds it with `cargo build --release`);
//! without it the start figure is skipped. `BENCH_RUNS` sets the starts (default 15),
//! `BENCH_ROUNDS` the rounds of flows (default 5, 3 s each).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop_testkit::{millis_since, report};
use mock_okta::browser::Browser;
use mock_okta::MockOkta;
use oidc_session::provider::DEFAULT_REQUEST_TIMEOUT;
use oidc_session::{Config, TokenVault};
use session_testkit::{
    identity_provider, RecordedEvents, SessionSetup, TestSession, LIMIT, SCHEME,
};

/// How long each round of flows runs.
const ROUND: Duration = Duration::from_secs(3);

/// One app session against the shared mock-okta, with a browser (cookie jar) of its own.
struct Client {
    app: TestSession,
    browser: Browser,
    /// Holds the session's journal.
    _data_dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port()
}

/// A fixed signing key for the starts with a given key (mock-okta's test fixture).
const SIGNING_KEY_PEM: &str = include_str!("../../mock-okta/tests/fixtures/signing-key.pem");

/// What a start is timed to: the first discovery document, or the first JWKS.
const DISCOVERY: &str = "oauth2/default/.well-known/openid-configuration";
const KEYS: &str = "oauth2/default/v1/keys";

/// Milliseconds from spawning `binary` (given `signing_key`, a PEM file, or generating one)
/// until its first answer at `path`.
async fn start_to_first_answer(binary: &str, signing_key: Option<&Path>, path: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let port = free_port();
    let discovery = format!("https://127.0.0.1:{port}/{path}");
    let start = Instant::now();
    let mut command = Command::new(binary);
    if let Some(key) = signing_key {
        command.arg("--signing-key").arg(key);
    }
    let mut child = command
        .args(["--port", &port.to_string(), "--ca-cert-out"])
        .arg(&ca_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap_or_else(|error| panic!("start {binary}: {error}"));
    let mut client = None;
    let elapsed = loop {
        let exited = child.try_wait().unwrap();
        if exited.is_some() || start.elapsed() > LIMIT {
            let _ = child.kill();
            let output = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
            panic!("mock-okta never answered {path} (exit: {exited:?}); it wrote:\n{output}");
        }
        // The CA certificate is written once mock-okta listens.
        if client.is_none() {
            client = std::fs::read(&ca_path)
                .ok()
                .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok())
                .map(|ca| {
                    reqwest::Client::builder()
                        .use_rustls_tls()
                        .tls_built_in_root_certs(false)
                        .add_root_certificate(ca)
                        .build()
                        .unwrap()
                });
        }
        if let Some(client) = &client {
            if let Ok(response) = client.get(&discovery).send().await {
                if response.status().is_success() && response.bytes().await.is_ok() {
                    break millis_since(start);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    elapsed
}

/// Full sign-in + sign-out flows per second, `clients` at once, for one round.
async fn flows_per_second(clients: &mut Vec<Client>, round: Duration) -> f64 {
    let flows = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + round;
    let tasks: Vec<_> = clients
        .drain(..)
        .map(|mut client| {
            let flows = flows.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    client.app.sign_in(&client.browser).await;
                    client.app.sign_out(&client.browser).await;
                    flows.fetch_add(1, Ordering::Relaxed);
                }
                client
            })
        })
        .collect();
    for task in tasks {
        clients.push(task.await.unwrap());
    }
    flows.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    match std::env::var("MOCK_OKTA_BIN") {
        Ok(binary) => {
            let key_dir = tempfile::tempdir().unwrap();
            let key_file = key_dir.path().join("signing-key.pem");
            std::fs::write(&key_file, SIGNING_KEY_PEM).unwrap();
            start_to_first_answer(&binary, Some(&key_file), DISCOVERY).await; // warm-up
            for (key, given) in [("", Some(key_file.as_path())), (".generated_key", None)] {
                for (answer, path) in [("", DISCOVERY), (".keys", KEYS)] {
                    let mut starts = Vec::new();
                    for _ in 0..setting("BENCH_RUNS", 15) {
                        starts.push(start_to_first_answer(&binary, given, path).await);
                    }
                    report(&format!("mock_okta_start{key}{answer}"), "ms", &mut starts);
                }
            }
        }
        Err(_) => eprintln!("MOCK_OKTA_BIN is not set: skipping mock-okta's start"),
    }

    let clients = setting("BENCH_CLIENTS", 8);
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let mut sessions: Vec<Client> = (0..clients)
        .map(|index| {
            let data_dir = tempfile::tempdir().unwrap();
            let app = TestSession::start(SessionSetup {
                idp: identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT),
                config: Config::defaults(SCHEME),
                vault: TokenVault::with_store(
                    keyring_core::mock::Store::new().unwrap(),
                    &format!("{SCHEME}.bench.{index}"),
                ),
                data_dir: data_dir.path(),
                events: RecordedEvents::default(),
            });
            Client {
                app,
                browser: Browser::for_mock(&mock).expect("a scripted browser"),
                _data_dir: data_dir,
            }
        })
        .collect();
    flows_per_second(&mut sessions, Duration::from_secs(1)).await; // warm-up
    let mut rates = Vec::new();
    for _ in 0..setting("BENCH_ROUNDS", 5) {
        rates.push(flows_per_second(&mut sessions, ROUND).await);
    }
    report(
        &format!("mock_okta_flows.n{clients}"),
        "flows/s",
        &mut rates,
    );
    drop(sessions);
    mock.shutdown().await;
}
