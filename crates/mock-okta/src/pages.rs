//! The HTML pages a person (or the scripted browser) sees. No inline script anywhere, so a
//! scripted agent sees exactly what a person's browser does.

use crate::journal::Outcome;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// The path of the sign-in form and of the page logout falls back to.
pub(crate) const SIGN_IN_PATH: &str = "/login";

/// Form field carrying the parked authorization request.
pub(crate) const SIGN_IN_REQUEST_FIELD: &str = "request_id";

fn page(status: StatusCode, title: &str, body: &str, head: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{head}<title>{} - mock-okta</title></head>\n<body>\n<h1>{}</h1>\n{body}\n</body></html>\n",
        text(title),
        text(title)
    );
    (
        status,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Html(html),
    )
        .into_response()
}

/// The sign-in form; `request_id` ties it to a parked authorization request.
pub(crate) fn sign_in(request_id: Option<&str>, error: Option<&str>) -> Response {
    let error = error
        .map(|message| format!("<p class=\"error\" role=\"alert\">{}</p>\n", text(message)))
        .unwrap_or_default();
    let hidden = request_id
        .map(|id| {
            format!(
                "<input type=\"hidden\" name=\"{SIGN_IN_REQUEST_FIELD}\" value=\"{}\">\n",
                attr(id)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "{error}<form id=\"sign-in-form\" method=\"post\" action=\"{SIGN_IN_PATH}\">\n{hidden}\
         <label>Username <input name=\"username\" type=\"text\" autocomplete=\"username\"></label>\n\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>"
    );
    page(StatusCode::OK, "Sign in", &body, "")
}

/// Shown after signing in on the bare sign-in page (no app waiting for a redirect).
pub(crate) fn signed_in(name: &str) -> Response {
    let body = format!(
        "<p id=\"signed-in\">You are signed in as {}.</p>",
        text(name)
    );
    page(StatusCode::OK, "Signed in", &body, "")
}

/// Okta's error page for a request it will not redirect back (a bad `client_id`,
/// `redirect_uri` or `post_logout_redirect_uri`): no redirect, the OAuth error in two fields,
/// "Error Code" and "Description", as Okta lays them out.
pub(crate) fn error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = format!(
        "<p>Error Code: <code id=\"error-code\">{}</code></p>\n\
         <p>Description: <span id=\"error-message\">{}</span></p>",
        text(code),
        text(description)
    );
    Outcome(code.to_owned()).attach(page(status, "Error", &body, ""))
}

/// An interstitial that navigates to `target` by meta refresh, with a visible link as well.
pub(crate) fn interstitial(target: &str) -> Response {
    let head = format!(
        "<meta http-equiv=\"refresh\" content=\"0;url={}\">",
        attr(target)
    );
    let body = format!(
        "<p>You have been signed out. <a id=\"continue\" href=\"{}\">Continue</a></p>",
        attr(target)
    );
    page(StatusCode::OK, "Signing out", &body, &head)
}

/// A signed-out page that never navigates anywhere (fault).
pub(crate) fn signed_out_dead_end() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<p id=\"signed-out\">You have been signed out.</p>",
        "",
    )
}
