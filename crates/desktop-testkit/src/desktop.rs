//! The private desktop: an X display (Xvfb), a [`KeyringBus`], a fresh HOME, and what a test
//! or bench asks of it about the app: its log, its processes, its windows, its link handler.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::bus::{spawn_reporting, KeyringBus};
use crate::{terminate, wait_for};

/// The app's identifier, which is also its deep-link scheme (tauri.conf.json).
pub const IDENTIFIER: &str = "com.example.oktasignout";
/// The title of the app's main window (tauri.conf.json).
pub const WINDOW_TITLE: &str = "Okta Sign-Out";

/// The app's log file, under its data directory (src-tauri/src/logging.rs).
const APP_LOG: &str = "logs/okta-signout.log";
/// Where the display server's and the bus's messages go, in the desktop's HOME.
const XVFB_LOG: &str = "xvfb.log";
const BUS_LOG: &str = "dbus-daemon.log";
/// What the environment of a command here keeps from the caller's: the path, the locale, and
/// what Cargo and Rust's backtraces read.
const INHERITED: &[&str] = &["PATH", "LANG", "CARGO_TARGET_DIR", "RUST_BACKTRACE"];

/// A private desktop running `app`, the program under test.
pub struct Desktop {
    home: tempfile::TempDir,
    display: String,
    /// Xvfb's framebuffer file, when the desktop was started with one.
    framebuffer: Option<PathBuf>,
    /// Set for every command here on top of the desktop's own environment.
    env: Vec<(String, OsString)>,
    app: PathBuf,
    xvfb: Child,
    bus: KeyringBus,
}

impl Desktop {
    /// A desktop for `app`.
    pub fn start(app: impl Into<PathBuf>) -> Self {
        Self::start_with(app.into(), false)
    }

    /// A desktop for `app` whose screen can be read from a file ([`Desktop::framebuffer`]),
    /// without asking the X server.
    pub fn with_framebuffer(app: impl Into<PathBuf>) -> Self {
        Self::start_with(app.into(), true)
    }

    fn start_with(app: PathBuf, framebuffer: bool) -> Self {
        let home = tempfile::Builder::new()
            .prefix("okta-signout-desktop-")
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
        let mut xvfb = Command::new("Xvfb");
        xvfb.args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-noreset"])
            .args(["-nolisten", "tcp"]);
        let framebuffer = framebuffer.then(|| {
            let dir = home.path().join("framebuffer");
            std::fs::create_dir(&dir).unwrap();
            // -br: a black root window, so that an empty screen is one flat colour.
            xvfb.arg("-br").arg("-fbdir").arg(&dir);
            dir.join("Xvfb_screen0")
        });
        let (xvfb, display) = spawn_reporting(
            &mut xvfb,
            "Xvfb (apt install xvfb)",
            &home.path().join(XVFB_LOG),
        );
        let display = format!(":{display}");
        let bus = KeyringBus::start(
            home.path(),
            &home.path().join(BUS_LOG),
            &[
                ("XDG_RUNTIME_DIR", &runtime_dir),
                ("DISPLAY", Path::new(&display)),
            ],
        );
        Self {
            home,
            display,
            framebuffer,
            env: Vec::new(),
            app,
            xvfb,
            bus,
        }
    }

    /// The desktop's HOME.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The address of this desktop's session bus.
    pub fn bus_address(&self) -> &str {
        self.bus.address()
    }

    /// Xvfb's framebuffer file (XWD), for a desktop started [`Desktop::with_framebuffer`].
    pub fn framebuffer(&self) -> Option<&Path> {
        self.framebuffer.as_deref()
    }

    /// The program under test.
    pub fn app(&self) -> &Path {
        &self.app
    }

    /// Runs the app from a directory of its own, without the programs installed beside it,
    /// as an AppImage or a copy of the app alone is installed.
    pub fn install_app_alone(&mut self) {
        let directory = self.home().join("app");
        std::fs::create_dir(&directory).unwrap();
        let binary = directory.join(self.app.file_name().unwrap());
        // A hard link costs nothing; another file system needs a copy.
        if std::fs::hard_link(&self.app, &binary).is_err() {
            std::fs::copy(&self.app, &binary).unwrap();
        }
        self.app = binary;
    }

    /// A command that runs inside this desktop: its display, bus and HOME, nothing else from
    /// the caller's environment but the path, the locale and what rustup and Cargo need.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env_clear();
        for name in INHERITED {
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
            .env("DBUS_SESSION_BUS_ADDRESS", self.bus.address())
            .env("NO_AT_BRIDGE", "1")
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Sets `name` for every command started here from now on (the app started by WebDriver,
    /// and what it starts, included).
    pub fn set_env(&mut self, name: &str, value: impl Into<OsString>) {
        self.env.retain(|(existing, _)| existing != name);
        self.env.push((name.to_owned(), value.into()));
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

    /// Starts the app directly (no WebDriver), with `args`.
    pub fn launch_app(&self, args: &[&str]) -> Process {
        let child = self
            .command(&self.app)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the app");
        Process { child }
    }

    /// The app's log file (in its data directory under this desktop's HOME).
    pub fn app_log(&self) -> String {
        std::fs::read_to_string(
            self.home()
                .join(".local/share")
                .join(IDENTIFIER)
                .join(APP_LOG),
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

    /// The app's log and the display server's messages, for a failure report.
    pub fn diagnostics(&self) -> String {
        let xvfb = std::fs::read_to_string(self.home().join(XVFB_LOG)).unwrap_or_default();
        format!("app log:\n{}\nXvfb:\n{xvfb}", self.app_log())
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

    /// PIDs of the app's processes running in this desktop.
    pub fn app_pids(&self) -> Vec<u32> {
        let binary = std::fs::canonicalize(&self.app).unwrap();
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
    pub fn processes(&self) -> Vec<u32> {
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

    /// Saves a PNG of the whole screen to `path` once the screen shows more than a bare window
    /// (a mapped but unpainted window is one flat colour).
    pub fn screenshot(&self, path: &Path) {
        wait_for("a painted window", Duration::from_secs(30), || {
            let status = self
                .command("import")
                .args(["-window", "root"])
                .arg(path)
                .status()
                .expect("import (apt install imagemagick)");
            assert!(status.success(), "screenshot failed: {status}");
            let colours = self
                .command("identify")
                .args(["-format", "%k"])
                .arg(path)
                .output()
                .expect("identify (apt install imagemagick)");
            let colours: usize = String::from_utf8_lossy(&colours.stdout)
                .parse()
                .unwrap_or(0);
            (colours > 16).then_some(())
        });
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // What the desktop started by itself (a browser, an app opened through a deep link)
        // is nobody's child here: end it by PID.
        for pid in self.processes() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// A program running in the desktop, stopped when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_s_names_are_those_of_its_configuration() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../../tauri.conf.json")).unwrap();
        assert_eq!(config["identifier"], IDENTIFIER);
        assert_eq!(config["app"]["windows"][0]["title"], WINDOW_TITLE);
    }
}
