//! A scripted "person's browser" for tests and QA: it keeps cookies, follows redirects itself,
//! fills in mock-okta's sign-in form like a person would, follows meta refreshes, submits a
//! form of hidden fields as a person presses its button (scripts do not run), and stops at
//! the custom-scheme redirect that the OS would hand to the app. Its cookie jar can be saved
//! and loaded, so that a browser run as one process per URL keeps its Okta session.

use std::fmt;
use std::io::{BufRead, Write};
use std::sync::Arc;

use reqwest::cookie::CookieStore as _;
use reqwest::header::LOCATION;
use reqwest_cookie_store::CookieStoreMutex;
use scraper::{Html, Selector};
use url::Url;

use crate::MockOkta;

/// A person would give up long before this many navigations.
const MAX_NAVIGATIONS: usize = 20;

/// Where a navigation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// A redirect to a non-http(s) URL, which the OS would hand to the app.
    AppRedirect(Url),
    /// A page that neither redirects nor asks for credentials the browser can give.
    Page {
        /// HTTP status of the page.
        status: u16,
        /// The HTML.
        body: String,
    },
}

/// Why a navigation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// The CA certificate PEM could not be parsed or the HTTP client not built.
    #[error("cannot set up the browser: {0}")]
    Setup(reqwest::Error),
    /// A request failed: connection refused or dropped, TLS error, unreadable body.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A redirect without a usable `Location`, or a link that is not a URL.
    #[error("cannot follow {0:?}")]
    BadLocation(String),
    /// The navigation went on past the hop limit (a redirect loop).
    #[error("gave up after {MAX_NAVIGATIONS} navigations")]
    TooManyNavigations,
    /// Saved cookies could not be read, or the cookie jar not written.
    #[error("cookie jar: {0}")]
    CookieJar(Box<dyn std::error::Error + Send + Sync>),
}

/// Username and password a browser types into the sign-in form.
#[derive(Clone)]
struct Credentials {
    username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// A browser with its own cookie jar: the same `Browser` is the same Okta session.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    cookies: Arc<CookieStoreMutex>,
    credentials: Option<Credentials>,
}

enum Navigation {
    Get(Url),
    PostForm(Url, Vec<(String, String)>),
}

impl Browser {
    /// A browser that trusts `ca_certificate_pem` (besides nothing else) and has no credentials.
    pub fn new(ca_certificate_pem: &str) -> Result<Browser, BrowserError> {
        crate::tls::install_crypto_provider();
        let certificate = reqwest::Certificate::from_pem(ca_certificate_pem.as_bytes())
            .map_err(BrowserError::Setup)?;
        let cookies = Arc::new(CookieStoreMutex::default());
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(certificate)
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(cookies.clone())
            .build()
            .map_err(BrowserError::Setup)?;
        Ok(Browser {
            client,
            cookies,
            credentials: None,
        })
    }

    /// A browser for `mock` that signs in as the first built-in user when asked.
    pub fn for_mock(mock: &MockOkta) -> Result<Browser, BrowserError> {
        Ok(Browser::new(mock.ca_certificate_pem())?
            .with_credentials(crate::DEMO_USERNAME, crate::DEMO_PASSWORD))
    }

    /// The same browser, typing these credentials into sign-in forms.
    pub fn with_credentials(mut self, username: &str, password: &str) -> Browser {
        self.set_credentials(username, password);
        self
    }

    /// Types these credentials into sign-in forms from now on.
    pub fn set_credentials(&mut self, username: &str, password: &str) {
        self.credentials = Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
    }

    /// Leaves sign-in forms alone from now on (they end the navigation as a page).
    pub fn clear_credentials(&mut self) {
        self.credentials = None;
    }

    /// The `Cookie` header this browser would send to `url`.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        self.cookies
            .cookies(url)
            .and_then(|value| value.to_str().ok().map(str::to_owned))
    }

    /// Writes every cookie, session cookies included: a browser that is still running keeps
    /// them, and [`Browser::load_cookies`] in the next process carries on as that browser.
    pub fn save_cookies(&self, writer: &mut impl Write) -> Result<(), BrowserError> {
        let store = self.cookies.lock().expect("cookie jar poisoned");
        cookie_store::serde::json::save_incl_expired_and_nonpersistent(&store, writer)
            .map_err(BrowserError::CookieJar)
    }

    /// Replaces the cookie jar with cookies written by [`Browser::save_cookies`], less those
    /// that expired since.
    pub fn load_cookies(&self, reader: impl BufRead) -> Result<(), BrowserError> {
        let loaded = cookie_store::serde::json::load(reader).map_err(BrowserError::CookieJar)?;
        *self.cookies.lock().expect("cookie jar poisoned") = loaded;
        Ok(())
    }

    /// Navigates to `url` like a person: follows http(s) redirects and meta refreshes, signs in
    /// once when shown the sign-in form (a second form means the sign-in failed), and stops at a
    /// redirect to a non-http(s) URL or at a page.
    pub async fn open(&self, url: Url) -> Result<Landing, BrowserError> {
        let mut next = Navigation::Get(url);
        let mut signed_in = false;
        for _ in 0..MAX_NAVIGATIONS {
            let (method, current, response) = match next {
                Navigation::Get(url) => ("GET", url.clone(), self.client.get(url).send().await?),
                Navigation::PostForm(url, fields) => (
                    "POST",
                    url.clone(),
                    self.client.post(url).form(&fields).send().await?,
                ),
            };
            let status = response.status();
            tracing::debug!(
                method,
                url = %without_query(&current),
                status = status.as_u16(),
                "navigated"
            );
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(|| {
                        BrowserError::BadLocation(format!("{status} without Location"))
                    })?;
                match resolve(&current, location)? {
                    Target::App(url) => return Ok(Landing::AppRedirect(url)),
                    Target::Web(url) => next = Navigation::Get(url),
                }
                continue;
            }
            let body = response.text().await?;
            let page = read_page(&body);
            match (page, &self.credentials) {
                (Page::SignInForm { action, fields }, Some(credentials)) if !signed_in => {
                    tracing::debug!(username = %credentials.username, "filling in the sign-in form");
                    signed_in = true;
                    let Target::Web(action) = resolve(&current, &action)? else {
                        return Err(BrowserError::BadLocation(action));
                    };
                    next = Navigation::PostForm(action, fill(fields, credentials));
                }
                // A page that posts a form by itself (OIDC form posts, an app's hand-off page):
                // what a person does where its script does not run, press its button.
                (Page::PostForm { action, fields }, _) => {
                    tracing::debug!("submitting a form of hidden fields");
                    let Target::Web(action) = resolve(&current, &action)? else {
                        return Err(BrowserError::BadLocation(action));
                    };
                    next = Navigation::PostForm(action, fields);
                }
                (Page::Refresh(target), _) => {
                    tracing::debug!("following a meta refresh");
                    match resolve(&current, &target)? {
                        Target::App(url) => return Ok(Landing::AppRedirect(url)),
                        Target::Web(url) => next = Navigation::Get(url),
                    }
                }
                _ => {
                    return Ok(Landing::Page {
                        status: status.as_u16(),
                        body,
                    })
                }
            }
        }
        Err(BrowserError::TooManyNavigations)
    }
}

