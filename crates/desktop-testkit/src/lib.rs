//! A private Linux desktop for one end-to-end test or bench run: its own X display (Xvfb),
//! its own D-Bus session bus with a fresh, unlocked gnome-keyring, and a fresh HOME, so that
//! runs go side by side without seeing each other (single-instance keys on the bus) or the
//! developer's files. With the `webdriver` feature, a WebDriver session on the app's window.
//! Also the figure lines that benches print for `scripts/bench`.

mod bus;
mod desktop;
mod figures;
#[cfg(feature = "webdriver")]
mod webdriver;

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub use bus::KeyringBus;
pub use desktop::{Desktop, Process, IDENTIFIER, WINDOW_TITLE};
pub use figures::{millis_since, report, spread};
#[cfg(feature = "webdriver")]
pub use webdriver::Driver;

/// How often [`wait_for`] probes.
const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` until it yields a value; panics naming `what` after `limit`. A limit is a
/// safety net against hangs, not a speed check.
pub fn wait_for<T>(what: &str, limit: Duration, probe: impl FnMut() -> Option<T>) -> T {
    wait_for_every(POLL, what, limit, probe)
}

/// [`wait_for`], probing every `interval` (a bench that times what it waits for polls often).
pub fn wait_for_every<T>(
    interval: Duration,
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(interval);
    }
}

/// Free TCP ports on 127.0.0.1, all different (each is held until all are picked).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: [TcpListener; N] =
        std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"));
    listeners.map(|listener| listener.local_addr().unwrap().port())
}

/// Sends SIGTERM, so the process can clean up (tauri-driver stops WebKitWebDriver then), and
/// kills it if it has not exited 5 s later.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
