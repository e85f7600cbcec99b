//! The sign-out journal belongs to one session: a journal left behind never ends a newer
//! session, and a keychain that will not delete the session is said, not hidden.

use mock_okta::browser::Browser;
use mock_okta::MockOkta;
use oidc_session::journal::{JournalRecord, SignOutStep};
use oidc_session::{SessionView, SignOutMode, SignedOutReason, TokenVault};
use session_testkit::{FaultyKeychain, Harness, TestSession, SCHEME};

/// The keychain entry of the signed-in session (README: "Signing out").
const SESSION_ENTRY: &str = "session";

#[tokio::test]
async fn a_session_the_keychain_will_not_delete_is_said_and_deleted_at_the_next_start() {
    let mock = MockOkta::start(mock_okta::Config::default()).await.unwrap();
    let keychain = FaultyKeychain::new();
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = TestSession::over_keychain(&mock, &keychain, data_dir.path());
    let browser = Browser::for_mock(&mock).unwrap();
    app.sign_in(&browser).await;

    keychain.fail_deletes_of(SESSION_ENTRY, true);
    app.sign_out_now(SignOutMode::AppOnly).await;
    let outcome = app.events.outcomes().pop().unwrap();
    assert!(outcome.session_left_in_keychain, "{outcome:?}");
    assert!(
        outcome
            .message
            .starts_with("Your system keychain could not delete your session"),
        "{}",
        outcome.message
    );
    assert!(matches!(app.manager.view(), SessionView::SignedOut { .. }));
    let vault = TokenVault::with_store(keychain.store(), SCHEME);
    assert!(vault.load().unwrap().is_some(), "the keychain kept it");
    let journal = oidc_session::Journal::in_dir(data_dir.path());
    assert!(
        journal.read().unwrap().is_some(),
        "the journal stays for the next start"
    );

    // The keychain works again: the next start finishes the sign-out, never restores.
    keychain.fail_deletes_of(SESSION_ENTRY, false);
    app.stop().await;
    let app = TestSession::over_keychain(&mock, &keychain, data_dir.path());
    assert_eq!(
        app.manager.restored().await.unwrap(),
        SessionView::SignedOut {
            reason: Some(SignedOutReason::SignOutResumed),
            signing_out: false,
            password_required: false,
        }
    );
    assert!(vault.load().unwrap().is_none());
    assert!(journal.read().unwrap().is_none());
}

#[tokio::test]
async fn a_journal_left_behind_never_ends_a_newer_session() {
    let mut harness = Harness::start("stale-journal").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    // An earlier sign-out's journal that could not be cleared.
    let left_behind = JournalRecord {
        step: SignOutStep::LocalDone,
        ..JournalRecord::start(SignOutMode::Full, "an-earlier-session")
    };
    harness.journal().write(&left_behind).unwrap();

    harness.app.sign_in(&browser).await;
    assert_eq!(
        harness.journal().read().unwrap(),
        None,
        "a sign-in does not adopt an earlier sign-out's journal"
    );

    // Even if it could not be cleared then, the next start keeps the newer session.
    harness.journal().write(&left_behind).unwrap();
    let stored = harness.vault().load().unwrap().unwrap();
    harness.restart().await;
    let view = harness.app.manager.restored().await.unwrap();
    assert!(matches!(view, SessionView::SignedIn { .. }), "{view:?}");
    assert_eq!(harness.vault().load().unwrap().unwrap().id, stored.id);
    assert_eq!(harness.journal().read().unwrap(), None);

    // Its own sign-out's journal names it (while the browser is waited for).
    let task = harness.app.begin_sign_out(SignOutMode::Full);
    harness
        .wait_until("the sign-out's journal", || {
            harness
                .journal()
                .read()
                .unwrap()
                .is_some_and(|record| record.session_id.as_deref() == Some(stored.id.as_str()))
        })
        .await;
    harness.app.manager.cancel();
    task.await.unwrap().unwrap();
}