/// `url` without its query and fragment: what a log may show of a URL that can carry codes.
pub fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

enum Target {
    App(Url),
    Web(Url),
}

fn resolve(current: &Url, location: &str) -> Result<Target, BrowserError> {
    let url = current
        .join(location)
        .map_err(|_| BrowserError::BadLocation(location.to_owned()))?;
    Ok(match url.scheme() {
        "http" | "https" => Target::Web(url),
        _ => Target::App(url),
    })
}

/// What a page asks the browser to do.
enum Page {
    /// A form with a password field: its action and its inputs (name, type, value).
    SignInForm {
        action: String,
        fields: Vec<(String, String, String)>,
    },
    /// A `method="post"` form of hidden inputs only: its action and its fields.
    PostForm {
        action: String,
        fields: Vec<(String, String)>,
    },
    /// `<meta http-equiv="refresh" content="0;url=…">`.
    Refresh(String),
    Other,
}

fn read_page(html: &str) -> Page {
    let document = Html::parse_document(html);
    let forms = Selector::parse("form").expect("valid selector");
    let inputs = Selector::parse("input[name]").expect("valid selector");
    let password = Selector::parse("input[type=password]").expect("valid selector");
    if let Some(form) = document
        .select(&forms)
        .find(|form| form.select(&password).next().is_some())
    {
        let fields = form
            .select(&inputs)
            .map(|input| {
                let attr = |name| input.value().attr(name).unwrap_or_default().to_owned();
                (
                    attr("name"),
                    attr("type").to_ascii_lowercase(),
                    attr("value"),
                )
            })
            .collect();
        return Page::SignInForm {
            action: form.value().attr("action").unwrap_or_default().to_owned(),
            fields,
        };
    }
    let hidden_post = document.select(&forms).find(|form| {
        form.value()
            .attr("method")
            .is_some_and(|method| method.eq_ignore_ascii_case("post"))
            && form
                .select(&inputs)
                .all(|input| input.value().attr("type") == Some("hidden"))
    });
    if let Some(form) = hidden_post {
        let fields = form
            .select(&inputs)
            .map(|input| {
                let attr = |name| input.value().attr(name).unwrap_or_default().to_owned();
                (attr("name"), attr("value"))
            })
            .collect();
        return Page::PostForm {
            action: form.value().attr("action").unwrap_or_default().to_owned(),
            fields,
        };
    }
    let metas = Selector::parse("meta[http-equiv]").expect("valid selector");
    document
        .select(&metas)
        .filter(|meta| {
            meta.value()
                .attr("http-equiv")
                .is_some_and(|kind| kind.eq_ignore_ascii_case("refresh"))
        })
        .find_map(|meta| refresh_target(meta.value().attr("content")?))
        .map_or(Page::Other, Page::Refresh)
}

/// The URL of a refresh `content` such as `0;url=https://…` or `0; URL='…'`.
fn refresh_target(content: &str) -> Option<String> {
    let (_, rest) = content.split_once(';')?;
    let rest = rest.trim();
    let url = rest
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("url="))
        .map(|_| &rest[4..])?;
    Some(url.trim().trim_matches(['\'', '"']).to_owned())
}

/// Types the credentials into the text and password inputs; hidden inputs keep their values.
fn fill(fields: Vec<(String, String, String)>, credentials: &Credentials) -> Vec<(String, String)> {
    fields
        .into_iter()
        .map(|(name, kind, value)| {
            let value = match kind.as_str() {
                "password" => credentials.password.clone(),
                "hidden" | "submit" => value,
                _ => credentials.username.clone(),
            };
            (name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_targets_are_parsed_like_browsers_do() {
        assert_eq!(
            refresh_target("0;url=com.x:/cb?a=1").as_deref(),
            Some("com.x:/cb?a=1")
        );
        assert_eq!(
            refresh_target("0; URL='http://h/'").as_deref(),
            Some("http://h/")
        );
        assert_eq!(refresh_target("5"), None);
    }
}
