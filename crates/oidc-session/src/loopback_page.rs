//! One-time pages on the loopback interface, for what the browser must get without it being in
//! a URL. A URL the app opens lands in the browser's command line (which every local user can
//! read in `/proc`) and in its history; Okta's end-session request carries the ID token as
//! `id_token_hint`. So the browser opens `http://127.0.0.1:PORT/RANDOM` instead, and that page
//! posts the request to Okta as a form by itself (RP-Initiated Logout 1.0 lets the OP take a
//! form POST; Okta calls it the recommended method), with a button for a browser that runs no
//! script. A page answers once, on `127.0.0.1` only, for at most [`PAGE_LIFETIME`], and on Linux
//! only to a connection of the app's own user: other users can read the page's URL in the
//! browser's command line too.

#[cfg(target_os = "linux")]
use std::net::SocketAddrV4;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use openidconnect::CsrfToken;
use tokio::sync::Notify;
use url::Url;

use crate::secret::Sensitive;

/// How long a page waits to be opened.
pub(crate) const PAGE_LIFETIME: Duration = Duration::from_secs(60);

/// What a one-time page does.
pub(crate) enum Page {
    /// Posts a form by itself (a button submits it where scripts do not run).
    AutoPost {
        /// Where it posts.
        action: Url,
        /// Its fields; the values may be secrets.
        fields: Vec<(String, Sensitive<String>)>,
    },
    /// Sends the browser on to this URL.
    Redirect(Url),
}

impl Page {
    /// The form POST of `request`, a GET request URL: the same endpoint and parameters.
    pub(crate) fn posting(request: &Url) -> Self {
        let mut action = request.clone();
        action.set_query(None);
        let fields = request
            .query_pairs()
            .map(|(name, value)| (name.into_owned(), Sensitive::new(value.into_owned())))
            .collect();
        Self::AutoPost { action, fields }
    }

    /// The page's answer.
    fn response(&self) -> Response {
        let headers = [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ];
        match self {
            Self::Redirect(url) => (
                StatusCode::FOUND,
                headers,
                [(header::LOCATION, url.as_str())],
            )
                .into_response(),
            Self::AutoPost { action, fields } => {
                let inputs: String = fields
                    .iter()
                    .map(|(name, value)| {
                        format!(
                            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                            escape(name),
                            escape(value.expose())
                        )
                    })
                    .collect();
                let html = Sensitive::new(format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                     <meta name=\"referrer\" content=\"no-referrer\"><title>Okta</title></head>\
                     <body><form method=\"post\" action=\"{action}\">{inputs}\
                     <p>Taking you to Okta…</p><button type=\"submit\">Continue</button></form>\
                     <script>document.forms[0].submit();</script></body></html>",
                    action = escape(action.as_str()),
                ));
                (headers, Html(html.expose().clone())).into_response()
            }
        }
    }
}

/// Serves `page` once at a fresh random path on `127.0.0.1`; returns its URL. The server stops
/// once the page was served, or after [`PAGE_LIFETIME`]: not when the flow that sent the
/// browser there ends, so that a browser that comes late still ends Okta's session.
pub(crate) async fn publish(page: Arc<Page>) -> std::io::Result<Url> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let server = listener.local_addr()?;
    let port = server.port();
    let path = format!("/{}", CsrfToken::new_random().into_secret());
    let url = Url::parse(&format!("http://127.0.0.1:{port}{path}")).expect("a loopback URL");
    let page = Arc::new(Mutex::new(Some(page)));
    let served = Arc::new(Notify::new());
    let router = Router::new()
        .route(
            &path,
            get({
                let served = served.clone();
                move |method: Method, ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    if method != Method::GET {
                        // A HEAD must not use the page up.
                        return StatusCode::METHOD_NOT_ALLOWED.into_response();
                    }
                    if !of_this_user(peer, server) {
                        tracing::warn!(%peer, "another user asked for the one-time page; refused");
                        return StatusCode::FORBIDDEN.into_response();
                    }
                    serve_once(&page, &served)
                }
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = tokio::time::timeout(PAGE_LIFETIME, served.notified()).await;
        };
        if let Err(error) = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        {
            tracing::warn!(%error, "the one-time page's server failed");
        }
    });
    Ok(url)
}

/// The page the first time, "used" after.
fn serve_once(page: &Mutex<Option<Arc<Page>>>, served: &Notify) -> Response {
    let Some(page) = page.lock().expect("page poisoned").take() else {
        return (
            StatusCode::GONE,
            "This link was used already. In the app, use Open the page again.",
        )
            .into_response();
    };
    served.notify_one();
    page.response()
}

/// Whether the TCP connection from `peer` to `server` (both on loopback, `server` in this
/// process) belongs to this process's user: the kernel's table of TCP sockets names the owner
/// of the peer's end.
#[cfg(target_os = "linux")]
fn of_this_user(peer: SocketAddr, server: SocketAddr) -> bool {
    use std::os::unix::fs::MetadataExt as _;

    let (Ok(me), Ok(table)) = (
        std::fs::metadata("/proc/self").map(|process| process.uid()),
        std::fs::read_to_string("/proc/net/tcp"),
    ) else {
        return false;
    };
    let (SocketAddr::V4(peer), SocketAddr::V4(server)) = (peer, server) else {
        return false;
    };
    connection_owner(&table, peer, server) == Some(me)
}

