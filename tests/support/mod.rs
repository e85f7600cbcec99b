//! A private Linux desktop for one end-to-end test: its own X display (Xvfb), its own D-Bus
//! session bus with a fresh, unlocked gnome-keyring, and a fresh HOME, so tests run side by
//! side without seeing each other (single-instance keys on the bus) or the developer's files.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The app's binary, built by Cargo for these tests.
pub const APP_BINARY: &str = env!("CARGO_BIN_EXE_okta-signout");
/// The program the app's desktop entry runs for a link (it hands the link to the app).
pub const LINK_PROGRAM: &str = env!("CARGO_BIN_EXE_okta-signout-link");
/// The app's identifier, which is also its deep-link scheme.
pub const IDENTIFIER: &str = "com.example.oktasignout";
/// The main window's title.
pub const WINDOW_TITLE: &str = "Okta Sign-Out";
/// Where the display server's messages go, in the desktop's HOME.
const XVFB_LOG: &str = "xvfb.log";
/// The scripted browser's desktop file ID.
const BROWSER_ENTRY: &str = "mock-okta-browser.desktop";
/// How long the UI may take to show what a test waits for: a safety net, not a speed check.
const UI_LIMIT: Duration = Duration::from_secs(30);

/// The scripted browser, `mock-okta-browser` of crates/mock-okta. Cargo builds another
/// package's binaries only for that package's tests, so it cannot hand the path to these tests:
/// `cargo test --workspace` (what scripts/test runs) builds it before any test runs, into the
/// directory that holds the app's binary.
pub fn browser_agent() -> PathBuf {
    let agent = Path::new(APP_BINARY).with_file_name("mock-okta-browser");
    assert!(
        agent.is_file(),
        "{} is missing: build it with `cargo build -p mock-okta --bin mock-okta-browser` \
         (scripts/test builds it through `cargo test --workspace`)",
        agent.display()
    );
    agent
}

/// How the scripted browser hands a redirect to the app back to the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOff {
    /// `gio open <url>`, like Firefox.
    Gio,
    /// `xdg-open <url>`, like Chromium outside GNOME.
    XdgOpen,
    /// Never: the person closed the tab.
    Never,
}

impl HandOff {
    /// The browser's `MOCK_OKTA_BROWSER_HAND_OFF` value.
    fn value(self) -> &'static str {
        match self {
            Self::Gio => "gio",
            Self::XdgOpen => "xdg-open",
            Self::Never => "none",
        }
    }
}

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

/// Free TCP ports on 127.0.0.1, all different (each is held until all are picked).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    listeners.map(|listener| listener.local_addr().unwrap().port())
}

pub struct Desktop {
    home: tempfile::TempDir,
    display: String,
    bus_address: String,
    /// Set for every command here on top of the desktop's own environment.
    env: Vec<(String, OsString)>,
    xvfb: Child,
    bus: Child,
    /// The app binary this desktop runs (see [`Desktop::install_app_alone`]).
    app_binary: PathBuf,
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

