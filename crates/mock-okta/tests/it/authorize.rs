use mock_okta::browser::{Browser, Landing};
use mock_okta::{DEMO_PASSWORD, DEMO_REDIRECT_URI, DEMO_USERNAME};
use reqwest::header::{LOCATION, SET_COOKIE};

use crate::{authorize_url, expect_app_redirect, http, pkce, query_param, start, start_with};

async fn error_redirect(
    mock: &mock_okta::MockOkta,
    overrides: &[(&str, Option<&str>)],
) -> url::Url {
    let response = http(mock)
        .get(authorize_url(mock, &pkce(), overrides))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()[LOCATION].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(DEMO_REDIRECT_URI), "{location}");
    assert_eq!(query_param(&url, "state").as_deref(), Some("state-123"));
    assert!(query_param(&url, "error_description").is_some());
    assert!(query_param(&url, "code").is_none());
    url
}

async fn error_page(mock: &mock_okta::MockOkta, overrides: &[(&str, Option<&str>)]) -> String {
    let response = http(mock)
        .get(authorize_url(mock, &pkce(), overrides))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get(LOCATION).is_none());
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn unregistered_redirect_uri_is_a_400_page_without_redirect() {
    let mock = start().await;
    let body = error_page(
        &mock,
        &[("redirect_uri", Some("com.example.oktasignout://callback"))],
    )
    .await;
    assert!(body.contains("redirect_uri"), "{body}");
    error_page(&mock, &[("redirect_uri", None)]).await;
}

#[tokio::test]
async fn unknown_client_is_a_400_page_without_redirect() {
    let mock = start().await;
    let body = error_page(&mock, &[("client_id", Some("someone-else"))]).await;
    assert!(body.contains("client_id"), "{body}");
}

#[tokio::test]
async fn missing_or_plain_pkce_is_refused_on_the_redirect_uri() {
    let mock = start().await;
    let missing = error_redirect(
        &mock,
        &[("code_challenge", None), ("code_challenge_method", None)],
    )
    .await;
    assert_eq!(
        query_param(&missing, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&missing, "error_description")
        .unwrap()
        .contains("PKCE"));
    let plain = error_redirect(&mock, &[("code_challenge_method", Some("plain"))]).await;
    assert_eq!(
        query_param(&plain, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(query_param(&plain, "error_description")
        .unwrap()
        .contains("S256"));
}

#[tokio::test]
async fn only_the_code_response_type_and_known_scopes_are_accepted() {
    let mock = start().await;
    let token = error_redirect(&mock, &[("response_type", Some("token"))]).await;
    assert_eq!(
        query_param(&token, "error").as_deref(),
        Some("unsupported_response_type")
    );
    let scope = error_redirect(&mock, &[("scope", Some("openid admin"))]).await;
    assert_eq!(
        query_param(&scope, "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn prompt_none_without_session_is_login_required() {
    let mock = start().await;
    let url = error_redirect(&mock, &[("prompt", Some("none"))]).await;
    assert_eq!(
        query_param(&url, "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn authorize_without_session_shows_the_sign_in_form() {
    let mock = start().await;
    let response = http(&mock)
        .get(authorize_url(&mock, &pkce(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<form id=\"sign-in-form\" method=\"post\""),
        "{body}"
    );
    assert!(body.contains("type=\"password\""));
    assert!(body.contains("name=\"request_id\""));
}

#[tokio::test]
async fn wrong_password_reshows_the_form_with_an_error_and_no_session() {
    let mock = start().await;
    let browser = Browser::new(mock.ca_certificate_pem())
        .unwrap()
        .with_credentials(DEMO_USERNAME, "wrong-password");
    let landing = browser
        .open(authorize_url(&mock, &pkce(), &[]))
        .await
        .unwrap();
    let Landing::Page { status, body } = landing else {
        panic!("expected the form again, got {landing:?}");
    };
    assert_eq!(status, 200);
    assert!(body.contains("Unable to sign in"), "{body}");
    assert!(body.contains("sign-in-form"));
    assert!(mock.sessions().is_empty());
}

#[tokio::test]
async fn sign_in_sets_an_httponly_lax_session_cookie() {
    let mock = start().await;
    let response = http(&mock)
        .post(mock.browser_url().join("login").unwrap())
        .form(&[("username", DEMO_USERNAME), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sid="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(response.text().await.unwrap().contains("Ada Lovelace"));
    assert_eq!(mock.sessions().len(), 1);
    assert_eq!(mock.sessions()[0].user, DEMO_USERNAME);
}

#[tokio::test]
async fn second_authorize_in_the_same_browser_is_silent_sso() {
    let mock = start().await;
    let mut browser = Browser::for_mock(&mock).unwrap();
    crate::sign_in(&mock, &browser, &pkce()).await;
    // Without credentials the browser could not pass a form: a code proves there was none.
    browser.clear_credentials();
    let redirect = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[]))
            .await
            .unwrap(),
    );
    assert!(query_param(&redirect, "code").is_some());
    let silent = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[("prompt", Some("none"))]))
            .await
            .unwrap(),
    );
    assert!(query_param(&silent, "code").is_some(), "{silent}");
    assert_eq!(mock.sessions().len(), 1);
    // Another browser has no session.
    let other = Browser::new(mock.ca_certificate_pem()).unwrap();
    let landing = other
        .open(authorize_url(&mock, &pkce(), &[]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&landing));
}

#[tokio::test]
async fn prompt_login_forces_the_form_despite_a_session() {
    let mock = start().await;
    let mut browser = Browser::for_mock(&mock).unwrap();
    crate::sign_in(&mock, &browser, &pkce()).await;
    browser.clear_credentials();
    let landing = browser
        .open(authorize_url(&mock, &pkce(), &[("prompt", Some("login"))]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&landing), "{landing:?}");
    // Signing in again as someone else replaces the session.
    browser.set_credentials(mock_okta::DEMO_SECOND_USERNAME, DEMO_PASSWORD);
    let redirect = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[("prompt", Some("login"))]))
            .await
            .unwrap(),
    );
    assert!(query_param(&redirect, "code").is_some());
    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].user, mock_okta::DEMO_SECOND_USERNAME);
}

