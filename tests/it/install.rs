//! The packages as a person installs them (scripts/package's release build): the .deb and
//! the .rpm hold both programs, the icons and one desktop entry for the app's links; lintian
//! and desktop-file-validate find no error; the .deb, extracted into a throw-away root that the
//! desktop sees, is what the desktop runs for the app's links, and the packaged app signs in
//! and fully out through `gio open` and plain `xdg-open`, or says what to configure; installed
//! with apt-get (as root on a disposable machine), the same from /usr/bin.
//!
//! They need the packages, so `cargo test` skips them: scripts/test builds the packages with
//! scripts/package and runs these with `--ignored`, the paths in `OKTA_SIGNOUT_DEB` and
//! `OKTA_SIGNOUT_RPM`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use desktop_testkit::{wait_for, Desktop, Driver, IDENTIFIER};

use crate::session_e2e::{
    assert_signed_out_everywhere, configure_for, sign_in_through_the_window, start_mock,
    wait_for_outcome,
};
use crate::support::{
    assert_says_what_to_configure, screenshot, unconfigured_desktop, AppDesktop, HandOff,
};

const LIMIT: Duration = Duration::from_secs(60);
/// The desktop entry the packages install, named after the package.
const ENTRY: &str = "okta-signout.desktop";
const ENTRY_PATH: &str = "/usr/share/applications/okta-signout.desktop";
/// The per-user entry the app writes when no package's entry serves it
/// (src-tauri/src/linux/scheme_handler.rs).
const PER_USER_ENTRY: &str = "com.example.oktasignout-handler.desktop";

/// The package named by `variable`, as scripts/test names it.
fn package(variable: &str) -> PathBuf {
    let path = std::env::var_os(variable).unwrap_or_else(|| {
        panic!("{variable} is not set: scripts/test builds the packages and runs these tests")
    });
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// Runs `program args…` and returns its output, panicking when it fails.
fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error} (scripts/setup installs it)"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The file `path` (absolute) from the .rpm `rpm`, through `rpm2cpio | cpio`.
fn rpm_file(rpm: &Path, path: &str) -> String {
    let mut archive = Command::new("rpm2cpio")
        .arg(rpm)
        .stdout(Stdio::piped())
        .spawn()
        .expect("rpm2cpio (scripts/setup installs rpm)");
    let output = Command::new("cpio")
        .args(["--extract", "--quiet", "--to-stdout", &format!(".{path}")])
        .stdin(archive.stdout.take().unwrap())
        .output()
        .expect("cpio (scripts/setup installs it)");
    // rpm2cpio (rpm 4.18) exits with 1 even after it wrote the whole archive: cpio's answer
    // and what it extracted are what count.
    let _ = archive.wait();
    assert!(output.status.success(), "cpio found no {path} in {rpm:?}");
    text(output.stdout)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8")
}

