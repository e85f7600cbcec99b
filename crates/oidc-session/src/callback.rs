//! Deep-link callbacks from the browser: which flow a URL belongs to, and handing it to the
//! one flow that waits for exactly that `state`. Anything else is ignored and logged, never
//! acted on: a deep link can come from any program on the machine.

use std::sync::Mutex;

use tokio::sync::oneshot;
use url::{Position, Url};

use crate::secret::Sensitive;

/// Which round-trip through the browser a callback ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    /// The redirect after sign-in (`redirect_uri`).
    SignIn,
    /// The redirect after Okta ended its session (`post_logout_redirect_uri`).
    SignOut,
}

/// What the browser brought back.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackResult {
    /// Sign-in succeeded: the authorization code to exchange.
    Code {
        /// The code.
        code: Sensitive<String>,
        /// The issuers the answer names (`iss`, RFC 9207): one, or none for a server that
        /// does not send it.
        issuers: Vec<String>,
    },
    /// Sign-out: Okta ended its session.
    SignedOut,
    /// The IdP reported an error (`error=` and `error_description=`).
    Error {
        /// The OAuth error code, e.g. `access_denied`.
        code: String,
        /// Okta's description, when it gave one.
        description: Option<String>,
        /// The issuers the answer names (`iss`, RFC 9207): one, or none for a server that
        /// does not send it.
        issuers: Vec<String>,
    },
}

/// A parsed callback URL.
#[derive(Debug, PartialEq, Eq)]
pub struct Callback {
    /// Which flow it ends.
    pub kind: CallbackKind,
    /// The `state` it carries.
    pub state: String,
    /// What it says.
    pub result: CallbackResult,
}

/// Why a deep link was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ignored {
    /// Not a URL, or not one of the app's two callback URIs.
    #[error("not a callback of this app")]
    NotACallback,
    /// A callback without a `state`, or with more than one.
    #[error("the callback has no single state")]
    NoState,
    /// A callback for a flow that is not waiting (cold start, late or replayed callback).
    #[error("nothing is waiting for this callback")]
    NothingPending,
    /// A state that does not match the pending flow's (forged, stale or replayed).
    #[error("the callback's state does not match")]
    StateMismatch,
}

/// Query parameters whose values are secrets and never reach a log.
const SECRET_PARAMETERS: &[&str] = &["code", "access_token", "id_token", "refresh_token"];

