//! oidc-session against mock-okta over real HTTP(S), with a scripted browser and the tokens in
//! the real Secret Service (the test command provides a D-Bus session with an unlocked
//! gnome-keyring): one test binary, a module per topic.

mod crash;
mod deep_link_oracle;
mod deep_links;
mod dpop;
mod fault_matrix;
mod journal;
mod leak_scan;
mod real_okta;
mod revocation;
mod sign_in;
mod sign_out;
mod vault;

use std::process::Command;

/// This test binary again, to run only `test` (its path, e.g. `vault::name`) in a process of
/// its own: one that may be killed, or whose global state (the keychain client, the log
/// subscriber) the test sets up alone. The caller's environment variable tells the test that
/// it is the child.
fn rerun(test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", test, "--nocapture"]);
    command
}
