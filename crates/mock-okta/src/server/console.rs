//! The console QA looks at: `GET /__admin/` in a browser. It shows, refreshed every second,
//! the browser sessions, the tokens (never their text) and the last requests, and has a form
//! for every fault and Okta behaviour switch, the token lifetimes, key and DPoP nonce rotation
//! and reset.
//! Scripts keep the JSON: the same URL answers JSON unless the client asks for HTML.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use time::OffsetDateTime;

use super::{SharedState, ADMIN_PREFIX};
use crate::config::Lifetimes;
use crate::faults::{AuthorizationResponseIss, Endpoint, ExpiredHintPolicy, Faults};
use crate::journal::{serde_name, JournalEntry};
use crate::store::shorten;

/// Where the page fetches its live tables from.
pub(crate) const LIVE_PATH: &str = "/__admin/console/live";

/// How many tokens and requests the live tables show, newest first.
const LIVE_ROWS: usize = 50;

/// A form field bound to one value of a `T`.
struct Field<T, V> {
    name: &'static str,
    label: &'static str,
    of: fn(&mut T) -> &mut V,
}

/// The on/off fault and behaviour switches.
const SWITCHES: [Field<Faults, bool>; 7] = [
    Field {
        name: "logout_error_page",
        label: "Logout answers with the 400 error page",
        of: |faults| &mut faults.logout_error_page,
    },
    Field {
        name: "logout_never_redirects",
        label: "Logout shows a page that never navigates",
        of: |faults| &mut faults.logout_never_redirects,
    },
    Field {
        name: "logout_interstitial",
        label: "Logout shows an interstitial page first (Okta behaviour)",
        of: |faults| &mut faults.logout_interstitial,
    },
    Field {
        name: "malformed_discovery",
        label: "Discovery answers with a malformed document",
        of: |faults| &mut faults.malformed_discovery,
    },
    Field {
        name: "refresh_changes_subject",
        label: "Refreshed ID tokens name another sub",
        of: |faults| &mut faults.refresh_changes_subject,
    },
    Field {
        name: "refresh_changes_issuer",
        label: "Refreshed ID tokens name another iss",
        of: |faults| &mut faults.refresh_changes_issuer,
    },
    Field {
        name: "dpop_unsupported",
        label: "No DPoP: discovery does not offer it and token requests' proofs are ignored (a provider without DPoP)",
        of: |faults| &mut faults.dpop_unsupported,
    },
];

/// The token lifetimes, in seconds.
const LIFETIMES: [Field<Lifetimes, u64>; 5] = [
    Field {
        name: "id_token_secs",
        label: "ID token",
        of: |lifetimes| &mut lifetimes.id_token_secs,
    },
    Field {
        name: "access_token_secs",
        label: "Access token",
        of: |lifetimes| &mut lifetimes.access_token_secs,
    },
    Field {
        name: "refresh_token_secs",
        label: "Refresh token",
        of: |lifetimes| &mut lifetimes.refresh_token_secs,
    },
    Field {
        name: "authorization_code_secs",
        label: "Authorization code",
        of: |lifetimes| &mut lifetimes.authorization_code_secs,
    },
    Field {
        name: "refresh_token_grace_secs",
        label: "Grace period of a rotated refresh token (0–60)",
        of: |lifetimes| &mut lifetimes.refresh_token_grace_secs,
    },
];

