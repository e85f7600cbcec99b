//! Deep links come from any program on the machine: whatever string arrives, the dispatcher
//! must never panic, and must hand a waiting flow only that flow's exact callback with its
//! state. Checked on arbitrary strings and on near misses of real callbacks. The fuzz target
//! in `fuzz/` checks the same rule with libFuzzer.

use crate::deep_link_oracle::{
    assert_delivered_only_when_exact, deliver, SIGN_IN_STATE, SIGN_IN_URI, SIGN_OUT_STATE,
    SIGN_OUT_URI,
};
use oidc_session::callback::CallbackKind;
use proptest::prelude::*;
use proptest::sample::select;

const SCHEME: &str = "com.example.oktasignout";

/// A callback that the waiting flow must take, with the flow it is for.
fn exact_callback() -> impl Strategy<Value = (String, CallbackKind)> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,32}".prop_map(|code| (
            format!("{SIGN_IN_URI}?code={code}&state={SIGN_IN_STATE}"),
            CallbackKind::SignIn
        )),
        "[a-z_]{1,20}".prop_map(|error| (
            format!(
                "{SIGN_IN_URI}?state={SIGN_IN_STATE}&error={error}&error_description=Try+again"
            ),
            CallbackKind::SignIn
        )),
        Just((
            format!("{SIGN_OUT_URI}?state={SIGN_OUT_STATE}"),
            CallbackKind::SignOut
        )),
    ]
}

/// One way to turn a real callback into a near miss (some near misses, such as a state
/// written with percent escapes, mean the same and may still be delivered).
#[derive(Debug, Clone)]
enum Mutation {
    Scheme(&'static str),
    HostForm(&'static str),
    AppendToQuery(&'static str),
    Path(&'static str),
    Fragment(&'static str),
    PercentEncodedState,
}

/// A character-level edit at a position (taken modulo the length), on top of a mutation.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        select(vec![
            "COM.EXAMPLE.OKTASIGNOUT",
            "Com.example.oktasignout",
            "com.example.oktasignou",
            "com.example.oktasignout2",
            "com.example.other",
            "https",
            "com.example.oktasignout.evil",
        ])
        .prop_map(Mutation::Scheme),
        select(vec![
            "://",
            ":///",
            "://evil.example/",
            "://127.0.0.1",
            "://@"
        ])
        .prop_map(Mutation::HostForm),
        select(vec![
            "&state=",
            "&state=forged",
            "&state=QmzH1kTq_sign-in",
            "&state=x9Lw0pRv_sign-out",
            "&st%61te=forged",
            "&code=injected",
            "&code=",
            "&error=access_denied",
            "&state",
            "&%00=1",
        ])
        .prop_map(Mutation::AppendToQuery),
        select(vec![
            "/callback/",
            "/Callback",
            "//callback",
            "/./callback",
            "/logout/../callback",
            "/logout/%2e%2e/callback",
            "/callback/../logout/callback",
            "/%63allback",
            "/callback%2F",
            "/callback;x",
            "/logout%2Fcallback",
            "/logout/callback/..",
            "callback",
            "/",
        ])
        .prop_map(Mutation::Path),
        select(vec!["#", "#x", "#state=forged", "%23"]).prop_map(Mutation::Fragment),
        Just(Mutation::PercentEncodedState),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (
            any::<usize>(),
            select(vec![
                ' ', '\t', '\n', '\r', '\0', '\u{7f}', '#', '?', '&', '=', '%', '\\', '/', '.',
                '+', ';', 'é', '\u{200b}', '\u{feff}',
            ])
        )
            .prop_map(|(at, character)| Edit::Insert(at, character)),
        any::<usize>().prop_map(Edit::Remove),
    ]
}

impl Mutation {
    fn apply(&self, link: &str) -> String {
        let (scheme_and_path, query) = link.split_once('?').expect("callbacks have a query");
        let path = scheme_and_path
            .strip_prefix(SCHEME)
            .and_then(|rest| rest.strip_prefix(':'))
            .expect("callbacks use the app's scheme");
        match self {
            Self::Scheme(scheme) => format!("{scheme}:{path}?{query}"),
            Self::HostForm(separator) => {
                format!(
                    "{SCHEME}{separator}{}?{query}",
                    path.trim_start_matches('/')
                )
            }
            Self::AppendToQuery(extra) => format!("{link}{extra}"),
            Self::Path(other) => format!("{SCHEME}:{other}?{query}"),
            Self::Fragment(fragment) => format!("{link}{fragment}"),
            Self::PercentEncodedState => {
                let encoded = |state: &str| {
                    state
                        .bytes()
                        .map(|byte| format!("%{byte:02X}"))
                        .collect::<String>()
                };
                link.replace(SIGN_IN_STATE, &encoded(SIGN_IN_STATE))
                    .replace(SIGN_OUT_STATE, &encoded(SIGN_OUT_STATE))
            }
        }
    }
}

impl Edit {
    fn apply(&self, link: &str) -> String {
        let mut characters: Vec<char> = link.chars().collect();
        match *self {
            Self::Insert(at, character) => {
                characters.insert(at % (characters.len() + 1), character)
            }
            Self::Remove(at) if !characters.is_empty() => {
                characters.remove(at % characters.len());
            }
            Self::Remove(_) => {}
        }
        characters.into_iter().collect()
    }
}

proptest! {
    // A failure prints the shrunk link; there is no regressions file to keep.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(2_000)
    })]

    #[test]
    fn exact_callbacks_reach_their_flow((link, kind) in exact_callback()) {
        prop_assert_eq!(deliver(&link), Some(kind), "{}", link);
    }

    #[test]
    fn arbitrary_strings_reach_no_flow_unless_exact(
        link in prop_oneof![
            any::<String>(),
            "(com\\.example\\.oktasignout:(/logout)?/callback\\?)?[ -~\t\n]{0,80}",
        ]
    ) {
        assert_delivered_only_when_exact(&link);
    }

    #[test]
    fn near_misses_reach_no_flow_unless_exact(
        (link, _) in exact_callback(),
        mutation in prop::option::of(mutation()),
        edits in prop::collection::vec(edit(), 0..3),
    ) {
        let mutated = mutation.map_or(link.clone(), |mutation| mutation.apply(&link));
        let edited = edits.iter().fold(mutated, |link, edit| edit.apply(&link));
        assert_delivered_only_when_exact(&edited);
    }
}
