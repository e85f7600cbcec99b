//! Least privilege for the window: its UI may call the app's own commands and listen for
//! events, nothing more, and the webview runs under a strict content security policy. Read
//! from the sources (`capabilities/`, `tauri.conf.json`) and from what tauri-build made of them
//! (`gen/schemas/`, written by this package's build script before this test is compiled).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Every permission the window may hold: the app's own commands, nothing of a core module or
/// a plugin. In particular no event listening: what the window hears comes on the channel it
/// opens with `watch`, so no event (tauri-plugin-deep-link emits every incoming link) can
/// reach it.
const ALLOWED_PERMISSIONS: &[&str] = &[
    "allow-session-state",
    "allow-app-info",
    "allow-sign-in",
    "allow-sign-in-with-another-account",
    "allow-cancel",
    "allow-sign-out",
    "allow-sign-out-app-only",
    "allow-record-activity",
    "allow-revocation-status",
    "allow-retry-revocations",
    "allow-watch",
    "allow-open-browser-again",
    "allow-copy-browser-link",
];
/// CSP sources other than `'self'` and `'none'` that the app may name: images inline, and
/// Tauri's IPC (`ipc:`, and `http://ipc.localhost` where custom schemes go through http).
const ALLOWED_SOURCES: &[&str] = &["data:", "ipc:", "http://ipc.localhost"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// The permission identifiers a capability grants (plain or with a scope).
fn granted(capability: &Value) -> Vec<String> {
    capability["permissions"]
        .as_array()
        .expect("a capability lists permissions")
        .iter()
        .map(|permission| {
            permission
                .as_str()
                .or_else(|| permission["identifier"].as_str())
                .expect("a permission identifier")
                .to_owned()
        })
        .collect()
}

fn assert_least_privilege(source: &str, capability: &Value) {
    for permission in granted(capability) {
        assert!(
            ALLOWED_PERMISSIONS.contains(&permission.as_str()),
            "{source} grants {permission}"
        );
    }
    assert!(
        capability.get("remote").is_none(),
        "{source} grants remote origins access to the app"
    );
    assert_eq!(
        capability["windows"],
        serde_json::json!(["main"]),
        "{source}"
    );
}

#[test]
fn the_window_holds_only_the_app_s_commands() {
    let mut capability_files = 0;
    for entry in std::fs::read_dir(root().join("capabilities")).unwrap() {
        let path = entry.unwrap().path();
        assert_least_privilege(&path.display().to_string(), &read_json(&path));
        capability_files += 1;
    }
    assert_eq!(capability_files, 1, "one capability file");

    // What the build really compiled in, whatever the source of each capability.
    let compiled = read_json(&root().join("gen/schemas/capabilities.json"));
    let compiled = compiled.as_object().expect("capabilities by identifier");
    assert_eq!(
        compiled.keys().collect::<Vec<_>>(),
        ["main"],
        "compiled capabilities"
    );
    for (identifier, capability) in compiled {
        assert_least_privilege(&format!("compiled capability {identifier}"), capability);
        let granted: BTreeSet<_> = granted(capability).into_iter().collect();
        assert!(
            !granted.iter().any(|permission| permission.contains(':')),
            "the UI can neither open URLs, touch deep links nor listen to events: {granted:?}"
        );
        // And all of them: the UI uses each (a missing one is a dead button, not a fix).
        let allowed: BTreeSet<_> = ALLOWED_PERMISSIONS
            .iter()
            .map(|permission| permission.to_string())
            .collect();
        assert_eq!(granted, allowed, "compiled capability {identifier}");
    }
}

#[test]
fn each_app_permission_allows_exactly_its_own_command() {
    let manifests = read_json(&root().join("gen/schemas/acl-manifests.json"));
    let app = &manifests["__app-acl__"]["permissions"];
    for permission in ALLOWED_PERMISSIONS {
        let command = permission.trim_start_matches("allow-").replace('-', "_");
        let commands = &app[*permission]["commands"];
        assert_eq!(
            commands["allow"],
            serde_json::json!([command]),
            "{permission}: {app}"
        );
    }
}

/// The directives of a content security policy, each with its sources.
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(str::to_owned).collect()))
        })
        .collect()
}

#[test]
fn the_webview_runs_under_a_strict_policy_with_a_frozen_prototype() {
    let config = read_json(&root().join("tauri.conf.json"));
    let security = &config["app"]["security"];
    let csp = security["csp"].as_str().expect("a CSP as one string");
    let directives = directives(csp);

    let default_src = directives
        .iter()
        .find(|(name, _)| name == "default-src")
        .map(|(_, sources)| sources.clone());
    assert_eq!(default_src, Some(vec!["'self'".to_owned()]), "{csp}");
    for (name, sources) in &directives {
        for source in sources {
            let keyword = matches!(source.as_str(), "'self'" | "'none'");
            assert!(
                keyword || ALLOWED_SOURCES.contains(&source.as_str()),
                "{name} allows {source}: no remote origin, wildcard or unsafe-* in the CSP"
            );
        }
    }
    assert!(
        security
            .get("dangerousDisableAssetCspModification")
            .is_none()
            && security.get("devCsp").is_none(),
        "the CSP applies as written, in every build"
    );
    assert_eq!(security["freezePrototype"], Value::Bool(true));
    // The UI calls `window.__TAURI__.core.invoke` and `.event.listen` (ui/ has no bundler),
    // so the global API stays; the ACL above is what bounds it.
    assert_eq!(config["app"]["withGlobalTauri"], Value::Bool(true));
}
