//! Criterion benches of the core's hot paths: deep-link callbacks (parsing, and dispatch to
//! the flow that waits for them), DPoP (a key pair made at sign-in, a proof per token
//! request) and the token vault (write, read, delete) on keyring's mock store and, when a
//! session bus with an unlocked Secret Service is there, on the real one.
//!
//! `cargo bench -p oidc-session --bench core`; with the Secret Service:
//! `scripts/with-keyring cargo bench -p oidc-session --bench core`.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use oidc_session::callback::{Callback, CallbackKind, PendingCallbacks};
use oidc_session::tokens::{AccessToken, IdToken, RefreshToken, SessionTokens, StoredSession};
use oidc_session::{DpopKey, TokenVault, UserClaims};
use url::Url;

const SCHEME: &str = "com.example.oktasignout";

fn callback_uris() -> (Url, Url) {
    (
        Url::parse(&format!("{SCHEME}:/callback")).unwrap(),
        Url::parse(&format!("{SCHEME}:/logout/callback")).unwrap(),
    )
}

fn callbacks(c: &mut Criterion) {
    let (sign_in, sign_out) = callback_uris();
    let state = "Kq3xTzV9bJm2Lr8WcYp4Ns6Hd1Fg7Ae5";
    let code_link = format!("{SCHEME}:/callback?code=c0dE-4f8b2a91e6d3&state={state}");
    let logout_link = format!("{SCHEME}:/logout/callback?state={state}");
    let foreign_link = "https://evil.example/callback?code=a&state=b";

    let mut group = c.benchmark_group("callback");
    group.bench_function("parse sign-in", |b| {
        b.iter(|| Callback::parse(black_box(&code_link), &sign_in, &sign_out))
    });
    group.bench_function("parse sign-out", |b| {
        b.iter(|| Callback::parse(black_box(&logout_link), &sign_in, &sign_out))
    });
    group.bench_function("parse foreign link", |b| {
        b.iter(|| Callback::parse(black_box(foreign_link), &sign_in, &sign_out))
    });
    // What a deep link costs once a flow waits: register, parse, deliver, receive.
    group.bench_function("expect + parse + deliver", |b| {
        let pending = PendingCallbacks::default();
        b.iter(|| {
            let mut receiver = pending.expect(CallbackKind::SignOut, state);
            let callback = Callback::parse(&logout_link, &sign_in, &sign_out).unwrap();
            pending.deliver(callback).unwrap();
            receiver.try_recv().unwrap()
        })
    });
    group.bench_function("deliver forged state", |b| {
        let pending = PendingCallbacks::default();
        let _receiver = pending.expect(CallbackKind::SignOut, state);
        let forged = format!("{SCHEME}:/logout/callback?state=forged");
        b.iter(|| {
            let callback = Callback::parse(&forged, &sign_in, &sign_out).unwrap();
            pending.deliver(callback).unwrap_err()
        })
    });
    group.finish();
}

/// DPoP: the key made at each sign-in, and the proof each token request carries (ES256 sign,
/// its JSON and base64url), without a nonce (a provider's first request) and with one.
fn dpop(c: &mut Criterion) {
    let key = DpopKey::generate().unwrap();
    let token_endpoint = Url::parse("https://example.okta.com/oauth2/default/v1/token").unwrap();
    let nonce = "q0H6cY3vJ9sWkT2mXe8pLrA5nB1dZ4gF7hU0iO6yKcE";
    let mut group = c.benchmark_group("dpop");
    group.bench_function("generate key", |b| b.iter(|| DpopKey::generate().unwrap()));
    group.bench_function("proof", |b| {
        b.iter(|| key.proof("POST", black_box(&token_endpoint), None).unwrap())
    });
    group.bench_function("proof with nonce", |b| {
        b.iter(|| {
            key.proof("POST", black_box(&token_endpoint), Some(nonce))
                .unwrap()
        })
    });
    group.finish();
}

/// A session the size Okta's is: JWT access and ID tokens of about 1 kB, a short refresh token.
fn okta_sized_session() -> StoredSession {
    StoredSession {
        id: "session-1".into(),
        tokens: SessionTokens {
            access_token: AccessToken::new("a".repeat(1000)),
            access_expires_at: SystemTime::now() + Duration::from_secs(3600),
            refresh_token: Some(RefreshToken::new("r".repeat(43))),
            id_token: IdToken::new("i".repeat(1100)),
        },
        user: UserClaims {
            subject: "00u1ada0000000000000".into(),
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.com".into()),
            username: Some("ada@example.com".into()),
        },
        signed_in_at: SystemTime::now(),
        dpop_key: None,
    }
}

fn vault_group(c: &mut Criterion, name: &str, vault: &TokenVault) {
    let session = okta_sized_session();
    let mut group = c.benchmark_group(name);
    group.bench_function("save", |b| b.iter(|| vault.save(&session).unwrap()));
    vault.save(&session).unwrap();
    group.bench_function("load", |b| b.iter(|| vault.load().unwrap().unwrap()));
    group.bench_function("delete", |b| {
        b.iter_batched(
            || vault.save(&session).unwrap(),
            |()| vault.delete().unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    vault.delete().unwrap();
}

fn vault(c: &mut Criterion) {
    let service = format!("{SCHEME}.bench.{}", std::process::id());
    let mock = TokenVault::with_store(keyring_core::mock::Store::new().unwrap(), &service);
    vault_group(c, "vault (mock store)", &mock);

    // Only a session bus can have a Secret Service; without one, keyring would look for other
    // stores and fail slowly.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        eprintln!("no session bus: skipping the Secret Service vault benches");
        return;
    }
    match TokenVault::platform(&service) {
        Ok(platform) if platform.load().is_ok() => {
            vault_group(c, "vault (Secret Service)", &platform)
        }
        _ => eprintln!("no unlocked Secret Service: skipping its vault benches"),
    }
}

criterion_group! {
    name = benches;
    // The Secret Service answers in milliseconds: fewer samples keep the run short.
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = callbacks, dpop, vault
}
criterion_main!(benches);