        // -noreset: by default the server resets when its last client leaves, and that reset
        // drops a client still connecting (xorg/xserver#1102): an app restarting at that
        // moment fails with "Failed to initialize GTK".
        let (xvfb, display) = spawn_reporting(
            Command::new("Xvfb").args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-noreset",
            ]),
            "Xvfb (apt install xvfb)",
            &home.path().join(XVFB_LOG),
        );
        let (bus, bus_address) = spawn_reporting(
            Command::new("dbus-daemon").args(["--session", "--nofork", "--print-address=1"]),
            "dbus-daemon",
            &home.path().join("dbus-daemon.log"),
        );
        let desktop = Self {
            home,
            display: format!(":{display}"),
            bus_address,
            env: Vec::new(),
            app_binary: PathBuf::from(APP_BINARY),
            xvfb,
            bus,
        };
        desktop.unlock_keyring();
        desktop
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs the app from a directory of its own, without the link program beside it, as an
    /// AppImage or a copy of the app alone is installed. Its desktop entry then runs the app
    /// itself: a link arrives through a second instance of the app, which forwards it to the
    /// running one with single-instance.
    pub fn install_app_alone(&mut self) {
        let directory = self.home().join("app");
        std::fs::create_dir(&directory).unwrap();
        let binary = directory.join(Path::new(APP_BINARY).file_name().unwrap());
        // A hard link costs nothing; another file system needs a copy.
        if std::fs::hard_link(APP_BINARY, &binary).is_err() {
            std::fs::copy(APP_BINARY, &binary).unwrap();
        }
        self.app_binary = binary;
    }

    /// The app binary this desktop runs.
    pub fn app_binary(&self) -> &Path {
        &self.app_binary
    }

    /// The program that the app's desktop entry for its links runs (its `Exec`).
    pub fn link_entry_program(&self) -> PathBuf {
        let entry = self
            .home()
            .join(".local/share/applications")
            .join(format!("{IDENTIFIER}-handler.desktop"));
        let entry = std::fs::read_to_string(entry).expect("the app's desktop entry");
        entry
            .lines()
            .find_map(|line| line.strip_prefix("Exec="))
            .and_then(|exec| exec.strip_suffix(" %u"))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no Exec line running one program with the URL:\n{entry}"))
    }

    /// The address of this desktop's session bus.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
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
            .env("OKTA_SIGNOUT_LOG", "debug")
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Sets `name` for every command started here from now on (the app started by WebDriver,
    /// and what it starts, included).
    pub fn set_env(&mut self, name: &str, value: impl Into<OsString>) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.into()));
    }

    /// Installs the scripted browser as this desktop's web browser, the way a browser is: the
    /// default handler of `http` and `https` URLs (a desktop entry made the default with
    /// `xdg-mime`) and `$BROWSER`. It trusts `ca_certificate_pem`, signs in as mock-okta's
    /// demo user and hands the redirect to the app back to the desktop with `hand_off`.
    /// Returns the CA certificate's file, for the app to trust too.
    pub fn install_browser(&mut self, ca_certificate_pem: &str, hand_off: HandOff) -> PathBuf {
        let agent = browser_agent();
        let ca_file = self.home().join("mock-okta-ca.pem");
        std::fs::write(&ca_file, ca_certificate_pem).unwrap();
        let applications = self.home().join(".local/share/applications");
        std::fs::create_dir_all(&applications).unwrap();
        // The path has no characters that need quoting (Debian 12's xdg-open cannot run quoted
        // Exec lines; see scheme_handler.rs).
        std::fs::write(
            applications.join(BROWSER_ENTRY),
            format!(
                "[Desktop Entry]\nType=Application\nName=Mock Okta Browser\nExec={} %u\n\
                 Terminal=false\nNoDisplay=true\n\
                 MimeType=x-scheme-handler/http;x-scheme-handler/https;\n",
                agent.display()
            ),
        )
        .unwrap();
        let status = self.run(
            "xdg-mime",
            &[
                "default",
                BROWSER_ENTRY,
                "x-scheme-handler/http",
                "x-scheme-handler/https",
            ],
            Duration::from_secs(30),
        );
        assert!(status.success(), "xdg-mime default failed: {status}");
        self.set_env("BROWSER", &agent);
        self.set_env("MOCK_OKTA_BROWSER_CA_FILE", &ca_file);
        self.set_env("MOCK_OKTA_BROWSER_USERNAME", mock_okta::DEMO_USERNAME);
        self.set_env("MOCK_OKTA_BROWSER_PASSWORD", mock_okta::DEMO_PASSWORD);
        self.set_env("MOCK_OKTA_BROWSER_HAND_OFF", hand_off.value());
        ca_file
    }

    /// Makes the browser wait, before it loads anything, until [`Desktop::release_browser`].
    pub fn hold_browser(&mut self) {
        let go = self.browser_go_file();
        self.set_env("MOCK_OKTA_BROWSER_HOLD_UNTIL", go);
    }

    /// Lets a held browser go on.
    pub fn release_browser(&self) {
        std::fs::write(self.browser_go_file(), "go").unwrap();
    }

    fn browser_go_file(&self) -> PathBuf {
        self.home().join("browser-go")
    }

    /// The scripted browser's log (URLs without their query).
    pub fn browser_log(&self) -> String {
        std::fs::read_to_string(self.home().join(".mock-okta-browser/browser.log"))
            .unwrap_or_default()
    }

    /// Waits until the browser's log has a line containing `needle`; returns that line.
    pub fn wait_for_browser_log(&self, needle: &str, limit: Duration) -> String {
        wait_for(
            &format!("a browser log line with {needle:?}"),
            limit,
            || {
                self.browser_log()
                    .lines()
                    .find(|line| line.contains(needle))
                    .map(str::to_owned)
            },
        )
    }

    /// The app's session as the Secret Service holds it (JSON), if any.
    pub fn stored_session(&self) -> Option<String> {
        let output = self
            .command("secret-tool")
            .args(["lookup", "service", IDENTIFIER, "username", "session"])
            .stdin(Stdio::null())
            .output()
            .expect("secret-tool (apt install libsecret-tools)");
        let secret = String::from_utf8(output.stdout).unwrap();
        (output.status.success() && !secret.is_empty()).then_some(secret)
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
    pub fn launch_app(&self, args: &[&str]) -> AppProcess {
        let child = self
            .command(&self.app_binary)
            .args(args)
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

    /// The app's log and the display server's messages, for a failure report.
    fn diagnostics(&self) -> String {
        let xvfb = std::fs::read_to_string(self.home().join(XVFB_LOG)).unwrap_or_default();
        format!("app log:\n{}\nXvfb:\n{xvfb}", self.app_log())
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
        let binary = std::fs::canonicalize(&self.app_binary).unwrap();
        // Cargo replaces target/debug/okta-signout whenever another build of it is linked there
        // (scripts/run's `cargo run` builds without the tests' dev-dependency features); a
        // process started from the replaced file then shows `<path> (deleted)` as its exe.
        let replaced = PathBuf::from(format!("{} (deleted)", binary.display()));
        self.processes()
            .into_iter()
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|exe| exe == binary || exe == replaced)
            })
            .collect()
    }

    /// The names of the threads of this desktop's processes named `program` (as the kernel
    /// keeps it: the first 15 bytes).
    pub fn thread_names(&self, program: &str) -> Vec<String> {
        let read = |path: String| std::fs::read_to_string(path).unwrap_or_default();
        self.processes()
            .into_iter()
            .filter(|pid| read(format!("/proc/{pid}/comm")).trim_end() == program)
            .flat_map(|pid| {
                std::fs::read_dir(format!("/proc/{pid}/task"))
                    .into_iter()
                    .flatten()
                    .filter_map(|task| task.ok())
                    .map(|task| read(format!("{}/comm", task.path().display())))
                    .map(|name| name.trim_end().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// PIDs of every process running in this desktop (its HOME is in their environment).
    fn processes(&self) -> Vec<u32> {
        let home = format!("HOME={}", self.home().display());
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
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
        // xdotool dies of an X error (BadWindow) when a window vanishes while it searches, as
        // those of a second instance that just exited do while the X server reaps them; it then
        // prints no window at all. Only a quiet search (exit 1 means "none found") counts.
        wait_for("a clean xdotool search", Duration::from_secs(10), || {
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
            output
                .stderr
                .is_empty()
                .then(|| String::from_utf8_lossy(&output.stdout).lines().count())
        })
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
        // What the desktop started by itself (the browser, an app opened through a deep link)
        // is nobody's child in the test: end it here, by PID.
        for pid in self.processes() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        // gnome-keyring ends with its bus.
        let _ = self.bus.kill();
        let _ = self.xvfb.kill();
        let _ = self.bus.wait();
        let _ = self.xvfb.wait();
    }
}

/// Spawns a server that prints one line once ready (a display number, a bus address); its
/// messages go to `log`.
fn spawn_reporting(command: &mut Command, what: &str, log: &Path) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
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
        let [port, native_port] = free_ports();
        let mut process = desktop
            .command("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tauri-driver (scripts/setup installs it)");
        // tauri-driver listens at once and starts WebKitWebDriver beside it; a request that
        // comes before WebKitWebDriver listens gets its connection closed without an answer
        // ("webdriver server did not respond"), so wait for both.
        wait_for(
            "tauri-driver and WebKitWebDriver to listen",
            Duration::from_secs(20),
            || {
                [port, native_port]
                    .iter()
                    .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok())
                    .then_some(())
            },
        );
        let address = format!("127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": desktop.app_binary }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        // WebKitWebDriver waits forever for an app that died while starting.
        let session = tokio::time::timeout(
            Duration::from_secs(60),
            fantoccini::ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://{address}")),
        )
        .await;
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                terminate(&mut process);
                panic!("WebDriver session: {error}\n{}", desktop.diagnostics());
            }
            Err(_) => {
                terminate(&mut process);
                panic!("no WebDriver session after 60 s\n{}", desktop.diagnostics());
            }
        };
        Self { process, client }
    }

    /// The text of the first element matching `css`, once it is displayed. (The window shows
    /// a loading screen until the app answered; WebDriver reads hidden text as "".)
    pub async fn text(&self, css: &str) -> String {
        self.displayed(css).await.text().await.unwrap()
    }

    /// Clicks the first element matching `css` once it is displayed and enabled.
    pub async fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            let element = self.displayed(css).await;
            if element.is_enabled().await.unwrap_or(false) {
                element.click().await.unwrap();
                return;
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for {css} to be enabled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn displayed(&self, css: &str) -> fantoccini::elements::Element {
        let start = Instant::now();
        loop {
            if let Ok(element) = self.client.find(fantoccini::Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for {css} to be displayed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs `script` in the window and returns what it returns.
    pub async fn execute(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    /// The session state the window shows (`document.documentElement.dataset.session`).
    pub async fn session(&self) -> String {
        self.execute("return document.documentElement.dataset.session || '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the window shows the session state `state`.
    pub async fn wait_for_session(&self, state: &str) {
        let start = Instant::now();
        loop {
            let shown = self.session().await;
            if shown == state {
                return;
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for the window to show {state:?}: it \
                 shows {shown:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Quits the app as a person does, by closing its window (the app ends with its last
    /// window), then ends the WebDriver session and stops the driver. (Ending the session alone
    /// does not reliably end the app: WebKitWebDriver then dies and leaves it running.)
    pub async fn quit(self) {
        self.client
            .close_window()
            .await
            .expect("close the app's window");
        let _ = self.client.clone().close().await;
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
