//! DPoP (RFC 9449) as Okta enforces it for a client that requires it: proofs at the token
//! endpoint with Okta's nonce, tokens bound to the proof's key, bound tokens at userinfo,
//! revocation without a proof; and nothing of it for other clients or without DPoP.

use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use mock_okta::browser::Browser;
use mock_okta::{
    short_fingerprint, MockOkta, Param, SecretKind, TokenKind, TokenState, DEMO_CLIENT_ID,
    DEMO_REDIRECT_URI,
};
use sha2::{Digest, Sha256};
use url::Url;

use crate::{
    authorize_url, expect_app_redirect, get_json, http, oauth_error, pkce, query_param, start,
    start_with, test_config, Pkce, TokenResponse, FORGER_KEY_PEM,
};

/// Okta's discovery list.
const OKTA_DPOP_ALGS: [&str; 6] = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];

/// A client's DPoP key.
struct ClientKey {
    algorithm: Algorithm,
    signing: EncodingKey,
    /// The public JWK a proof's header carries.
    public: serde_json::Value,
    /// Its RFC 7638 thumbprint: what tokens get bound to.
    jkt: String,
}

impl ClientKey {
    /// A fresh ES256 key, as a desktop app or a browser's WebCrypto makes one.
    fn generate() -> ClientKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let signing = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
        ClientKey::new(Algorithm::ES256, signing)
    }

    /// An RS256 key, the kind okta-auth-js makes (RSASSA-PKCS1-v1_5): the fixture the mock
    /// does not know.
    fn rsa() -> ClientKey {
        let signing = EncodingKey::from_rsa_pem(FORGER_KEY_PEM.as_bytes()).unwrap();
        ClientKey::new(Algorithm::RS256, signing)
    }

    fn new(algorithm: Algorithm, signing: EncodingKey) -> ClientKey {
        let jwk = Jwk::from_encoding_key(&signing, algorithm).unwrap();
        ClientKey {
            algorithm,
            public: serde_json::to_value(&jwk).unwrap(),
            jkt: jwk.thumbprint(ThumbprintHash::SHA256),
            signing,
        }
    }
}

/// A proof's header and claims, each changeable before it is signed.
struct Proof {
    header: serde_json::Value,
    claims: serde_json::Value,
}

impl Proof {
    /// A valid proof by `key` for `htm` at `htu`: a fresh `jti`, `iat` now, no nonce.
    fn new(key: &ClientKey, htm: &str, htu: &Url) -> Proof {
        Proof {
            header: serde_json::json!({
                "typ": "dpop+jwt",
                "alg": key.algorithm,
                "jwk": key.public,
            }),
            claims: serde_json::json!({
                "htm": htm,
                "htu": htu.as_str(),
                "iat": now(),
                "jti": format!("jti-{:032x}", rand::random::<u128>()),
            }),
        }
    }

    /// A token request's proof at `server` with `nonce`.
    fn token(key: &ClientKey, mock: &MockOkta, server: Server, nonce: &str) -> Proof {
        Proof::new(key, "POST", &server.url(mock, "token")).with("nonce", nonce)
    }

    /// A userinfo request's proof at `server` for `access_token`.
    fn userinfo(key: &ClientKey, mock: &MockOkta, server: Server, access_token: &str) -> Proof {
        Proof::new(key, "GET", &server.url(mock, "userinfo")).with("ath", ath(access_token))
    }

    /// With claim `name` set to `value`.
    fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Proof {
        self.claims[name] = value.into();
        self
    }

    /// The JWS, signed by `key` (whatever key and algorithm the header names).
    fn signed_by(&self, key: &ClientKey) -> String {
        let encode = |part: &serde_json::Value| URL_SAFE_NO_PAD.encode(part.to_string());
        let input = format!("{}.{}", encode(&self.header), encode(&self.claims));
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key.signing, key.algorithm).unwrap();
        format!("{input}.{signature}")
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `ath`: base64url of SHA-256 of the access token.
fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The org authorization server or the `default` custom one.
#[derive(Debug, Clone, Copy)]
enum Server {
    Org,
    Default,
}

impl Server {
    const BOTH: [Server; 2] = [Server::Org, Server::Default];

