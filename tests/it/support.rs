//! What the app's end-to-end tests share beyond desktop-testkit: the app's binaries, a
//! desktop for the app, the scripted browser installed as the desktop's browser, the app's
//! keychain entries, and where screenshots go.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use desktop_testkit::{wait_for, Desktop, Driver, IDENTIFIER};

/// The app's binary, built by Cargo for these tests.
pub(crate) const APP_BINARY: &str = env!("CARGO_BIN_EXE_okta-signout");
/// The program the app's desktop entry runs for a link (it hands the link to the app).
pub(crate) const LINK_PROGRAM: &str = env!("CARGO_BIN_EXE_okta-signout-link");
/// The scripted browser's desktop file ID.
const BROWSER_ENTRY: &str = "mock-okta-browser.desktop";

/// An Okta org for the tests that sign nobody in: the app starts configured (it reads the
/// discovery document at the first sign-in), and nothing answers there.
const UNREACHED_ISSUER: &str = "https://127.0.0.1:9/oauth2/default";

/// A private desktop running the app, which logs at debug level, configured for an Okta org
/// that it never reaches (a test that signs in configures its own mock-okta).
pub(crate) fn app_desktop() -> Desktop {
    let mut desktop = unconfigured_desktop(APP_BINARY);
    desktop.set_env("OKTA_SIGNOUT_ISSUER", UNREACHED_ISSUER);
    desktop.set_env("OKTA_SIGNOUT_CLIENT_ID", "0oa-never-signs-in");
    desktop
}

/// A private desktop running `app` with no Okta org configured, logging at debug level.
pub(crate) fn unconfigured_desktop(app: impl Into<PathBuf>) -> Desktop {
    let mut desktop = Desktop::start(app);
    desktop.set_env("OKTA_SIGNOUT_LOG", "debug");
    desktop
}

/// The window of an app with no Okta org configured (and no demo mode built in) says what to
/// configure: the file it reads in `desktop`, the two keys with an example, and the redirect
/// URIs to register in Okta; and the app started no IdP of its own (it listens on no port).
/// Leaves screenshot `name`.
pub(crate) async fn assert_says_what_to_configure(desktop: &Desktop, driver: &Driver, name: &str) {
    assert_eq!(
        driver.text("#screen-not-configured h2").await,
        "Not configured"
    );
    let config_file = desktop
        .home()
        .join(".config")
        .join(IDENTIFIER)
        .join("config.toml");
    assert_eq!(
        driver.text("#setup-config-file").await,
        config_file.display().to_string()
    );
    let example = driver.text("#setup-example").await;
    assert!(
        example.contains("issuer = \"https://") && example.contains("client_id = \""),
        "{example}"
    );
    assert_eq!(
        driver.text("#setup-redirect-uri").await,
        format!("{IDENTIFIER}:/callback")
    );
    assert_eq!(
        driver.text("#setup-post-logout-redirect-uri").await,
        format!("{IDENTIFIER}:/logout/callback")
    );
    assert!(
        !driver
            .execute("return !document.getElementById('demo-banner').hidden;")
            .await
            .as_bool()
            .unwrap(),
        "a demo banner is shown"
    );
    driver.screenshot(&screenshot(name)).await;
    let pids = desktop.app_pids();
    assert!(!pids.is_empty(), "the app is not running");
    for pid in pids {
        // WebKitWebDriver has WebKit serve its automation on this port, in the app's process.
        let automation = inspector_server_port(pid);
        let ports: Vec<u16> = listening_ports(pid)
            .into_iter()
            .filter(|port| Some(*port) != automation)
            .collect();
        assert_eq!(ports, [0u16; 0], "the app (process {pid}) listens");
    }
}

/// The port of `WEBKIT_INSPECTOR_SERVER` (`127.0.0.1:PORT`) in process `pid`'s environment.
fn inspector_server_port(pid: u32) -> Option<u16> {
    let environment = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let address = environment
        .split(|byte| *byte == 0)
        .find_map(|entry| entry.strip_prefix(b"WEBKIT_INSPECTOR_SERVER="))?;
    std::str::from_utf8(address)
        .ok()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()
}

