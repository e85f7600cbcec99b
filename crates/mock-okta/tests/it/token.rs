use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_okta::browser::Browser;
use mock_okta::{
    ClientConfig, Lifetimes, TokenKind, TokenState, DEMO_CLIENT_ID, DEMO_REDIRECT_URI,
};

use crate::{
    authorize_url, exchange_code, expect_app_redirect, http, oauth_error, pkce, post_form,
    query_param, refresh, sign_in, signed_in_tokens, start, start_with, TokenResponse,
};

async fn jwks(mock: &mock_okta::MockOkta) -> JwkSet {
    http(mock)
        .get(mock.base_url().join("oauth2/default/v1/keys").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies a JWT with the served JWKS, like a relying party would.
async fn verify(mock: &mock_okta::MockOkta, jwt: &str, audience: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let set = jwks(mock).await;
    let jwk = set
        .find(header.kid.as_deref().expect("kid"))
        .expect("kid in JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[mock.issuer().as_str()]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<serde_json::Value>(
        jwt,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims
}

#[tokio::test]
async fn code_exchange_issues_verifiable_id_and_access_tokens() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.scope, "openid profile email offline_access");
    let refresh = tokens
        .refresh_token
        .as_deref()
        .expect("offline_access gives a refresh token");
    assert!(!refresh.contains('.'), "refresh tokens are opaque");

    let id = verify(&mock, tokens.id_token.as_deref().unwrap(), DEMO_CLIENT_ID).await;
    assert_eq!(id["sub"], "00u1ada0000000000001");
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["name"], "Ada Lovelace");
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["preferred_username"], "ada@example.com");
    let session = &mock.sessions()[0];
    assert_eq!(id["sid"], session.id.as_str());
    assert_eq!(id["auth_time"], session.created.unix_timestamp());
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        3600
    );
    let expected_at_hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(tokens.access_token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    assert_eq!(id["at_hash"], expected_at_hash);

    let access = verify(&mock, &tokens.access_token, "api://default").await;
    assert_eq!(access["cid"], DEMO_CLIENT_ID);
    assert_eq!(access["sub"], "ada@example.com");
    assert_eq!(access["uid"], "00u1ada0000000000001");
    assert_eq!(
        access["scp"],
        serde_json::json!(["openid", "profile", "email", "offline_access"])
    );
    assert!(access["jti"].as_str().is_some_and(|jti| !jti.is_empty()));

    let recorded = mock.token(&tokens.access_token).unwrap();
    assert_eq!(
        (recorded.kind, recorded.state),
        (TokenKind::Access, TokenState::Active)
    );
    assert_eq!(mock.token(refresh).unwrap().kind, TokenKind::Refresh);
}

#[tokio::test]
async fn claims_follow_the_granted_scopes() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let pkce = pkce();
    let url = authorize_url(&mock, &pkce, &[("scope", Some("openid")), ("nonce", None)]);
    let code = query_param(
        &expect_app_redirect(browser.open(url).await.unwrap()),
        "code",
    )
    .unwrap();
    let tokens: TokenResponse = exchange_code(&mock, &code, &pkce)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        tokens.refresh_token.is_none(),
        "no offline_access, no refresh token"
    );
    let id = verify(&mock, tokens.id_token.as_deref().unwrap(), DEMO_CLIENT_ID).await;
    for absent in ["name", "email", "preferred_username", "nonce"] {
        assert!(id.get(absent).is_none(), "{absent} in {id}");
    }
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let real = pkce();
    let code = sign_in(&mock, &browser, &real).await;
    let wrong = crate::Pkce {
        verifier: "x".repeat(50),
        challenge: String::new(),
    };
    let (status, error, _) = oauth_error(exchange_code(&mock, &code, &wrong).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn missing_code_verifier_is_invalid_grant() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let code = sign_in(&mock, &browser, &pkce()).await;
    let response = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(oauth_error(response).await.1, "invalid_grant");
}

