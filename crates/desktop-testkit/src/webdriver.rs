//! A WebDriver session on the app's window (tauri-driver → WebKitWebDriver → the app), or on
//! a page in WebKitGTK's MiniBrowser (WebKitWebDriver alone).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::{free_ports, terminate, wait_for, Desktop};

/// How long the UI may take to show what a test waits for: a safety net, not a speed check.
const UI_LIMIT: Duration = Duration::from_secs(30);

/// tauri-driver (→ WebKitWebDriver → the app) with a WebDriver session on the app's window.
pub struct Driver {
    process: Child,
    /// The WebDriver session.
    pub client: fantoccini::Client,
}

/// WebKitGTK's own browser, which WebKitWebDriver drives for pages that are not the app's.
const MINI_BROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

impl Driver {
    /// Starts tauri-driver in `desktop` and a session that starts the desktop's app.
    pub async fn start(desktop: &Desktop) -> Self {
        let [port, native_port] = free_ports();
        let process = desktop
            .command("tauri-driver")
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("tauri-driver (scripts/setup installs it)");
        // tauri-driver listens at once and starts WebKitWebDriver beside it; a request that
        // comes before WebKitWebDriver listens gets its connection closed without an answer
        // ("webdriver server did not respond"), so wait for both.
        let capabilities = serde_json::json!({ "tauri:options": { "application": desktop.app() } });
        Self::connect(desktop, process, &[port, native_port], capabilities).await
    }

    /// Starts WebKitWebDriver in `desktop` with a session in WebKitGTK's MiniBrowser (the
    /// engine of the app's window, from the same Debian package), for a page such as
    /// mock-okta's console.
    pub async fn start_browser(desktop: &Desktop) -> Self {
        let [port] = free_ports();
        let process = desktop
            .command("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("WebKitWebDriver (scripts/setup installs webkit2gtk-driver)");
        let capabilities = serde_json::json!({
            "webkitgtk:browserOptions": { "binary": MINI_BROWSER, "args": ["--automation"] }
        });
        Self::connect(desktop, process, &[port], capabilities).await
    }

    /// Waits for the driver `process` to listen on `ports`, then opens a session with
    /// `capabilities` on the first.
    async fn connect(
        desktop: &Desktop,
        mut process: Child,
        ports: &[u16],
        capabilities: serde_json::Value,
    ) -> Self {
        wait_for(
            "the WebDriver server to listen",
            Duration::from_secs(20),
            || {
                ports
                    .iter()
                    .all(|port| std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok())
                    .then_some(())
            },
        );
        let address = format!("127.0.0.1:{}", ports[0]);
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are a JSON object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        // WebKitWebDriver waits forever for an app that died while starting.
        let session = tokio::time::timeout(
            Duration::from_secs(60),
            fantoccini::ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://{address}")),
        )
        .await;
        let client = match session {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                terminate(&mut process);
                panic!("WebDriver session: {error}\n{}", desktop.diagnostics());
            }
            Err(_) => {
                terminate(&mut process);
                panic!("no WebDriver session after 60 s\n{}", desktop.diagnostics());
            }
        };
        Self { process, client }
    }

    /// The text of the first element matching `css`, once it is displayed. (The window shows
    /// a loading screen until the app answered; WebDriver reads hidden text as "".)
    pub async fn text(&self, css: &str) -> String {
        self.displayed(css).await.text().await.unwrap()
    }

    /// Clicks the first element matching `css` once it is displayed and enabled.
    pub async fn click(&self, css: &str) {
        let start = Instant::now();
        loop {
            let element = self.displayed(css).await;
            if element.is_enabled().await.unwrap_or(false) {
                element.click().await.unwrap();
                return;
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for {css} to be enabled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `value` into the first form field matching `css` once it is displayed, replacing
    /// what it held.
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.displayed(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn displayed(&self, css: &str) -> fantoccini::elements::Element {
        let start = Instant::now();
        loop {
            if let Ok(element) = self.client.find(fantoccini::Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for {css} to be displayed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs `script` in the window and returns what it returns.
    pub async fn execute(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{script}"))
    }

    /// The session state the window shows (`document.documentElement.dataset.session`).
    pub async fn session(&self) -> String {
        self.execute("return document.documentElement.dataset.session || '';")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the window shows the session state `state`.
    pub async fn wait_for_session(&self, state: &str) {
        let start = Instant::now();
        loop {
            let shown = self.session().await;
            if shown == state {
                return;
            }
            assert!(
                start.elapsed() < UI_LIMIT,
                "timed out after {UI_LIMIT:?} waiting for the window to show {state:?}: it \
                 shows {shown:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Quits the app as a person does, by closing its window (the app ends with its last
    /// window), then ends the WebDriver session and stops the driver. (Ending the session alone
    /// does not reliably end the app: WebKitWebDriver then dies and leaves it running.)
    pub async fn quit(self) {
        self.client
            .close_window()
            .await
            .expect("close the app's window");
        let _ = self.client.clone().close().await;
    }

    /// Saves a PNG of the app's window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        std::fs::write(path, self.client.screenshot().await.unwrap()).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        terminate(&mut self.process);
    }
}
