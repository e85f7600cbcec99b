//! Local sign-out latency: from the `sign_out` call until the core reports the app session
//! gone (`changed(SignedOut { signing_out: true })`: keychain entry deleted, tokens zeroized),
//! against the floor of one raw keychain delete of an equally sized secret on the same Secret
//! Service, measured alternately in the same run. mock-okta's revoke hangs, so the network
//! steps that follow cannot interfere. Also timed: the click until the tokens are queued for
//! revocation (after the app session is gone), the journal write that runs alongside the
//! delete, and the staging write that sign-in and refresh pay so that the click need not.
//!
//! DPoP (RFC 9449), with and without, in the same run: sign-in (from the callback link handed
//! to `handle_deep_link` until `sign_in` returns: code exchange, ID token validation, keychain
//! writes), `refresh_now`, and a full sign-out (from the call until the core reports its
//! outcome: revocation and the browser's end-session round trip included), each against an
//! in-process mock-okta over HTTPS, the one for DPoP with the app's client requiring it; the
//! sign-ins with DPoP use the nonce the provider cached, and a sign-in after mock-okta renewed
//! its nonce shows what the first sign-in of a provider adds (one `use_dpop_nonce` answer and
//! a second proof). The keychain writes of these flows vary by milliseconds from run to run,
//! so one refresh-grant token request is also timed alone, with and without a proof, and after
//! a nonce renewal. Alone: one proof (`DpopKey::proof`) against one raw ES256 signature, the
//! key parse inside each proof, one key generation, and a server's check of one proof.
//!
//! Needs a Secret Service: `scripts/with-keyring cargo bench -p oidc-session --bench sign_out`
//! (without one, only the proof figures are measured). `BENCH_RUNS` sets the number of runs
//! (default 20).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desktop_testkit::{millis_since, report};
use jsonwebtoken::jwk::ThumbprintHash;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyring_core::Entry;
use mock_okta::browser::Browser;
use mock_okta::{Endpoint, MockOkta, DEMO_CLIENT_ID};
use oidc_session::journal::JournalRecord;
use oidc_session::provider::DEFAULT_REQUEST_TIMEOUT;
use oidc_session::tokens::{AccessToken, RefreshToken, RevocableToken};
use oidc_session::vault::{PendingSignOut, QueuedToken, TokenOrigin};
use oidc_session::{Config, DpopKey, Journal, OutcomeKind, SignOutMode, SignOutStep, TokenVault};
use session_testkit::{
    expect_app_redirect, identity_provider, Event, RecordedEvents, SessionSetup, TestSession,
    SCHEME,
};
use url::Url;

/// Runs `operation` on a blocking thread, as the core runs keychain calls, and times the call
/// itself (not the hop to the thread).
async fn timed_blocking(operation: impl FnOnce() + Send + 'static) -> f64 {
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        operation();
        millis_since(start)
    })
    .await
    .unwrap()
}

/// When the core first reported, after `after`, the app session gone (the view says
/// "signing out") and the tokens queued (the journal's `LocalDone` step).
fn local_moments(events: &RecordedEvents, after: Instant) -> Option<(Instant, Instant)> {
    let events = events.all();
    let since = || events.iter().filter(|(at, _)| *at >= after);
    let gone = since().find_map(|(at, event)| match event {
        Event::Changed { view, .. } if view.contains("\"signingOut\":true") => Some(*at),
        _ => None,
    })?;
    let queued = since().find_map(|(at, event)| match event {
        Event::Step {
            step: SignOutStep::LocalDone,
            ..
        } => Some(*at),
        _ => None,
    })?;
    Some((gone, queued))
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(20);
    // First, while nothing else runs: the proof alone (CPU only, no keychain).
    proof_costs();
    let service = format!("{SCHEME}.bench.{}", std::process::id());
    // Only a session bus can have a Secret Service; without one, keyring looks elsewhere.
    let vault = std::env::var_os("DBUS_SESSION_BUS_ADDRESS")
        .and_then(|_| TokenVault::platform(&service).ok())
        .filter(|vault| vault.load().is_ok());
    let Some(vault) = vault else {
        eprintln!("no unlocked Secret Service: skipping (run through scripts/with-keyring)");
        return;
    };
    local_sign_out(runs, &service, vault).await;
    with_and_without_dpop(runs, &service).await;
}

