//! The token vault against a real Secret Service: the D-Bus session and unlocked
//! gnome-keyring that the test command provides, inspected with `secret-tool`, the way a
//! person (or another program) would see the keychain.

use std::process::Command;
use std::time::{Duration, SystemTime};

use oidc_session::tokens::{
    AccessToken, IdToken, RefreshToken, RevocableToken, SessionTokens, StoredSession,
};
use oidc_session::vault::{PendingSignOut, QueuedToken, MAX_ENTRY_BYTES};
use oidc_session::{TokenVault, UserClaims, VaultError};
use session_testkit::{FaultyKeychain, TestSession};

/// The environment variable that makes this binary the child of
/// `without_a_secret_service_the_vault_is_a_clear_error`.
const CHILD_VAR: &str = "OIDC_SESSION_VAULT_TEST_CHILD";

fn session(access_token: &str) -> StoredSession {
    StoredSession {
        id: "session-1".into(),
        tokens: SessionTokens {
            access_token: AccessToken::new(access_token.to_owned()),
            access_expires_at: SystemTime::now() + Duration::from_secs(3600),
            refresh_token: Some(RefreshToken::new("refresh-token-value".into())),
            id_token: IdToken::new("id.token.value".into()),
        },
        user: UserClaims {
            subject: "00u1".into(),
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.com".into()),
            username: Some("ada@example.com".into()),
        },
        signed_in_at: SystemTime::now(),
        dpop_key: None,
    }
}

/// What `secret-tool` finds under the vault's service name.
fn secret_tool_lookup(service: &str) -> Option<String> {
    let output = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", "session"])
        .output()
        .expect("secret-tool (apt install libsecret-tools)");
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).unwrap())
}

#[test]
fn the_session_lives_in_the_secret_service_and_is_gone_after_delete() {
    let service = format!("com.example.oktasignout.test.vault.{}", std::process::id());
    let vault =
        TokenVault::platform(&service).expect("a Secret Service (run through scripts/test)");
    assert!(vault.load().unwrap().is_none());

    vault.save(&session("access-token-value")).unwrap();
    let stored = secret_tool_lookup(&service).expect("the entry is in the keychain");
    assert!(stored.contains("access-token-value"), "{stored}");

    let loaded = vault.load().unwrap().unwrap();
    assert_eq!(loaded.tokens.access_token.secret(), "access-token-value");
    assert_eq!(loaded.user.name.as_deref(), Some("Ada Lovelace"));

    // Saving again replaces the entry rather than adding a second one.
    vault.save(&session("second-access-token")).unwrap();
    assert_eq!(
        vault.load().unwrap().unwrap().tokens.access_token.secret(),
        "second-access-token"
    );

    vault.delete().unwrap();
    assert_eq!(secret_tool_lookup(&service), None);
    assert!(vault.load().unwrap().is_none());
    vault.delete().expect("deleting nothing is fine");
}

#[test]
fn without_a_secret_service_the_vault_is_a_clear_error() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return child_without_a_secret_service();
    }
    // The keychain client is set up once per process: run this binary again, on a bus that
    // does not exist.
    let output = crate::rerun("vault::without_a_secret_service_the_vault_is_a_clear_error")
        .env(CHILD_VAR, "1")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/okta-signout-bus",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("vault error: your system keychain is locked or not available"),
        "{stdout}"
    );
}

fn child_without_a_secret_service() {
    let error = match TokenVault::platform("com.example.oktasignout.test.none") {
        Err(error) => error,
        Ok(vault) => vault.load().map(|_| ()).unwrap_err(),
    };
    assert!(matches!(error, VaultError::Unavailable(_)), "{error:?}");
    println!("vault error: {error}");
}

#[test]
fn okta_sized_tokens_are_kept_in_entries_of_at_most_2048_bytes() {
    // Windows Credential Manager holds 2,560 bytes per entry; this keychain refuses more
    // than the app's own limit.
    let keychain = FaultyKeychain::with_entry_limit(MAX_ENTRY_BYTES);
    let vault = TokenVault::with_store(keychain.store(), "com.example.oktasignout");
    let mut okta_sized = session(&format!("eyJ.{}", "a".repeat(1400)));
    okta_sized.tokens.id_token = IdToken::new(format!("eyJ.{}", "i".repeat(1400)));
    vault.save(&okta_sized).unwrap();
    let entries = keychain.entries();
    assert!(entries.len() >= 2, "split into parts: {entries:?}");
    assert!(
        entries.values().all(|size| *size <= MAX_ENTRY_BYTES),
        "{entries:?}"
    );
    let loaded = vault.load().unwrap().unwrap();
    assert_eq!(
        loaded.tokens.access_token.secret(),
        okta_sized.tokens.access_token.secret()
    );
    assert_eq!(
        loaded.tokens.id_token.secret(),
        okta_sized.tokens.id_token.secret()
    );

    // The queue of tokens to revoke can grow as long: it is split the same way.
    let pending = PendingSignOut {
        to_revoke: (0..4)
            .map(|index| QueuedToken {
                token: RevocableToken::Access(AccessToken::new(format!(
                    "{index}{}",
                    "a".repeat(1400)
                ))),
                origin: None,
                queued_at: 1_700_000_000,
                expires_at: None,
                refused: None,
            })
            .collect(),
        id_token: Some(okta_sized.tokens.id_token.clone()),
        staged: Vec::new(),
    };
    vault.save_pending(&pending).unwrap();
    assert_eq!(vault.load_pending().unwrap(), Some(pending));
    assert!(keychain
        .entries()
        .values()
        .all(|size| *size <= MAX_ENTRY_BYTES));

    // Every part goes.
    vault.delete().unwrap();
    vault.delete_pending().unwrap();
    assert_eq!(keychain.entries(), Default::default());
}

#[tokio::test]
async fn a_whole_session_lives_and_ends_in_a_keychain_of_small_entries() {
    let mock = mock_okta::MockOkta::start(mock_okta::Config::default())
        .await
        .unwrap();
    let keychain = FaultyKeychain::with_entry_limit(MAX_ENTRY_BYTES);
    let data_dir = tempfile::tempdir().unwrap();
    let mut app = TestSession::over_keychain(&mock, &keychain, data_dir.path());
    let browser = mock_okta::browser::Browser::for_mock(&mock).unwrap();
    app.sign_in(&browser).await;
    app.stop().await;
    let app = TestSession::over_keychain(&mock, &keychain, data_dir.path());
    assert!(matches!(
        app.manager.restored().await.unwrap(),
        oidc_session::SessionView::SignedIn { .. }
    ));
    app.sign_out_now(oidc_session::SignOutMode::AppOnly).await;
    assert_eq!(
        keychain.entries(),
        Default::default(),
        "nothing left behind"
    );
    assert!(mock
        .tokens()
        .iter()
        .filter(|token| token.kind != mock_okta::TokenKind::Id)
        .all(|token| token.state == mock_okta::TokenState::Revoked));
}
