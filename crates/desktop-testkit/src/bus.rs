//! A private D-Bus session bus whose Secret Service is a fresh, unlocked gnome-keyring.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait_for;

/// The throw-away keyring's password.
const KEYRING_PASSWORD: &[u8] = b"throw-away-keyring";

/// A `dbus-daemon --session` with gnome-keyring's Secret Service on it, unlocked. Both end
/// when this is dropped (gnome-keyring ends with its bus).
pub struct KeyringBus {
    daemon: Child,
    address: String,
}

impl KeyringBus {
    /// Starts the bus (its messages go to `log`) and a keyring whose files live under
    /// `keyring_home`, started with `environment` (a display, a runtime directory) besides.
    pub fn start(keyring_home: &Path, log: &Path, environment: &[(&str, &Path)]) -> Self {
        let (daemon, address) = spawn_reporting(
            Command::new("dbus-daemon").args(["--session", "--nofork", "--print-address=1"]),
            "dbus-daemon (apt install dbus)",
            log,
        );
        let bus = Self { daemon, address };
        bus.unlock_keyring(keyring_home, environment);
        bus
    }

    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A command that talks to this bus, with its keyring files under `keyring_home`.
    fn command(&self, program: &str, keyring_home: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", keyring_home)
            .env("XDG_DATA_HOME", keyring_home.join(".local/share"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        command
    }

    fn unlock_keyring(&self, keyring_home: &Path, environment: &[(&str, &Path)]) {
        let mut daemon = self
            .command("gnome-keyring-daemon", keyring_home)
            .args(["--unlock", "--components=secrets"])
            .envs(environment.iter().copied())
            .stdin(Stdio::piped())
            .spawn()
            .expect("gnome-keyring-daemon (apt install gnome-keyring)");
        daemon
            .stdin
            .take()
            .unwrap()
            .write_all(KEYRING_PASSWORD)
            .unwrap();
        assert!(
            daemon.wait().unwrap().success(),
            "gnome-keyring-daemon failed"
        );
        // A client that connects before the daemon owns the name activates a second daemon,
        // which corrupts the new keyring: wait for the owner first.
        wait_for("gnome-keyring on the bus", Duration::from_secs(10), || {
            let output = self
                .command("dbus-send", keyring_home)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .stdout(Stdio::piped())
                .output()
                .expect("dbus-send (apt install dbus-bin)");
            String::from_utf8_lossy(&output.stdout)
                .contains("boolean true")
                .then_some(())
        });
    }
}

impl Drop for KeyringBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// Spawns a server that prints one line once ready (a display number, a bus address); its
/// messages go to `log`. Returns it and that line.
pub(crate) fn spawn_reporting(command: &mut Command, what: &str, log: &Path) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap_or_else(|error| panic!("start {what}: {error}"));
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(!line.trim().is_empty(), "{what} reported nothing");
    (child, line.trim().to_owned())
}