/// The local sign-out against one raw keychain delete, and the writes around it.
async fn local_sign_out(runs: usize, service: &str, vault: TokenVault) {
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    // The network steps after the local part wait on a revoke that never answers.
    mock.update_faults(|faults| faults.revoke.latency_ms = 3_600_000);
    let store = keyring_core::get_default_store().expect("the platform store");
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = TestSession::start(SessionSetup {
        idp: identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT),
        config: Config::defaults(SCHEME),
        vault: vault.clone(),
        data_dir: data_dir.path(),
        events: RecordedEvents::default(),
    });
    let browser = mock_okta::browser::Browser::for_mock(&mock).unwrap();
    let floor_entry = Arc::new(Entry::new_in_store(&store, service, "raw-delete-floor").unwrap());
    let session_entry = Entry::new_in_store(&store, service, "session").unwrap();
    let scratch_journal = Journal::in_dir(&data_dir.path().join("scratch"));

    let (mut local, mut floor, mut queued) = (Vec::new(), Vec::new(), Vec::new());
    let (mut journal_writes, mut staging_writes) = (Vec::new(), Vec::new());
    let mut secret_length = 0;
    // Two warm-up runs, then the measured ones.
    for run in 0..runs + 2 {
        app.sign_in(&browser).await;
        secret_length = session_entry.get_password().unwrap().len();

        // The floor: one raw delete of an equally sized secret on the same store.
        floor_entry
            .set_password(&"x".repeat(secret_length))
            .unwrap();
        let entry = floor_entry.clone();
        let floor_ms = timed_blocking(move || entry.delete_credential().unwrap()).await;

        // The click: sign_out until the core reports the app session gone, then until the
        // tokens are queued.
        let start = Instant::now();
        let sign_out = app.begin_sign_out(SignOutMode::Full);
        let (gone_at, queued_at) = wait_for_moments(&app.events, start).await;
        let local_ms = gone_at.duration_since(start).as_secs_f64() * 1e3;
        assert!(
            vault.load().unwrap().is_none(),
            "the session left the keychain"
        );
        let queued_ms = queued_at.duration_since(start).as_secs_f64() * 1e3;
        app.manager.cancel();
        sign_out.await.unwrap().unwrap();
        vault.delete_pending().unwrap();

        // Alone: the journal record (written while the session entry is deleted) and the
        // write that stages a new session's tokens at sign-in.
        let journal_ms = {
            let start = Instant::now();
            scratch_journal
                .write(&JournalRecord::start(SignOutMode::Full, "session-1"))
                .unwrap();
            millis_since(start)
        };
        let staged_token = |token| QueuedToken {
            token,
            origin: Some(TokenOrigin {
                issuer: "https://example.okta.com/oauth2/default".into(),
                client_id: "client".into(),
            }),
            queued_at: 1_700_000_000,
            expires_at: Some(1_700_003_600),
            refused: None,
        };
        let staged = PendingSignOut {
            staged: vec![
                staged_token(RevocableToken::Refresh(RefreshToken::new("r".repeat(40)))),
                staged_token(RevocableToken::Access(AccessToken::new(
                    "a".repeat(secret_length / 2),
                ))),
            ],
            ..PendingSignOut::default()
        };
        let writer = vault.clone();
        let staging_ms = timed_blocking(move || writer.save_pending(&staged).unwrap()).await;
        vault.delete_pending().unwrap();

        if run >= 2 {
            local.push(local_ms);
            floor.push(floor_ms);
            queued.push(queued_ms);
            journal_writes.push(journal_ms);
            staging_writes.push(staging_ms);
        }
    }
    eprintln!("session secret: {secret_length} bytes; {runs} runs");
    report("local_sign_out", "ms", &mut local);
    report("raw_keychain_delete", "ms", &mut floor);
    report("local_sign_out.tokens_queued", "ms", &mut queued);
    report("local_sign_out.journal_write", "ms", &mut journal_writes);
    report("sign_in.staging_write", "ms", &mut staging_writes);
    drop(app);
    mock.shutdown().await;
}