#[tokio::test]
async fn auto_login_signs_in_without_a_form() {
    let mut config = crate::test_config();
    config.auto_login = Some(mock_okta::DEMO_SECOND_USERNAME.to_owned());
    let mock = start_with(config).await;
    let browser = Browser::new(mock.ca_certificate_pem()).unwrap();
    let redirect = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[]))
            .await
            .unwrap(),
    );
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(mock.sessions()[0].user, mock_okta::DEMO_SECOND_USERNAME);
}

#[tokio::test]
async fn expired_sign_in_request_is_an_error_page() {
    let mock = start().await;
    let response = http(&mock)
        .post(mock.browser_url().join("login").unwrap())
        .form(&[
            ("request_id", "gone"),
            ("username", DEMO_USERNAME),
            ("password", DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(mock.sessions().is_empty());
}

#[tokio::test]
async fn max_age_shows_the_form_when_the_authentication_is_too_old() {
    let mock = start().await;
    let mut browser = Browser::for_mock(&mock).unwrap();
    let tokens = crate::signed_in_tokens(&mock, &browser).await;
    let first_session = mock.sessions()[0].clone();
    browser.clear_credentials();
    // A recent enough authentication: silent SSO.
    let recent = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[("max_age", Some("3600"))]))
            .await
            .unwrap(),
    );
    assert!(query_param(&recent, "code").is_some());
    // max_age=0: always authenticate again, as with prompt=login.
    let landing = browser
        .open(authorize_url(&mock, &pkce(), &[("max_age", Some("0"))]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&landing), "{landing:?}");
    // prompt=none cannot show it: login_required, with or without a session.
    let silent = error_redirect_in(
        &browser,
        &mock,
        &[("max_age", Some("0")), ("prompt", Some("none"))],
    )
    .await;
    assert_eq!(
        query_param(&silent, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(
            &error_redirect(&mock, &[("prompt", Some("none"))]).await,
            "error"
        )
        .as_deref(),
        Some("login_required")
    );

    // Signing in again gives a new session and the new auth_time.
    browser.set_credentials(DEMO_USERNAME, DEMO_PASSWORD);
    let pkce = pkce();
    let code = query_param(
        &expect_app_redirect(
            browser
                .open(authorize_url(&mock, &pkce, &[("max_age", Some("0"))]))
                .await
                .unwrap(),
        ),
        "code",
    )
    .unwrap();
    let again: crate::TokenResponse = crate::exchange_code(&mock, &code, &pkce)
        .await
        .json()
        .await
        .unwrap();
    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].id, first_session.id);
    let auth_time = |tokens: &crate::TokenResponse| {
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(
            tokens.id_token.as_deref().unwrap(),
        )
        .unwrap()
        .claims["auth_time"]
            .clone()
    };
    assert_eq!(auth_time(&tokens), first_session.created.unix_timestamp());
    assert_eq!(auth_time(&again), sessions[0].created.unix_timestamp());
    let invalid = error_redirect(&mock, &[("max_age", Some("-1"))]).await;
    assert_eq!(
        query_param(&invalid, "error").as_deref(),
        Some("invalid_request")
    );
}

/// The error redirect `browser` (with its session cookie) lands on.
async fn error_redirect_in(
    browser: &Browser,
    mock: &mock_okta::MockOkta,
    overrides: &[(&str, Option<&str>)],
) -> url::Url {
    let url = expect_app_redirect(
        browser
            .open(authorize_url(mock, &pkce(), overrides))
            .await
            .unwrap(),
    );
    assert!(query_param(&url, "code").is_none(), "{url}");
    url
}

