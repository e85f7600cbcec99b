//! The rule that deep-link tests check the parser and dispatcher against, written without
//! `url::Url` so that it does not share the parser's forgiveness: a link reaches a waiting
//! flow only when it is, character for character, that flow's callback URI, `?`, and a query
//! that carries the flow's `state` exactly once. Shared by the property test and the fuzz
//! target (`fuzz/`), which includes this file by path.

use oidc_session::callback::{Callback, CallbackKind, PendingCallbacks};
use url::Url;

pub(crate) const SIGN_IN_URI: &str = "com.example.oktasignout:/callback";
pub(crate) const SIGN_OUT_URI: &str = "com.example.oktasignout:/logout/callback";
/// The states the two waiting flows expect (the app's are random base64url, like these).
pub(crate) const SIGN_IN_STATE: &str = "QmzH1kTq_sign-in";
pub(crate) const SIGN_OUT_STATE: &str = "x9Lw0pRv_sign-out";

/// Hands `link` to a dispatcher on which a sign-in and a sign-out both wait; returns the
/// flow that took it, if any.
pub(crate) fn deliver(link: &str) -> Option<CallbackKind> {
    let sign_in = Url::parse(SIGN_IN_URI).expect("a valid URI");
    let sign_out = Url::parse(SIGN_OUT_URI).expect("a valid URI");
    let pending = PendingCallbacks::default();
    let _sign_in_wait = pending.expect(CallbackKind::SignIn, SIGN_IN_STATE);
    let _sign_out_wait = pending.expect(CallbackKind::SignOut, SIGN_OUT_STATE);
    Callback::parse(link, &sign_in, &sign_out)
        .and_then(|callback| pending.deliver(callback))
        .ok()
}

/// Whether `link` is the exact callback form of the `kind` flow, with its state: the URI
/// verbatim, then a query of printable ASCII (as browsers send it, no fragment) in which
/// `state` occurs once, with the flow's value once form-decoded.
pub(crate) fn is_exact_pending_callback(link: &str, kind: CallbackKind) -> bool {
    let (uri, state) = match kind {
        CallbackKind::SignIn => (SIGN_IN_URI, SIGN_IN_STATE),
        CallbackKind::SignOut => (SIGN_OUT_URI, SIGN_OUT_STATE),
    };
    let Some(query) = link
        .strip_prefix(uri)
        .and_then(|rest| rest.strip_prefix('?'))
    else {
        return false;
    };
    if !query
        .bytes()
        .all(|byte| byte.is_ascii_graphic() && byte != b'#')
    {
        return false;
    }
    let states: Vec<_> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "state")
        .map(|(_, value)| value.into_owned())
        .collect();
    states == [state]
}

/// The property: a link that is delivered at all is delivered to the flow whose exact
/// callback it is. Panics with the link otherwise.
pub(crate) fn assert_delivered_only_when_exact(link: &str) {
    if let Some(kind) = deliver(link) {
        assert!(
            is_exact_pending_callback(link, kind),
            "{link:?} reached the {kind:?} flow but is not its exact callback"
        );
    }
}