/// Whether the client asked for a page rather than data.
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The whole page.
pub(crate) fn page(state: &SharedState) -> Response {
    let issuers = std::iter::once(super::AuthServer::Org)
        .chain(
            state
                .config
                .authorization_servers
                .iter()
                .map(|id| super::AuthServer::Custom(id.clone())),
        )
        .map(|server| {
            format!(
                "<li><code>{}</code></li>",
                text(&server.issuer(&state.urls))
            )
        })
        .collect::<String>();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mock-okta console</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
th {{ background: #eef; }}
.revoked, .expired, .error {{ color: #a00; }}
.active {{ color: #070; }}
section {{ margin-bottom: 1.5em; }}
input[type=number] {{ width: 7em; }}
</style></head>
<body>
<h1>mock-okta console</h1>
<p>Times are UTC. Issuers:</p><ul>{issuers}</ul>
<p>JSON for scripts: <code>{ADMIN_PREFIX}/</code> without <code>Accept: text/html</code>; the request journal at <code>{ADMIN_PREFIX}/requests?since=N</code>.</p>
<div id="live">{live}</div>
{faults}
{lifetimes}
<section><h2>Keys and state</h2>
<form method="post" action="{ADMIN_PREFIX}/console/rotate-key"><button id="rotate-key" type="submit">Rotate the signing key (keep the old one published)</button></form>
<form method="post" action="{ADMIN_PREFIX}/console/rotate-dpop-nonce"><label><input type="checkbox" name="keep_previous" id="keep_previous" checked> keep the earlier DPoP nonces accepted (Okta: three days)</label> <button id="rotate-dpop-nonce" type="submit">Rotate the DPoP nonce</button></form>
<form method="post" action="{ADMIN_PREFIX}/console/reset"><button id="reset" type="submit">Reset: forget sessions, tokens, events; restore configured switches</button></form>
</section>
<script>
// Live tables: the forms stay as they are while someone edits them.
setInterval(async () => {{
  try {{
    const answer = await fetch("{LIVE_PATH}", {{ cache: "no-store" }});
    if (answer.ok) document.getElementById("live").innerHTML = await answer.text();
  }} catch (_) {{ /* mock-okta stopped or went offline: keep the last view */ }}
}}, 1000);
</script>
</body></html>
"#,
        live = live_tables(state),
        // The version first: a change in between makes the form refused, never wrongly applied.
        faults = faults_form(state.faults_version(), &state.faults()),
        lifetimes = lifetimes_form(&state.lifetimes()),
    );
    no_store(Html(html).into_response())
}

/// `GET /__admin/console/live`: the live tables alone, for the page's refresh.
pub(crate) async fn live(State(state): State<SharedState>) -> Response {
    no_store(Html(live_tables(&state)).into_response())
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("a valid header"),
    );
    response
}

/// `2026-12-02 15:04:05` (UTC): to the second, which is what a person reads.
fn time_of(moment: OffsetDateTime) -> String {
    let utc = moment.to_offset(time::UtcOffset::UTC);
    let (hour, minute, second) = utc.to_hms();
    format!("{} {hour:02}:{minute:02}:{second:02}", utc.date())
}

/// The client a journaled request names: `client_id`, or the client of Basic credentials.
fn client_of(entry: &JournalEntry) -> &str {
    entry
        .value("client_id")
        .or_else(|| {
            entry
                .value("authorization")
                .and_then(|basic| basic.strip_prefix("Basic "))
                .and_then(|credentials| credentials.rsplit_once(':'))
                .map(|(client_id, _)| client_id)
        })
        .unwrap_or("")
}

/// The faults in force, one line each; what the page's form shows may be older.
fn faults_in_force(faults: &Faults) -> String {
    let mut lines: Vec<String> = Endpoint::ALL
        .into_iter()
        .filter_map(|endpoint| {
            let fault = faults.endpoint(endpoint);
            let mut parts = Vec::new();
            if fault.latency_ms > 0 {
                parts.push(format!("latency {} ms", fault.latency_ms));
            }
            if fault.drop_connection {
                parts.push("drops the connection".to_owned());
            }
            if let Some(status) = fault.status {
                parts.push(format!("answers {status}"));
            }
            if let Some(count) = fault.count {
                parts.push(format!("for the next {count} request(s)"));
            }
            (!parts.is_empty()).then(|| format!("{endpoint}: {}", parts.join(", ")))
        })
        .collect();
    let mut switches = faults.clone();
    lines.extend(
        SWITCHES
            .iter()
            .filter(|switch| *(switch.of)(&mut switches))
            .map(|switch| switch.label.to_owned()),
    );
    if faults.expired_id_token_hint != ExpiredHintPolicy::default() {
        lines.push("Logout rejects an expired id_token_hint".to_owned());
    }
    if faults.authorization_response_iss != AuthorizationResponseIss::default() {
        lines.push(format!(
            "RFC 9207 iss: {}",
            faults.authorization_response_iss.name()
        ));
    }
    if lines.is_empty() {
        return "<p id=\"faults-in-force\">None: a well-behaved Okta.</p>".to_owned();
    }
    let items: String = lines
        .iter()
        .map(|line| format!("<li>{}</li>", text(line)))
        .collect();
    format!("<ul id=\"faults-in-force\">{items}</ul>")
}

fn live_tables(state: &SharedState) -> String {
    let (sessions, (tokens, tokens_kept)) = {
        let store = state.store();
        (store.sessions(), store.newest_tokens(LIVE_ROWS))
    };
    let (requests, requests_kept) = state.journal().newest(LIVE_ROWS);
    let session_rows: String = sessions
        .iter()
        .map(|session| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(&session.user),
                text(&session.id),
                time_of(session.created),
                serde_name(&session.authenticated_by),
                text(session.client_id.as_deref().unwrap_or("–")),
            )
        })
        .collect();
    let token_rows: String = tokens
        .iter()
        .map(|token| {
            let state = serde_name(&token.state);
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{state}\">{state}</td><td>{}</td><td><code>{}</code></td></tr>",
                serde_name(&token.kind),
                text(&token.client_id),
                text(&token.user),
                text(&token.issuer),
                time_of(token.expires_at),
                binding(token.dpop_jkt.as_deref()),
                shorten(&token.fingerprint),
            )
        })
        .collect();
    let request_rows: String = requests
        .iter()
        .map(|entry| {
            let status = entry
                .status
                .map_or_else(|| "–".to_owned(), |status| status.to_string());
            let class = if entry.status.is_none_or(|status| status >= 400) {
                " class=\"error\""
            } else {
                ""
            };
            format!(
                "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{status}</td><td>{}</td><td>{}</td></tr>",
                entry.seq,
                time_of(entry.time),
                text(&entry.method),
                text(&entry.path),
                text(client_of(entry)),
                text(&entry.outcome),
            )
        })
        .collect();
    format!(
        "<section><h2>Faults in force</h2>\n{faults}</section>\n\
         <section><h2>Sessions ({sessions_count})</h2>\n\
         <table id=\"sessions\"><tr><th>user</th><th>session id</th><th>since</th><th>signed in by</th><th>client</th></tr>{session_rows}</table></section>\n\
         <section><h2>Tokens ({tokens_kept} kept, newest {LIVE_ROWS} shown)</h2>\n\
         <table id=\"tokens\"><tr><th>kind</th><th>client</th><th>user</th><th>issuer</th><th>expires</th><th>state</th><th>bound to</th><th>fingerprint</th></tr>{token_rows}</table></section>\n\
         <section><h2>Last requests ({requests_kept} kept, newest {LIVE_ROWS} shown)</h2>\n\
         <table id=\"requests\"><tr><th>#</th><th>time</th><th>method</th><th>path</th><th>status</th><th>client</th><th>outcome</th></tr>{request_rows}</table></section>",
        faults = faults_in_force(&state.faults()),
        sessions_count = sessions.len(),
    )
}

/// The DPoP key a token is bound to: the start of its `jkt` (public, a key's thumbprint).
fn binding(dpop_jkt: Option<&str>) -> String {
    match dpop_jkt {
        Some(jkt) => format!(
            "DPoP <code>{}…</code>",
            text(&jkt.chars().take(8).collect::<String>())
        ),
        None => "–".to_owned(),
    }
}

fn checkbox(name: &str, checked: bool) -> String {
    let checked = if checked { " checked" } else { "" };
    format!("<input type=\"checkbox\" name=\"{name}\" id=\"{name}\"{checked}>")
}

fn number(name: &str, value: Option<u64>) -> String {
    let value = value.map(|value| value.to_string()).unwrap_or_default();
    format!(
        "<input type=\"number\" min=\"0\" name=\"{name}\" id=\"{name}\" value=\"{}\">",
        attr(&value)
    )
}

fn select(name: &str, options: &[&str], chosen: &str) -> String {
    let options: String = options
        .iter()
        .map(|option| {
            let selected = if *option == chosen { " selected" } else { "" };
            format!("<option{selected}>{}</option>", text(option))
        })
        .collect();
    format!("<select name=\"{name}\" id=\"{name}\">{options}</select>")
}

fn faults_form(version: u64, faults: &Faults) -> String {
    let endpoints: String = Endpoint::ALL
        .into_iter()
        .map(|endpoint| {
            let fault = faults.endpoint(endpoint);
            format!(
                "<tr><td>{endpoint}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                number(&format!("{endpoint}.latency_ms"), Some(fault.latency_ms)),
                checkbox(
                    &format!("{endpoint}.drop_connection"),
                    fault.drop_connection
                ),
                number(&format!("{endpoint}.status"), fault.status.map(u64::from)),
                number(&format!("{endpoint}.count"), fault.count),
            )
        })
        .collect();
    let mut current = faults.clone();
    let switches: String = SWITCHES
        .iter()
        .map(|switch| {
            format!(
                "<p><label>{} {}</label></p>",
                checkbox(switch.name, *(switch.of)(&mut current)),
                text(switch.label)
            )
        })
        .collect();
    let hint_policies = ["accept", "reject"];
    let hint_policy = match faults.expired_id_token_hint {
        ExpiredHintPolicy::Accept => "accept",
        ExpiredHintPolicy::Reject => "reject",
    };
    let iss_modes: Vec<&str> = AuthorizationResponseIss::ALL
        .into_iter()
        .map(AuthorizationResponseIss::name)
        .collect();
    format!(
        "<section><h2>Faults and Okta behaviour</h2>\n\
         <form id=\"faults-form\" method=\"post\" action=\"{ADMIN_PREFIX}/console/faults\">\n\
         <input type=\"hidden\" name=\"version\" value=\"{version}\">\n\
         <table><tr><th>endpoint</th><th>latency (ms)</th><th>drop the connection</th><th>answer with status</th><th>only the next N requests</th></tr>{endpoints}</table>\n\
         {switches}\
         <p><label>Expired <code>id_token_hint</code> at logout: {}</label></p>\n\
         <p><label>RFC 9207 <code>iss</code> in authorize redirects: {}</label></p>\n\
         <button id=\"apply-faults\" type=\"submit\">Apply faults</button></form></section>",
        select("expired_id_token_hint", &hint_policies, hint_policy),
        select(
            "authorization_response_iss",
            &iss_modes,
            faults.authorization_response_iss.name()
        ),
    )
}

fn lifetimes_form(lifetimes: &Lifetimes) -> String {
    let mut current = *lifetimes;
    let rows: String = LIFETIMES
        .iter()
        .map(|lifetime| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                text(lifetime.label),
                number(lifetime.name, Some(*(lifetime.of)(&mut current)))
            )
        })
        .collect();
    format!(
        "<section><h2>Token lifetimes (seconds; for tokens issued from now on)</h2>\n\
         <form id=\"lifetimes-form\" method=\"post\" action=\"{ADMIN_PREFIX}/console/lifetimes\">\n\
         <table>{rows}</table>\n\
         <p><label>{} Rotate refresh tokens when used</label></p>\n\
         <button id=\"apply-lifetimes\" type=\"submit\">Apply lifetimes</button></form></section>",
        checkbox("refresh_token_rotation", lifetimes.refresh_token_rotation),
    )
}

