//! `okta-signout-link <url>`: the program the app's desktop entry runs when a browser hands
//! the desktop a `com.example.oktasignout:` link (a sign-in or sign-out callback).
//!
//! It passes the link to the running app over D-Bus, making the very call that a second
//! instance of the app would make (tauri-plugin-single-instance's `ExecuteCallback`), but
//! without loading GTK and WebKitGTK first: that alone takes a second instance about 60 ms
//! (BENCHMARKS.md). When the call fails (no app running, or the app is just exiting) it
//! becomes the app, with the same command line, and the app takes it from there. When the
//! running app does not answer at all (it hangs), it gives up after a while and says so.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("okta-signout-link is for Linux desktops; elsewhere the OS hands links to the app");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsString;
    use std::os::unix::process::CommandExt;
    use std::path::Path;
    use std::process::{Command, ExitCode};
    use std::time::Duration;

    /// The app's configuration: its identifier (the single-instance name derives from it) and
    /// the name of its binary, installed beside this one.
    const TAURI_CONF: &str = include_str!("../../../tauri.conf.json");

    /// How long the running app may take to answer the hand-off: it answers in milliseconds.
    /// One that has not answered by then hangs; waiting longer would leave this program behind
    /// in the background, and a new copy of the app would only wait on the hung one too.
    const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

    /// Why a link was not handed over.
    enum NotHandedOver {
        /// The call failed (no session bus, no app running, or one just exiting): start the app.
        Refused(String),
        /// The running app holds its bus name but did not answer in time.
        Unanswered,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TauriConf {
        identifier: String,
        main_binary_name: String,
    }

    pub(crate) fn main() -> ExitCode {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let conf: TauriConf =
            serde_json::from_str(TAURI_CONF).expect("tauri.conf.json, checked by the tests");
        let app = match std::env::current_exe() {
            Ok(path) => path.with_file_name(&conf.main_binary_name),
            Err(error) => {
                eprintln!("okta-signout-link: cannot find the app: {error}");
                return ExitCode::FAILURE;
            }
        };
        match hand_over(&conf.identifier, &app, &args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(NotHandedOver::Unanswered) => {
                eprintln!(
                    "okta-signout-link: the running app did not take the link within {} s; \
                     it may hang (restart it)",
                    ANSWER_TIMEOUT.as_secs()
                );
                ExitCode::FAILURE
            }
            Err(NotHandedOver::Refused(reason)) => {
                eprintln!("okta-signout-link: {reason}; starting the app with the link");
                let error = Command::new(&app).args(&args).exec();
                eprintln!("okta-signout-link: cannot start {}: {error}", app.display());
                ExitCode::FAILURE
            }
        }
    }

    /// Hands `args` to the running app `identifier` as if `app` had been started with them.
    fn hand_over(identifier: &str, app: &Path, args: &[OsString]) -> Result<(), NotHandedOver> {
        // The name and object path that tauri-plugin-single-instance serves on Linux.
        let name = format!("{identifier}.SingleInstance");
        let path = format!("/{}", name.replace('.', "/").replace('-', "_"));

        let argv: Vec<String> = std::iter::once(app.as_os_str())
            .chain(args.iter().map(OsString::as_os_str))
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        let cwd = std::env::current_dir().unwrap_or_default();
        let connection = zbus::blocking::connection::Builder::session()
            .and_then(|builder| builder.method_timeout(ANSWER_TIMEOUT).build())
            .map_err(|error| NotHandedOver::Refused(format!("no session bus: {error}")))?;
        connection
            .call_method(
                Some(name.as_str()),
                path.as_str(),
                Some("org.SingleInstance.DBus"),
                "ExecuteCallback",
                &(argv, cwd.to_string_lossy().as_ref()),
            )
            .map_err(|error| match &error {
                zbus::Error::MethodError(name, ..)
                    if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
                {
                    NotHandedOver::Refused("the app is not running".to_owned())
                }
                zbus::Error::InputOutput(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                    NotHandedOver::Unanswered
                }
                _ => NotHandedOver::Refused(format!(
                    "the running app did not take the link ({error})"
                )),
            })?;
        Ok(())
    }
}