/// The TCP ports process `pid` listens on: its sockets (`/proc/PID/fd`) found among the
/// kernel's listening sockets.
fn listening_ports(pid: u32) -> Vec<u16> {
    let sockets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter_map(|target| {
                    let target = target.to_string_lossy();
                    Some(
                        target
                            .strip_prefix("socket:[")?
                            .strip_suffix(']')?
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ["tcp", "tcp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(format!("/proc/{pid}/net/{table}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // sl, local address, remote address, state (0A: listening), …, inode.
                    let listening = fields.get(3) == Some(&"0A");
                    let inode = fields.get(9)?;
                    let port = fields.get(1)?.rsplit(':').next()?;
                    (listening && sockets.iter().any(|socket| socket == inode))
                        .then(|| u16::from_str_radix(port, 16).ok())
                        .flatten()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Where tests leave screenshot `name` for people to look at: `target/screenshots/`.
pub(crate) fn screenshot(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir.join(format!("{name}.png"))
}

/// The scripted browser, `mock-okta-browser` of crates/mock-okta. Cargo builds another
/// package's binaries only for that package's tests, so it cannot hand the path to these tests:
/// `cargo test --workspace` (what scripts/test runs) builds it before any test runs, into the
/// directory that holds the app's binary.
fn browser_agent() -> PathBuf {
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
pub(crate) enum HandOff {
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

/// The scripted browser installed on a desktop, and the app's keychain entries there.
pub(crate) trait AppDesktop {
    /// Installs the scripted browser as this desktop's web browser, the way a browser is: the
    /// default handler of `http` and `https` URLs (a desktop entry made the default with
    /// `xdg-mime`) and `$BROWSER`. It trusts `ca_certificate_pem`, signs in as mock-okta's
    /// demo user and hands the redirect to the app back to the desktop with `hand_off`.
    /// Returns the CA certificate's file, for the app to trust too.
    fn install_browser(&mut self, ca_certificate_pem: &str, hand_off: HandOff) -> PathBuf;

    /// Makes the browser wait, before it loads anything, until `release_browser`.
    fn hold_browser(&mut self);

    /// Lets a held browser go on.
    fn release_browser(&self);

    /// Makes the browser hold again after a release, until the next one.
    fn hold_browser_again(&self);

    /// The scripted browser's log (URLs without their query).
    fn browser_log(&self) -> String;

    /// Waits until the browser's log has a line containing `needle`; returns that line.
    fn wait_for_browser_log(&self, needle: &str, limit: Duration) -> String;

    /// The app's session as the Secret Service holds it (JSON), if any.
    fn stored_session(&self) -> Option<String>;
}

impl AppDesktop for Desktop {
    fn install_browser(&mut self, ca_certificate_pem: &str, hand_off: HandOff) -> PathBuf {
        let agent = browser_agent();
        let ca_file = self.home().join("mock-okta-ca.pem");
        std::fs::write(&ca_file, ca_certificate_pem).unwrap();
        let applications = self.home().join(".local/share/applications");
        std::fs::create_dir_all(&applications).unwrap();
        // The path has no characters that need quoting (Debian 12's xdg-open cannot run quoted
        // Exec lines; see src-tauri/src/linux/scheme_handler.rs).
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

    fn hold_browser(&mut self) {
        let go = self.home().join("browser-go");
        self.set_env("MOCK_OKTA_BROWSER_HOLD_UNTIL", go);
    }

    fn release_browser(&self) {
        std::fs::write(self.home().join("browser-go"), "go").unwrap();
    }

    fn hold_browser_again(&self) {
        std::fs::remove_file(self.home().join("browser-go")).unwrap();
    }

    fn browser_log(&self) -> String {
        std::fs::read_to_string(self.home().join(".mock-okta-browser/browser.log"))
            .unwrap_or_default()
    }

    fn wait_for_browser_log(&self, needle: &str, limit: Duration) -> String {
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

    fn stored_session(&self) -> Option<String> {
        let lookup = |username: &str| {
            let output = self
                .command("secret-tool")
                .args(["lookup", "service", IDENTIFIER, "username", username])
                .stdin(Stdio::null())
                .output()
                .expect("secret-tool (apt install libsecret-tools)");
            let secret = String::from_utf8(output.stdout).unwrap();
            (output.status.success() && !secret.is_empty()).then_some(secret)
        };
        // A long value is split into parts that a manifest in the entry names (README:
        // "Signing out"). A refresh meanwhile writes the other generation's parts and deletes
        // these: then the manifest has changed, and it is read again, as the app's reads do.
        loop {
            let session = lookup("session")?;
            let manifest: serde_json::Value = serde_json::from_str(&session).ok()?;
            let (Some(parts), Some(generation)) =
                (manifest["parts"].as_u64(), manifest["generation"].as_u64())
            else {
                return Some(session);
            };
            let value: Option<String> = (1..=parts)
                .map(|index| lookup(&format!("session.{generation}.{index}")))
                .collect();
            if value.is_some() || lookup("session").as_ref() == Some(&session) {
                return value;
            }
        }
    }
}