/// Waits (polling) until the sign-out started at `start` reported both local moments.
async fn wait_for_moments(events: &RecordedEvents, start: Instant) -> (Instant, Instant) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(moments) = local_moments(events, start) {
            return moments;
        }
        assert!(Instant::now() < deadline, "the sign-out goes on");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Timed rounds of each CPU-only operation, after one round of warm-up.
const PROOF_ROUNDS: usize = 7;
/// Calls per round of each CPU-only operation.
const CALLS_PER_ROUND: usize = 300;
/// A token endpoint as the app proves for it: a custom authorization server on loopback.
const TOKEN_ENDPOINT: &str = "https://127.0.0.1:41235/oauth2/default/v1/token";
/// A nonce as long as mock-okta's and Okta's (32 random bytes, base64url).
const NONCE: &str = "q0H6cY3vJ9sWkT2mXe8pLrA5nB1dZ4gF7hU0iO6yKcE";

/// The mean microseconds per call of each operation, in [`PROOF_ROUNDS`] rounds of
/// [`CALLS_PER_ROUND`] calls after a warm-up round; the operations take turns in each round,
/// so that a change of the host's load meets them all.
fn micros_per_call(operations: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
    let mut means = vec![Vec::new(); operations.len()];
    for round in 0..=PROOF_ROUNDS {
        for (operation, means) in operations.iter_mut().zip(&mut means) {
            let start = Instant::now();
            for _ in 0..CALLS_PER_ROUND {
                operation();
            }
            if round > 0 {
                means.push(start.elapsed().as_secs_f64() * 1e6 / CALLS_PER_ROUND as f64);
            }
        }
    }
    means
}

/// A server's check of `proof` before its claim checks (what mock-okta does, with
/// jsonwebtoken on aws-lc too): header decoded, key made from its `jwk`, ES256 signature
/// verified, claims decoded, and the key's thumbprint, which the tokens are bound to.
fn check_proof(proof: &str) -> String {
    let header = jsonwebtoken::decode_header(proof).unwrap();
    let jwk = header.jwk.expect("a proof carries its key");
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(proof, &key, &validation).unwrap();
    jwk.thumbprint(ThumbprintHash::SHA256)
}

/// One DPoP proof (`DpopKey::proof`, with a nonce, as every steady-state token request makes
/// it) against one raw ES256 signature by aws-lc, the backend it signs with, of its signing
/// input with the key parsed once; the PKCS#8 parse that each proof makes; one key
/// generation (`DpopKey::generate`, once per sign-in); a server's check of one proof.
fn proof_costs() {
    let key = DpopKey::generate().unwrap();
    let url = Url::parse(TOKEN_ENDPOINT).unwrap();
    let proof = key.proof("POST", &url, Some(NONCE)).unwrap();
    let (signing_input, _) = proof.rsplit_once('.').unwrap();
    let pkcs8 = URL_SAFE_NO_PAD.decode(key.to_stored().expose()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
    let rng = SystemRandom::new();
    let mut means = micros_per_call(&mut [
        &mut || {
            black_box(key.proof("POST", black_box(&url), Some(NONCE)).unwrap());
        },
        &mut || {
            black_box(
                pair.sign(&rng, black_box(signing_input.as_bytes()))
                    .unwrap(),
            );
        },
        &mut || {
            black_box(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, black_box(&pkcs8))
                    .unwrap(),
            );
        },
        &mut || {
            black_box(DpopKey::generate().unwrap());
        },
        &mut || {
            black_box(check_proof(black_box(&proof)));
        },
    ]);
    eprintln!(
        "a proof with a nonce for {TOKEN_ENDPOINT}: {} bytes (header {}, claims {}, signature {})",
        proof.len(),
        proof.split('.').next().unwrap().len(),
        proof.split('.').nth(1).unwrap().len(),
        proof.split('.').nth(2).unwrap().len(),
    );
    println!("FIGURE\tdpop_proof.bytes\t{}\t\t\tbytes", proof.len());
    for (key, samples) in [
        "dpop_proof",
        "es256_sign",
        "dpop_proof.key_parse",
        "dpop_key_generate",
        "dpop_proof_check",
    ]
    .into_iter()
    .zip(&mut means)
    {
        report(key, "µs", samples);
    }
}

