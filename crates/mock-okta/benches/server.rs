//! What mock-okta's server spends per sign-in and sign-out, and whether that stays flat over a
//! long run. Figures (FIGURE lines on stdout, a line for people on stderr):
//! - `openssl_rsa2048_sign` (ms): one RSA-2048 signature by OpenSSL, the yardstick: the
//!   seconds per sign of `openssl speed -seconds 1 rsa2048`, 3 runs.
//! - `mock_okta_rs256_sign` (ms): one RS256 JWT signature by mock-okta's own signing key
//!   (`SigningKey::generate`, `SigningKey::sign`) over a realistic ID token claim set, in
//!   process: 7 rounds of 300 signatures after a warm-up of 300, the mean of each round.
//! - `mock_okta_flow_cpu` (ms/flow): the release binary's CPU (user + system, from
//!   /proc/PID/stat) per whole flow, with `BENCH_FLOW_CLIENTS` (default 4) concurrent workers:
//!   authorize on the front channel (plain HTTP; PKCE S256; `--auto-login` signs in without
//!   the form and starts a session), the code exchange (HTTPS, like the rest of the back
//!   channel), revocation of the refresh token (Okta's cascade revokes the access token too)
//!   and the end-session request on the front channel with the session cookie. 5 rounds of
//!   2,000 flows after a warm-up of 500; a sample is a round's CPU over its flows.
//! - `mock_okta_flow_signing` (ms/flow): what the flow's signatures cost: the JWTs the server
//!   signs per flow (the ID token, and the access token when it is a JWT; counted from the
//!   answers) times the median of `mock_okta_rs256_sign`. One sample.
//! - soak: `BENCH_SOAK_FLOWS` (default 100,000) flows against a fresh binary, in batches of
//!   1,000 (all sign-ins and code exchanges, then all revocations, then all sign-outs), after a
//!   warm-up of twice the default history (20,000 flows) that fills what the mock keeps: the
//!   first 10 % are then the steady state, not the filling of the journal and the events.
//!   `soak_rss_first` / `soak_rss_last` (MiB): VmRSS after each batch of the first / last 10 %
//!   of batches; `soak_revoke_cpu_first` / `soak_revoke_cpu_last` (ms/revoke): the server CPU of
//!   a batch's revocations over their count, same batches. A line per decile on stderr.
//!
//! The binary runs as QA runs it: `MOCK_OKTA_BIN` names it (`cargo build --release -p mock-okta
//! --bins`), with its default log level, its log going to a file; without `MOCK_OKTA_BIN` only
//! the signature figures are measured. Each worker is one HTTP client (keep-alive, trusting only
//! the mock's CA, following no redirects); each flow carries its own session cookie from
//! authorize to logout, as one person's browser would, so every flow starts and ends a session.
//! Any unexpected answer ends the bench with a panic showing it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desktop_testkit::{free_ports, millis_since, report, terminate};
use mock_okta::{
    SigningKey, DEFAULT_AUTHORIZATION_SERVER, DEFAULT_HISTORY, DEMO_CLIENT_ID,
    DEMO_POST_LOGOUT_REDIRECT_URI, DEMO_REDIRECT_URI, DEMO_USERNAME,
};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

/// Runs of `openssl speed`.
const OPENSSL_RUNS: usize = 3;
/// Signatures per round of `mock_okta_rs256_sign` (and of its warm-up).
const SIGNATURES_PER_ROUND: u32 = 300;
const SIGNATURE_ROUNDS: usize = 7;
const WARM_UP_FLOWS: usize = 500;
const FLOWS_PER_ROUND: usize = 2_000;
const FLOW_ROUNDS: usize = 5;
/// Flows per soak batch. /proc counts CPU in clock ticks (10 ms at the usual 100 Hz), so a
/// batch's revocations are measured to 10 ms: over 1,000 revocations that is 0.01 ms per call,
/// fine enough to see revocation slow down as the store fills.
const SOAK_BATCH: usize = 1_000;
/// How long a request or mock-okta's start may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(60);
/// The Okta session cookie on the front channel.
const SESSION_COOKIE: &str = "sid";

/// The endpoints discovery advertises.
#[derive(Debug, Deserialize)]
struct Endpoints {
    authorization_endpoint: Url,
    token_endpoint: Url,
    revocation_endpoint: Url,
    end_session_endpoint: Url,
}

/// The tokens of a token response.
#[derive(Deserialize)]
struct Tokens {
    id_token: String,
    access_token: String,
    refresh_token: String,
}