    /// The path of its endpoint `name`, e.g. `oauth2/v1/token`.
    fn path(self, name: &str) -> String {
        match self {
            Server::Org => format!("oauth2/v1/{name}"),
            Server::Default => format!("oauth2/default/v1/{name}"),
        }
    }

    /// Its back-channel endpoint `name`, as discovery advertises it.
    fn url(self, mock: &MockOkta, name: &str) -> Url {
        mock.base_url().join(&self.path(name)).unwrap()
    }

    fn discovery(self, mock: &MockOkta) -> Url {
        let path = match self {
            Server::Org => ".well-known/openid-configuration",
            Server::Default => "oauth2/default/.well-known/openid-configuration",
        };
        mock.base_url().join(path).unwrap()
    }
}

/// A mock whose demo client requires DPoP.
async fn start_requiring_dpop() -> MockOkta {
    let mut config = test_config();
    config.clients[0].require_dpop = true;
    start_with(config).await
}

/// Signs in at `server`; returns the code, not yet redeemed, and its PKCE verifier.
async fn code_at(mock: &MockOkta, browser: &Browser, server: Server) -> (String, Pkce) {
    let pkce = pkce();
    let mut url = authorize_url(mock, &pkce, &[]);
    url.set_path(&format!("/{}", server.path("authorize")));
    let redirect = expect_app_redirect(browser.open(url).await.unwrap());
    (query_param(&redirect, "code").unwrap(), pkce)
}

fn code_form<'a>(code: &'a str, pkce: &'a Pkce) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", DEMO_REDIRECT_URI),
        ("code_verifier", &pkce.verifier),
        ("client_id", DEMO_CLIENT_ID),
    ]
}

fn refresh_form(refresh_token: &str) -> [(&str, &str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", DEMO_CLIENT_ID),
    ]
}

/// POSTs `form` to `server`'s token endpoint with one `DPoP` header per proof.
async fn token_request(
    mock: &MockOkta,
    server: Server,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = http(mock).post(server.url(mock, "token")).form(form);
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.unwrap()
}

/// The `DPoP-Nonce` a token response hands out.
fn nonce_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("dpop-nonce")
        .map(|nonce| nonce.to_str().unwrap().to_owned())
}

/// A token response that must be an OAuth error: status, error, description and its nonce.
async fn refused(response: reqwest::Response) -> (u16, String, String, Option<String>) {
    let nonce = nonce_of(&response);
    let (status, error, description) = oauth_error(response).await;
    (status, error, description, nonce)
}

/// A token response that must be a success: the tokens and the nonce it hands out.
async fn issued(response: reqwest::Response) -> (TokenResponse, String) {
    assert_eq!(response.status(), 200);
    let nonce = nonce_of(&response).expect("a DPoP-Nonce on a success too");
    (response.json().await.unwrap(), nonce)
}

/// Okta's first exchange: a proof without a nonce gets `use_dpop_nonce` and the nonce, the
/// same request with it gets tokens.
async fn dpop_sign_in(
    mock: &MockOkta,
    browser: &Browser,
    server: Server,
    key: &ClientKey,
) -> (TokenResponse, String) {
    let (code, pkce) = code_at(mock, browser, server).await;
    let form = code_form(&code, &pkce);
    let without_nonce = Proof::new(key, "POST", &server.url(mock, "token")).signed_by(key);
    let (status, error, description, nonce) =
        refused(token_request(mock, server, &form, &[&without_nonce]).await).await;
    assert_eq!(
        (status, error.as_str(), description.as_str()),
        (
            400,
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof."
        )
    );
    let nonce = nonce.expect("use_dpop_nonce comes with the nonce");
    let proof = Proof::token(key, mock, server, &nonce).signed_by(key);
    issued(token_request(mock, server, &form, &[&proof]).await).await
}

async fn refreshed_with(
    mock: &MockOkta,
    server: Server,
    refresh_token: &str,
    proof: &str,
) -> reqwest::Response {
    token_request(mock, server, &refresh_form(refresh_token), &[proof]).await
}