/// The owner's uid of the open connection from `local` to `remote` in `table`, the text of
/// `/proc/net/tcp`. The whole address pair must match, and the connection must be open: a
/// port alone is not unique (Linux gives one local port to connections to different places),
/// and a closed connection waiting out TIME_WAIT belongs to nobody, so the table says uid 0.
#[cfg(target_os = "linux")]
fn connection_owner(table: &str, local: SocketAddrV4, remote: SocketAddrV4) -> Option<u32> {
    /// The `st` column's value for an open connection.
    const ESTABLISHED: &str = "01";
    // Each address is the IPv4 address as a little-endian hex word, then the port.
    let hex = |address: SocketAddrV4| {
        format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(address.ip().octets()),
            address.port()
        )
    };
    let (local, remote) = (hex(local), hex(remote));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [_, row_local, row_remote, ESTABLISHED, _, _, _, uid, ..]
                if row_local == local && row_remote == remote =>
            {
                uid.parse().ok()
            }
            _ => None,
        }
    })
}

/// Elsewhere, every local connection counts as the user's (no such table to ask).
#[cfg(not(target_os = "linux"))]
fn of_this_user(_peer: SocketAddr, _server: SocketAddr) -> bool {
    true
}

/// `text` safe inside HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Arc<Page> {
        let mut request = Url::parse("https://example.okta.com/oauth2/v1/logout").unwrap();
        request
            .query_pairs_mut()
            .append_pair("id_token_hint", "eyJ.a\"b<c>.sig")
            .append_pair("state", "s1");
        Arc::new(Page::posting(&request))
    }

    #[tokio::test]
    async fn a_page_answers_once_on_loopback_at_a_random_path() {
        let url = publish(page()).await.unwrap();
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert!(url.query().is_none());
        assert!(url.path().len() > 20, "{url}");
        let other = publish(page()).await.unwrap();
        assert_ne!(url.path(), other.path());

        let http = reqwest::Client::new();
        let mut elsewhere = url.clone();
        elsewhere.set_path("/guess");
        assert_eq!(http.get(elsewhere).send().await.unwrap().status(), 404);
        let first = http.get(url.clone()).send().await.unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-store");
        let body = first.text().await.unwrap();
        assert!(body.contains(
            "<form method=\"post\" action=\"https://example.okta.com/oauth2/v1/logout\">"
        ));
        assert!(
            body.contains("name=\"id_token_hint\" value=\"eyJ.a&quot;b&lt;c&gt;.sig\""),
            "{body}"
        );
        assert!(body.contains("<button type=\"submit\">"));
        assert!(body.contains("document.forms[0].submit()"));
        assert!(body.contains("name=\"state\" value=\"s1\""), "{body}");
        // Used: gone, then the server with it.
        match http.get(url.clone()).send().await {
            Ok(again) => assert_eq!(again.status(), 410),
            Err(error) => assert!(error.is_connect(), "{error}"),
        }
    }

    #[tokio::test]
    async fn a_redirect_page_sends_the_browser_on() {
        let target = Url::parse("https://example.okta.com/oauth2/v1/authorize?state=s1").unwrap();
        let url = publish(Arc::new(Page::Redirect(target.clone())))
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = http.get(url).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        assert_eq!(answer.headers()[header::LOCATION], target.as_str());
    }

    /// `url`'s status for a `curl` run as user `nobody`.
    #[cfg(target_os = "linux")]
    fn status_for_nobody(url: &Url) -> String {
        let output = std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "curl",
                "-s",
            ])
            .args(["-o", "/dev/null", "-w", "%{http_code}", url.as_str()])
            .output()
            .expect("setpriv and curl (scripts/setup installs them)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The kernel's table may list the client's port more than once: a connection of another
    /// user to somewhere else, and one of an earlier connection waiting out TIME_WAIT (uid 0,
    /// which was root's own uid when the tests ran as root).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_owner_is_the_one_of_the_open_connection_to_the_page() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:8CE1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 646522 1 0000000074ad1cc3 100 0 0 10 0
   1: 0100007F:C330 0100007F:1F90 06 00000000:00000000 03:0000175C 00000000     0        0 0 3 0000000074170513
   2: 0100007F:C330 0100007F:0050 01 00000000:00000000 00:00000000 00000000  1000        0 646600 1 0000000074ad1cc4 20 4 30 10 -1
   3: 0100007F:C330 0100007F:8CE1 01 00000000:00000000 00:00000000 00000000 65534        0 646601 1 0000000074ad1cc5 20 4 30 10 -1
   4: 0100007F:8CE1 0100007F:C330 01 00000000:00000000 00:00000000 00000000     0        0 646602 1 0000000074ad1cc6 20 4 30 10 -1
";
        let client: SocketAddrV4 = "127.0.0.1:49968".parse().unwrap();
        let page: SocketAddrV4 = "127.0.0.1:36065".parse().unwrap();
        assert_eq!(connection_owner(table, client, page), Some(65534));
        let elsewhere: SocketAddrV4 = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            connection_owner(table, client, elsewhere),
            None,
            "a connection waiting out TIME_WAIT has no owner"
        );
        let unknown: SocketAddrV4 = "127.0.0.1:49969".parse().unwrap();
        assert_eq!(connection_owner(table, unknown, page), None);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn another_user_of_the_machine_does_not_get_the_page() {
        use std::os::unix::fs::MetadataExt as _;

        if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
            eprintln!("acting as another user needs root (scripts/test runs as root); not checked");
            return;
        }
        let mut request = Url::parse("https://example.okta.com/oauth2/v1/logout").unwrap();
        request
            .query_pairs_mut()
            .append_pair("id_token_hint", "eyJ.secret.sig");
        let url = publish(Arc::new(Page::posting(&request))).await.unwrap();
        let url_for_nobody = url.clone();
        let status = tokio::task::spawn_blocking(move || status_for_nobody(&url_for_nobody))
            .await
            .unwrap();
        assert_eq!(status, "403");
        let answer = reqwest::get(url).await.unwrap();
        assert_eq!(answer.status(), 200, "the page is still the user's");
        assert!(answer.text().await.unwrap().contains("eyJ.secret.sig"));
    }
}
