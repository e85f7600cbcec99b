use mock_okta::browser::{Browser, Landing};
use mock_okta::{Endpoint, MockOkta};

use crate::{get_json, http, refresh, sign_out_in, signed_in_tokens, start, TokenResponse};

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt)
        .unwrap()
        .kid
        .expect("a kid")
}

/// The kids of the JWKS at `path` (`oauth2/default/v1/keys` or the org server's).
async fn published_kids(mock: &MockOkta, path: &str) -> Vec<String> {
    let jwks = get_json(mock, mock.base_url().join(path).unwrap()).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

const JWKS_PATHS: [&str; 2] = ["oauth2/default/v1/keys", "oauth2/v1/keys"];

/// `POST /__admin/keys/rotate` with `body`, if any; its answer.
async fn rotate(mock: &MockOkta, body: Option<serde_json::Value>) -> serde_json::Value {
    let request = http(mock).post(mock.admin_url().join("keys/rotate").unwrap());
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap().json().await.unwrap()
}

/// Verifies `jwt` against the JWKS served now, as a relying party that refetches on an unknown
/// kid would.
async fn verifies(mock: &MockOkta, jwt: &str) -> bool {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(get_json(mock, mock.base_url().join(JWKS_PATHS[0]).unwrap()).await)
            .unwrap();
    let Some(jwk) = jwks.find(&kid(jwt)) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .is_ok()
}

#[tokio::test]
async fn a_rotation_signs_with_a_new_key_and_keeps_publishing_the_old_one() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let before = signed_in_tokens(&mock, &browser).await;
    let old_kid = kid(before.id_token.as_deref().unwrap());
    let keys = get_json(&mock, mock.admin_url().join("keys").unwrap()).await;
    assert_eq!(
        keys,
        serde_json::json!({"signing": old_kid, "published": [old_kid]})
    );

    // Without a body the old key stays published, as Okta keeps it for a while.
    let rotated = rotate(&mock, None).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["published"], serde_json::json!([new_kid, old_kid]));
    assert_eq!(
        get_json(&mock, mock.admin_url().join("keys").unwrap()).await,
        serde_json::json!({"signing": new_kid, "published": [new_kid, old_kid]})
    );
    for path in JWKS_PATHS {
        assert_eq!(
            published_kids(&mock, path).await,
            [new_kid.as_str(), old_kid.as_str()]
        );
    }

    let response = refresh(&mock, before.refresh_token.as_deref().unwrap()).await;
    let after: TokenResponse = response.json().await.unwrap();
    assert_eq!(kid(after.id_token.as_deref().unwrap()), new_kid);
    assert_eq!(kid(&after.access_token), new_kid);
    for jwt in [
        before.id_token.as_deref().unwrap(),
        &before.access_token,
        after.id_token.as_deref().unwrap(),
        &after.access_token,
    ] {
        assert!(verifies(&mock, jwt).await);
    }
    // An ID token signed by the old, still published key is a valid logout hint.
    let landing = sign_out_in(&browser, &mock, &before, "old-key").await;
    assert!(matches!(landing, Landing::AppRedirect(_)), "{landing:?}");
}

#[tokio::test]
async fn a_rotation_that_drops_the_old_key_invalidates_what_it_signed() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let before = signed_in_tokens(&mock, &browser).await;
    let new_kid = mock.rotate_signing_key(false).await;
    for path in JWKS_PATHS {
        assert_eq!(published_kids(&mock, path).await, [new_kid.as_str()]);
    }
    assert!(!verifies(&mock, before.id_token.as_deref().unwrap()).await);
    match sign_out_in(&browser, &mock, &before, "dropped").await {
        Landing::Page { status, body } => {
            assert_eq!(status, 400);
            assert!(body.contains("not a valid ID token"), "{body}");
        }
        other => panic!("expected the 400 page, got {other:?}"),
    }
    assert_eq!(
        mock.sessions().len(),
        1,
        "a rejected logout keeps the session"
    );

    // The same through the admin API.
    let rotated = rotate(&mock, Some(serde_json::json!({"keep_old": false}))).await;
    let newest = rotated["kid"].as_str().unwrap();
    assert_ne!(newest, new_kid);
    assert_eq!(rotated["published"], serde_json::json!([newest]));
    let after = signed_in_tokens(&mock, &browser).await;
    assert_eq!(kid(after.id_token.as_deref().unwrap()), newest);
    let landing = sign_out_in(&browser, &mock, &after, "new-key").await;
    assert!(matches!(landing, Landing::AppRedirect(_)), "{landing:?}");
}

#[tokio::test]
async fn requests_served_counts_what_reached_each_endpoint() {
    let mock = start().await;
    for endpoint in Endpoint::ALL {
        assert_eq!(mock.requests_served(endpoint), 0, "{endpoint}");
    }
    for path in JWKS_PATHS {
        published_kids(&mock, path).await;
    }
    assert_eq!(mock.requests_served(Endpoint::Keys), 2);
    // A fault's answer counts too: the request reached the endpoint.
    mock.update_faults(|faults| faults.keys.status = Some(503));
    let faulted = http(&mock)
        .get(mock.base_url().join(JWKS_PATHS[0]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(faulted.status(), 503);
    assert_eq!(mock.requests_served(Endpoint::Keys), 3);
    // The admin API is no endpoint.
    get_json(&mock, mock.admin_url().join("keys").unwrap()).await;
    assert_eq!(mock.requests_served(Endpoint::Keys), 3);
    assert_eq!(mock.requests_served(Endpoint::Discovery), 0);
    mock.reset();
    assert_eq!(mock.requests_served(Endpoint::Keys), 0);
}