/// Refreshes `refresh_token` at `server` with a fresh proof by `key` naming `nonce`.
async fn refresh_with_nonce(
    mock: &MockOkta,
    server: Server,
    key: &ClientKey,
    refresh_token: &str,
    nonce: &str,
) -> reqwest::Response {
    let proof = Proof::token(key, mock, server, nonce).signed_by(key);
    refreshed_with(mock, server, refresh_token, &proof).await
}

async fn userinfo(
    mock: &MockOkta,
    server: Server,
    authorization: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut request = http(mock)
        .get(server.url(mock, "userinfo"))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.send().await.unwrap()
}

/// A userinfo refusal: status and `WWW-Authenticate`.
fn challenge(response: &reqwest::Response) -> (u16, String) {
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    (response.status().as_u16(), challenge.to_owned())
}

async fn introspection(mock: &MockOkta, server: Server, token: &str) -> serde_json::Value {
    http(mock)
        .post(server.url(mock, "introspect"))
        .form(&[("token", token), ("client_id", DEMO_CLIENT_ID)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_first_token_request_gets_a_nonce_and_the_next_dpop_bound_tokens() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    for (server, key) in [
        (Server::Org, ClientKey::rsa()),
        (Server::Default, ClientKey::generate()),
    ] {
        let (tokens, nonce) = dpop_sign_in(&mock, &browser, server, &key).await;
        assert_eq!(tokens.token_type, "DPoP", "{server:?}");
        assert_eq!(nonce.len(), 43, "256 random bits, base64url");
        let refresh_token = tokens.refresh_token.as_deref().unwrap();
        for bound in [&tokens.access_token, refresh_token] {
            assert_eq!(
                mock.token(bound).unwrap().dpop_jkt.as_deref(),
                Some(&*key.jkt)
            );
        }
        let id_token = mock.token(tokens.id_token.as_deref().unwrap()).unwrap();
        assert_eq!((id_token.kind, id_token.dpop_jkt), (TokenKind::Id, None));

        let introspected = introspection(&mock, server, &tokens.access_token).await;
        assert_eq!(introspected["token_type"], "DPoP");
        assert_eq!(introspected["cnf"]["jkt"], key.jkt);
        assert_eq!(
            introspection(&mock, server, refresh_token).await["cnf"]["jkt"],
            key.jkt
        );
        if let Server::Default = server {
            // Custom servers' access tokens are JWTs: the binding is in them too.
            let claims =
                jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&tokens.access_token)
                    .unwrap()
                    .claims;
            assert_eq!(claims["cnf"], serde_json::json!({ "jkt": key.jkt }));
        }
    }
}

#[tokio::test]
async fn discovery_of_every_server_lists_okta_s_dpop_algorithms() {
    let mock = start_requiring_dpop().await;
    for server in Server::BOTH {
        let document = get_json(&mock, server.discovery(&mock)).await;
        assert_eq!(
            document["dpop_signing_alg_values_supported"],
            serde_json::json!(OKTA_DPOP_ALGS),
            "{server:?}"
        );
    }
}

#[tokio::test]
async fn proofs_that_fail_a_check_are_refused_without_burning_the_code() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Default;
    let key = ClientKey::generate();
    let other_key = ClientKey::generate();
    // A nonce first, from a request that redeems nothing.
    let nonce = refused(token_request(&mock, server, &refresh_form("unknown"), &[]).await)
        .await
        .3
        .expect("every answer to a DPoP client carries the nonce");
    let (code, pkce) = code_at(&mock, &browser, server).await;
    let form = code_form(&code, &pkce);
    let valid = || Proof::token(&key, &mock, server, &nonce);
    let sign = |proof: Proof| proof.signed_by(&key);

    let mut wrong_type = valid();
    wrong_type.header["typ"] = "JWT".into();
    let mut wrong_algorithm = valid();
    wrong_algorithm.header["alg"] = "ES384".into();
    let mut symmetric = valid();
    symmetric.header["alg"] = "HS256".into();
    let mut no_key = valid();
    no_key.header.as_object_mut().unwrap().remove("jwk");
    let mut private_key = valid();
    private_key.header["jwk"]["d"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into();
    let mut another_key_s_jwk = valid();
    another_key_s_jwk.header["jwk"] = other_key.public.clone();
    let mut no_jti = valid();
    no_jti.claims.as_object_mut().unwrap().remove("jti");
    let revoke_url = server.url(&mock, "revoke");
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("no proof", vec![], "The DPoP proof JWT header is missing."),
        (
            "two proofs",
            vec![sign(valid()), sign(valid())],
            "Only one DPoP proof JWT header is allowed.",
        ),
        ("not a JWT", vec!["not-a-jwt".into()], "well-formed"),
        ("typ JWT", vec![sign(wrong_type)], "'typ'"),
        (
            "ES384 with a P-256 key",
            vec![sign(wrong_algorithm)],
            "'alg'",
        ),
        ("HS256", vec![sign(symmetric)], "'alg'"),
        ("no jwk", vec![sign(no_key)], "'jwk'"),
        ("a private jwk", vec![sign(private_key)], "private key"),
        (
            "signed by another key than its jwk",
            vec![sign(another_key_s_jwk)],
            "signature",
        ),
        ("htm GET", vec![sign(valid().with("htm", "GET"))], "'htm'"),
        (
            "htu of the revoke endpoint",
            vec![sign(valid().with("htu", revoke_url.as_str()))],
            "'htu'",
        ),
        (
            "htu on the browser port",
            vec![sign(
                valid().with(
                    "htu",
                    mock.browser_url()
                        .join(&server.path("token"))
                        .unwrap()
                        .as_str(),
                ),
            )],
            "'htu'",
        ),
        (
            "iat an hour ago",
            vec![sign(valid().with("iat", now() - 3600))],
            "'iat'",
        ),
        (
            "iat an hour ahead",
            vec![sign(valid().with("iat", now() + 3600))],
            "'iat'",
        ),
        ("no jti", vec![sign(no_jti)], "'jti'"),
    ];
    for (case, proofs, description) in cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (status, error, said, nonce_header) =
            refused(token_request(&mock, server, &form, &proofs).await).await;
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_dpop_proof"),
            "{case}"
        );
        assert!(said.contains(description), "{case}: {said}");
        assert_eq!(nonce_header.as_deref(), Some(nonce.as_str()), "{case}");
    }

    // A query and fragment on htu are ignored (RFC 9449 §4.3): the code still works.
    let mut htu = server.url(&mock, "token");
    htu.set_query(Some("unused=1"));
    htu.set_fragment(Some("top"));
    let proof = sign(valid().with("htu", htu.as_str()));
    let (tokens, _) = issued(token_request(&mock, server, &form, &[&proof]).await).await;
    assert_eq!(tokens.token_type, "DPoP");
}