/// A form value that is not what its field takes: 422 with a page saying which.
fn unusable(message: &str) -> Response {
    refused(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// A page saying why a form was not applied, with the way back.
fn refused(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not applied - mock-okta console</title></head>\n\
         <body><h1>Not applied</h1><p id=\"error-message\">{}</p><p><a href=\"{ADMIN_PREFIX}/\">Back to the console</a></p></body></html>\n",
        text(message)
    );
    (status, Html(html)).into_response()
}

/// Back to the console after a form post (303: the browser then GETs it).
fn back_to_console() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{ADMIN_PREFIX}/"))],
    )
        .into_response()
}

/// A number field; empty is `None`.
fn field<T: std::str::FromStr>(
    form: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, String> {
    match form
        .get(name)
        .map(|value| value.trim())
        .filter(|value| !value.is_empty())
    {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}: {value:?} is not a whole number in range")),
    }
}

fn faults_from_form(form: &HashMap<String, String>) -> Result<Faults, String> {
    let mut faults = Faults::default();
    for endpoint in Endpoint::ALL {
        let fault = faults.endpoint_mut(endpoint);
        fault.latency_ms = field(form, &format!("{endpoint}.latency_ms"))?.unwrap_or(0);
        fault.drop_connection = form.contains_key(&format!("{endpoint}.drop_connection"));
        fault.status = field(form, &format!("{endpoint}.status"))?;
        if let Some(status) = fault.status.filter(|status| !(100..=599).contains(status)) {
            return Err(format!(
                "{endpoint}.status: {status} is not an HTTP status (100–599)"
            ));
        }
        fault.count = field(form, &format!("{endpoint}.count"))?;
    }
    for switch in SWITCHES {
        *(switch.of)(&mut faults) = form.contains_key(switch.name);
    }
    faults.expired_id_token_hint = match form.get("expired_id_token_hint").map(String::as_str) {
        None | Some("accept") => ExpiredHintPolicy::Accept,
        Some("reject") => ExpiredHintPolicy::Reject,
        Some(other) => return Err(format!("expired_id_token_hint: unknown policy {other:?}")),
    };
    if let Some(mode) = form.get("authorization_response_iss") {
        faults.authorization_response_iss = mode.parse()?;
    }
    faults.validate()?;
    Ok(faults)
}