#[tokio::test]
async fn sessions_tell_how_the_person_authenticated() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    crate::sign_in(&mock, &browser, &pkce()).await;
    assert_eq!(
        mock.sessions()[0].authenticated_by,
        mock_okta::Authentication::Password
    );

    let mut config = crate::test_config();
    config.auto_login = Some(DEMO_USERNAME.to_owned());
    let auto = start_with(config).await;
    let stranger = Browser::new(auto.ca_certificate_pem()).unwrap();
    expect_app_redirect(
        stranger
            .open(authorize_url(&auto, &pkce(), &[]))
            .await
            .unwrap(),
    );
    let sessions = crate::get_json(&auto, auto.admin_url().join("sessions").unwrap()).await;
    assert_eq!(sessions[0]["authenticated_by"], "auto_login");
    assert_eq!(
        auto.sessions()[0].authenticated_by,
        mock_okta::Authentication::AutoLogin
    );
}

/// An authorization server: where its discovery document and its endpoints are.
#[derive(Clone, Copy)]
struct Server {
    discovery: &'static str,
    authorize: &'static str,
}

const SERVERS: [Server; 2] = [
    Server {
        discovery: "oauth2/default/.well-known/openid-configuration",
        authorize: "/oauth2/default/v1/authorize",
    },
    Server {
        discovery: ".well-known/openid-configuration",
        authorize: "/oauth2/v1/authorize",
    },
];
const DEFAULT_SERVER: Server = SERVERS[0];
const ORG_SERVER: Server = SERVERS[1];

async fn discovery(mock: &mock_okta::MockOkta, server: Server) -> serde_json::Value {
    crate::get_json(mock, mock.base_url().join(server.discovery).unwrap()).await
}

/// `authorize_url` at `server`.
fn authorize_url_at(
    mock: &mock_okta::MockOkta,
    server: Server,
    overrides: &[(&str, Option<&str>)],
) -> url::Url {
    let mut url = authorize_url(mock, &pkce(), overrides);
    url.set_path(server.authorize);
    url
}

/// The redirect a browser without a session gets for `prompt=none`: `login_required`.
async fn login_required_redirect(mock: &mock_okta::MockOkta, server: Server) -> url::Url {
    let url = authorize_url_at(mock, server, &[("prompt", Some("none"))]);
    let response = http(mock).get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
    location
}

#[tokio::test]
async fn every_authorization_response_names_the_issuer_of_discovery() {
    let mock = start().await;
    for server in SERVERS {
        let doc = discovery(&mock, server).await;
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        let issuer = doc["issuer"].as_str().unwrap();
        // After the sign-in form, with silent SSO, and on an error redirect.
        let browser = Browser::for_mock(&mock).unwrap();
        let signed_in = expect_app_redirect(
            browser
                .open(authorize_url_at(&mock, server, &[]))
                .await
                .unwrap(),
        );
        let silent = expect_app_redirect(
            browser
                .open(authorize_url_at(&mock, server, &[]))
                .await
                .unwrap(),
        );
        let error = login_required_redirect(&mock, server).await;
        for redirect in [signed_in, silent, error] {
            assert_eq!(
                query_param(&redirect, "iss").as_deref(),
                Some(issuer),
                "{}: {redirect}",
                server.authorize
            );
        }
    }
}

#[tokio::test]
async fn the_iss_fault_leaves_it_out_or_names_another_server() {
    let mock = start().await;
    let set_mode = |mode: &'static str| {
        http(&mock)
            .put(mock.admin_url().join("faults").unwrap())
            .json(&serde_json::json!({ "authorization_response_iss": mode }))
            .send()
    };

    assert_eq!(set_mode("not_supported").await.unwrap().status(), 200);
    for server in SERVERS {
        let doc = discovery(&mock, server).await;
        assert!(
            doc.get("authorization_response_iss_parameter_supported")
                .is_none(),
            "{doc}"
        );
        assert_eq!(
            query_param(&login_required_redirect(&mock, server).await, "iss"),
            None
        );
    }
    let browser = Browser::for_mock(&mock).unwrap();
    let code = expect_app_redirect(
        browser
            .open(authorize_url(&mock, &pkce(), &[]))
            .await
            .unwrap(),
    );
    assert!(query_param(&code, "code").is_some() && query_param(&code, "iss").is_none());

    set_mode("omitted").await.unwrap();
    assert_eq!(
        mock.faults().authorization_response_iss,
        mock_okta::AuthorizationResponseIss::Omitted
    );
    for server in SERVERS {
        let doc = discovery(&mock, server).await;
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            query_param(&login_required_redirect(&mock, server).await, "iss"),
            None
        );
    }

    set_mode("other_issuer").await.unwrap();
    let default_issuer = mock.issuer().to_string();
    for (server, other) in [
        (DEFAULT_SERVER, mock.org_issuer()),
        (ORG_SERVER, default_issuer),
    ] {
        let doc = discovery(&mock, server).await;
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_ne!(doc["issuer"], other.as_str());
        assert_eq!(
            query_param(&login_required_redirect(&mock, server).await, "iss"),
            Some(other.clone())
        );
        let code = expect_app_redirect(
            browser
                .open(authorize_url_at(&mock, server, &[]))
                .await
                .unwrap(),
        );
        assert_eq!(query_param(&code, "iss"), Some(other));
    }
}
