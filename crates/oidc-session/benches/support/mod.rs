//! What the figure benches share: a session client (the real [`SessionManager`]) against an
//! in-process mock-okta, whose system browser is mock-okta's scripted browser, and the figure
//! lines that `scripts/bench` turns into its table.

#![allow(dead_code)] // Each bench binary uses its own part of this module.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_okta::browser::{Browser, Landing};
use mock_okta::{MockOkta, DEMO_CLIENT_ID};
use oidc_session::{
    Config, IdentityProvider, Journal, SessionEvents, SessionManager, SignOutMode, SystemBrowser,
    TokenVault,
};
use tokio::sync::mpsc;
use url::Url;

pub const SCHEME: &str = "com.example.oktasignout";
/// A safety net against hangs, not a speed check.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The system browser as the core sees it: the URLs it was asked to open go to a channel.
struct ChannelBrowser(mpsc::UnboundedSender<Url>);

impl SystemBrowser for ChannelBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0.send(url.clone()).map_err(|error| error.to_string())
    }

    fn check_scheme_handler(&self, _scheme: &str) -> Result<(), String> {
        Ok(())
    }
}

/// One app session against `mock`, with its own scripted browser (cookie jar).
pub struct Client {
    pub manager: Arc<SessionManager>,
    opened: mpsc::UnboundedReceiver<Url>,
    browser: Browser,
}

impl Client {
    /// A signed-out session keeping its tokens in `vault` and its journal in `data_dir`.
    pub fn new(
        mock: &MockOkta,
        vault: TokenVault,
        data_dir: &std::path::Path,
        events: Arc<dyn SessionEvents>,
    ) -> Self {
        let idp = IdentityProvider {
            issuer: mock.issuer(),
            client_id: DEMO_CLIENT_ID.to_owned(),
            extra_root_pem: Some(mock.ca_certificate_pem().as_bytes().to_vec()),
            request_timeout: oidc_session::provider::DEFAULT_REQUEST_TIMEOUT,
        };
        let (sender, opened) = mpsc::unbounded_channel();
        let manager = SessionManager::new(
            Config::demo(SCHEME),
            idp,
            vault,
            Journal::in_dir(data_dir),
            Arc::new(ChannelBrowser(sender)),
            events,
        )
        .expect("a session manager");
        Self {
            manager: Arc::new(manager),
            opened,
            browser: Browser::for_mock(mock).expect("a scripted browser"),
        }
    }

    /// Loads the next URL the app sent the browser to and hands the app's redirect back.
    async fn browse_next(&mut self) {
        let url = tokio::time::timeout(LIMIT, self.opened.recv())
            .await
            .expect("the app opened the browser")
            .expect("the browser channel is open");
        match self.browser.open(url).await.expect("the browser navigates") {
            Landing::AppRedirect(callback) => {
                assert!(self.manager.handle_deep_link(callback.as_str()));
            }
            Landing::Page { status, body } => panic!("stuck on a page ({status}): {body}"),
        }
    }

    /// A full sign-in: the browser fills in mock-okta's form and hands the redirect back.
    pub async fn sign_in(&mut self) {
        let manager = self.manager.clone();
        let task = tokio::spawn(async move { manager.sign_in().await });
        self.browse_next().await;
        task.await.unwrap().expect("sign-in succeeds");
    }

    /// A full sign-out: revocation, Okta's end-session request in the browser, confirmation.
    pub async fn sign_out(&mut self) {
        let manager = self.manager.clone();
        let task = tokio::spawn(async move { manager.sign_out(SignOutMode::Full).await });
        self.browse_next().await;
        task.await.unwrap().expect("sign-out succeeds");
    }
}

/// Median, minimum and maximum of `samples` (not empty).
pub fn spread(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let middle = samples.len() / 2;
    let median = if samples.len().is_multiple_of(2) {
        (samples[middle - 1] + samples[middle]) / 2.0
    } else {
        samples[middle]
    };
    (median, samples[0], samples[samples.len() - 1])
}

/// Prints one figure for `scripts/bench` (`FIGURE<TAB>key<TAB>median<TAB>min<TAB>max<TAB>unit`)
/// and a line for people.
pub fn report(key: &str, unit: &str, samples: &mut [f64]) {
    let (median, min, max) = spread(samples);
    println!("FIGURE\t{key}\t{median:.4}\t{min:.4}\t{max:.4}\t{unit}");
    eprintln!(
        "{key}: median {median:.3} {unit} (min {min:.3}, max {max:.3}; {} runs)",
        samples.len()
    );
}

/// Milliseconds since `start`.
pub fn millis_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
