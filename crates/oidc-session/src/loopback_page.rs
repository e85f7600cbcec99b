//! One-time pages on the loopback interface, for what the browser must get without it being in
//! a URL. A URL the app opens lands in the browser's command line (which every local user can
//! read in `/proc`) and in its history; Okta's end-session request carries the ID token as
//! `id_token_hint`. So the browser opens `http://127.0.0.1:PORT/RANDOM` instead, and that page
//! posts the request to Okta as a form by itself (RP-Initiated Logout 1.0 lets the OP take a
//! form POST; Okta calls it the recommended method), with a button for a browser that runs no
//! script. A page answers once, on `127.0.0.1` only, for at most [`PAGE_LIFETIME`].

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
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
/// once the page was served, or after [`PAGE_LIFETIME`].
pub(crate) async fn publish(page: Arc<Page>) -> std::io::Result<Url> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = listener.local_addr()?.port();
    let path = format!("/{}", CsrfToken::new_random().into_secret());
    let url = Url::parse(&format!("http://127.0.0.1:{port}{path}")).expect("a loopback URL");
    let page = Arc::new(Mutex::new(Some(page)));
    let served = Arc::new(Notify::new());
    let router = Router::new()
        .route(
            &path,
            get({
                let served = served.clone();
                move || async move { serve_once(&page, &served) }
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND });
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = tokio::time::timeout(PAGE_LIFETIME, served.notified()).await;
        };
        if let Err(error) = axum::serve(listener, router)
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
}

#[cfg(test)]
mod redirect_tests {
    use super::*;

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
}
