//! The request journal (`GET /__admin/requests?since=N`), one-shot fault counts, and the
//! history bound on what the mock keeps.

use mock_okta::browser::Browser;
use mock_okta::{
    short_fingerprint, Config, Endpoint, JournalEntry, LogoutOutcome, SecretKind, TokenKind,
    TokenState, DEMO_CLIENT_ID,
};

use crate::{http, revoke, sign_out_in, signed_in_tokens, start, start_with, test_config};

async fn journal_since(mock: &mock_okta::MockOkta, since: u64) -> Vec<JournalEntry> {
    let url = mock
        .admin_url()
        .join(&format!("requests?since={since}"))
        .unwrap();
    let response = http(mock).get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_journal_shows_each_request_with_its_secrets_fingerprinted() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    let refresh = tokens.refresh_token.clone().unwrap();
    let signed_in = journal_since(&mock, 0).await;
    let position = signed_in.last().unwrap().seq;

    assert_eq!(revoke(&mock, &refresh, "refresh_token").await.status(), 200);
    assert_eq!(
        revoke(&mock, &tokens.access_token, "access_token")
            .await
            .status(),
        200
    );
    sign_out_in(&browser, &mock, &tokens, "bye").await;

    let sign_out = journal_since(&mock, position).await;
    let summary: Vec<(Option<Endpoint>, &str)> = sign_out
        .iter()
        .map(|entry| (entry.endpoint, entry.outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(Endpoint::Revoke), "revoked"),
            // Revoking the refresh token took its access token along.
            (Some(Endpoint::Revoke), "already_inactive"),
            (Some(Endpoint::Logout), "redirected"),
        ]
    );
    let seqs: Vec<u64> = sign_out.iter().map(|entry| entry.seq).collect();
    assert_eq!(seqs, [position + 1, position + 2, position + 3]);
    let first = &sign_out[0];
    assert_eq!(first.value("client_id"), Some(DEMO_CLIENT_ID));
    assert_eq!(first.value("token_type_hint"), Some("refresh_token"));
    assert_eq!(
        first.params["token"],
        mock_okta::Param::Secret {
            secret: SecretKind::RefreshToken,
            fingerprint: short_fingerprint(&refresh),
        }
    );
    assert_eq!(
        sign_out[1].fingerprint("token"),
        Some(short_fingerprint(&tokens.access_token).as_str())
    );
    let logout = &sign_out[2];
    assert_eq!(logout.value("state"), Some("bye"));
    assert_eq!(
        logout.fingerprint("id_token_hint"),
        Some(short_fingerprint(tokens.id_token.as_deref().unwrap()).as_str())
    );

    // The sign-in: authorize, then the code exchange, whose code and verifier are
    // fingerprinted too. No secret appears anywhere in the journal.
    let exchange = signed_in
        .iter()
        .find(|entry| entry.endpoint == Some(Endpoint::Token))
        .unwrap();
    assert_eq!(exchange.outcome, "issued");
    assert!(exchange.fingerprint("code").is_some());
    assert!(exchange.fingerprint("code_verifier").is_some());
    let whole = serde_json::to_string(&journal_since(&mock, 0).await).unwrap();
    for secret in [
        refresh.as_str(),
        tokens.access_token.as_str(),
        tokens.id_token.as_deref().unwrap(),
    ] {
        assert!(!whole.contains(secret), "a token leaked into the journal");
    }
    // The in-process view is the same journal.
    assert_eq!(mock.requests(position), sign_out);
}

#[tokio::test]
async fn a_counted_fault_hits_exactly_the_next_requests_then_turns_off() {
    let mock = start().await;
    assert_eq!(revoke(&mock, "a", "access_token").await.status(), 200);
    mock.update_faults(|faults| {
        faults.revoke.status = Some(503);
        faults.revoke.count = Some(1);
    });
    // Exactly the second revoke fails.
    assert_eq!(revoke(&mock, "b", "access_token").await.status(), 503);
    assert_eq!(revoke(&mock, "c", "access_token").await.status(), 200);
    assert_eq!(mock.faults().revoke, Default::default());
    let outcomes: Vec<String> = mock
        .requests(0)
        .into_iter()
        .map(|entry| entry.outcome)
        .collect();
    assert_eq!(outcomes, ["unknown", "fault: status 503", "unknown"]);
}

#[tokio::test]
async fn a_count_also_limits_the_endpoints_own_switches() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    mock.update_faults(|faults| {
        faults.logout_error_page = true;
        faults.logout.count = Some(2);
    });
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let tokens = signed_in_tokens(&mock, &browser).await;
        sign_out_in(&browser, &mock, &tokens, "s").await;
        outcomes.push(mock.logout_events().last().unwrap().outcome);
    }
    assert_eq!(
        outcomes,
        [
            LogoutOutcome::Rejected,
            LogoutOutcome::Rejected,
            LogoutOutcome::Redirected
        ]
    );
    assert!(!mock.faults().logout_error_page);
}