#[tokio::test]
async fn a_code_works_once() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let pkce = pkce();
    let code = sign_in(&mock, &browser, &pkce).await;
    assert_eq!(exchange_code(&mock, &code, &pkce).await.status(), 200);
    let (status, error, _) = oauth_error(exchange_code(&mock, &code, &pkce).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let mock = start().await;
    mock.set_lifetimes(Lifetimes {
        authorization_code_secs: 0,
        ..Lifetimes::default()
    });
    let browser = Browser::for_mock(&mock).unwrap();
    let pkce = pkce();
    let code = sign_in(&mock, &browser, &pkce).await;
    let (status, error, _) = oauth_error(exchange_code(&mock, &code, &pkce).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorize_request() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let pkce = pkce();
    let code = sign_in(&mock, &browser, &pkce).await;
    let response = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "com.example.oktasignout:/other"),
            ("code_verifier", &pkce.verifier),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    let (status, error, description) = oauth_error(response).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert!(description.contains("redirect_uri"), "{description}");
}

#[tokio::test]
async fn token_requests_without_client_identification_are_invalid_client() {
    let mock = start().await;
    let response = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(
        oauth_error(response).await,
        (
            401,
            "invalid_client".into(),
            "A client_id must be provided in the request.".into()
        )
    );
    let unknown = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "nobody"),
        ],
    )
    .await;
    assert_eq!(oauth_error(unknown).await.1, "invalid_client");
    let grant = post_form(
        &mock,
        "oauth2/default/v1/token",
        &[("grant_type", "password"), ("client_id", DEMO_CLIENT_ID)],
    )
    .await;
    assert_eq!(oauth_error(grant).await.1, "unsupported_grant_type");
}