/// Whether a form post comes from a page of this mock rather than from another site open in
/// the same browser: `Sec-Fetch-Site` when the browser sends it, else `Origin` against `Host`.
/// A client that sends neither (curl, a script) is no browser page, and may.
fn from_this_origin(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header(header::HeaderName::from_static("sec-fetch-site")) {
        return site == "same-origin" || site == "none";
    }
    match header(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| Some(authority) == header(header::HOST)),
    }
}

/// A form posted from another site: 403, nothing done.
fn cross_site() -> Response {
    refused(
        StatusCode::FORBIDDEN,
        "This form was posted from another site: nothing was changed.",
    )
}

/// `POST /__admin/console/faults`: replaces every fault switch with the form's, if the form
/// shows the faults in force (a count that ran out, or a change elsewhere, makes it stale).
pub(crate) async fn apply_faults(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !from_this_origin(&headers) {
        return cross_site();
    }
    let shown = form.get("version").and_then(|version| version.parse().ok());
    if shown != Some(state.faults_version()) {
        return refused(
            StatusCode::CONFLICT,
            "The faults changed since this page was shown (a count ran out, or someone else \
             changed them), so nothing was applied. Reload the console and apply again.",
        );
    }
    match faults_from_form(&form) {
        Ok(faults) => {
            tracing::info!(?faults, "faults replaced from the console");
            state.set_faults(faults);
            back_to_console()
        }
        Err(message) => unusable(&message),
    }
}