/// One app session of the DPoP comparison, with a mock-okta of its own: without DPoP, or with
/// DPoP against a mock-okta whose client requires it.
struct Variant {
    mock: MockOkta,
    app: TestSession,
    browser: Browser,
    vault: TokenVault,
    /// The keychain service of its entries.
    service: String,
    /// Holds the session's journal.
    _data_dir: tempfile::TempDir,
}

/// The outcomes mock-okta journaled for token requests since `since`.
fn token_outcomes(mock: &MockOkta, since: u64) -> Vec<String> {
    mock.requests(since)
        .into_iter()
        .filter(|entry| entry.endpoint == Some(Endpoint::Token))
        .map(|entry| entry.outcome)
        .collect()
}

impl Variant {
    /// A signed-out app with `dpop` set as asked, its tokens in the Secret Service under a
    /// keychain service of its own.
    async fn start(dpop: bool, service: &str) -> Self {
        let mut mock_config = mock_okta::Config::default();
        for client in &mut mock_config.clients {
            client.require_dpop = dpop;
        }
        let mock = MockOkta::start(mock_config).await.unwrap();
        let service = format!("{service}.dpop-{dpop}");
        let vault = TokenVault::platform(&service).unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let app = TestSession::start(SessionSetup {
            idp: identity_provider(&mock, DEFAULT_REQUEST_TIMEOUT),
            config: Config {
                dpop,
                ..Config::defaults(SCHEME)
            },
            vault: vault.clone(),
            data_dir: data_dir.path(),
            events: RecordedEvents::default(),
        });
        app.manager.restored().await.unwrap();
        let browser = Browser::for_mock(&mock).unwrap();
        Self {
            mock,
            app,
            browser,
            vault,
            service,
            _data_dir: data_dir,
        }
    }

    /// The stored session's value in bytes and the keychain entries it takes: one, or, when
    /// longer than the vault's `MAX_ENTRY_BYTES`, a manifest and its parts.
    fn stored_size(&self) -> (usize, usize) {
        let store = keyring_core::get_default_store().expect("the platform store");
        let entry = |user: &str| Entry::new_in_store(&store, &self.service, user).unwrap();
        let value = entry("session").get_secret().unwrap();
        let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(&value) else {
            return (value.len(), 1);
        };
        let parts = manifest["parts"].as_u64().unwrap();
        let generation = manifest["generation"].as_u64().unwrap();
        let bytes = (1..=parts)
            .map(|part| {
                entry(&format!("session.{generation}.{part}"))
                    .get_secret()
                    .unwrap()
                    .len()
            })
            .sum();
        (bytes, 1 + parts as usize)
    }