#[tokio::test]
async fn a_proof_works_once() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Org;
    let key = ClientKey::generate();
    let (tokens, nonce) = dpop_sign_in(&mock, &browser, server, &key).await;
    let proof = Proof::token(&key, &mock, server, &nonce).signed_by(&key);
    let first = refreshed_with(
        &mock,
        server,
        tokens.refresh_token.as_deref().unwrap(),
        &proof,
    );
    let (refreshed, _) = issued(first.await).await;
    let replayed = refreshed_with(
        &mock,
        server,
        refreshed.refresh_token.as_deref().unwrap(),
        &proof,
    )
    .await;
    let (status, error, description, _) = refused(replayed).await;
    assert_eq!((status, error.as_str()), (400, "invalid_dpop_proof"));
    assert_eq!(description, "The DPoP proof 'jti' has already been used.");
}

#[tokio::test]
async fn a_bound_refresh_token_refreshes_only_with_its_key_and_stays_bound() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    for server in Server::BOTH {
        let key = ClientKey::generate();
        let thief = ClientKey::generate();
        let (tokens, nonce) = dpop_sign_in(&mock, &browser, server, &key).await;
        let refresh_token = tokens.refresh_token.as_deref().unwrap();

        let stolen = refresh_with_nonce(&mock, server, &thief, refresh_token, &nonce).await;
        let (status, error, description, _) = refused(stolen).await;
        assert_eq!(
            (status, error.as_str(), description.as_str()),
            (
                400,
                "invalid_dpop_proof",
                "The DPoP proof key does not match the key the refresh token is bound to."
            ),
            "{server:?}"
        );
        assert_eq!(
            mock.token(refresh_token).unwrap().state,
            TokenState::Active,
            "nothing rotated"
        );

        let refreshed = refresh_with_nonce(&mock, server, &key, refresh_token, &nonce).await;
        let (refreshed, _) = issued(refreshed).await;
        assert_eq!(refreshed.token_type, "DPoP");
        let rotated = refreshed.refresh_token.as_deref().unwrap();
        assert_ne!(rotated, refresh_token);
        for token in [rotated, refreshed.access_token.as_str()] {
            assert_eq!(
                mock.token(token).unwrap().dpop_jkt.as_deref(),
                Some(&*key.jkt)
            );
        }

        // With DPoP no longer in force, the bound refresh token still needs its proof: no
        // downgrade to bearer tokens.
        mock.update_faults(|faults| faults.dpop_unsupported = true);
        let unproven = token_request(&mock, server, &refresh_form(rotated), &[]).await;
        let (status, error, description, _) = refused(unproven).await;
        assert_eq!(
            (status, error.as_str(), description.as_str()),
            (
                400,
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing."
            ),
            "{server:?}"
        );
        mock.update_faults(|faults| faults.dpop_unsupported = false);
    }
}

