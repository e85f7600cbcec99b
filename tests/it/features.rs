//! What each build of the app links: the packages' build (no features) no mock IdP at all,
//! scripts/run's build (`demo`) mock-okta's IdP without its scripted browser and command line.

use std::process::Command;

/// The crates the app's build with `features` links, as `cargo tree` lists them.
fn linked_crates(features: &[&str]) -> Vec<String> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "tree",
            "--frozen",
            "--package",
            "okta-signout",
            "--edges",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command.output().expect("cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut crates: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

#[test]
fn the_packaged_build_links_no_mock_idp_and_the_demo_build_only_its_server() {
    let packaged = linked_crates(&[]);
    assert!(packaged.iter().any(|name| name == "tauri"), "{packaged:?}");
    assert!(!packaged.iter().any(|name| name == "mock-okta"));

    let demo = linked_crates(&["demo"]);
    assert!(demo.iter().any(|name| name == "mock-okta"), "{demo:?}");
    // What only mock-okta's binaries and scripted browser use: HTML parsing, cookie jars,
    // argument parsing, temporary files.
    for only_for_binaries in [
        "scraper",
        "cookie_store",
        "reqwest_cookie_store",
        "clap",
        "tempfile",
    ] {
        assert!(
            !demo.iter().any(|name| name == only_for_binaries),
            "the demo build links {only_for_binaries}"
        );
    }
}
