//! A second instance hands its command line (a deep link) to the running instance over D-Bus
//! (tauri-plugin-single-instance). When the running instance exits at that very moment (the
//! person closed it, or reopened the app right after closing it), the bus answers the call
//! with an error and the plugin fails the start. Starting over then either hands the command
//! line to a newer running instance or makes this process the running instance, instead of
//! crashing. (A link for a flow of the instance that exited is of no use to another one,
//! which ignores it as it does any link it is not waiting for.)

use std::time::Duration;

/// How many fresh starts the command line has had (set on the replacement process only).
const ATTEMPT_VAR: &str = "OKTA_SIGNOUT_HAND_OFF_ATTEMPT";
/// Past this, the bus keeps naming an instance that answers with errors: give up and say so.
const MAX_ATTEMPTS: u32 = 3;
/// Lets the bus drop the name of the instance that went away.
const PAUSE: Duration = Duration::from_millis(100);

/// How many times this command line already started over. Taken out of the environment,
/// so nothing this instance starts (the browser) inherits it.
pub(crate) fn take_attempts() -> u32 {
    let attempts = std::env::var(ATTEMPT_VAR)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    // Called first thing in `run`, while the process has a single thread.
    std::env::remove_var(ATTEMPT_VAR);
    attempts
}

/// Whether the single-instance plugin failed the start. With a fixed, valid bus name and no
/// session bus being no error for it, that is the hand-off to the running instance failing.
pub(crate) fn is_failed_hand_off(error: &tauri::Error) -> bool {
    matches!(error, tauri::Error::PluginInitialization(plugin, _) if plugin == "single-instance")
}

/// Replaces this process with a fresh start of the same command line, unless it has started
/// over too often already. Returns only when it does not start over.
pub(crate) fn start_over(attempts_so_far: u32, error: &tauri::Error) {
    use std::os::unix::process::CommandExt;

    if attempts_so_far >= MAX_ATTEMPTS {
        return;
    }
    let Ok(executable) = tauri::utils::platform::current_exe() else {
        return;
    };
    // Logging starts in the app's setup, which never ran: standard error is all there is.
    eprintln!("okta-signout: {error}; starting over");
    std::thread::sleep(PAUSE);
    let exec_error = std::process::Command::new(executable)
        .args(std::env::args_os().skip(1))
        .env(ATTEMPT_VAR, (attempts_so_far + 1).to_string())
        .exec();
    eprintln!("okta-signout: could not start over: {exec_error}");
}
