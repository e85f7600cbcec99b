//! The app shell on a real (virtual) Linux desktop: the window, the run command and the
//! deep-link hand-off from the desktop to the running app.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use desktop_testkit::{terminate, wait_for, Desktop, Driver, IDENTIFIER};

use crate::support::{
    app_desktop, assert_says_what_to_configure, screenshot, unconfigured_desktop, APP_BINARY,
    LINK_PROGRAM,
};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn the_window_shows_the_signed_out_screen() {
    let desktop = app_desktop();
    let driver = Driver::start(&desktop).await;

    assert_eq!(driver.text("h1").await, "Okta Sign-Out");
    assert_eq!(
        driver.text("#screen-signed-out h2").await,
        "You are signed out"
    );
    assert_eq!(driver.text("#sign-in").await, "Sign in");
    let title = driver.client.title().await.unwrap();
    assert_eq!(title, "Okta Sign-Out");
    driver.screenshot(&screenshot("signed-out")).await;
}

/// With no Okta org configured, a build without demo mode (the tests' and the packages') says
/// what to configure; the example it shows, written into the file it names, configures the app.
#[tokio::test(flavor = "multi_thread")]
async fn without_an_issuer_the_window_says_what_to_configure_and_its_example_works() {
    let desktop = unconfigured_desktop(APP_BINARY);
    let driver = Driver::start(&desktop).await;
    assert_says_what_to_configure(&desktop, &driver, "not-configured").await;

    let file = PathBuf::from(driver.text("#setup-config-file").await);
    let example = driver.text("#setup-example").await;
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, example).unwrap();
    driver.quit().await;
    wait_for("the app to exit", LIMIT, || {
        desktop.app_pids().is_empty().then_some(())
    });
    let driver = Driver::start(&desktop).await;
    driver.wait_for_session("signed_out").await;
    assert_eq!(driver.text("#sign-in").await, "Sign in");
    let hidden = driver
        .execute("return document.getElementById('screen-not-configured').hidden;")
        .await;
    assert_eq!(hidden, serde_json::Value::Bool(true));
}

#[test]
fn the_readme_run_command_opens_the_window() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let run_command = "scripts/run";
    assert!(
        readme.contains(&format!("\n{run_command}\n")),
        "the README's quick start no longer runs {run_command}"
    );
    // No Okta org configured: scripts/run's build has demo mode, which runs mock-okta inside.
    let desktop = unconfigured_desktop(APP_BINARY);
    let mut run = desktop
        .command(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("scripts/run");
    // The first run may build the app; the window then maps within seconds.
    wait_for("the app's window", Duration::from_secs(600), || {
        if let Some(status) = run.try_wait().unwrap() {
            panic!("scripts/run ended before a window appeared: {status}");
        }
        (desktop.app_window_count() == 1).then_some(())
    });
    let identity_provider = desktop.wait_for_log("identity provider", LIMIT);
    assert!(
        identity_provider.ends_with("demo=true"),
        "{identity_provider}"
    );
    desktop.screenshot(&screenshot("run-command"));
    // The whole group: the script, Cargo and the app.
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", run.id())])
        .status();
    terminate(&mut run);
}

/// The app has WebKit paint its page with the CPU, which starts faster and takes less memory
/// (BENCHMARKS.md), and leaves GPU painting to whoever asks for it.
#[test]
fn the_window_is_painted_on_the_cpu_unless_told_otherwise() {
    let threads = skia_painting_threads(None, "SkiaCPUWorker");
    assert!(
        !threads.iter().any(|name| name == "SkiaGPUWorker"),
        "the web process paints with the GPU too: {threads:?}"
    );
    // WebKit's default paints with a GPU thread (and CPU threads beside it).
    skia_painting_threads(Some("0"), "SkiaGPUWorker");
}