/// `POST /__admin/console/lifetimes`: replaces the token lifetimes with the form's.
pub(crate) async fn apply_lifetimes(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !from_this_origin(&headers) {
        return cross_site();
    }
    let mut lifetimes = state.lifetimes();
    for lifetime in LIFETIMES {
        match field(&form, lifetime.name) {
            Ok(Some(value)) => *(lifetime.of)(&mut lifetimes) = value,
            Ok(None) => {
                return unusable(&format!("{}: a number of seconds is needed", lifetime.name))
            }
            Err(message) => return unusable(&message),
        }
    }
    lifetimes.refresh_token_rotation = form.contains_key("refresh_token_rotation");
    if let Err(error) = lifetimes.validate() {
        return unusable(&error.to_string());
    }
    tracing::info!(?lifetimes, "lifetimes replaced from the console");
    state.set_lifetimes(lifetimes);
    back_to_console()
}

/// `POST /__admin/console/rotate-key`: a rotation that keeps the old key published.
pub(crate) async fn rotate_key(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if !from_this_origin(&headers) {
        return cross_site();
    }
    state.rotate_signing_key(true).await;
    back_to_console()
}

/// `POST /__admin/console/rotate-dpop-nonce`: a new nonce; the earlier ones stay accepted
/// only when the form says so.
pub(crate) async fn rotate_dpop_nonce(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !from_this_origin(&headers) {
        return cross_site();
    }
    state.rotate_dpop_nonce(form.contains_key("keep_previous"));
    back_to_console()
}