#[tokio::test]
async fn a_rotated_nonce_is_refused_unless_the_earlier_ones_are_kept() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Default;
    let key = ClientKey::generate();
    let (tokens, first_nonce) = dpop_sign_in(&mock, &browser, server, &key).await;
    let refresh_token = tokens.refresh_token.unwrap();

    // Refused at once: use_dpop_nonce with the new nonce, which then works.
    let second_nonce = mock.rotate_dpop_nonce(false).await;
    assert_ne!(second_nonce, first_nonce);
    let (status, error, _, nonce) =
        refused(refresh_with_nonce(&mock, server, &key, &refresh_token, &first_nonce).await).await;
    assert_eq!((status, error.as_str()), (400, "use_dpop_nonce"));
    assert_eq!(nonce.as_deref(), Some(second_nonce.as_str()));
    let (_, nonce) =
        issued(refresh_with_nonce(&mock, server, &key, &refresh_token, &second_nonce).await).await;
    assert_eq!(nonce, second_nonce);

    // Okta's way: the earlier nonce keeps working, and the responses hand out the new one.
    let rotate = |body: Option<serde_json::Value>| {
        let request = http(&mock).post(mock.admin_url().join("dpop-nonce/rotate").unwrap());
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 200);
            let answer: serde_json::Value = answer.json().await.unwrap();
            answer["nonce"].as_str().unwrap().to_owned()
        }
    };
    // The rotated refresh token is in its grace period: it still refreshes.
    let third_nonce = rotate(None).await;
    let (_, nonce) =
        issued(refresh_with_nonce(&mock, server, &key, &refresh_token, &second_nonce).await).await;
    assert_eq!(nonce, third_nonce);

    let fourth_nonce = rotate(Some(serde_json::json!({ "keep_previous": false }))).await;
    let (_, error, _, nonce) =
        refused(refresh_with_nonce(&mock, server, &key, &refresh_token, &third_nonce).await).await;
    assert_eq!(error, "use_dpop_nonce");
    assert_eq!(nonce, Some(fourth_nonce));
}