/// The Skia painting threads in the app's web process, once its window is painted and
/// `expected` is among them, with `WEBKIT_SKIA_ENABLE_CPU_RENDERING` set to `setting` in the
/// app's environment.
fn skia_painting_threads(setting: Option<&str>, expected: &str) -> Vec<String> {
    let mut desktop = app_desktop();
    if let Some(value) = setting {
        desktop.set_env("WEBKIT_SKIA_ENABLE_CPU_RENDERING", value);
    }
    let _app = desktop.launch_app(&[]);
    desktop.screenshot(&screenshot(&format!(
        "painted-{}",
        setting.unwrap_or("default")
    )));
    let what = format!("a {expected} thread in the web process");
    wait_for(&what, LIMIT, || {
        let threads: Vec<String> = desktop
            .thread_names("WebKitWebProces")
            .into_iter()
            .filter(|name| name.starts_with("Skia"))
            .collect();
        threads
            .iter()
            .any(|name| name == expected)
            .then_some(threads)
    })
}

#[test]
fn xdg_open_hands_a_deep_link_to_the_running_app() {
    hand_off_deep_link(&["xdg-open"]);
}

#[test]
fn gio_open_hands_a_deep_link_to_the_running_app() {
    hand_off_deep_link(&["gio", "open"]);
}

/// What the desktop does with a link when the app is started from a terminal or a menu with it.
#[test]
fn a_second_instance_of_the_app_hands_its_link_to_the_running_one() {
    hand_off_deep_link(&[APP_BINARY]);
}

/// The desktop entry runs the link program, which must make the hand-off call itself: were it
/// to fall back to starting the app, links would still arrive, only some 60 ms later.
#[test]
fn the_link_program_hands_a_link_over_without_starting_the_app() {
    let desktop = app_desktop();
    let _app = desktop.launch_app(&[]);
    desktop.wait_for_log("deep-link handler registered", LIMIT);
    // The app writes the path it finds itself at, links resolved.
    assert_eq!(
        desktop.link_entry_program(),
        std::fs::canonicalize(LINK_PROGRAM).unwrap()
    );
    let url = format!("{IDENTIFIER}:/logout/callback?state=link-program");

    let output = run_link_program(&desktop, &url);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "the link program did not hand the link over itself"
    );
    let received = desktop.wait_for_log("deep link received", LIMIT);
    assert!(received.ends_with(&format!("url={url}")), "{received}");
}

/// Opens a callback URL with `opener` while the app runs: through the desktop (as a browser
/// does), which runs the app's `.desktop` entry (the link program), or with a second instance
/// of the app. Either forwards the URL over D-Bus to the running app and exits, no window
/// opened.
fn hand_off_deep_link(opener: &[&str]) {
    let desktop = app_desktop();
    let app = desktop.launch_app(&[]);
    desktop.wait_for_log("deep-link handler registered", LIMIT);
    wait_for("the app's window", LIMIT, || {
        (desktop.app_window_count() == 1).then_some(())
    });
    let url = format!(
        "{IDENTIFIER}:/logout/callback?state=hand-off-{}",
        std::process::id()
    );

    let started = Instant::now();
    let status = desktop.run(opener[0], &[&opener[1..], &[url.as_str()]].concat(), LIMIT);
    assert!(status.success(), "{opener:?} failed: {status}");
    let received = desktop.wait_for_log("deep link received", LIMIT);
    assert!(
        received.ends_with(&format!("url={url}")),
        "the app got another URL: {received}"
    );
    wait_for("the second instance to exit", LIMIT, || {
        (desktop.app_pids() == [app.pid()]).then_some(())
    });
    eprintln!(
        "{opener:?}: second instance handed off and exited after {:?}",
        started.elapsed()
    );
    assert_eq!(desktop.app_window_count(), 1, "a second window appeared");
    assert_eq!(
        desktop.app_log().matches("starting").count(),
        1,
        "the second instance ran the app instead of forwarding"
    );
}

