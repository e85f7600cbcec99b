use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mock_okta::browser::{Browser, Landing};
use mock_okta::{
    ExpiredHintPolicy, LogoutOutcome, TokenState, DEMO_CLIENT_ID, DEMO_POST_LOGOUT_REDIRECT_URI,
    UNREGISTERED_POST_LOGOUT_REDIRECT_URI,
};
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::{
    http, logout_params, logout_url, query_param, sign_out_in, signed_in_tokens, start,
    FORGER_KEY_PEM, SIGNING_KEY_PEM,
};

/// A browser with an Okta session and the ID token of that sign-in.
async fn signed_in(mock: &mock_okta::MockOkta) -> (Browser, crate::TokenResponse) {
    let browser = Browser::for_mock(mock).unwrap();
    let tokens = signed_in_tokens(mock, &browser).await;
    (browser, tokens)
}

fn sign_hint(key_pem: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn hint_claims(mock: &mock_okta::MockOkta, audience: &str, expires_in: i64) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    serde_json::json!({
        "iss": mock.issuer().as_str(), "aud": audience, "sub": "00u1ada0000000000001",
        "iat": now - 7200, "exp": now + expires_in,
    })
}

async fn expect_error_page(browser: &Browser, url: url::Url, message: &str) {
    match browser.open(url).await.unwrap() {
        Landing::Page { status, body } => {
            assert_eq!(status, 400);
            assert!(body.contains(message), "{body} lacks {message}");
        }
        other => panic!("expected the 400 page, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_logout_ends_the_session_clears_the_cookie_and_redirects_with_state() {
    let mock = start().await;
    let (browser, tokens) = signed_in(&mock).await;
    let id_token = tokens.id_token.unwrap();
    assert!(browser
        .cookie_header(&mock.browser_url())
        .unwrap()
        .contains("sid="));

    // Raw request with the browser's cookie, to see the response itself.
    let response = http(&mock)
        .get(logout_url(&mock, &logout_params(&id_token, "logout-state")))
        .header(
            "cookie",
            browser.cookie_header(&mock.browser_url()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert_eq!(
        location,
        format!("{DEMO_POST_LOGOUT_REDIRECT_URI}?state=logout-state")
    );
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("sid=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
    assert!(mock.sessions().is_empty());

    let event = mock.logout_events().pop().unwrap();
    assert!(event.had_session);
    assert_eq!(event.outcome, LogoutOutcome::Redirected);
    assert_eq!(event.state.as_deref(), Some("logout-state"));
    assert_eq!(
        event.post_logout_redirect_uri.as_deref(),
        Some(DEMO_POST_LOGOUT_REDIRECT_URI)
    );
    // Logout does not revoke tokens.
    assert_eq!(
        mock.token(&tokens.access_token).unwrap().state,
        TokenState::Active
    );
    assert_eq!(
        mock.token(tokens.refresh_token.as_deref().unwrap())
            .unwrap()
            .state,
        TokenState::Active
    );
    // The admin API agrees the session is gone.
    let sessions: serde_json::Value = http(&mock)
        .get(mock.admin_url().join("sessions").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions, serde_json::json!([]));
}

#[tokio::test]
async fn the_browser_lands_on_the_app_and_its_session_is_gone() {
    let mock = start().await;
    let (mut browser, tokens) = signed_in(&mock).await;
    let landing = sign_out_in(&browser, &mock, &tokens, "s1").await;
    let Landing::AppRedirect(url) = landing else {
        panic!("{landing:?}")
    };
    assert_eq!(query_param(&url, "state").as_deref(), Some("s1"));
    // The next authorize needs the form again.
    browser.clear_credentials();
    let again = browser
        .open(crate::authorize_url(&mock, &crate::pkce(), &[]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&again));
}

#[tokio::test]
async fn logout_by_form_post_works_too() {
    let mock = start().await;
    let (browser, tokens) = signed_in(&mock).await;
    let id_token = tokens.id_token.unwrap();
    let response = http(&mock)
        .post(mock.browser_url().join("oauth2/default/v1/logout").unwrap())
        .header(
            "cookie",
            browser.cookie_header(&mock.browser_url()).unwrap(),
        )
        .form(&logout_params(&id_token, "posted"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(response.headers()[LOCATION]
        .to_str()
        .unwrap()
        .ends_with("?state=posted"));
    assert!(mock.sessions().is_empty());
}

#[tokio::test]
async fn logout_without_hint_is_a_400_page() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let url = logout_url(
        &mock,
        &[
            ("post_logout_redirect_uri", DEMO_POST_LOGOUT_REDIRECT_URI),
            ("state", "s"),
        ],
    );
    // Okta's words for a request with neither a hint nor a client_id.
    let message = "A client_id must be provided in the request.";
    expect_error_page(&browser, url, message).await;
    let event = mock.logout_events().pop().unwrap();
    assert_eq!(event.outcome, LogoutOutcome::Rejected);
    assert_eq!(event.error.as_deref(), Some(message));

    let url = logout_url(
        &mock,
        &[
            ("client_id", DEMO_CLIENT_ID),
            ("post_logout_redirect_uri", DEMO_POST_LOGOUT_REDIRECT_URI),
            ("state", "s"),
        ],
    );
    expect_error_page(&browser, url, "id_token_hint").await;
}

#[tokio::test]
async fn hint_with_a_foreign_signature_is_a_400_page() {
    let mock = start().await;
    let (browser, _) = signed_in(&mock).await;
    let forged = sign_hint(FORGER_KEY_PEM, hint_claims(&mock, DEMO_CLIENT_ID, 3600));
    expect_error_page(
        &browser,
        logout_url(&mock, &logout_params(&forged, "s")),
        "not a valid ID token",
    )
    .await;
    assert_eq!(
        mock.sessions().len(),
        1,
        "a rejected logout keeps the session"
    );
}

#[tokio::test]
async fn hint_for_an_unknown_audience_or_other_issuer_is_a_400_page() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let wrong_audience = sign_hint(SIGNING_KEY_PEM, hint_claims(&mock, "another-app", 3600));
    expect_error_page(
        &browser,
        logout_url(&mock, &logout_params(&wrong_audience, "s")),
        "not a valid ID token",
    )
    .await;
    let mut claims = hint_claims(&mock, DEMO_CLIENT_ID, 3600);
    claims["iss"] = mock.org_issuer().into();
    let wrong_issuer = sign_hint(SIGNING_KEY_PEM, claims);
    expect_error_page(
        &browser,
        logout_url(&mock, &logout_params(&wrong_issuer, "s")),
        "not a valid ID token",
    )
    .await;
    let valid = sign_hint(SIGNING_KEY_PEM, hint_claims(&mock, DEMO_CLIENT_ID, 3600));
    assert!(matches!(
        browser
            .open(logout_url(&mock, &logout_params(&valid, "s")))
            .await
            .unwrap(),
        Landing::AppRedirect(_)
    ));
}

#[tokio::test]
async fn expired_hints_follow_the_policy() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let expired = sign_hint(SIGNING_KEY_PEM, hint_claims(&mock, DEMO_CLIENT_ID, -60));
    let url = logout_url(&mock, &logout_params(&expired, "s"));
    assert!(
        matches!(
            browser.open(url.clone()).await.unwrap(),
            Landing::AppRedirect(_)
        ),
        "accepted by default"
    );
    mock.update_faults(|faults| faults.expired_id_token_hint = ExpiredHintPolicy::Reject);
    expect_error_page(&browser, url, "expired").await;
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_is_a_400_page_with_oktas_message() {
    let mock = start().await;
    let (browser, tokens) = signed_in(&mock).await;
    let url = logout_url(
        &mock,
        &[
            ("id_token_hint", tokens.id_token.as_deref().unwrap()),
            (
                "post_logout_redirect_uri",
                "com.example.oktasignout://logout/callback",
            ),
            ("state", "s"),
        ],
    );
    expect_error_page(&browser, url, UNREGISTERED_POST_LOGOUT_REDIRECT_URI).await;
    assert_eq!(
        UNREGISTERED_POST_LOGOUT_REDIRECT_URI,
        "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings"
    );
    assert_eq!(mock.sessions().len(), 1);
}

#[tokio::test]
async fn logout_without_redirect_uri_goes_to_the_sign_in_page() {
    let mock = start().await;
    let (browser, tokens) = signed_in(&mock).await;
    let response = http(&mock)
        .get(logout_url(
            &mock,
            &[("id_token_hint", tokens.id_token.as_deref().unwrap())],
        ))
        .header(
            "cookie",
            browser.cookie_header(&mock.browser_url()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()[LOCATION].to_str().unwrap(),
        mock.browser_url().join("login").unwrap().as_str()
    );
    assert!(mock.sessions().is_empty());
    assert_eq!(
        mock.logout_events()[0].outcome,
        LogoutOutcome::RedirectedToSignIn
    );
}

#[tokio::test]
async fn logout_without_a_session_still_redirects() {
    let mock = start().await;
    let (_, tokens) = signed_in(&mock).await;
    let stranger = Browser::for_mock(&mock).unwrap();
    let landing = sign_out_in(&stranger, &mock, &tokens, "s2").await;
    assert!(
        matches!(landing, Landing::AppRedirect(ref url) if url.as_str().ends_with("state=s2")),
        "{landing:?}"
    );
    assert!(!mock.logout_events()[0].had_session);
    assert_eq!(
        mock.sessions().len(),
        1,
        "someone else's session is untouched"
    );
}

#[tokio::test]
async fn interstitial_mode_shows_a_page_that_navigates_to_the_app() {
    let mock = start().await;
    mock.update_faults(|faults| faults.logout_interstitial = true);
    let (browser, tokens) = signed_in(&mock).await;
    let url = logout_url(
        &mock,
        &logout_params(tokens.id_token.as_deref().unwrap(), "s3"),
    );
    let response = http(&mock)
        .get(url.clone())
        .header(
            "cookie",
            browser.cookie_header(&mock.browser_url()).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let target = format!("{DEMO_POST_LOGOUT_REDIRECT_URI}?state=s3");
    assert!(
        body.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"0;url={target}\">"
        )),
        "{body}"
    );
    assert!(body.contains(&format!("href=\"{target}\"")));
    assert!(!body.contains("<script"));
    assert_eq!(mock.logout_events()[0].outcome, LogoutOutcome::Interstitial);
    // The scripted browser follows the meta refresh to the app.
    let landing = browser.open(url).await.unwrap();
    assert_eq!(
        landing,
        Landing::AppRedirect(url::Url::parse(&target).unwrap())
    );
}