/// `POST /__admin/console/reset`.
pub(crate) async fn reset(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    if !from_this_origin(&headers) {
        return cross_site();
    }
    state.reset();
    tracing::info!("state reset from the console");
    back_to_console()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn the_faults_form_round_trips_through_its_own_fields() {
        let faults = faults_from_form(&form(&[
            ("revoke.status", "503"),
            ("revoke.count", "1"),
            ("token.latency_ms", "250"),
            ("keys.drop_connection", "on"),
            ("logout_error_page", "on"),
            ("expired_id_token_hint", "reject"),
            ("authorization_response_iss", "omitted"),
        ]))
        .unwrap();
        assert_eq!(faults.revoke.status, Some(503));
        assert_eq!(faults.revoke.count, Some(1));
        assert_eq!(faults.token.latency_ms, 250);
        assert!(faults.keys.drop_connection);
        assert!(faults.logout_error_page);
        assert!(!faults.logout_interstitial);
        assert_eq!(faults.expired_id_token_hint, ExpiredHintPolicy::Reject);
        assert_eq!(
            faults.authorization_response_iss,
            AuthorizationResponseIss::Omitted
        );
        // What the page renders for these faults, posted back, is the same faults.
        let rendered = faults_form(7, &faults);
        for field in [
            "revoke.status\" value=\"503\"",
            "revoke.count\" value=\"1\"",
            "name=\"logout_error_page\" id=\"logout_error_page\" checked",
        ] {
            assert!(rendered.contains(field), "{field} missing from {rendered}");
        }
    }

    #[test]
    fn unusable_values_are_refused_with_the_field_named() {
        let error = faults_from_form(&form(&[("revoke.status", "99")])).unwrap_err();
        assert!(error.contains("revoke.status"), "{error}");
        let error = faults_from_form(&form(&[("token.latency_ms", "soon")])).unwrap_err();
        assert!(error.contains("token.latency_ms"), "{error}");
        let error = faults_from_form(&form(&[("revoke.count", "0")])).unwrap_err();
        assert!(error.contains("revoke.count"), "{error}");
    }

    #[test]
    fn only_this_console_and_non_browsers_may_post_its_forms() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, value.parse().unwrap());
            }
            headers
        };
        let host = ("host", "127.0.0.1:8080");
        assert!(from_this_origin(&headers(&[])));
        assert!(from_this_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!from_this_origin(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(from_this_origin(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            host
        ])));
        assert!(!from_this_origin(&headers(&[
            ("origin", "https://evil.example"),
            host
        ])));
        assert!(!from_this_origin(&headers(&[("origin", "null"), host])));
    }

    #[test]
    fn browsers_get_the_page_and_scripts_the_json() {
        let mut headers = HeaderMap::new();
        assert!(!wants_html(&headers));
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!wants_html(&headers));
        headers.insert(
            header::ACCEPT,
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
                .parse()
                .unwrap(),
        );
        assert!(wants_html(&headers));
    }
}