/// What a package installs, as absolute paths.
fn deb_files(deb: &Path) -> Vec<String> {
    text(run("dpkg-deb", &["--contents", deb.to_str().unwrap()]).stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(|path| format!("/{}", path.trim_start_matches("./")))
        .collect()
}

fn rpm_files(rpm: &Path) -> Vec<String> {
    text(
        run(
            "rpm",
            &["--query", "--package", "--list", rpm.to_str().unwrap()],
        )
        .stdout,
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
fn both_packages_hold_the_two_programs_the_icons_and_one_entry_for_the_app_s_links() {
    let (deb, rpm) = (package("OKTA_SIGNOUT_DEB"), package("OKTA_SIGNOUT_RPM"));
    for (package, files) in [(&deb, deb_files(&deb)), (&rpm, rpm_files(&rpm))] {
        for program in ["/usr/bin/okta-signout", "/usr/bin/okta-signout-link"] {
            assert!(
                files.iter().any(|file| file == program),
                "{package:?} lacks {program}: {files:?}"
            );
        }
        let icons = files
            .iter()
            .filter(|file| {
                file.starts_with("/usr/share/icons/hicolor/")
                    && file.ends_with("/apps/okta-signout.png")
            })
            .count();
        assert!(icons >= 2, "{package:?} has {icons} icons: {files:?}");
        let entries: Vec<&String> = files
            .iter()
            .filter(|file| {
                file.starts_with("/usr/share/applications/") && file.ends_with(".desktop")
            })
            .collect();
        assert_eq!(entries, [ENTRY_PATH], "{package:?}");
    }

    let root = ExtractedPackage::extract(&deb);
    let deb_entry = std::fs::read_to_string(root.root.path().join(&ENTRY_PATH[1..])).unwrap();
    let rpm_entry = rpm_file(&rpm, ENTRY_PATH);
    assert_eq!(deb_entry, rpm_entry, "the packages' entries differ");
    // What the app needs beside WebKitGTK: xdg-mime, asked before a full sign-out.
    let deb_depends = text(run("dpkg-deb", &["--field", deb.to_str().unwrap(), "Depends"]).stdout);
    let rpm_requires = text(
        run(
            "rpm",
            &["--query", "--package", "--requires", rpm.to_str().unwrap()],
        )
        .stdout,
    );
    for (package, needs) in [(&deb, &deb_depends), (&rpm, &rpm_requires)] {
        for needed in ["xdg-utils", "libwebkit2gtk-4.1"] {
            assert!(
                needs.contains(needed),
                "{package:?} does not require {needed}: {needs}"
            );
        }
    }
    let lines: Vec<&str> = deb_entry.lines().collect();
    for line in [
        "Name=Okta Sign-Out",
        "Exec=okta-signout-link %u",
        "Icon=okta-signout",
        &format!("MimeType=x-scheme-handler/{IDENTIFIER};"),
    ] {
        assert!(
            lines.contains(&line),
            "the entry lacks {line:?}:\n{deb_entry}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let entry_file = dir.path().join(ENTRY);
    std::fs::write(&entry_file, &deb_entry).unwrap();
    let validation = run("desktop-file-validate", &[entry_file.to_str().unwrap()]);
    assert_eq!(
        text(validation.stdout),
        "",
        "desktop-file-validate has remarks"
    );

    // Errors fail; warnings and notes are printed for people to read.
    let lintian = run(
        "lintian",
        &[
            "--fail-on",
            "error",
            "--tag-display-limit",
            "0",
            deb.to_str().unwrap(),
        ],
    );
    eprintln!("lintian:\n{}", text(lintian.stdout));
}

/// The packaged app carries no mock IdP: neither mock-okta's demo account nor its pages.
#[test]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
fn the_packaged_app_carries_no_mock_idp() {
    let root = ExtractedPackage::extract(&package("OKTA_SIGNOUT_DEB"));
    let binary = std::fs::read(root.app()).unwrap();
    for needle in [mock_okta::DEMO_PASSWORD, "mock-okta", "mock_okta"] {
        assert!(
            !binary
                .windows(needle.len())
                .any(|window| window == needle.as_bytes()),
            "the packaged app contains {needle:?}"
        );
    }
}

/// The .deb's files in a throw-away root, which a desktop sees as installed software.
struct ExtractedPackage {
    root: tempfile::TempDir,
}

impl ExtractedPackage {
    /// `dpkg-deb -x`, and the MIME cache rebuilt as the package manager's trigger does.
    fn extract(deb: &Path) -> Self {
        let root = tempfile::Builder::new()
            .prefix("okta-signout-root-")
            .tempdir()
            .unwrap();
        run(
            "dpkg-deb",
            &["-x", deb.to_str().unwrap(), root.path().to_str().unwrap()],
        );
        let applications = root.path().join("usr/share/applications");
        run("update-desktop-database", &[applications.to_str().unwrap()]);
        Self { root }
    }

    fn app(&self) -> PathBuf {
        self.root.path().join("usr/bin/okta-signout")
    }

    /// A desktop that runs the extracted app, its programs on the PATH and its `share/` first
    /// among the system data directories.
    fn desktop(&self) -> Desktop {
        let mut desktop = unconfigured_desktop(self.app());
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(self.root.path().join("usr/bin")).chain(std::env::split_paths(&path)),
        )
        .unwrap();
        desktop.set_env("PATH", path);
        let data_dirs = std::env::join_paths([
            self.root.path().join("usr/share"),
            PathBuf::from("/usr/local/share"),
            PathBuf::from("/usr/share"),
        ])
        .unwrap();
        desktop.set_env("XDG_DATA_DIRS", data_dirs);
        desktop
    }
}

/// The desktop's handler of the app's links, as `xdg-mime` (and so `xdg-open`) finds it.
fn default_link_handler(desktop: &Desktop) -> String {
    let output = desktop
        .command("xdg-mime")
        .args([
            "query",
            "default",
            &format!("x-scheme-handler/{IDENTIFIER}"),
        ])
        .output()
        .expect("xdg-mime");
    text(output.stdout).trim().to_owned()
}

/// Leaves in `desktop`'s HOME what an earlier run of the app from a checkout left: its per-user
/// entry for the app's links, pointing to that checkout's link program (still there, so the
/// desktop would run it: `xdg-mime` skips an entry whose program is gone), made the default
/// handler.
fn leave_an_earlier_run_s_entry(desktop: &Desktop) -> PathBuf {
    let checkout = desktop.home().join("old-checkout");
    std::fs::create_dir_all(&checkout).unwrap();
    let old_link_program = checkout.join("okta-signout-link");
    std::fs::write(&old_link_program, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(
        &old_link_program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let applications = desktop.home().join(".local/share/applications");
    std::fs::create_dir_all(&applications).unwrap();
    let entry = applications.join(PER_USER_ENTRY);
    std::fs::write(
        &entry,
        format!(
            "[Desktop Entry]\nType=Application\nName=Okta Sign-Out\n\
             Exec={} %u\nNoDisplay=true\nMimeType=x-scheme-handler/{IDENTIFIER};\n",
            old_link_program.display()
        ),
    )
    .unwrap();
    let mime_type = format!("x-scheme-handler/{IDENTIFIER}");
    let status = desktop.run("xdg-mime", &["default", PER_USER_ENTRY, &mime_type], LIMIT);
    assert!(status.success());
    assert_eq!(default_link_handler(desktop), PER_USER_ENTRY);
    entry
}

/// In `desktop`, whose app is the packaged one: the package's entry is what the desktop runs
/// for the app's links (the app removes an earlier run's per-user entry, writing none), and
/// the app signs Ada in and fully out through the browser handing links back with `hand_off`.
async fn sign_in_and_out_as_installed(mut desktop: Desktop, hand_off: HandOff, name: &str) {
    let earlier_entry = leave_an_earlier_run_s_entry(&desktop);
    let mock = start_mock().await;
    configure_for(&mut desktop, &mock, hand_off, mock.issuer().as_str());
    let driver = Driver::start(&desktop).await;
    desktop.wait_for_log(
        "removed the per-user desktop entry of an earlier run",
        LIMIT,
    );
    assert!(
        !earlier_entry.exists(),
        "the earlier run's entry is still there"
    );
    assert_eq!(default_link_handler(&desktop), ENTRY);
    assert!(
        !desktop.app_log().contains("deep-link handler registered"),
        "the installed app wrote an entry of its own"
    );

    let tokens = sign_in_through_the_window(&mock, &desktop, &driver).await;
    desktop.wait_for_browser_log(&format!("how={hand_off:?}"), LIMIT);
    driver
        .screenshot(&screenshot(&format!("{name}-signed-in")))
        .await;
    driver.click("#sign-out").await;
    wait_for_outcome(&driver, "completed").await;
    driver.wait_for_session("signed_out").await;
    driver
        .screenshot(&screenshot(&format!("{name}-signed-out")))
        .await;
    assert_signed_out_everywhere(&mock, &desktop, &tokens);
    // Both callbacks came back through the package's entry: its link program handed them over.
    let handed_over = desktop
        .app_log()
        .lines()
        .filter(|line| line.contains("callback accepted"))
        .count();
    assert_eq!(handed_over, 2, "{}", desktop.app_log());
    driver.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
async fn the_extracted_package_signs_in_and_out_through_gio_open() {
    let root = ExtractedPackage::extract(&package("OKTA_SIGNOUT_DEB"));
    sign_in_and_out_as_installed(root.desktop(), HandOff::Gio, "package-gio").await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
async fn the_extracted_package_signs_in_and_out_through_plain_xdg_open() {
    let root = ExtractedPackage::extract(&package("OKTA_SIGNOUT_DEB"));
    sign_in_and_out_as_installed(root.desktop(), HandOff::XdgOpen, "package-xdg-open").await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
async fn the_packaged_app_without_an_issuer_says_what_to_configure() {
    let root = ExtractedPackage::extract(&package("OKTA_SIGNOUT_DEB"));
    let desktop = root.desktop();
    let driver = Driver::start(&desktop).await;
    assert_says_what_to_configure(&desktop, &driver, "package-not-configured").await;
    driver.quit().await;
}

/// The menu's entry runs the link program with no link: it starts the app, and once the app
/// runs it only brings it back (one app, one window).
#[test]
#[ignore = "needs scripts/package's packages: scripts/test runs it"]
fn the_menu_entry_starts_the_app_and_then_brings_the_running_one_back() {
    let root = ExtractedPackage::extract(&package("OKTA_SIGNOUT_DEB"));
    let desktop = root.desktop();
    let entry = root.root.path().join(&ENTRY_PATH[1..]);
    let entry = entry.to_str().unwrap();
    let status = desktop.run("gio", &["launch", entry], LIMIT);
    assert!(status.success(), "gio launch failed: {status}");
    wait_for("the app's window", LIMIT, || {
        (desktop.app_window_count() == 1).then_some(())
    });
    let app = desktop.app_pids();
    assert_eq!(app.len(), 1, "{app:?}");
    // Started: its log is open (the window maps before the app's own start-up has run).
    desktop.wait_for_log("no Okta org configured", LIMIT);

    let status = desktop.run("gio", &["launch", entry], LIMIT);
    assert!(status.success(), "gio launch failed: {status}");
    // The link program made the hand-off call and exited; the app stayed the only one.
    desktop.wait_for_log("brought to the front", LIMIT);
    assert_eq!(desktop.app_pids(), app);
    assert_eq!(desktop.app_window_count(), 1);
}

/// `apt-get install ./the.deb`, the same flow from /usr/bin, and `apt-get remove`. It changes
/// the machine, so scripts/test runs it only as root on a disposable machine (`CI` set).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "installs the .deb system-wide: scripts/test runs it as root on CI"]
async fn apt_get_installs_a_package_that_signs_in_and_out_from_usr_bin_and_removes_it() {
    let deb = package("OKTA_SIGNOUT_DEB");
    let deb = std::fs::canonicalize(deb).unwrap();
    assert!(
        !Path::new("/usr/bin/okta-signout").exists(),
        "okta-signout is installed already; this test installs and removes it"
    );
    // The app's run-time libraries are there already (scripts/setup): apt-get downloads
    // nothing. (Its --no-download refuses a local .deb: "Pathname to install is not absolute".)
    run(
        "apt-get",
        &["install", "--yes", "--quiet", deb.to_str().unwrap()],
    );
    let removal = RemoveOnDrop;
    for file in [
        "/usr/bin/okta-signout",
        "/usr/bin/okta-signout-link",
        ENTRY_PATH,
    ] {
        let owner = text(run("dpkg", &["--search", file]).stdout);
        assert!(owner.starts_with("okta-signout: "), "{file}: {owner}");
    }
    let desktop = unconfigured_desktop("/usr/bin/okta-signout");
    // The package manager's trigger updated the system's MIME cache.
    assert_eq!(default_link_handler(&desktop), ENTRY);
    sign_in_and_out_as_installed(desktop, HandOff::Gio, "apt-installed").await;

    drop(removal);
    for program in [
        "/usr/bin/okta-signout",
        "/usr/bin/okta-signout-link",
        ENTRY_PATH,
    ] {
        assert!(
            !Path::new(program).exists(),
            "{program} is left after apt-get remove"
        );
    }
    let cache =
        std::fs::read_to_string("/usr/share/applications/mimeinfo.cache").unwrap_or_default();
    assert!(!cache.contains(ENTRY), "the MIME cache still names {ENTRY}");
}

/// Removes the package again, even when the test fails halfway.
struct RemoveOnDrop;

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let status = Command::new("apt-get")
            .args(["remove", "--yes", "--quiet", "okta-signout"])
            .stdin(Stdio::null())
            .status();
        if !matches!(status, Ok(status) if status.success()) && !std::thread::panicking() {
            panic!("apt-get remove okta-signout failed: {status:?}");
        }
    }
}
