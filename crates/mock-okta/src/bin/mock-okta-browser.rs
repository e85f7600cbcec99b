//! `mock-okta-browser`: a person's web browser, scripted, for desktops under test. Install it
//! the way a browser is (a `.desktop` entry that is the default handler of
//! `x-scheme-handler/http` and `https`, and `$BROWSER`), and the app's "open in the browser"
//! really goes through `xdg-open`.
//!
//! Each run opens one URL like a person would: it loads mock-okta's pages, fills in the sign-in
//! form, follows interstitials and, at the redirect to an app's private-use scheme, hands that
//! URL to the desktop as Linux browsers do (`gio open` like Firefox, plain `xdg-open` like
//! Chromium outside GNOME). Its profile, `$HOME/.mock-okta-browser/`, keeps the cookie jar
//! between runs (so the Okta session lives on, as in a browser that stays open) and a log of
//! what it did, with URLs shown without their query (never a code or a token).

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mock_okta::browser::{without_query, Browser, Landing};
use url::Url;

/// The profile directory's name in `$HOME`.
const PROFILE_DIR: &str = ".mock-okta-browser";
/// The cookie jar in the profile.
const COOKIES_FILE: &str = "cookies.json";
/// The log in the profile.
const LOG_FILE: &str = "browser.log";
/// The history in the profile: every URL it was asked to open and every app URL it handed to
/// the desktop, whole, one per line, as a real browser keeps them.
const HISTORY_FILE: &str = "history";

/// A scripted person's browser for mock-okta: opens URL, signs in, and hands the redirect to
/// the app back to the desktop.
#[derive(Debug, Parser)]
#[command(name = "mock-okta-browser", version)]
struct Cli {
    /// The URL to open (a desktop entry's `%u`).
    url: Url,
    /// The CA certificate (PEM) that signs mock-okta's HTTPS certificate.
    #[arg(long, env = "MOCK_OKTA_BROWSER_CA_FILE", value_name = "PEM")]
    ca_file: PathBuf,
    /// What the person types into a sign-in form as username; without one, a sign-in form is
    /// where the browser stops.
    #[arg(long, env = "MOCK_OKTA_BROWSER_USERNAME", requires = "password")]
    username: Option<String>,
    /// What the person types into a sign-in form as password.
    #[arg(long, env = "MOCK_OKTA_BROWSER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// How a redirect to an app's scheme goes back to the desktop.
    #[arg(long, env = "MOCK_OKTA_BROWSER_HAND_OFF", value_enum, default_value_t = HandOff::Gio)]
    hand_off: HandOff,
    /// Wait until this file exists before loading anything (the person has not looked at the
    /// browser yet); the wait ends without loading if `$HOME` disappears.
    #[arg(long, env = "MOCK_OKTA_BROWSER_HOLD_UNTIL", value_name = "PATH")]
    hold_until: Option<PathBuf>,
}

/// How the browser gives an app's URL to the desktop.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HandOff {
    /// `gio open <url>`, as Firefox and GNOME do.
    Gio,
    /// `xdg-open <url>`, as Chromium does outside GNOME.
    XdgOpen,
    /// Never: the person closed the tab, and the app waits in vain.
    None,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        eprintln!("mock-okta-browser: HOME is not set");
        return ExitCode::FAILURE;
    };
    let profile = home.join(PROFILE_DIR);
    if let Err(error) = start_log(&profile) {
        eprintln!(
            "mock-okta-browser: cannot write its log in {}: {error}",
            profile.display()
        );
        return ExitCode::FAILURE;
    }
    tracing::info!(url = %without_query(&cli.url), "asked to open");
    if let Err(error) = remember(&profile, &cli.url) {
        eprintln!("mock-okta-browser: cannot write its history: {error}");
        return ExitCode::FAILURE;
    }
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
        .and_then(|runtime| runtime.block_on(run(&cli, &home, &profile)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "failed");
            ExitCode::FAILURE
        }
    }
}

fn start_log(profile: &Path) -> std::io::Result<()> {
    fs::create_dir_all(profile)?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(profile.join(LOG_FILE))?;
    tracing_subscriber::fmt()
        .with_env_filter("mock_okta=debug,mock_okta_browser=debug")
        .with_writer(Mutex::new(log))
        .with_ansi(false)
        .init();
    Ok(())
}

async fn run(cli: &Cli, home: &Path, profile: &Path) -> Result<(), String> {
    if let Some(go) = &cli.hold_until {
        tracing::info!(until = %go.display(), "holding");
        hold_until(go, home).await?;
        tracing::info!("released");
    }
    let ca = fs::read_to_string(&cli.ca_file)
        .map_err(|error| format!("cannot read {}: {error}", cli.ca_file.display()))?;
    let mut browser = Browser::new(&ca).map_err(|error| error.to_string())?;
    if let (Some(username), Some(password)) = (&cli.username, &cli.password) {
        browser.set_credentials(username, password);
    }
    let cookies = profile.join(COOKIES_FILE);
    match File::open(&cookies) {
        Ok(file) => browser
            .load_cookies(BufReader::new(file))
            .map_err(|error| error.to_string())?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(format!("cannot read {}: {error}", cookies.display())),
    }
    let landing = browser.open(cli.url.clone()).await;
    // Whatever happened, the cookies the pages set stay, as in a real browser.
    save_cookies(&browser, &cookies)?;
    match landing.map_err(|error| error.to_string())? {
        Landing::AppRedirect(url) => {
            remember(profile, &url)
                .map_err(|error| format!("cannot write its history: {error}"))?;
            hand_off(cli.hand_off, &url)
        }
        Landing::Page { status, .. } => {
            tracing::info!(status, "stopped at a page");
            Ok(())
        }
    }
}

/// Adds `url` to the history.
fn remember(profile: &Path, url: &Url) -> std::io::Result<()> {
    let mut history = OpenOptions::new()
        .create(true)
        .append(true)
        .open(profile.join(HISTORY_FILE))?;
    writeln!(history, "{url}")
}

/// Waits for `go` to exist; gives up when `home` is gone (the desktop was torn down).
async fn hold_until(go: &Path, home: &Path) -> Result<(), String> {
    while !go.exists() {
        if !home.exists() {
            return Err(format!("{} disappeared while holding", home.display()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Writes the jar next to its final name first, so a reader never sees half a jar.
fn save_cookies(browser: &Browser, path: &Path) -> Result<(), String> {
    let partial = path.with_extension("json.partial");
    let mut file = File::create(&partial)
        .map_err(|error| format!("cannot write {}: {error}", partial.display()))?;
    browser
        .save_cookies(&mut file)
        .map_err(|error| error.to_string())?;
    fs::rename(&partial, path).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn hand_off(how: HandOff, url: &Url) -> Result<(), String> {
    let shown = without_query(url);
    let mut command = match how {
        HandOff::Gio => {
            let mut command = Command::new("gio");
            command.arg("open");
            command
        }
        HandOff::XdgOpen => Command::new("xdg-open"),
        HandOff::None => {
            tracing::info!(url = %shown, "not handing the app's URL to the desktop");
            return Ok(());
        }
    };
    tracing::info!(url = %shown, ?how, "handing the app's URL to the desktop");
    let status = command
        .arg(url.as_str())
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run {how:?}: {error}"))?;
    tracing::info!(%status, "handed off");
    if status.success() {
        Ok(())
    } else {
        Err(format!("{how:?} failed: {status}"))
    }
}