/// The running instance exits just as a second one hands it a link (the person closed the app
/// and reopened it, or a link came in while it closed): the second one must not crash and lose
/// the link, but start over as the running instance and handle the link itself.
#[test]
fn an_instance_that_exits_during_the_hand_off_leaves_the_new_one_running() {
    let desktop = app_desktop();
    // Stands in for the exiting instance: it still owns the name, takes the hand-off call,
    // and leaves the bus without answering.
    let (exiting, hand_off) = silent_instance(&desktop);

    let url = format!("{IDENTIFIER}:/logout/callback?state=while-exiting");
    let app = desktop.launch_app(&[&url]);
    assert_eq!(hand_off.recv_timeout(LIMIT), Ok(()), "no hand-off call");
    exiting.close().unwrap();

    wait_for("the app's window", LIMIT, || {
        (desktop.app_window_count() == 1).then_some(())
    });
    let received = desktop.wait_for_log("deep link received", LIMIT);
    assert!(received.ends_with(&format!("url={url}")), "{received}");
    // It started over in place (same process) and now owns the name.
    assert_eq!(desktop.app_pids(), [app.pid()]);
    let name = format!("{IDENTIFIER}.SingleInstance");
    let owner = Command::new("dbus-send")
        .env("DBUS_SESSION_BUS_ADDRESS", desktop.bus_address())
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &format!("string:{name}"),
        ])
        .output()
        .unwrap();
    let owner = String::from_utf8_lossy(&owner.stdout);
    assert!(
        owner.contains(&format!("uint32 {}", app.pid())),
        "the name's owner is not the app: {owner}"
    );
}

/// A running app that hangs still owns its bus name but never answers. The link program, which
/// the desktop runs in the background for every link, must give up on it instead of waiting
/// for ever, and must not start a copy of the app, which would only wait on the hung one too.
#[test]
fn the_link_program_gives_up_on_a_running_app_that_does_not_answer() {
    let desktop = app_desktop();
    let app = desktop.launch_app(&[]);
    desktop.wait_for_log("deep-link handler registered", LIMIT);
    // The app hangs: stopped, it holds its bus name and answers nothing.
    signal(app.pid(), "STOP");

    let url = format!("{IDENTIFIER}:/logout/callback?state=hung-app");
    let output = run_link_program(&desktop, &url);
    signal(app.pid(), "CONT");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it reported success: {stderr}");
    assert!(
        stderr.contains("the running app did not take the link within"),
        "{stderr}"
    );
    assert_eq!(desktop.app_pids(), [app.pid()], "it started the app");
}

/// Another program of the session owns the app's bus name (it got there first): the link
/// program must not hand it the link, whose sign-in code is the prize, nor start the app,
/// whose own hand-off would go to the same owner.
#[test]
fn the_link_program_hands_nothing_to_a_program_that_is_not_the_app() {
    let desktop = app_desktop();
    let (impostor, hand_off) = silent_instance(&desktop);

    let url = format!("{IDENTIFIER}:/callback?code=the-prize&state=impostor");
    let output = run_link_program(&desktop, &url);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it reported success: {stderr}");
    assert!(
        stderr.contains("not by this app") && stderr.contains("the link was not handed over"),
        "{stderr}"
    );
    assert!(
        hand_off.try_recv().is_err(),
        "the impostor got the hand-off call"
    );
    assert!(desktop.app_pids().is_empty(), "it started the app");
    drop(impostor);
}

/// Runs the link program with `url`, as the desktop entry does, until it exits.
fn run_link_program(desktop: &Desktop, url: &str) -> std::process::Output {
    desktop
        .command(LINK_PROGRAM)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Sends `signal` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Stands in for a program that takes calls but answers none: it owns the single-instance name
/// on `desktop`'s bus (an instance of the app that is exiting, or an impostor). Returns its connection, and a receiver that hears
/// when the hand-off call arrives.
fn silent_instance(desktop: &Desktop) -> (zbus::blocking::Connection, mpsc::Receiver<()>) {
    let connection = zbus::blocking::connection::Builder::address(desktop.bus_address())
        .unwrap()
        .name(format!("{IDENTIFIER}.SingleInstance"))
        .unwrap()
        .build()
        .unwrap();
    let (called, hand_off) = mpsc::channel();
    // Listening before anyone calls: zbus hands a message only to listeners that exist.
    let messages = zbus::blocking::MessageIterator::from(&connection);
    std::thread::spawn(move || {
        let call = messages.filter_map(Result::ok).find(|message| {
            message
                .header()
                .member()
                .is_some_and(|member| member == "ExecuteCallback")
        });
        if call.is_some() {
            let _ = called.send(());
        }
    });
    (connection, hand_off)
}
