//! `okta-signout-link <url>`: the program the app's desktop entry runs when a browser hands
//! the desktop a `com.example.oktasignout:` link (a sign-in or sign-out callback).
//!
//! It passes the link to the running app over D-Bus, making the very call that a second
//! instance of the app would make (tauri-plugin-single-instance's `ExecuteCallback`), but
//! without loading GTK and WebKitGTK first: that alone takes a second instance about 60 ms
//! (BENCHMARKS.md). It hands the link only to the app: any program of the session could own
//! the bus name first and would receive every callback, so the name's owner must be the app's
//! executable (its process, asked of the bus, then that process's executable). When the call fails (no app running, or the app is just exiting) it
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
        /// Another program holds the app's bus name: the link must not go there, and starting
        /// the app would only hand it there too.
        Untrusted(String),
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
            Err(NotHandedOver::Untrusted(reason)) => {
                eprintln!("okta-signout-link: {reason}");
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
        // The call goes to the connection checked, not to the name, which could change hands
        // in between.
        let owner = check_owner(&connection, &name, app)?;
        connection
            .call_method(
                Some(owner.as_str()),
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

    /// The unique bus name of the connection that holds `name`, once its process's executable
    /// is checked to be `app`.
    fn check_owner(
        connection: &zbus::blocking::Connection,
        name: &str,
        app: &Path,
    ) -> Result<String, NotHandedOver> {
        let bus = zbus::blocking::fdo::DBusProxy::new(connection)
            .map_err(|error| NotHandedOver::Refused(format!("no session bus: {error}")))?;
        let well_known = zbus::names::BusName::try_from(name).expect("a valid bus name");
        let owner = match bus.get_name_owner(well_known) {
            Ok(owner) => owner,
            Err(zbus::fdo::Error::NameHasNoOwner(_)) => {
                return Err(NotHandedOver::Refused("the app is not running".to_owned()))
            }
            Err(error) => {
                return Err(NotHandedOver::Untrusted(format!(
                    "the bus does not say which program holds {name}: {error}"
                )))
            }
        };
        let pid = bus
            .get_connection_unix_process_id(zbus::names::BusName::from(owner.clone()))
            .map_err(|error| {
                NotHandedOver::Untrusted(format!(
                    "the bus does not say which process holds {name}: {error}"
                ))
            })?;
        let executable = std::fs::read_link(format!("/proc/{pid}/exe")).map_err(|error| {
            NotHandedOver::Untrusted(format!(
                "cannot see which program holds {name} (process {pid}): {error}"
            ))
        })?;
        let app = std::fs::canonicalize(app).unwrap_or_else(|_| app.to_owned());
        if executable != app {
            return Err(NotHandedOver::Untrusted(format!(
                "{name} is held by {} (process {pid}), not by this app ({}); the link was not \
                 handed over (if the app was updated while it ran, restart it)",
                executable.display(),
                app.display()
            )));
        }
        Ok(owner.to_string())
    }
}
