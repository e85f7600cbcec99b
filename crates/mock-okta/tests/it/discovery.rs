use crate::{get_json, http, start};

async fn discovery(mock: &mock_okta::MockOkta, path: &str) -> serde_json::Value {
    get_json(mock, mock.base_url().join(path).unwrap()).await
}

#[tokio::test]
async fn custom_server_discovery_advertises_front_channel_on_http_and_the_rest_on_https() {
    let mock = start().await;
    let doc = discovery(&mock, "oauth2/default/.well-known/openid-configuration").await;
    let https = mock.base_url().as_str().trim_end_matches('/').to_owned();
    let browser = mock.browser_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(doc["issuer"], mock.issuer().as_str());
    assert_eq!(doc["issuer"], format!("{https}/oauth2/default"));
    assert!(doc["issuer"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{browser}/oauth2/default/v1/authorize")
    );
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{browser}/oauth2/default/v1/logout")
    );
    assert!(browser.starts_with("http://127.0.0.1:"));
    for (field, path) in [
        ("token_endpoint", "token"),
        ("revocation_endpoint", "revoke"),
        ("introspection_endpoint", "introspect"),
        ("userinfo_endpoint", "userinfo"),
        ("jwks_uri", "keys"),
    ] {
        assert_eq!(
            doc[field],
            format!("{https}/oauth2/default/v1/{path}"),
            "{field}"
        );
    }
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    let scopes = doc["scopes_supported"].as_array().unwrap();
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope}");
    }
    let same = discovery(
        &mock,
        "oauth2/default/.well-known/oauth-authorization-server",
    )
    .await;
    assert_eq!(same["issuer"], doc["issuer"]);
}

#[tokio::test]
async fn org_server_issuer_is_the_base_url_without_path() {
    let mock = start().await;
    let doc = discovery(&mock, ".well-known/openid-configuration").await;
    let https = mock.base_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(doc["issuer"], https);
    assert_eq!(mock.org_issuer(), https);
    assert_eq!(doc["token_endpoint"], format!("{https}/oauth2/v1/token"));
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{https}/oauth2/v1/revoke")
    );
    let browser = mock.browser_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{browser}/oauth2/v1/logout")
    );
    let as_doc = discovery(&mock, ".well-known/oauth-authorization-server").await;
    assert_eq!(as_doc["issuer"], https);
}

#[tokio::test]
async fn unknown_authorization_server_is_404_and_configured_ones_exist() {
    let mut config = crate::test_config();
    config.authorization_servers.push("payroll".to_owned());
    let mock = crate::start_with(config).await;
    let client = http(&mock);
    let missing = client
        .get(
            mock.base_url()
                .join("oauth2/nope/.well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let doc = discovery(&mock, "oauth2/payroll/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], mock.custom_issuer("payroll").as_str());
}

#[tokio::test]
async fn keys_serve_an_rs256_signing_key_with_a_kid() {
    let mock = start().await;
    let jwks: serde_json::Value = http(&mock)
        .get(mock.base_url().join("oauth2/default/v1/keys").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(key["n"].as_str().unwrap().len() > 300);
}

#[tokio::test]
async fn discovery_is_also_served_on_the_browser_port() {
    let mock = start().await;
    let doc: serde_json::Value = http(&mock)
        .get(
            mock.browser_url()
                .join("oauth2/default/.well-known/openid-configuration")
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], mock.issuer().as_str());
}

#[tokio::test]
async fn openidconnect_accepts_the_discovery_document_and_its_https_revocation_url() {
    use openidconnect::core::CoreProviderMetadata;
    let mock = start().await;
    for path in [
        "oauth2/default/.well-known/openid-configuration",
        ".well-known/openid-configuration",
    ] {
        let doc = discovery(&mock, path).await;
        let revocation = doc["revocation_endpoint"].as_str().unwrap().to_owned();
        let issuer = doc["issuer"].as_str().unwrap().to_owned();
        let metadata: CoreProviderMetadata = serde_json::from_value(doc).unwrap();
        assert_eq!(metadata.issuer().as_str(), issuer, "{path}");
        // oauth2 5 only accepts an https revocation URL.
        openidconnect::RevocationUrl::new(revocation.clone()).unwrap();
        assert!(revocation.starts_with("https://127.0.0.1:"));
    }
}

#[tokio::test]
async fn a_plain_http_issuer_serves_everything_on_the_browser_port() {
    let mock = crate::start_with(mock_okta::Config {
        plain_http_issuer: true,
        ..crate::test_config()
    })
    .await;
    let browser = mock.browser_url().as_str().trim_end_matches('/').to_owned();
    assert!(browser.starts_with("http://127.0.0.1:"));
    assert_eq!(mock.base_url(), mock.browser_url());
    for (path, issuer) in [
        (
            "oauth2/default/.well-known/openid-configuration",
            format!("{browser}/oauth2/default"),
        ),
        (".well-known/openid-configuration", browser.clone()),
    ] {
        let doc = discovery(&mock, path).await;
        assert_eq!(doc["issuer"], issuer, "{path}");
        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ] {
            let endpoint = doc[field].as_str().unwrap();
            assert!(
                endpoint.starts_with(&format!("{issuer}/")),
                "{field}: {endpoint}"
            );
        }
    }
    assert_eq!(mock.issuer().as_str(), format!("{browser}/oauth2/default"));
    assert_eq!(mock.org_issuer(), browser);
}
