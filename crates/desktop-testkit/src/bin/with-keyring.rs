//! `with-keyring COMMAND [ARGS…]`: runs a command on a private D-Bus session bus whose Secret
//! Service is a fresh, unlocked gnome-keyring in a throw-away directory, so that a developer's
//! own keyring is never touched; both end with the command. Exits with the command's status.
//! `scripts/with-keyring` runs it.

use std::process::{Command, ExitCode};

use desktop_testkit::KeyringBus;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: with-keyring COMMAND [ARGS…]");
        return ExitCode::from(2);
    };
    let keyring_home = tempfile::tempdir().expect("a temporary directory");
    let bus = KeyringBus::start(
        keyring_home.path(),
        &keyring_home.path().join("dbus-daemon.log"),
        &[],
    );
    let status = Command::new(&program)
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .status();
    drop(bus);
    match status {
        Ok(status) => status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
        Err(error) => {
            eprintln!(
                "with-keyring: cannot run {}: {error}",
                program.to_string_lossy()
            );
            ExitCode::from(127)
        }
    }
}