    /// A sign-in through mock-okta's scripted browser. Returns the milliseconds from the
    /// callback link handed to the core until `sign_in` returned, and the outcomes of the
    /// token requests made meanwhile.
    async fn sign_in(&mut self) -> (f64, Vec<String>) {
        let manager = self.app.manager.clone();
        let task = tokio::spawn(async move {
            let signed_in = manager.sign_in().await;
            (signed_in, Instant::now())
        });
        let authorization = self.app.next_opened().await;
        let callback = expect_app_redirect(self.browser.open(authorization).await.unwrap());
        let since = self.mock.journal_position();
        let start = Instant::now();
        assert!(self.app.manager.handle_deep_link(callback.as_str()));
        let (signed_in, end) = task.await.unwrap();
        signed_in.expect("sign-in succeeds");
        let elapsed = end.duration_since(start).as_secs_f64() * 1e3;
        (elapsed, token_outcomes(&self.mock, since))
    }

    /// `refresh_now`: its milliseconds and the outcomes of its token requests.
    async fn refresh(&self) -> (f64, Vec<String>) {
        let since = self.mock.journal_position();
        let start = Instant::now();
        self.app.manager.refresh_now().await.unwrap();
        let elapsed = millis_since(start);
        (elapsed, token_outcomes(&self.mock, since))
    }

    /// A full sign-out that the browser completes at mock-okta: the milliseconds from the call
    /// until the core reported its outcome, which must be a completed one, and the outcomes
    /// of the token requests made meanwhile.
    async fn full_sign_out(&mut self) -> (f64, Vec<String>) {
        let since = self.mock.journal_position();
        let start = Instant::now();
        let task = self.app.begin_sign_out(SignOutMode::Full);
        self.app.browser_completes_logout(&self.browser).await;
        task.await.unwrap().expect("sign-out succeeds");
        let (ended_at, kind) = self
            .app
            .events
            .all()
            .into_iter()
            .find_map(|(at, event)| match event {
                Event::SignedOut(outcome) if at >= start => Some((at, outcome.kind)),
                _ => None,
            })
            .expect("the sign-out reported its outcome");
        assert!(matches!(kind, OutcomeKind::Completed), "{kind:?}");
        assert!(self.vault.load().unwrap().is_none(), "the session is gone");
        let elapsed = ended_at.duration_since(start).as_secs_f64() * 1e3;
        (elapsed, token_outcomes(&self.mock, since))
    }

    async fn stop(mut self) {
        self.app.stop().await;
        let _ = self.vault.delete();
        let _ = self.vault.delete_pending();
        self.mock.shutdown().await;
    }
}

/// Sign-in, refresh and full sign-out, each timed, of one variant.
#[derive(Default)]
struct Flows {
    sign_in: Vec<f64>,
    refresh: Vec<f64>,
    full_sign_out: Vec<f64>,
}

