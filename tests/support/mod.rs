//! A private Linux desktop for one end-to-end test: its own X display (Xvfb), its own D-Bus
//! session bus with a fresh, unlocked gnome-keyring, and a fresh HOME, so tests run side by
//! side without seeing each other (single-instance keys on the bus) or the developer's files.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The app's binary, built by Cargo for these tests.
pub const APP_BINARY: &str = env!("CARGO_BIN_EXE_okta-signout");
/// The app's identifier, which is also its deep-link scheme.
pub const IDENTIFIER: &str = "com.example.oktasignout";
/// The main window's title.
pub const WINDOW_TITLE: &str = "Okta Sign-Out";

/// Polls `probe` every 20 ms until it yields a value; panics naming `what` after `limit`.
/// A limit is a safety net against hangs, not a speed check.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where tests leave screenshots for people to look at: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

pub struct Desktop {
    home: tempfile::TempDir,
    display: String,
    bus_address: String,
    xvfb: Child,
    bus: Child,
}

impl Desktop {
    pub fn start() -> Self {
        let home = tempfile::Builder::new()
            .prefix("okta-signout-e2e-")
            .tempdir()
            .expect("temp HOME");
        let runtime_dir = home.path().join("runtime");
        std::fs::create_dir(&runtime_dir).unwrap();
        std::fs::set_permissions(
            &runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();

        let (xvfb, display) = spawn_reporting(
            Command::new("Xvfb").args(["-displayfd", "1", "-screen", "0", "1280x800x24"]),
            "Xvfb (apt install xvfb)",
        );
        let (bus, bus_address) = spawn_reporting(
            Command::new("dbus-daemon").args(["--session", "--nofork", "--print-address=1"]),
            "dbus-daemon",
        );
        let desktop = Self {
            home,
            display: format!(":{display}"),
            bus_address,
            xvfb,
            bus,
        };
        desktop.unlock_keyring();
        desktop
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// A command that runs inside this desktop: its display, bus and HOME, nothing else from
    /// the test's environment but PATH, the locale and what Cargo and rustup need.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_clear();
        for name in ["PATH", "LANG", "CARGO_TARGET_DIR", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let real_home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
        // rustup and Cargo find their homes through HOME unless told: keep them reachable.
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| real_home.join(".rustup"));
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| real_home.join(".cargo"));
        command
            .env("RUSTUP_HOME", rustup_home)
            .env("CARGO_HOME", cargo_home)
            .env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.home().join("runtime"))
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .env("NO_AT_BRIDGE", "1")
            .env("OKTA_SIGNOUT_LOG", "debug");
        command
    }

    /// Runs `program args…` here and returns its exit status, panicking after `limit`.
    pub fn run(&self, program: &str, args: &[&str], limit: Duration) -> ExitStatus {
        let mut child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("start {program}: {error}"));
        wait_for(&format!("{program} {args:?} to exit"), limit, || {
            child.try_wait().unwrap()
        })
    }

    /// Starts the app directly (no WebDriver).
    pub fn launch_app(&self) -> AppProcess {
        let child = self
            .command(APP_BINARY)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the app");
        AppProcess { child }
    }

    /// The app's log file (in its log directory under this desktop's HOME).
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(
            self.home()
                .join(".local/share")
                .join(IDENTIFIER)
                .join("logs/okta-signout.log"),
        )
        .unwrap_or_default()
    }

    /// Waits until the app's log has a line containing `needle`; returns that line.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        wait_for(&format!("a log line with {needle:?}"), limit, || {
            self.app_log()
                .lines()
                .find(|line| line.contains(needle))
                .map(str::to_owned)
        })
    }

    /// PIDs of the app's processes running in this desktop (tests run side by side).
    pub fn app_pids(&self) -> Vec<u32> {
        let binary = std::fs::canonicalize(APP_BINARY).unwrap();
        let home = format!("HOME={}", self.home().display());
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&binary)
                    && std::fs::read(format!("/proc/{pid}/environ"))
                        .map(|environ| {
                            environ
                                .split(|byte| *byte == 0)
                                .any(|entry| entry == home.as_bytes())
                        })
                        .unwrap_or(false)
            })
            .collect()
    }

    /// How many mapped windows carry the app's title.
    pub fn app_window_count(&self) -> usize {
        let output = self
            .command("xdotool")
            .args([
                "search",
                "--onlyvisible",
                "--name",
                &format!("^{WINDOW_TITLE}$"),
            ])
            .output()
            .expect("xdotool (apt install xdotool)");
        String::from_utf8_lossy(&output.stdout).lines().count()
    }

    /// Saves a PNG of the whole screen to `target/screenshots/<name>.png` once the screen
    /// shows more than a bare window (a mapped but unpainted window is one flat colour).
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        wait_for("a painted window", Duration::from_secs(30), || {
            let status = self
                .command("import")
                .args(["-window", "root"])
                .arg(&path)
                .status()
                .expect("import (apt install imagemagick)");
            assert!(status.success(), "screenshot failed: {status}");
            let colours = self
                .command("identify")
                .args(["-format", "%k"])
                .arg(&path)
                .output()
                .expect("identify (apt install imagemagick)");
            let colours: usize = String::from_utf8_lossy(&colours.stdout)
                .parse()
                .unwrap_or(0);
            (colours > 16).then_some(())
        });
        path
    }

    fn unlock_keyring(&self) {
        let mut daemon = self
            .command("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (apt install gnome-keyring)");
        daemon
            .stdin
            .take()
            .unwrap()
            .write_all(b"throw-away-keyring")
            .unwrap();
        assert!(
            daemon.wait().unwrap().success(),
            "gnome-keyring-daemon failed"
        );
        // A client that connects before the daemon owns the name activates a second daemon,
        // which corrupts the new keyring: wait for the owner first.
        wait_for("gnome-keyring on the bus", Duration::from_secs(10), || {
            let output = self
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout)
                .contains("boolean true")
                .then_some(())
        });
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // gnome-keyring ends with its bus.
        let _ = self.bus.kill();
        let _ = self.xvfb.kill();
        let _ = self.bus.wait();
        let _ = self.xvfb.wait();
    }
}

/// Spawns a server that prints one line once ready (a display number, a bus address).
fn spawn_reporting(command: &mut Command, what: &str) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("start {what}: {error}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.trim().is_empty(), "{what} reported nothing");
    (child, line.trim().to_owned())
}

/// Sends SIGTERM, so the process can clean up (tauri-driver stops WebKitWebDriver then).
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running copy of the app, stopped when dropped.
pub struct AppProcess {
    child: Child,
}

impl AppProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// tauri-driver (→ WebKitWebDriver → the app) with a WebDriver session on the app's window.
pub struct Driver {
    process: Child,
    pub client: fantoccini::Client,
}

impl Driver {
    pub async fn start(desktop: &Desktop) -> Self {
        let port = free_port();
        let mut process = desktop
            .command("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &free_port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tauri-driver (scripts/setup installs it)");
        let address = format!("127.0.0.1:{port}");
        wait_for("tauri-driver to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(&address).ok()
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": APP_BINARY }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://{address}"))
            .await
        {
            Ok(client) => client,
            Err(error) => {
                terminate(&mut process);
                panic!("WebDriver session: {error}");
            }
        };
        Self { process, client }
    }

    /// The text of the first element matching `css`, once it is displayed.
    pub async fn text(&self, css: &str) -> String {
        let element = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css}: {error}"));
        element.text().await.unwrap()
    }

    /// Saves a PNG of the app's window to `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        terminate(&mut self.process);
    }
}