/// A signed-in flow: its tokens and its browser session cookie.
struct SignedIn {
    flow: usize,
    tokens: Tokens,
    session_cookie: String,
}

/// The release binary's process: stopped on drop, showing its last log lines on a panic.
struct Process {
    child: Child,
    log: PathBuf,
    /// Holds the CA certificate and the log.
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        terminate(&mut self.child);
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("mock-okta's last log lines:");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A running mock-okta and what its clients need.
struct Server {
    process: Process,
    ca: reqwest::Certificate,
    endpoints: Arc<Endpoints>,
    /// The unit of /proc's CPU times.
    ticks_per_second: f64,
}

impl Server {
    /// Starts `binary` on free ports and waits until discovery answers.
    async fn start(binary: &str, ticks_per_second: f64) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (ca_path, log) = (dir.path().join("ca.pem"), dir.path().join("stderr"));
        let [port, browser_port] = free_ports();
        let child = Command::new(binary)
            .args(["--port", &port.to_string()])
            .args(["--browser-port", &browser_port.to_string()])
            .args(["--auto-login", DEMO_USERNAME, "--ca-cert-out"])
            .arg(&ca_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|error| panic!("start {binary}: {error}"));
        let mut process = Process {
            child,
            log,
            _dir: dir,
        };
        let ca = wait_for_ca(&ca_path).await;
        let discovery = format!(
            "https://127.0.0.1:{port}/oauth2/{DEFAULT_AUTHORIZATION_SERVER}/.well-known/openid-configuration"
        );
        let endpoints = discover(&mut process, &client(&ca), &discovery).await;
        Server {
            process,
            ca,
            endpoints: Arc::new(endpoints),
            ticks_per_second,
        }
    }

    fn workers(&self, count: usize) -> Vec<Worker> {
        (0..count)
            .map(|_| Worker {
                http: client(&self.ca),
                endpoints: self.endpoints.clone(),
            })
            .collect()
    }

    /// CPU time (user + system) the server has used, in ms.
    fn cpu_ms(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.process.child.id()))
            .expect("mock-okta's /proc/PID/stat");
        // The fields after the command name, which is in parentheses and may hold spaces:
        // field 3 (state) comes first, so utime (14) and stime (15) are the 12th and 13th.
        let (_, fields) = stat.rsplit_once(')').expect("a /proc/PID/stat line");
        let ticks: f64 = fields
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|field| field.parse::<f64>().expect("CPU ticks"))
            .sum();
        ticks * 1e3 / self.ticks_per_second
    }

    /// The server's resident set, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.child.id()))
            .expect("mock-okta's /proc/PID/status");
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib / 1024.0
    }
}

/// A worker's HTTP client: keep-alive, trusts only the mock's CA, follows no redirects.
fn client(ca: &reqwest::Certificate) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(LIMIT)
        .build()
        .unwrap()
}