#[tokio::test]
async fn userinfo_takes_a_bound_access_token_only_as_dpop_with_a_proof_by_its_key() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    for server in Server::BOTH {
        let key = ClientKey::generate();
        let other_key = ClientKey::generate();
        let (tokens, _) = dpop_sign_in(&mock, &browser, server, &key).await;
        let access_token = tokens.access_token.as_str();
        let as_dpop = format!("DPoP {access_token}");

        let bearer = userinfo(&mock, server, &format!("Bearer {access_token}"), None).await;
        let (status, challenge_text) = challenge(&bearer);
        assert_eq!(status, 401, "{server:?}");
        assert!(
            challenge_text.starts_with("DPoP error=\"invalid_token\""),
            "{challenge_text}"
        );

        let proof = Proof::userinfo(&key, &mock, server, access_token).signed_by(&key);
        let accepted = userinfo(&mock, server, &as_dpop, Some(&proof)).await;
        assert_eq!(accepted.status(), 200, "{server:?}");
        let claims: serde_json::Value = accepted.json().await.unwrap();
        assert_eq!(claims["sub"], "00u1ada0000000000001");
        // The scheme in any case; no nonce needed.
        let proof = Proof::userinfo(&key, &mock, server, access_token).signed_by(&key);
        let lower_case = format!("dpop {access_token}");
        let answer = userinfo(&mock, server, &lower_case, Some(&proof)).await;
        assert_eq!(answer.status(), 200);

        let refusals = [
            (
                Some(
                    Proof::userinfo(&key, &mock, server, access_token)
                        .with("ath", ath("another token"))
                        .signed_by(&key),
                ),
                "'ath'",
            ),
            (
                Some(
                    Proof::userinfo(&other_key, &mock, server, access_token).signed_by(&other_key),
                ),
                "does not match the key the access token is bound to",
            ),
            (
                Some(
                    Proof::userinfo(&key, &mock, server, access_token)
                        .with("htu", server.url(&mock, "token").as_str())
                        .signed_by(&key),
                ),
                "'htu'",
            ),
            (None, "missing"),
        ];
        for (proof, description) in refusals {
            let answer = userinfo(&mock, server, &as_dpop, proof.as_deref()).await;
            let (status, challenge_text) = challenge(&answer);
            assert_eq!(status, 401, "{description}");
            assert!(
                challenge_text
                    .starts_with("DPoP error=\"invalid_dpop_proof\", error_description=\""),
                "{challenge_text}"
            );
            assert!(challenge_text.contains(description), "{challenge_text}");
        }

        let proof = Proof::userinfo(&key, &mock, server, "never-issued").signed_by(&key);
        let unknown = userinfo(&mock, server, "DPoP never-issued", Some(&proof)).await;
        assert!(challenge(&unknown)
            .1
            .starts_with("DPoP error=\"invalid_token\""));
    }
}

#[tokio::test]
async fn a_bound_refresh_token_is_revoked_with_client_authentication_alone() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    for server in Server::BOTH {
        let key = ClientKey::generate();
        let (tokens, _) = dpop_sign_in(&mock, &browser, server, &key).await;
        let refresh_token = tokens.refresh_token.as_deref().unwrap();
        let revoked = http(&mock)
            .post(server.url(&mock, "revoke"))
            .form(&[
                ("token", refresh_token),
                ("token_type_hint", "refresh_token"),
                ("client_id", DEMO_CLIENT_ID),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200, "{server:?}");
        for token in [refresh_token, tokens.access_token.as_str()] {
            assert_eq!(mock.token(token).unwrap().state, TokenState::Revoked);
        }
    }
}