#[tokio::test]
async fn the_history_bounds_the_journal_events_and_inactive_tokens() {
    let history = 4;
    let mock = start_with(Config {
        history,
        ..test_config()
    })
    .await;
    let browser = Browser::for_mock(&mock).unwrap();
    let mut refresh_tokens = Vec::new();
    for _ in 0..3 {
        let tokens = signed_in_tokens(&mock, &browser).await;
        let refresh = tokens.refresh_token.unwrap();
        assert_eq!(revoke(&mock, &refresh, "refresh_token").await.status(), 200);
        refresh_tokens.push(refresh);
    }
    let journal = mock.requests(0);
    assert_eq!(journal.len(), history);
    // Positions keep counting: authorize, token and revoke per round, and the sign-in form's
    // post in the first (the later rounds find the Okta session).
    assert_eq!(journal.last().unwrap().seq, 10);
    assert_eq!(mock.revocations().len(), 3);
    // Each round filed its ID token (only ever listed) and then revoked a refresh token and
    // its access token: nine tokens in the history, of which the newest four are kept: the
    // second round's access token and the third round's three.
    let kept: Vec<(TokenKind, TokenState)> = mock
        .tokens()
        .iter()
        .map(|token| (token.kind, token.state))
        .collect();
    assert_eq!(
        kept,
        [
            (TokenKind::Access, TokenState::Revoked),
            (TokenKind::Refresh, TokenState::Revoked),
            (TokenKind::Access, TokenState::Revoked),
            (TokenKind::Id, TokenState::Active),
        ]
    );
    assert!(mock.token(&refresh_tokens[0]).is_none(), "oldest forgotten");
    assert_eq!(
        mock.token(&refresh_tokens[2]).unwrap().state,
        TokenState::Revoked
    );
    // A forgotten token is still refused, as one never issued.
    let response = crate::refresh(&mock, &refresh_tokens[0]).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn expired_tokens_are_kept_as_expired_within_the_history() {
    let mock = start().await;
    mock.update_lifetimes(|lifetimes| lifetimes.access_token_secs = 1);
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    // Expiry is by the clock; the next store operation after it sweeps.
    let expiry = mock.token(&tokens.access_token).unwrap().expires_at;
    while time::OffsetDateTime::now_utc() <= expiry {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    signed_in_tokens(&mock, &browser).await;
    assert_eq!(
        mock.token(&tokens.access_token).unwrap().state,
        TokenState::Expired
    );
}

#[tokio::test]
async fn a_dropped_connection_is_journaled_before_it_goes() {
    let mock = start().await;
    mock.update_faults(|faults| faults.revoke.drop_connection = true);
    let sent = http(&mock)
        .post(mock.base_url().join("oauth2/default/v1/revoke").unwrap())
        .form(&[("token", "t"), ("client_id", DEMO_CLIENT_ID)])
        .send()
        .await;
    assert!(sent.is_err(), "no response expected: {sent:?}");
    // Read at once: the entry was filed before the connection closed.
    let entry = mock
        .requests(0)
        .pop()
        .expect("the dropped request is journaled");
    assert_eq!(entry.endpoint, Some(Endpoint::Revoke));
    assert_eq!(entry.status, None);
    assert_eq!(entry.outcome, "fault: connection dropped");
}

#[tokio::test]
async fn rotated_refresh_tokens_join_the_history_when_their_grace_ends() {
    let history = 3;
    let mock = start_with(Config {
        history,
        ..test_config()
    })
    .await;
    let mut lifetimes = mock.lifetimes();
    // No grace: a rotated refresh token is spent at once.
    lifetimes.refresh_token_grace_secs = 0;
    mock.set_lifetimes(lifetimes);
    let browser = Browser::for_mock(&mock).unwrap();
    let mut refresh_token = signed_in_tokens(&mock, &browser)
        .await
        .refresh_token
        .unwrap();
    for _ in 0..6 {
        let response = crate::refresh(&mock, &refresh_token).await;
        assert_eq!(response.status(), 200);
        let tokens: crate::TokenResponse = response.json().await.unwrap();
        refresh_token = tokens.refresh_token.unwrap();
    }
    // The live refresh token, and of the spent ones only what the history holds beside the
    // ID tokens (every grant issues one).
    let refresh_tokens: Vec<TokenState> = mock
        .tokens()
        .iter()
        .filter(|token| token.kind == TokenKind::Refresh)
        .map(|token| token.state)
        .collect();
    assert_eq!(refresh_tokens.last(), Some(&TokenState::Active));
    assert!(
        refresh_tokens.len() <= 1 + history,
        "spent refresh tokens beyond the history are kept: {refresh_tokens:?}"
    );
    assert_eq!(
        crate::refresh(&mock, &refresh_token).await.status(),
        200,
        "the live one still works"
    );
}
