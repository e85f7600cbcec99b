//! Logs go to stderr and to a file in the app's log directory; `OKTA_SIGNOUT_LOG` sets the
//! level (an `EnvFilter` directive such as `debug` or `oidc_session=trace`; default `info`).

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// The environment variable that sets the log level.
pub(crate) const LOG_LEVEL_VAR: &str = "OKTA_SIGNOUT_LOG";
/// The log file's name inside the app's log directory.
pub(crate) const LOG_FILE_NAME: &str = "okta-signout.log";

/// Installs the global subscriber. Fails only when the log file cannot be opened.
pub(crate) fn init(log_dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(log_dir)?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir.join(LOG_FILE_NAME))?;
    let filter = EnvFilter::try_from_env(LOG_LEVEL_VAR).unwrap_or_else(|_| EnvFilter::new("info"));
    // A plain Mutex<File> writes each line at once, so a reader (a person, a test) sees it now.
    let writer = std::io::stderr.and(Mutex::new(file));
    // A second call (never made by the app) would only keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(())
}