#[tokio::test]
async fn without_dpop_support_proofs_are_ignored_and_tokens_are_bearer() {
    let mut config = test_config();
    config.clients[0].require_dpop = true;
    config.faults.dpop_unsupported = true;
    let mock = start_with(config).await;
    let browser = Browser::for_mock(&mock).unwrap();
    for server in Server::BOTH {
        let document = get_json(&mock, server.discovery(&mock)).await;
        assert!(
            document.get("dpop_signing_alg_values_supported").is_none(),
            "{server:?}"
        );
        let key = ClientKey::generate();
        let (code, pkce) = code_at(&mock, &browser, server).await;
        let proof = Proof::new(&key, "POST", &server.url(&mock, "token")).signed_by(&key);
        let response = token_request(&mock, server, &code_form(&code, &pkce), &[&proof]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(nonce_of(&response), None);
        let tokens: TokenResponse = response.json().await.unwrap();
        assert_eq!(tokens.token_type, "Bearer");
        assert_eq!(mock.token(&tokens.access_token).unwrap().dpop_jkt, None);
        let bearer = format!("Bearer {}", tokens.access_token);
        assert_eq!(userinfo(&mock, server, &bearer, None).await.status(), 200);
    }
}

#[tokio::test]
async fn a_client_that_does_not_require_dpop_ignores_proofs() {
    let mock = start().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Default;
    let key = ClientKey::generate();
    let (code, pkce) = code_at(&mock, &browser, server).await;
    let proof = Proof::new(&key, "POST", &server.url(&mock, "token")).signed_by(&key);
    let response = token_request(&mock, server, &code_form(&code, &pkce), &[&proof]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(nonce_of(&response), None);
    let tokens: TokenResponse = response.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert!(mock.tokens().iter().all(|token| token.dpop_jkt.is_none()));
    assert_eq!(
        introspection(&mock, server, &tokens.access_token).await["token_type"],
        "Bearer"
    );
}

#[tokio::test]
async fn the_journal_fingerprints_proofs_and_reads_dpop_authorization() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Default;
    let key = ClientKey::generate();
    let position = mock.journal_position();
    let (tokens, _) = dpop_sign_in(&mock, &browser, server, &key).await;
    let proof = Proof::userinfo(&key, &mock, server, &tokens.access_token).signed_by(&key);
    let as_dpop = format!("DPoP {}", tokens.access_token);
    let answer = userinfo(&mock, server, &as_dpop, Some(&proof)).await;
    assert_eq!(answer.status(), 200);

    let entries = mock.requests(position);
    let token_outcomes: Vec<&str> = entries
        .iter()
        .filter(|entry| entry.path.ends_with("/v1/token"))
        .map(|entry| entry.outcome.as_str())
        .collect();
    assert_eq!(token_outcomes, ["use_dpop_nonce", "issued"]);
    let userinfo = entries.last().unwrap();
    assert_eq!(
        userinfo.params["dpop"],
        Param::Secret {
            secret: SecretKind::DpopProof,
            fingerprint: short_fingerprint(&proof),
        }
    );
    assert_eq!(
        userinfo.params["authorization"],
        Param::Secret {
            secret: SecretKind::AccessToken,
            fingerprint: short_fingerprint(&tokens.access_token),
        }
    );
    let journal = serde_json::to_string(&entries).unwrap();
    assert!(!journal.contains(&proof) && !journal.contains(&tokens.access_token));
}

#[tokio::test]
async fn the_console_shows_bindings_and_rotates_the_nonce() {
    let mock = start_requiring_dpop().await;
    let browser = Browser::for_mock(&mock).unwrap();
    let server = Server::Org;
    let key = ClientKey::generate();
    let (tokens, nonce) = dpop_sign_in(&mock, &browser, server, &key).await;
    let page = |path: &str| {
        http(&mock)
            .get(mock.browser_url().join(path).unwrap())
            .header("accept", "text/html")
            .send()
    };
    let html = page("__admin/").await.unwrap().text().await.unwrap();
    assert!(html.contains(&format!("DPoP <code>{}…</code>", &key.jkt[..8])));
    assert!(html.contains("id=\"rotate-dpop-nonce\""));
    assert!(html.contains("name=\"dpop_unsupported\""));

    let rotated = http(&mock)
        .post(
            mock.browser_url()
                .join("__admin/console/rotate-dpop-nonce")
                .unwrap(),
        )
        .form(&Vec::<(&str, &str)>::new())
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 303);
    let refresh_token = tokens.refresh_token.as_deref().unwrap();
    let (_, error, _, new_nonce) =
        refused(refresh_with_nonce(&mock, server, &key, refresh_token, &nonce).await).await;
    assert_eq!(
        error, "use_dpop_nonce",
        "the form keeps no earlier nonce unless asked"
    );
    assert_ne!(new_nonce, Some(nonce));
}