/// Sign-in, refresh and full sign-out without DPoP and with it, the two taking turns in each
/// run (which goes first alternates); then, with DPoP, a sign-in after mock-okta renewed its
/// nonce (ending the one the provider cached), as the first sign-in of a provider meets it.
async fn with_and_without_dpop(runs: usize, service: &str) {
    let mut variants = [
        Variant::start(false, service).await,
        Variant::start(true, service).await,
    ];
    let mut flows = [Flows::default(), Flows::default()];
    let mut added = Flows::default();
    let (mut nonce_fetches, mut nonce_fetch_added) = (Vec::new(), Vec::new());
    // Two warm-up runs, then the measured ones.
    for run in 0..runs + 2 {
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut this_run = [[0.0; 3]; 2];
        for index in order {
            let variant = &mut variants[index];
            let dpop = index == 1;
            let (sign_in, outcomes) = variant.sign_in().await;
            // The session's first token request with DPoP meets the nonce; later ones have it.
            let expected: &[&str] = if dpop && run == 0 {
                &["use_dpop_nonce", "issued"]
            } else {
                &["issued"]
            };
            assert_eq!(outcomes, expected, "sign-in, dpop {dpop}, run {run}");
            if run == 0 {
                let (bytes, entries) = variant.stored_size();
                eprintln!(
                    "stored session, dpop {dpop}: {bytes} bytes in {entries} keychain entries"
                );
                let key = if dpop { "dpop" } else { "no_dpop" };
                println!("FIGURE\tstored_session_bytes.{key}\t{bytes}\t\t\tbytes");
                println!("FIGURE\tstored_session_entries.{key}\t{entries}\t\t\tentries");
                eprintln!(
                    "first sign-in of the session (warm-up, not in the figures), dpop {dpop}: \
                     {sign_in:.3} ms, token requests {outcomes:?}"
                );
            }
            let (refresh, outcomes) = variant.refresh().await;
            assert_eq!(outcomes, ["issued"], "refresh, dpop {dpop}, run {run}");
            let (full_sign_out, outcomes) = variant.full_sign_out().await;
            assert!(outcomes.is_empty(), "a sign-out makes no token request");
            this_run[index] = [sign_in, refresh, full_sign_out];
        }
        let with_dpop = &mut variants[1];
        with_dpop.mock.rotate_dpop_nonce(false).await;
        let (nonce_fetch, outcomes) = with_dpop.sign_in().await;
        assert_eq!(outcomes, ["use_dpop_nonce", "issued"], "run {run}");
        with_dpop.full_sign_out().await;
        if run >= 2 {
            for (index, [sign_in, refresh, full_sign_out]) in this_run.into_iter().enumerate() {
                flows[index].sign_in.push(sign_in);
                flows[index].refresh.push(refresh);
                flows[index].full_sign_out.push(full_sign_out);
            }
            let [without, with] = this_run;
            added.sign_in.push(with[0] - without[0]);
            added.refresh.push(with[1] - without[1]);
            added.full_sign_out.push(with[2] - without[2]);
            nonce_fetches.push(nonce_fetch);
            nonce_fetch_added.push(nonce_fetch - with[0]);
        }
    }
    eprintln!("DPoP comparison: {runs} runs");
    let [without, with] = &mut flows;
    report("sign_in.no_dpop", "ms", &mut without.sign_in);
    report("sign_in.dpop", "ms", &mut with.sign_in);
    report("sign_in.dpop_added", "ms", &mut added.sign_in);
    report("sign_in.dpop_nonce_fetch", "ms", &mut nonce_fetches);
    report(
        "sign_in.dpop_nonce_fetch_added",
        "ms",
        &mut nonce_fetch_added,
    );
    report("refresh.no_dpop", "ms", &mut without.refresh);
    report("refresh.dpop", "ms", &mut with.refresh);
    report("refresh.dpop_added", "ms", &mut added.refresh);
    report("full_sign_out.no_dpop", "ms", &mut without.full_sign_out);
    report("full_sign_out.dpop", "ms", &mut with.full_sign_out);
    report("full_sign_out.dpop_added", "ms", &mut added.full_sign_out);

    // One token request alone, where the keychain's milliseconds do not drown a proof's cost:
    // without DPoP, with it (nonce cached), and with it after mock-okta renewed its nonce (the
    // request meets `use_dpop_nonce` and goes again, as a provider's first does).
    let [without, with] = &mut variants;
    let mut raw = [
        TokenRequests::signed_in(without).await,
        TokenRequests::signed_in(with).await,
    ];
    let mut requests = [Vec::new(), Vec::new(), Vec::new()];
    let (mut requests_added, mut nonce_fetch_added) = (Vec::new(), Vec::new());
    for run in 0..runs + 2 {
        if run > 0 {
            for (raw, variant) in raw.iter_mut().zip(&mut variants) {
                raw.sign_in_again(variant).await;
            }
        }
        let mut totals = [0.0; 3];
        for _ in 0..TOKEN_REQUESTS_PER_RUN {
            let (elapsed, attempts) = raw[0].refresh().await;
            assert_eq!(attempts, 1);
            totals[0] += elapsed;
            let (elapsed, attempts) = raw[1].refresh().await;
            assert!(attempts == 1 || run == 0, "the nonce was cached");
            totals[1] += elapsed;
            variants[1].mock.rotate_dpop_nonce(false).await;
            let (elapsed, attempts) = raw[1].refresh().await;
            assert_eq!(attempts, 2, "the renewed nonce is fetched");
            totals[2] += elapsed;
        }
        if run >= 2 {
            let means = totals.map(|total| total / TOKEN_REQUESTS_PER_RUN as f64);
            for (samples, mean) in requests.iter_mut().zip(means) {
                samples.push(mean);
            }
            requests_added.push(means[1] - means[0]);
            nonce_fetch_added.push(means[2] - means[1]);
        }
    }
    let [without, with, nonce_fetches] = &mut requests;
    report("token_request.no_dpop", "ms", without);
    report("token_request.dpop", "ms", with);
    report("token_request.dpop_added", "ms", &mut requests_added);
    report("token_request.dpop_nonce_fetch", "ms", nonce_fetches);
    report(
        "token_request.dpop_nonce_fetch_added",
        "ms",
        &mut nonce_fetch_added,
    );
    for variant in variants {
        variant.stop().await;
    }
}