/// Polls `discovery` until it answers.
async fn discover(process: &mut Process, http: &reqwest::Client, discovery: &str) -> Endpoints {
    let start = Instant::now();
    loop {
        let exited = process.child.try_wait().unwrap();
        assert!(
            exited.is_none() && start.elapsed() < LIMIT,
            "mock-okta never answered discovery (exit: {exited:?})"
        );
        if let Ok(response) = http.get(discovery).send().await {
            let response = expect_status(response, StatusCode::OK, "discovery").await;
            return response.json().await.expect("a discovery document");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the CA certificate mock-okta writes once it listens.
async fn wait_for_ca(path: &Path) -> reqwest::Certificate {
    let start = Instant::now();
    loop {
        if let Some(ca) = std::fs::read(path)
            .ok()
            .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok())
        {
            return ca;
        }
        assert!(start.elapsed() < LIMIT, "mock-okta never wrote its CA");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `response` if it has `status`; a panic showing it otherwise.
async fn expect_status(response: Response, status: StatusCode, what: &str) -> Response {
    if response.status() != status {
        let got = response.status();
        let headers = format!("{:?}", response.headers());
        let body = response.text().await.unwrap_or_default();
        panic!("{what}: expected {status}, got {got} {headers}\n{body}");
    }
    response
}

/// The `Location` of a 302 `response`, which must start with `prefix`.
async fn redirect_to(response: Response, prefix: &str, what: &str) -> Url {
    let response = expect_status(response, StatusCode::FOUND, what).await;
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(prefix), "{what} went to {location}");
    Url::parse(location).unwrap()
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn is_jwt(token: &str) -> bool {
    token.matches('.').count() == 2
}

/// One HTTP client driving flows, one request at a time.
#[derive(Clone)]
struct Worker {
    http: reqwest::Client,
    endpoints: Arc<Endpoints>,
}

impl Worker {
    /// Authorize (a new session, by auto-login) and the code exchange.
    async fn sign_in(self, flow: usize) -> SignedIn {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = format!("state-{flow}");
        let mut authorize = self.endpoints.authorization_endpoint.clone();
        authorize.query_pairs_mut().extend_pairs([
            ("client_id", DEMO_CLIENT_ID),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid profile email offline_access"),
            ("state", &state),
            ("nonce", &format!("nonce-{flow}")),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let response = self.http.get(authorize).send().await.expect("authorize");
        let session_cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok()?.split(';').next())
            .find(|cookie| cookie.starts_with(&format!("{SESSION_COOKIE}=")))
            .map(str::to_owned);
        let redirect = redirect_to(response, DEMO_REDIRECT_URI, "authorize").await;
        assert_eq!(query_param(&redirect, "state"), Some(state), "{redirect}");
        let code = query_param(&redirect, "code").expect("a code in the redirect");
        let session_cookie = session_cookie.expect("authorize starts a session");

        let response = self
            .http
            .post(self.endpoints.token_endpoint.clone())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", DEMO_REDIRECT_URI),
                ("code_verifier", &verifier),
                ("client_id", DEMO_CLIENT_ID),
            ])
            .send()
            .await
            .expect("token");
        let body = expect_status(response, StatusCode::OK, "token")
            .await
            .text()
            .await
            .unwrap();
        let tokens: Tokens =
            serde_json::from_str(&body).unwrap_or_else(|error| panic!("token: {error} in {body}"));
        assert!(is_jwt(&tokens.id_token), "{}", tokens.id_token);
        SignedIn {
            flow,
            tokens,
            session_cookie,
        }
    }

    /// Revokes a refresh token (and, by Okta's cascade, its access token).
    async fn revoke(self, refresh_token: String) {
        let response = self
            .http
            .post(self.endpoints.revocation_endpoint.clone())
            .form(&[
                ("token", refresh_token.as_str()),
                ("token_type_hint", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
            ])
            .send()
            .await
            .expect("revoke");
        expect_status(response, StatusCode::OK, "revoke").await;
    }

    /// The end-session request, with the flow's session cookie.
    async fn sign_out(self, signed_in: SignedIn) {
        let state = format!("logout-{}", signed_in.flow);
        let mut logout = self.endpoints.end_session_endpoint.clone();
        logout.query_pairs_mut().extend_pairs([
            ("id_token_hint", signed_in.tokens.id_token.as_str()),
            ("post_logout_redirect_uri", DEMO_POST_LOGOUT_REDIRECT_URI),
            ("state", &state),
        ]);
        let response = self
            .http
            .get(logout)
            .header(COOKIE, signed_in.session_cookie)
            .send()
            .await
            .expect("logout");
        let back = redirect_to(response, DEMO_POST_LOGOUT_REDIRECT_URI, "logout").await;
        assert_eq!(query_param(&back, "state"), Some(state), "{back}");
    }

    /// A whole flow; returns the JWT signatures it needed.
    async fn whole_flow(self, flow: usize) -> usize {
        let signed_in = self.clone().sign_in(flow).await;
        let signatures = 1 + usize::from(is_jwt(&signed_in.tokens.access_token));
        self.clone()
            .revoke(signed_in.tokens.refresh_token.clone())
            .await;
        self.sign_out(signed_in).await;
        signatures
    }
}

/// Spreads `jobs` over `workers`, each doing its share one at a time; the results in no
/// particular order.
async fn on_workers<J, R, F, Fut>(workers: &[Worker], jobs: Vec<J>, work: F) -> Vec<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(Worker, J) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = R> + Send,
{
    let mut shares: Vec<Vec<J>> = workers.iter().map(|_| Vec::new()).collect();
    for (index, job) in jobs.into_iter().enumerate() {
        shares[index % workers.len()].push(job);
    }
    let tasks: Vec<_> = workers
        .iter()
        .cloned()
        .zip(shares)
        .map(|(worker, share)| {
            let work = work.clone();
            tokio::spawn(async move {
                let mut results = Vec::with_capacity(share.len());
                for job in share {
                    results.push(work(worker.clone(), job).await);
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        match task.await {
            Ok(share) => results.extend(share),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    results
}

/// Whole flows numbered `flows`; the signatures each needed.
async fn whole_flows(workers: &[Worker], flows: std::ops::Range<usize>) -> Vec<usize> {
    on_workers(workers, flows.collect(), Worker::whole_flow).await
}

/// The seconds per RSA-2048 signature `openssl speed` measures, in ms.
fn openssl_rsa2048_sign_ms() -> f64 {
    let output = Command::new("openssl")
        .args(["speed", "-seconds", "1", "rsa2048"])
        .stderr(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl speed: {:?}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    // `rsa 2048 bits 0.000864s 0.000021s   1157.0  48449.0`: sign, verify, sign/s, verify/s.
    stdout
        .lines()
        .filter(|line| line.split_whitespace().take(3).eq(["rsa", "2048", "bits"]))
        .flat_map(str::split_whitespace)
        .find_map(|field| field.strip_suffix('s')?.parse::<f64>().ok())
        .map(|seconds| seconds * 1e3)
        .unwrap_or_else(|| panic!("no rsa 2048 line in openssl's output:\n{stdout}"))
}

/// The claims of an ID token as mock-okta issues them.
fn id_token_claims() -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "ver": 1,
        "jti": "ID.k3Jm0rCq8sL2vTn5xYw1bA",
        "iss": format!("https://127.0.0.1:8443/oauth2/{DEFAULT_AUTHORIZATION_SERVER}"),
        "sub": "00u1ada0000000000001",
        "aud": DEMO_CLIENT_ID,
        "exp": now + 3600,
        "iat": now,
        "auth_time": now,
        "amr": ["pwd"],
        "nonce": "nonce-4f1c2d9e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f",
        "name": "Ada Lovelace",
        "preferred_username": DEMO_USERNAME,
        "email": DEMO_USERNAME,
        "email_verified": true,
        "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
        "sid": "102hQ3Zp7xWk2LmN9vB4cD1eF",
    })
}

/// ms per RS256 signature by mock-okta's signing key, per round.
fn rs256_sign_ms() -> Vec<f64> {
    let key = SigningKey::generate().expect("an RSA signing key");
    let claims = id_token_claims();
    let round = || {
        let start = Instant::now();
        for _ in 0..SIGNATURES_PER_ROUND {
            std::hint::black_box(key.sign(std::hint::black_box(&claims)));
        }
        millis_since(start) / f64::from(SIGNATURES_PER_ROUND)
    };
    round(); // warm-up
    (0..SIGNATURE_ROUNDS).map(|_| round()).collect()
}

/// Clock ticks per second, the unit of /proc's CPU times.
fn ticks_per_second() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .expect("getconf CLK_TCK prints a number")
}

/// `mock_okta_flow_cpu` and `mock_okta_flow_signing`, one signature costing `signature_ms`.
async fn flow_cpu(server: &Server, clients: usize, signature_ms: f64) {
    let workers = server.workers(clients);
    let signatures = whole_flows(&workers, 0..WARM_UP_FLOWS).await;
    assert!(
        signatures.iter().all(|&count| count == signatures[0]),
        "flows needed different signature counts"
    );
    let mut per_flow = Vec::new();
    for round in 0..FLOW_ROUNDS {
        let first = WARM_UP_FLOWS + round * FLOWS_PER_ROUND;
        let (cpu, start) = (server.cpu_ms(), Instant::now());
        whole_flows(&workers, first..first + FLOWS_PER_ROUND).await;
        per_flow.push((server.cpu_ms() - cpu) / FLOWS_PER_ROUND as f64);
        eprintln!(
            "flow round {round}: {:.0} flows/s",
            FLOWS_PER_ROUND as f64 / start.elapsed().as_secs_f64()
        );
    }
    report("mock_okta_flow_cpu", "ms/flow", &mut per_flow);
    eprintln!("a flow needs {} signatures", signatures[0]);
    report(
        "mock_okta_flow_signing",
        "ms/flow",
        &mut [signatures[0] as f64 * signature_ms],
    );
}

/// What one soak batch measured.
struct Batch {
    rss_mib: f64,
    revoke_ms: f64,
    ms_per_flow: f64,
}

/// One soak batch of flows numbered from `first`: sign-ins and code exchanges, then
/// revocations, then sign-outs.
async fn soak_batch(server: &Server, workers: &[Worker], first: usize) -> Batch {
    let start_cpu = server.cpu_ms();
    let flows = (first..first + SOAK_BATCH).collect();
    let signed_in = on_workers(workers, flows, Worker::sign_in).await;
    let refresh_tokens = signed_in
        .iter()
        .map(|flow| flow.tokens.refresh_token.clone())
        .collect();
    let revoke_cpu = server.cpu_ms();
    on_workers(workers, refresh_tokens, Worker::revoke).await;
    let revoke_ms = (server.cpu_ms() - revoke_cpu) / SOAK_BATCH as f64;
    on_workers(workers, signed_in, Worker::sign_out).await;
    Batch {
        rss_mib: server.rss_mib(),
        revoke_ms,
        ms_per_flow: (server.cpu_ms() - start_cpu) / SOAK_BATCH as f64,
    }
}

fn mean(values: impl ExactSizeIterator<Item = f64>) -> f64 {
    let count = values.len() as f64;
    values.sum::<f64>() / count
}

/// The soak figures, over `flows` rounded down to whole batches (one at least), after a
/// warm-up that fills what the mock keeps (its history: journal, events, inactive tokens)
/// twice over, so that what is measured is the steady state, where each new record evicts an
/// old one.
async fn soak(server: &Server, clients: usize, flows: usize) {
    let workers = server.workers(clients);
    let warm_up = 2 * DEFAULT_HISTORY;
    for first in (0..warm_up).step_by(SOAK_BATCH) {
        soak_batch(server, &workers, first).await;
    }
    eprintln!(
        "soak: warmed up with {warm_up} flows, RSS {:.1} MiB",
        server.rss_mib()
    );
    let batches = (flows / SOAK_BATCH).max(1);
    let tenth = (batches / 10).max(1);
    let start = Instant::now();
    let mut done: Vec<Batch> = Vec::with_capacity(batches);
    for index in 0..batches {
        done.push(soak_batch(server, &workers, warm_up + index * SOAK_BATCH).await);
        if (index + 1) % tenth == 0 {
            let recent = &done[done.len() - tenth..];
            eprintln!(
                "soak: {} flows, RSS {:.1} MiB, revoke {:.3} ms/call, batch {:.3} ms/flow, {:.0} s",
                (index + 1) * SOAK_BATCH,
                recent[recent.len() - 1].rss_mib,
                mean(recent.iter().map(|batch| batch.revoke_ms)),
                mean(recent.iter().map(|batch| batch.ms_per_flow)),
                start.elapsed().as_secs_f64()
            );
        }
    }
    let (first, last) = (&done[..tenth], &done[batches - tenth..]);
    let samples = |batches: &[Batch], value: fn(&Batch) -> f64| -> Vec<f64> {
        batches.iter().map(value).collect()
    };
    report(
        "soak_rss_first",
        "MiB",
        &mut samples(first, |batch| batch.rss_mib),
    );
    report(
        "soak_rss_last",
        "MiB",
        &mut samples(last, |batch| batch.rss_mib),
    );
    report(
        "soak_revoke_cpu_first",
        "ms/revoke",
        &mut samples(first, |batch| batch.revoke_ms),
    );
    report(
        "soak_revoke_cpu_last",
        "ms/revoke",
        &mut samples(last, |batch| batch.revoke_ms),
    );
}

#[tokio::main]
async fn main() {
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let mut openssl: Vec<f64> = (0..OPENSSL_RUNS)
        .map(|_| openssl_rsa2048_sign_ms())
        .collect();
    report("openssl_rsa2048_sign", "ms", &mut openssl);
    let mut signing = rs256_sign_ms();
    let (signature_ms, _, _) = desktop_testkit::spread(&mut signing);
    report("mock_okta_rs256_sign", "ms", &mut signing);

    let Ok(binary) = std::env::var("MOCK_OKTA_BIN") else {
        eprintln!("MOCK_OKTA_BIN is not set: skipping mock-okta's flow CPU and soak");
        return;
    };
    // reqwest's TLS takes the process's crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clients = setting("BENCH_FLOW_CLIENTS", 4);
    let ticks_per_second = ticks_per_second();
    let server = Server::start(&binary, ticks_per_second).await;
    flow_cpu(&server, clients, signature_ms).await;
    drop(server);
    let flows = setting("BENCH_SOAK_FLOWS", 100_000);
    soak(
        &Server::start(&binary, ticks_per_second).await,
        clients,
        flows,
    )
    .await;
}
