use mock_okta::browser::{Browser, BrowserError, Landing};
use mock_okta::{DEMO_PASSWORD, DEMO_SECOND_USERNAME};

use crate::{authorize_url, expect_app_redirect, pkce, query_param, start};

#[tokio::test]
async fn browser_signs_in_through_the_form_and_stops_at_the_app_redirect() {
    let mock = start().await;
    let browser = Browser::new(mock.ca_certificate_pem())
        .unwrap()
        .with_credentials(DEMO_SECOND_USERNAME, DEMO_PASSWORD);
    // Through the HTTPS origin as well: it trusts the mock's CA.
    let mut url = authorize_url(&mock, &pkce(), &[]);
    url.set_scheme("https").unwrap();
    url.set_port(Some(mock.port())).unwrap();
    let redirect = expect_app_redirect(browser.open(url).await.unwrap());
    assert_eq!(redirect.scheme(), "com.example.oktasignout");
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(mock.sessions()[0].user, DEMO_SECOND_USERNAME);
}

#[tokio::test]
async fn browser_without_credentials_ends_on_the_form() {
    let mock = start().await;
    let browser = Browser::new(mock.ca_certificate_pem()).unwrap();
    let landing = browser
        .open(authorize_url(&mock, &pkce(), &[]))
        .await
        .unwrap();
    assert!(crate::shows_sign_in_form(&landing));
}

#[tokio::test]
async fn browser_returns_error_pages_and_refuses_other_certificates() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let landing = browser
        .open(authorize_url(
            &mock,
            &pkce(),
            &[("client_id", Some("nobody"))],
        ))
        .await
        .unwrap();
    assert!(matches!(landing, Landing::Page { status: 400, .. }));

    let other = start().await;
    let stranger = Browser::for_mock(&other).unwrap();
    let error = stranger
        .open(mock.issuer())
        .await
        .expect_err("untrusted certificate");
    assert!(matches!(error, BrowserError::Http(_)), "{error:?}");
}

#[tokio::test]
async fn saved_cookies_carry_the_okta_session_into_another_browser_process() {
    let mock = start().await;
    let first = Browser::for_mock(&mock).unwrap();
    expect_app_redirect(
        first
            .open(authorize_url(&mock, &pkce(), &[]))
            .await
            .unwrap(),
    );
    let mut jar = Vec::new();
    first.save_cookies(&mut jar).unwrap();

    // No credentials: only the session cookie can sign this one in.
    let next = Browser::new(mock.ca_certificate_pem()).unwrap();
    next.load_cookies(jar.as_slice()).unwrap();
    assert_eq!(
        next.cookie_header(&mock.browser_url()),
        first.cookie_header(&mock.browser_url())
    );
    let redirect =
        expect_app_redirect(next.open(authorize_url(&mock, &pkce(), &[])).await.unwrap());
    assert!(query_param(&redirect, "code").is_some());
    assert_eq!(mock.sessions().len(), 1, "silent SSO, no second session");

    let error = next.load_cookies(&b"not a cookie jar"[..]).unwrap_err();
    assert!(matches!(error, BrowserError::CookieJar(_)), "{error:?}");
}
