//! The revocation queue tells the truth: every issuer form revokes, a refused token is set
//! aside with its reason instead of blocking the rest, an expired one is dropped, and the
//! window hears of the queue as it changes.

use mock_okta::{TokenState, DEMO_CLIENT_ID};
use oidc_session::tokens::{AccessToken, RevocableToken, TokenKind};
use oidc_session::vault::{QueuedToken, TokenOrigin};
use oidc_session::{RevocationStatus, SignOutMode};
use session_testkit::{Harness, Server};

/// The last revocation status the window was told of (empty if none).
fn last_status(harness: &Harness) -> RevocationStatus {
    harness.app.events.revocations().pop().unwrap_or_default()
}

#[tokio::test]
async fn an_http_loopback_issuer_gets_every_token_revoked() {
    for (server, mode) in [
        (Server::Default, SignOutMode::AppOnly),
        (Server::Org, SignOutMode::Full),
    ] {
        let test = format!("http-issuer-{server:?}-{mode:?}");
        let mut harness = Harness::start_on_form(&test, (server, true)).await;
        let issuer = server.issuer(&harness.mock);
        assert!(issuer.as_str().starts_with("http://127.0.0.1:"), "{issuer}");
        let browser = harness.browser();
        harness.app.sign_in(&browser).await;
        match mode {
            SignOutMode::AppOnly => harness.app.sign_out_now(mode).await,
            SignOutMode::Full => harness.app.sign_out(&browser).await,
        }
        let states = harness.revocable_token_states();
        assert_eq!(states.len(), 2, "{test}");
        assert!(
            states.iter().all(|state| *state == TokenState::Revoked),
            "{test}: {states:?}"
        );
        assert!(harness.pending().is_none(), "{test}: nothing left queued");
        assert!(last_status(&harness).is_empty(), "{test}");
    }
}

#[tokio::test]
async fn a_refused_token_waits_aside_and_the_tokens_behind_it_are_revoked() {
    let mut harness = Harness::start("refused-token").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    let issuer = Server::Default.issuer(&harness.mock).to_string();
    let queued = |value: &str, client_id: &str, issuer: &str, expires_at| QueuedToken {
        token: RevocableToken::Access(AccessToken::new(value.to_owned())),
        origin: Some(TokenOrigin {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
        }),
        queued_at: 1_700_000_000,
        expires_at,
        refused: None,
    };
    // Ahead of the session's tokens: one of a client that Okta no longer knows (it answers
    // 401 invalid_client), one of an issuer the app no longer signs in to, one expired.
    let vault = harness.vault();
    let mut pending = vault.load_pending().unwrap().unwrap();
    pending.to_revoke = vec![
        queued("of-a-retired-client", "retired-client", &issuer, None),
        queued(
            "of-another-issuer",
            DEMO_CLIENT_ID,
            "https://other.example.com",
            None,
        ),
        queued("long-expired", DEMO_CLIENT_ID, &issuer, Some(1_700_000_100)),
    ];
    vault.save_pending(&pending).unwrap();

    harness.app.sign_out_now(SignOutMode::AppOnly).await;

    let states = harness.revocable_token_states();
    assert!(
        states.iter().all(|state| *state == TokenState::Revoked),
        "the session's tokens, behind the refused ones: {states:?}"
    );
    let requests: Vec<_> = harness
        .mock
        .revocations()
        .into_iter()
        .map(|event| event.result)
        .collect();
    assert_eq!(
        requests,
        [
            mock_okta::RevocationResult::InvalidClient,
            mock_okta::RevocationResult::Revoked,
            // Revoking the refresh token revoked its access token.
            mock_okta::RevocationResult::AlreadyInactive,
        ],
        "the other issuer's token is not sent here, the expired one not at all"
    );
    let left = harness.pending().unwrap().to_revoke;
    let left: Vec<_> = left
        .iter()
        .map(|queued| (queued.token.secret(), queued.refused.clone().unwrap()))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0].0, "of-a-retired-client");
    assert!(left[0].1.contains("invalid_client"), "{}", left[0].1);
    assert_eq!(left[1].0, "of-another-issuer");
    assert!(
        left[1].1.contains("https://other.example.com"),
        "{}",
        left[1].1
    );

    let status = last_status(&harness);
    assert_eq!(status.waiting, 0, "{status:?}");
    assert_eq!(status.refused.len(), 2, "{status:?}");
    assert!(status
        .refused
        .iter()
        .all(|refused| refused.kind == TokenKind::AccessToken));
    assert_eq!(status.since, Some(1_700_000_000));
    assert_eq!(harness.app.manager.revocation_status(), status);

    // "Retry now" tries them again: Okta still refuses, and they stay aside.
    let served = harness.mock.revocations().len();
    harness.app.manager.retry_revocations();
    harness
        .wait_until("the retried revocation", || {
            harness.mock.revocations().len() == served + 1
        })
        .await;
    assert_eq!(harness.pending().unwrap().to_revoke.len(), 2);
    assert_eq!(harness.app.manager.revocation_status().refused.len(), 2);
}

#[tokio::test]
async fn the_window_hears_of_the_queue_until_okta_takes_it() {
    let mut harness = Harness::start("live-status").await;
    let browser = harness.browser();
    harness.app.sign_in(&browser).await;
    harness
        .mock
        .update_faults(|faults| faults.revoke.status = Some(503));
    harness.app.sign_out_now(SignOutMode::AppOnly).await;
    let outcome = harness.app.events.outcomes().pop().unwrap();
    assert!(outcome.revocation_pending);
    assert!(!outcome.message.contains("revoke"), "{}", outcome.message);
    harness
        .wait_until("a status with the next try", || {
            let status = harness.app.manager.revocation_status();
            status.waiting == 2 && status.next_try.is_some()
        })
        .await;
    let status = harness.app.manager.revocation_status();
    assert!(status.refused.is_empty(), "a 503 is an outage: {status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("503")),
        "{status:?}"
    );
    assert!(status.since.is_some());

    harness
        .mock
        .update_faults(|faults| faults.revoke.status = None);
    harness.app.manager.retry_revocations();
    harness
        .wait_until("the queue to empty", || {
            harness.app.manager.revocation_status().is_empty()
        })
        .await;
    assert!(last_status(&harness).is_empty(), "the window heard it");
    assert!(harness
        .revocable_token_states()
        .iter()
        .all(|state| *state == TokenState::Revoked));
    assert!(harness.pending().is_none());
}
