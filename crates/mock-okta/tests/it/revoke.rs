use mock_okta::browser::Browser;
use mock_okta::{token_fingerprint, RevocationResult, TokenState, DEMO_CLIENT_ID};

use crate::{http, oauth_error, post_form, revoke, signed_in_tokens, start};

#[tokio::test]
async fn unknown_tokens_revoke_with_200_and_an_empty_body() {
    let mock = start().await;
    let response = revoke(&mock, "never-issued", "access_token").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().is_empty());
    let events = mock.revocations();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].result, RevocationResult::Unknown);
    assert_eq!(
        events[0].token_fingerprint.as_deref(),
        Some(token_fingerprint("never-issued").as_str())
    );
    assert_eq!(events[0].token_type_hint.as_deref(), Some("access_token"));
    assert_eq!(events[0].client_id.as_deref(), Some(DEMO_CLIENT_ID));
}

#[tokio::test]
async fn revoke_without_client_identification_is_401_invalid_client() {
    let mock = start().await;
    let response = post_form(
        &mock,
        "oauth2/default/v1/revoke",
        &[("token", "t"), ("token_type_hint", "access_token")],
    )
    .await;
    let (status, error, _) = oauth_error(response).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
    assert_eq!(
        mock.revocations()[0].result,
        RevocationResult::InvalidClient
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens_and_they_stop_working() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    let refresh = tokens.refresh_token.unwrap();
    assert_eq!(revoke(&mock, &refresh, "refresh_token").await.status(), 200);
    assert_eq!(mock.token(&refresh).unwrap().state, TokenState::Revoked);
    assert_eq!(
        mock.token(&tokens.access_token).unwrap().state,
        TokenState::Revoked
    );

    let refreshed = crate::refresh(&mock, &refresh).await;
    assert_eq!(oauth_error(refreshed).await.1, "invalid_grant");
    for token in [&refresh, &tokens.access_token] {
        let introspection: serde_json::Value = post_form(
            &mock,
            "oauth2/default/v1/introspect",
            &[("token", token), ("client_id", DEMO_CLIENT_ID)],
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(introspection, serde_json::json!({"active": false}));
    }
    let userinfo = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/userinfo").unwrap())
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);

    // Revoking again is fine and recorded as already inactive.
    assert_eq!(revoke(&mock, &refresh, "refresh_token").await.status(), 200);
    let results: Vec<_> = mock
        .revocations()
        .iter()
        .map(|event| event.result)
        .collect();
    assert_eq!(
        results,
        [RevocationResult::Revoked, RevocationResult::AlreadyInactive]
    );
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token_alive() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    assert_eq!(
        revoke(&mock, &tokens.access_token, "access_token")
            .await
            .status(),
        200
    );
    assert_eq!(
        mock.token(&tokens.access_token).unwrap().state,
        TokenState::Revoked
    );
    let refresh = tokens.refresh_token.unwrap();
    assert_eq!(mock.token(&refresh).unwrap().state, TokenState::Active);
    let userinfo = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/userinfo").unwrap())
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let refreshed = crate::refresh(&mock, &refresh).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn revoke_without_token_is_invalid_request() {
    let mock = start().await;
    let response = post_form(
        &mock,
        "oauth2/default/v1/revoke",
        &[("client_id", DEMO_CLIENT_ID)],
    )
    .await;
    assert_eq!(oauth_error(response).await.1, "invalid_request");
    assert_eq!(
        mock.revocations()[0].result,
        RevocationResult::InvalidRequest
    );
}
