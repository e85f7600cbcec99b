//! Local sign-out latency: from the `sign_out` call until the core reports the app session
//! gone (`changed(SignedOut { signing_out: true })`: keychain entry deleted, tokens zeroized),
//! against the floor of one raw keychain delete of an equally sized secret on the same Secret
//! Service, measured alternately in the same run. mock-okta's revoke hangs, so the network
//! steps that follow cannot interfere. The local steps are also timed one by one.
//!
//! Needs a Secret Service: `scripts/with-keyring cargo bench -p oidc-session --bench sign_out`.
//! `BENCH_RUNS` sets the number of runs (default 20).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyring_core::Entry;
use mock_okta::MockOkta;
use oidc_session::journal::JournalRecord;
use oidc_session::vault::{PendingSignOut, TokenKind};
use oidc_session::{
    Journal, Sensitive, SessionEvents, SessionView, SignOutMode, SignOutOutcome, TokenVault,
};
use support::{millis_since, report, Client, SCHEME};
use tokio::sync::mpsc;

/// Notes when the core reports that the app session is gone.
struct SessionGone(Mutex<mpsc::UnboundedSender<Instant>>);

impl SessionEvents for SessionGone {
    fn changed(&self, view: &SessionView) {
        if matches!(
            view,
            SessionView::SignedOut {
                signing_out: true,
                ..
            }
        ) {
            let _ = self.0.lock().unwrap().send(Instant::now());
        }
    }

    fn signed_out(&self, _outcome: &SignOutOutcome) {}
}

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
    let (gone_sender, mut gone) = mpsc::unbounded_channel();
    let mut client = Client::new(
        &mock,
        vault.clone(),
        data_dir.path(),
        Arc::new(SessionGone(Mutex::new(gone_sender))),
    );
    let floor_entry = Arc::new(Entry::new_in_store(&store, &service, "raw-delete-floor").unwrap());
    let session_entry = Entry::new_in_store(&store, &service, "session").unwrap();
    let scratch_journal = Journal::in_dir(&data_dir.path().join("scratch"));

    let (mut local, mut floor) = (Vec::new(), Vec::new());
    let (mut journal_writes, mut keychain_writes, mut keychain_deletes) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut secret_length = 0;
    // Two warm-up runs, then the measured ones.
    for run in 0..runs + 2 {
        client.sign_in().await;
        secret_length = session_entry.get_password().unwrap().len();

        // The floor: one raw delete of an equally sized secret on the same store.
        floor_entry
            .set_password(&"x".repeat(secret_length))
            .unwrap();
        let entry = floor_entry.clone();
        let floor_ms = timed_blocking(move || entry.delete_credential().unwrap()).await;

        // The click: sign_out until the core reports the app session gone.
        while gone.try_recv().is_ok() {}
        let manager = client.manager.clone();
        let start = Instant::now();
        let sign_out = tokio::spawn(async move { manager.sign_out(SignOutMode::Full).await });
        let gone_at = tokio::time::timeout(Duration::from_secs(30), gone.recv())
            .await
            .expect("the app session ends")
            .unwrap();
        let local_ms = gone_at.duration_since(start).as_secs_f64() * 1e3;
        assert!(
            vault.load().unwrap().is_none(),
            "the session left the keychain"
        );
        client.manager.cancel();
        sign_out.await.unwrap().unwrap();
        vault.delete_pending().unwrap();

        // The local part's steps one by one: the journal record (written and synced before
        // anything changes), the pending-revocation entry's write, the session entry's delete.
        let journal_ms = {
            let start = Instant::now();
            scratch_journal
                .write(&JournalRecord::start(SignOutMode::Full))
                .unwrap();
            millis_since(start)
        };
        let pending = PendingSignOut {
            to_revoke: vec![
                (TokenKind::RefreshToken, Sensitive::new("r".repeat(40))),
                (
                    TokenKind::AccessToken,
                    Sensitive::new("a".repeat(secret_length / 2)),
                ),
            ],
            id_token: Some(Sensitive::new("i".repeat(secret_length / 2))),
        };
        let writer = vault.clone();
        let write_ms = timed_blocking(move || writer.save_pending(&pending).unwrap()).await;
        let deleter = vault.clone();
        let delete_ms = timed_blocking(move || deleter.delete_pending().unwrap()).await;

        if run >= 2 {
            local.push(local_ms);
            floor.push(floor_ms);
            journal_writes.push(journal_ms);
            keychain_writes.push(write_ms);
            keychain_deletes.push(delete_ms);
        }
    }
    eprintln!("session secret: {secret_length} bytes; {runs} runs");
    report("local_sign_out", "ms", &mut local);
    report("raw_keychain_delete", "ms", &mut floor);
    report("local_sign_out.journal_write", "ms", &mut journal_writes);
    report("local_sign_out.keychain_write", "ms", &mut keychain_writes);
    report(
        "local_sign_out.keychain_delete",
        "ms",
        &mut keychain_deletes,
    );
    mock.shutdown().await;
}