#[tokio::test]
async fn confidential_clients_authenticate_with_basic_or_post() {
    let mut config = crate::test_config();
    config.clients.push(ClientConfig {
        client_id: "web-app".into(),
        client_secret: Some("s3cret".into()),
        redirect_uris: vec!["https://app.example/callback".into()],
        post_logout_redirect_uris: vec![],
        require_dpop: false,
    });
    let mock = start_with(config).await;
    let url = mock.base_url().join("oauth2/default/v1/token").unwrap();
    let refresh_with = |auth: reqwest::RequestBuilder| {
        auth.form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ])
    };
    // Correct secrets pass client authentication and fail only on the grant.
    let basic = refresh_with(
        http(&mock)
            .post(url.clone())
            .basic_auth("web-app", Some("s3cret")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(oauth_error(basic).await.1, "invalid_grant");
    let post = http(&mock)
        .post(url.clone())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
            ("client_id", "web-app"),
            ("client_secret", "s3cret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(post).await.1, "invalid_grant");
    let wrong = refresh_with(
        http(&mock)
            .post(url.clone())
            .basic_auth("web-app", Some("nope")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(oauth_error(wrong).await.0, 401);
    let no_secret = http(&mock)
        .post(url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
            ("client_id", "web-app"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(no_secret).await.1, "invalid_client");
}

/// Starts a mock whose rotated refresh tokens stay accepted for `grace_secs`.
async fn start_with_grace(grace_secs: u64) -> mock_okta::MockOkta {
    let mut config = crate::test_config();
    config.lifetimes.refresh_token_grace_secs = grace_secs;
    start_with(config).await
}

async fn refreshed(mock: &mock_okta::MockOkta, refresh_token: &str) -> TokenResponse {
    let response = refresh(mock, refresh_token).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn refresh_with_rotation_replaces_the_refresh_token_keeping_its_expiry() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    let old_refresh = first.refresh_token.unwrap();
    let second = refreshed(&mock, &old_refresh).await;
    let new_refresh = second.refresh_token.unwrap();
    assert_ne!(new_refresh, old_refresh);
    assert!(second.id_token.is_some());
    assert_ne!(second.access_token, first.access_token);

    let (old, new) = (
        mock.token(&old_refresh).unwrap(),
        mock.token(&new_refresh).unwrap(),
    );
    // Okta: the rotated token keeps the expiry of the one it replaces.
    assert_eq!(new.expires_at, old.expires_at);
    assert_eq!(
        (old.state, new.state),
        (TokenState::Rotated, TokenState::Active)
    );
    // The access token issued with the old refresh token lives on.
    assert_eq!(
        mock.token(&first.access_token).unwrap().state,
        TokenState::Active
    );
    assert_eq!(refresh(&mock, &new_refresh).await.status(), 200);
}

#[tokio::test]
async fn a_rotated_refresh_token_within_the_grace_period_gets_a_fresh_set() {
    // The default grace period, 30 s, has not passed when it is presented again.
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    let original = first.refresh_token.unwrap();
    let lost = refreshed(&mock, &original).await;
    let retried = refreshed(&mock, &original).await;
    let (lost_refresh, retried_refresh) =
        (lost.refresh_token.unwrap(), retried.refresh_token.unwrap());
    assert!(retried.id_token.is_some());
    assert_ne!(retried.access_token, lost.access_token);
    assert_ne!(retried_refresh, lost_refresh);
    assert_ne!(retried_refresh, original);
    // The grant has one current refresh token; the ones it replaced are in their grace period.
    assert_eq!(
        mock.token(&retried_refresh).unwrap().state,
        TokenState::Active
    );
    assert_eq!(
        mock.token(&lost_refresh).unwrap().state,
        TokenState::Rotated
    );
    assert_eq!(mock.token(&original).unwrap().state, TokenState::Rotated);
    assert_eq!(
        mock.token(&retried_refresh).unwrap().expires_at,
        mock.token(&original).unwrap().expires_at
    );
    assert_eq!(refresh(&mock, &retried_refresh).await.status(), 200);
}

#[tokio::test]
async fn reuse_after_the_grace_period_revokes_every_token_of_the_grant() {
    let mock = start_with_grace(1).await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    let original = first.refresh_token.unwrap();
    let second = refreshed(&mock, &original).await;
    let newest = second.refresh_token.unwrap();
    // Once the second of grace has passed, the original shows as revoked without being used.
    while mock.token(&original).unwrap().state == TokenState::Rotated {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(mock.token(&original).unwrap().state, TokenState::Revoked);
    assert_eq!(mock.token(&newest).unwrap().state, TokenState::Active);

    let (status, error, _) = oauth_error(refresh(&mock, &original).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    // Reuse detection: the newest refresh token and every access token of the grant.
    assert_eq!(mock.token(&newest).unwrap().state, TokenState::Revoked);
    for access in [&first.access_token, &second.access_token] {
        assert_eq!(mock.token(access).unwrap().state, TokenState::Revoked);
    }
    assert_eq!(
        oauth_error(refresh(&mock, &newest).await).await.1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn with_no_grace_period_the_first_reuse_revokes_the_grant() {
    let mock = start_with_grace(0).await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    let original = first.refresh_token.unwrap();
    let second = refreshed(&mock, &original).await;
    assert_eq!(mock.token(&original).unwrap().state, TokenState::Revoked);
    assert_eq!(
        oauth_error(refresh(&mock, &original).await).await.1,
        "invalid_grant"
    );
    let newest = second.refresh_token.unwrap();
    assert_eq!(mock.token(&newest).unwrap().state, TokenState::Revoked);
    assert_eq!(
        mock.token(&second.access_token).unwrap().state,
        TokenState::Revoked
    );
    // Another sign-in is another grant, untouched.
    let other = signed_in_tokens(&mock, &browser).await;
    assert_eq!(
        refresh(&mock, other.refresh_token.as_deref().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn revoking_the_newest_refresh_token_ends_the_grace_of_the_rotated_ones() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let original = signed_in_tokens(&mock, &browser)
        .await
        .refresh_token
        .unwrap();
    let newest = refreshed(&mock, &original).await.refresh_token.unwrap();
    let revoked = post_form(
        &mock,
        "oauth2/default/v1/revoke",
        &[
            ("token", &newest),
            ("token_type_hint", "refresh_token"),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(mock.token(&original).unwrap().state, TokenState::Revoked);
    assert_eq!(
        oauth_error(refresh(&mock, &original).await).await.1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn the_grace_period_is_limited_to_okta_s_sixty_seconds() {
    let mock = start().await;
    let client = http(&mock);
    let put = |grace: u64| {
        client
            .put(mock.admin_url().join("lifetimes").unwrap())
            .json(&serde_json::json!({ "refresh_token_grace_secs": grace }))
            .send()
    };
    let refused = put(61).await.unwrap();
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("0 to 60 seconds"),
        "{body}"
    );
    assert_eq!(mock.lifetimes().refresh_token_grace_secs, 30);
    assert_eq!(put(60).await.unwrap().status(), 200);
    assert_eq!(mock.lifetimes().refresh_token_grace_secs, 60);
    let mut config = crate::test_config();
    config.lifetimes.refresh_token_grace_secs = 61;
    let error = mock_okta::MockOkta::start(config).await.err().unwrap();
    assert!(error.to_string().contains("0 to 60 seconds"), "{error}");
}

#[tokio::test]
async fn refreshed_id_tokens_keep_the_subject_unless_the_fault_changes_it() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    let subject = |tokens: &TokenResponse| id_token_claim(tokens, "sub");
    assert_eq!(subject(&first), "00u1ada0000000000001");
    let second = refreshed(&mock, first.refresh_token.as_deref().unwrap()).await;
    assert_eq!(subject(&second), subject(&first));

    mock.update_faults(|faults| faults.refresh_changes_subject = true);
    let third = refreshed(&mock, second.refresh_token.as_deref().unwrap()).await;
    assert_ne!(subject(&third), subject(&first));
    // Only the refreshed ID token: sign-ins and the access token still name the person.
    let access = verify(&mock, &third.access_token, "api://default").await;
    assert_eq!(access["uid"], "00u1ada0000000000001");
    assert_eq!(
        subject(&signed_in_tokens(&mock, &browser).await),
        subject(&first)
    );
}

#[tokio::test]
async fn refreshed_id_tokens_keep_the_issuer_unless_the_fault_changes_it() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let first = signed_in_tokens(&mock, &browser).await;
    assert_eq!(id_token_claim(&first, "iss"), mock.issuer().as_str());
    mock.update_faults(|faults| faults.refresh_changes_issuer = true);
    let second = refreshed(&mock, first.refresh_token.as_deref().unwrap()).await;
    assert_eq!(id_token_claim(&second, "iss"), mock.org_issuer());
    assert_eq!(
        id_token_claim(&second, "sub"),
        id_token_claim(&first, "sub")
    );
}

/// Claim `name` of the response's ID token, read without verification.
fn id_token_claim(tokens: &TokenResponse, name: &str) -> serde_json::Value {
    jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(
        tokens.id_token.as_deref().unwrap(),
    )
    .unwrap()
    .claims[name]
        .clone()
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let mut config = crate::test_config();
    config.lifetimes.refresh_token_rotation = false;
    let mock = start_with(config).await;
    let browser = Browser::for_mock(&mock).unwrap();
    let refresh_token = signed_in_tokens(&mock, &browser)
        .await
        .refresh_token
        .unwrap();
    for _ in 0..2 {
        let response: TokenResponse = refresh(&mock, &refresh_token).await.json().await.unwrap();
        assert_eq!(
            response.refresh_token.as_deref(),
            Some(refresh_token.as_str())
        );
    }
}

#[tokio::test]
async fn configured_lifetimes_apply_and_expired_refresh_tokens_fail() {
    let mut config = crate::test_config();
    config.lifetimes = Lifetimes {
        id_token_secs: 300,
        access_token_secs: 600,
        refresh_token_secs: 0,
        ..Lifetimes::default()
    };
    let mock = start_with(config).await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    assert_eq!(tokens.expires_in, 600);
    let id = verify(&mock, tokens.id_token.as_deref().unwrap(), DEMO_CLIENT_ID).await;
    assert_eq!(
        id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
        300
    );
    let refresh_token = tokens.refresh_token.unwrap();
    assert_eq!(
        mock.token(&refresh_token).unwrap().state,
        TokenState::Expired
    );
    assert_eq!(
        oauth_error(refresh(&mock, &refresh_token).await).await.1,
        "invalid_grant"
    );
}

#[tokio::test]
async fn userinfo_and_introspect_describe_a_live_access_token() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = signed_in_tokens(&mock, &browser).await;
    let userinfo: serde_json::Value = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/userinfo").unwrap())
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "00u1ada0000000000001");
    assert_eq!(userinfo["name"], "Ada Lovelace");
    assert_eq!(userinfo["email"], "ada@example.com");
    let introspection: serde_json::Value = post_form(
        &mock,
        "oauth2/default/v1/introspect",
        &[
            ("token", &tokens.access_token),
            ("token_type_hint", "access_token"),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["client_id"], DEMO_CLIENT_ID);
    assert_eq!(introspection["username"], "ada@example.com");
    let unknown: serde_json::Value = post_form(
        &mock,
        "oauth2/default/v1/introspect",
        &[("token", "nonsense"), ("client_id", DEMO_CLIENT_ID)],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(unknown, serde_json::json!({"active": false}));
    let anonymous = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/userinfo").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn org_server_issues_tokens_with_its_own_issuer() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let pkce = pkce();
    let mut url = authorize_url(&mock, &pkce, &[]);
    url.set_path("/oauth2/v1/authorize");
    let code = query_param(
        &expect_app_redirect(browser.open(url).await.unwrap()),
        "code",
    )
    .unwrap();
    // A code from the org server is not redeemable at the default server.
    assert_eq!(
        oauth_error(exchange_code(&mock, &code, &pkce).await)
            .await
            .1,
        "invalid_grant"
    );

    let tokens = org_server_tokens(&mock, &browser).await;
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(tokens.id_token.unwrap())
            .unwrap()
            .claims;
    assert_eq!(claims["iss"], mock.org_issuer());
}

/// Signs in at the org authorization server and redeems the code there.
async fn org_server_tokens(mock: &mock_okta::MockOkta, browser: &Browser) -> TokenResponse {
    let pkce = pkce();
    let mut url = authorize_url(mock, &pkce, &[]);
    url.set_path("/oauth2/v1/authorize");
    let code = query_param(
        &expect_app_redirect(browser.open(url).await.unwrap()),
        "code",
    )
    .unwrap();
    let response = post_form(
        mock,
        "oauth2/v1/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO_REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn org_userinfo(mock: &mock_okta::MockOkta, access_token: &str) -> reqwest::Response {
    http(mock)
        .get(mock.base_url().join("oauth2/v1/userinfo").unwrap())
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

async fn org_introspection(mock: &mock_okta::MockOkta, token: &str) -> serde_json::Value {
    post_form(
        mock,
        "oauth2/v1/introspect",
        &[("token", token), ("client_id", DEMO_CLIENT_ID)],
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn org_server_access_tokens_are_opaque_and_work_at_its_endpoints() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let tokens = org_server_tokens(&mock, &browser).await;
    assert!(
        jsonwebtoken::decode_header(&tokens.access_token).is_err(),
        "not a JWT"
    );
    assert!(!tokens.access_token.contains('.'));
    // The ID token stays a JWT with the at_hash of the opaque access token.
    let id = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(
        tokens.id_token.as_deref().unwrap(),
    )
    .unwrap()
    .claims;
    assert_eq!(id["iss"], mock.org_issuer());
    let expected_at_hash = {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(tokens.access_token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    assert_eq!(id["at_hash"], expected_at_hash);

    let claims: serde_json::Value = org_userinfo(&mock, &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claims["sub"], "00u1ada0000000000001");
    let introspection = org_introspection(&mock, &tokens.access_token).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["token_type"], "Bearer");
    assert_eq!(introspection["aud"], mock.org_issuer());

    let revoked = post_form(
        &mock,
        "oauth2/v1/revoke",
        &[
            ("token", &tokens.access_token),
            ("token_type_hint", "access_token"),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        mock.revocations()[0].result,
        mock_okta::RevocationResult::Revoked
    );
    assert_eq!(
        org_introspection(&mock, &tokens.access_token).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        org_userinfo(&mock, &tokens.access_token).await.status(),
        401
    );
    // Its refresh token gives another opaque access token.
    let refreshed = post_form(
        &mock,
        "oauth2/v1/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_deref().unwrap()),
            ("client_id", DEMO_CLIENT_ID),
        ],
    )
    .await
    .json::<TokenResponse>()
    .await
    .unwrap();
    assert!(jsonwebtoken::decode_header(&refreshed.access_token).is_err());
}
