//! Local sign-out latency: from the `sign_out` call until the core reports the app session
//! gone (`changed(SignedOut { signing_out: true })`: keychain entry deleted, tokens zeroized),
//! against the floor of one raw keychain delete of an equally sized secret on the same Secret
//! Service, measured alternately in the same run. mock-okta's revoke hangs, so the network
//! steps that follow cannot interfere. Also timed: the click until the tokens are queued for
//! revocation (after the app session is gone), the journal write that runs alongside the
//! delete, and the staging write that sign-in and refresh pay so that the click need not.
//!
//! Needs a Secret Service: `scripts/with-keyring cargo bench -p oidc-session --bench sign_out`.
//! `BENCH_RUNS` sets the number of runs (default 20).

use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop_testkit::{millis_since, report};
use keyring_core::Entry;
use mock_okta::MockOkta;
use oidc_session::journal::JournalRecord;
use oidc_session::provider::DEFAULT_REQUEST_TIMEOUT;
use oidc_session::tokens::{AccessToken, RefreshToken, RevocableToken};
use oidc_session::vault::{PendingSignOut, QueuedToken, TokenOrigin};
use oidc_session::{Config, Journal, SignOutMode, SignOutStep, TokenVault};
use session_testkit::{
    identity_provider, Event, RecordedEvents, SessionSetup, TestSession, SCHEME,
};

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
    let service = format!("{SCHEME}.bench.{}", std::process::id());
    // Only a session bus can have a Secret Service; without one, keyring looks elsewhere.
    let vault = std::env::var_os("DBUS_SESSION_BUS_ADDRESS")
        .and_then(|_| TokenVault::platform(&service).ok())
        .filter(|vault| vault.load().is_ok());
    let Some(vault) = vault else {
        eprintln!("no unlocked Secret Service: skipping (run through scripts/with-keyring)");
        return;
    };
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
    let floor_entry = Arc::new(Entry::new_in_store(&store, &service, "raw-delete-floor").unwrap());
    let session_entry = Entry::new_in_store(&store, &service, "session").unwrap();
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