/// `link` for the logs: the values of secret parameters (the authorization code) replaced by
/// `[redacted]`; a link that is not a URL is not shown at all.
pub fn redacted(link: &str) -> String {
    let Ok(mut url) = Url::parse(link) else {
        return "[not a URL]".to_owned();
    };
    if url.query().is_none() {
        return url.into();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| {
            let value = if SECRET_PARAMETERS.contains(&key.as_ref()) {
                "[redacted]".to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.into()
}

impl Callback {
    /// Parses `link` as one of the two callback URIs: the URI verbatim, then any query.
    /// Only a link written exactly as the URL parser writes it back is one: the parser would
    /// otherwise forgive whitespace, tabs, upper-case schemes and `..` or `%2e%2e` segments,
    /// and two different strings would reach the same flow.
    pub fn parse(link: &str, sign_in_uri: &Url, sign_out_uri: &Url) -> Result<Self, Ignored> {
        let url = Url::parse(link)
            .ok()
            .filter(|url| url.as_str() == link)
            .ok_or(Ignored::NotACallback)?;
        // Compared as text up to the query: scheme, authority (an empty `//` one included,
        // which `has_host` does not see) and path.
        let matches = |expected: &Url| {
            url[..Position::AfterPath] == expected[..Position::AfterPath]
                && url.fragment().is_none()
        };
        let kind = if matches(sign_in_uri) {
            CallbackKind::SignIn
        } else if matches(sign_out_uri) {
            CallbackKind::SignOut
        } else {
            return Err(Ignored::NotACallback);
        };
        let single = |name: &str| {
            let mut values = url.query_pairs().filter(|(key, _)| key == name);
            match (values.next(), values.next()) {
                (Some((_, value)), None) => Some(value.into_owned()),
                _ => None,
            }
        };
        let state = single("state")
            .filter(|state| !state.is_empty())
            .ok_or(Ignored::NoState)?;
        // Every `iss`, so that an answer naming two is refused rather than read as one.
        let issuers = || {
            url.query_pairs()
                .filter(|(key, _)| key == "iss")
                .map(|(_, value)| value.into_owned())
                .collect()
        };
        let result = match (single("error"), single("code"), kind) {
            (Some(code), _, _) => CallbackResult::Error {
                code,
                description: single("error_description"),
                issuers: issuers(),
            },
            (None, Some(code), CallbackKind::SignIn) if !code.is_empty() => CallbackResult::Code {
                code: Sensitive::new(code),
                issuers: issuers(),
            },
            (None, None, CallbackKind::SignOut) => CallbackResult::SignedOut,
            _ => return Err(Ignored::NotACallback),
        };
        Ok(Self {
            kind,
            state,
            result,
        })
    }
}

/// A flow waiting for its callback.
struct Waiter {
    kind: CallbackKind,
    state: Sensitive<String>,
    sender: oneshot::Sender<CallbackResult>,
}

/// The flows that wait for a callback: at most one per kind. A callback is delivered once,
/// to the flow whose state it carries; the waiter is then gone, so a replay finds nothing.
#[derive(Default)]
pub struct PendingCallbacks {
    waiters: Mutex<Vec<Waiter>>,
}

impl PendingCallbacks {
    /// Registers a flow that waits for a `kind` callback with `state`, replacing an earlier
    /// flow of that kind (whose receiver then reports it was dropped).
    pub fn expect(&self, kind: CallbackKind, state: &str) -> oneshot::Receiver<CallbackResult> {
        let (sender, receiver) = oneshot::channel();
        let mut waiters = self.waiters.lock().expect("callback waiters poisoned");
        waiters.retain(|waiter| waiter.kind != kind);
        waiters.push(Waiter {
            kind,
            state: Sensitive::new(state.to_owned()),
            sender,
        });
        receiver
    }

    /// Stops waiting for a `kind` callback (the flow ended another way).
    pub fn forget(&self, kind: CallbackKind) {
        self.waiters
            .lock()
            .expect("callback waiters poisoned")
            .retain(|waiter| waiter.kind != kind);
    }

    /// Hands `callback` to the flow waiting for it, if its state matches.
    pub fn deliver(&self, callback: Callback) -> Result<CallbackKind, Ignored> {
        let mut waiters = self.waiters.lock().expect("callback waiters poisoned");
        let position = waiters
            .iter()
            .position(|waiter| waiter.kind == callback.kind)
            .ok_or(Ignored::NothingPending)?;
        if waiters[position].state.expose() != &callback.state {
            return Err(Ignored::StateMismatch);
        }
        let waiter = waiters.swap_remove(position);
        // The flow may have just given up (cancel, timeout): then nobody is left to tell.
        let _ = waiter.sender.send(callback.result);
        Ok(callback.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris() -> (Url, Url) {
        (
            Url::parse("com.example.oktasignout:/callback").unwrap(),
            Url::parse("com.example.oktasignout:/logout/callback").unwrap(),
        )
    }

    fn parse(link: &str) -> Result<Callback, Ignored> {
        let (sign_in, sign_out) = uris();
        Callback::parse(link, &sign_in, &sign_out)
    }

    #[test]
    fn parses_both_callbacks() {
        let callback = parse("com.example.oktasignout:/callback?code=abc&state=s1").unwrap();
        assert_eq!(callback.kind, CallbackKind::SignIn);
        assert_eq!(callback.state, "s1");
        assert_eq!(
            callback.result,
            CallbackResult::Code {
                code: Sensitive::new("abc".into()),
                issuers: vec![]
            }
        );
        let callback = parse(
            "com.example.oktasignout:/callback?code=abc&state=s1&iss=https%3A%2F%2Fexample.okta.com",
        )
        .unwrap();
        assert_eq!(
            callback.result,
            CallbackResult::Code {
                code: Sensitive::new("abc".into()),
                issuers: vec!["https://example.okta.com".into()]
            }
        );

        // Both issuers of an answer that names two, for the check to refuse.
        let callback = parse(
            "com.example.oktasignout:/callback?code=abc&state=s1&iss=https%3A%2F%2Fa&iss=https%3A%2F%2Fb",
        )
        .unwrap();
        assert_eq!(
            callback.result,
            CallbackResult::Code {
                code: Sensitive::new("abc".into()),
                issuers: vec!["https://a".into(), "https://b".into()]
            }
        );

        let callback = parse("com.example.oktasignout:/logout/callback?state=s2").unwrap();
        assert_eq!(callback.kind, CallbackKind::SignOut);
        assert_eq!(callback.result, CallbackResult::SignedOut);

        let callback = parse(
            "com.example.oktasignout:/callback?state=s3&error=access_denied&error_description=User+said+no",
        )
        .unwrap();
        assert_eq!(
            callback.result,
            CallbackResult::Error {
                code: "access_denied".into(),
                description: Some("User said no".into()),
                issuers: vec![]
            }
        );
    }

    #[test]
    fn anything_else_is_not_a_callback() {
        for link in [
            "",
            "not a url",
            "https://evil.example/callback?code=a&state=b",
            "com.example.oktasignout://callback?code=a&state=b",
            "com.example.oktasignout:///callback?code=a&state=b",
            "com.example.oktasignout:/callbackx?code=a&state=b",
            "com.example.other:/callback?code=a&state=b",
            "com.example.oktasignout:/callback?state=b",
            "com.example.oktasignout:/callback?code=&state=b",
            "com.example.oktasignout:/logout/callback?state=b&code=a",
            "com.example.oktasignout:/callback?code=a&state=b#frag",
            " com.example.oktasignout:/callback?code=a&state=b",
            "COM.EXAMPLE.OKTASIGNOUT:/callback?code=a&state=b",
            "com.example.oktasignout:/call\tback?code=a&state=b",
            "com.example.oktasignout:/logout/../callback?code=a&state=b",
            "com.example.oktasignout:/logout/%2e%2e/callback?code=a&state=b",
        ] {
            assert_eq!(parse(link).err(), Some(Ignored::NotACallback), "{link}");
        }
        for link in [
            "com.example.oktasignout:/callback?code=a",
            "com.example.oktasignout:/callback?code=a&state=",
            "com.example.oktasignout:/callback?code=a&state=b&state=c",
        ] {
            assert_eq!(parse(link).err(), Some(Ignored::NoState), "{link}");
        }
    }

    #[test]
    fn redaction_hides_codes_and_keeps_the_rest() {
        assert_eq!(
            redacted("com.example.oktasignout:/callback?code=s3cr3t&state=abc"),
            "com.example.oktasignout:/callback?code=%5Bredacted%5D&state=abc"
        );
        assert_eq!(
            redacted("com.example.oktasignout:/logout/callback?state=hand-off-1"),
            "com.example.oktasignout:/logout/callback?state=hand-off-1"
        );
        assert_eq!(
            redacted("x:/a?id_token=e.y.j&access_token=t"),
            "x:/a?id_token=%5Bredacted%5D&access_token=%5Bredacted%5D"
        );
        assert_eq!(
            redacted("com.example.oktasignout:/logout/callback"),
            "com.example.oktasignout:/logout/callback"
        );
        assert_eq!(redacted("not a url code=1"), "[not a URL]");
    }

    #[tokio::test]
    async fn delivers_once_to_the_matching_state_only() {
        let pending = PendingCallbacks::default();
        let receiver = pending.expect(CallbackKind::SignIn, "good");
        let link = |state: &str| {
            parse(&format!(
                "com.example.oktasignout:/callback?code=c&state={state}"
            ))
            .unwrap()
        };

        assert_eq!(pending.deliver(link("forged")), Err(Ignored::StateMismatch));
        assert_eq!(
            pending.deliver(parse("com.example.oktasignout:/logout/callback?state=good").unwrap()),
            Err(Ignored::NothingPending)
        );
        assert_eq!(pending.deliver(link("good")), Ok(CallbackKind::SignIn));
        assert_eq!(
            receiver.await.unwrap(),
            CallbackResult::Code {
                code: Sensitive::new("c".into()),
                issuers: vec![]
            }
        );
        assert_eq!(
            pending.deliver(link("good")),
            Err(Ignored::NothingPending),
            "a replay"
        );
    }

    #[tokio::test]
    async fn a_new_flow_replaces_the_old_one_and_forget_ends_the_wait() {
        let pending = PendingCallbacks::default();
        let first = pending.expect(CallbackKind::SignIn, "one");
        let _second = pending.expect(CallbackKind::SignIn, "two");
        assert!(first.await.is_err(), "the first flow's wait ends");
        let link = parse("com.example.oktasignout:/callback?code=c&state=one").unwrap();
        assert_eq!(pending.deliver(link), Err(Ignored::StateMismatch));
        pending.forget(CallbackKind::SignIn);
        let link = parse("com.example.oktasignout:/callback?code=c&state=two").unwrap();
        assert_eq!(pending.deliver(link), Err(Ignored::NothingPending));
    }
}