/// Token requests of each kind in each run of the token-request figures (their mean is one
/// sample).
const TOKEN_REQUESTS_PER_RUN: usize = 20;

/// Refresh-grant token requests sent outside the core, as it sends them: a form POST over
/// the HTTP client the app builds (kept alive), with a proof of the session's key and the
/// nonce last given when the session has a key; each uses the refresh token the last one got.
struct TokenRequests {
    http: reqwest::Client,
    endpoint: Url,
    refresh_token: String,
    key: Option<DpopKey>,
    nonce: Option<String>,
}

impl TokenRequests {
    /// Signs `variant` in, and takes its refresh token and key.
    async fn signed_in(variant: &mut Variant) -> Self {
        let (http, endpoint) =
            session_testkit::token_endpoint(variant.app.manager.identity_provider()).await;
        let mut requests = Self {
            http,
            endpoint,
            refresh_token: String::new(),
            key: None,
            nonce: None,
        };
        requests.sign_in(variant).await;
        requests
    }

    /// Signs `variant` in and takes the new session's refresh token and key: a grant of its
    /// own for each run, as mock-okta's cost of a refresh grows with the tokens of its grant.
    async fn sign_in(&mut self, variant: &mut Variant) {
        variant.sign_in().await;
        let stored = variant.vault.load().unwrap().expect("a stored session");
        self.refresh_token = stored.tokens.refresh_token.unwrap().secret().to_owned();
        self.key = stored.dpop_key;
    }

    /// Signs `variant` out of the app (its tokens revoked) and in again.
    async fn sign_in_again(&mut self, variant: &mut Variant) {
        variant.app.sign_out_now(SignOutMode::AppOnly).await;
        self.sign_in(variant).await;
    }

    /// One refresh: milliseconds from making the request (and its proof) until its answer
    /// is read, and the requests it took: a second one, with the nonce given, when the
    /// server answers `use_dpop_nonce` to the first, as the core does.
    async fn refresh(&mut self) -> (f64, usize) {
        let start = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
                ("refresh_token", &self.refresh_token),
            ];
            let mut request = self.http.post(self.endpoint.clone()).form(&form);
            if let Some(key) = &self.key {
                let proof = key
                    .proof("POST", &self.endpoint, self.nonce.as_deref())
                    .unwrap();
                request = request.header("DPoP", proof);
            }
            let response = request.send().await.unwrap();
            if let Some(nonce) = response.headers().get("dpop-nonce") {
                self.nonce = Some(nonce.to_str().unwrap().to_owned());
            }
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap();
            if answer["error"] == "use_dpop_nonce" && attempts == 1 {
                continue;
            }
            assert!(status.is_success(), "{answer}");
            self.refresh_token = answer["refresh_token"].as_str().unwrap().to_owned();
            return (millis_since(start), attempts);
        }
    }
}
