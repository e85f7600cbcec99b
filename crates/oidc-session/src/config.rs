//! The app's configuration: a TOML file plus an environment override for every key, validated
//! at start with messages a person can act on.
//!
//! Every key can be set in the file (`issuer = "…"`) or in the environment
//! (`OKTA_SIGNOUT_ISSUER=…`); the environment wins. With no `issuer` no Okta org is configured:
//! the app then says what to configure, or, built with demo mode, runs against an embedded
//! mock-okta.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// The prefix of every environment override: `OKTA_SIGNOUT_` + the key in upper case.
const ENV_PREFIX: &str = "OKTA_SIGNOUT_";
/// The environment variable naming the configuration file, instead of the default location.
pub const CONFIG_FILE_VAR: &str = "OKTA_SIGNOUT_CONFIG";
/// The scopes asked for when none are configured.
const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// How each key is written in the environment.
#[derive(Clone, Copy)]
enum EnvValue {
    Text,
    /// Space-separated, like OAuth's `scope` parameter.
    List,
    Seconds,
    /// `true`/`false` (or `1`/`0`).
    Switch,
}

/// Every key there is, with how its environment override is parsed.
const KEYS: &[(&str, EnvValue)] = &[
    ("issuer", EnvValue::Text),
    ("client_id", EnvValue::Text),
    ("redirect_uri", EnvValue::Text),
    ("post_logout_redirect_uri", EnvValue::Text),
    ("scopes", EnvValue::List),
    ("ca_file", EnvValue::Text),
    ("browser_timeout_secs", EnvValue::Seconds),
    ("sign_out_timeout_secs", EnvValue::Seconds),
    ("idle_timeout_secs", EnvValue::Seconds),
    ("absolute_timeout_secs", EnvValue::Seconds),
    ("dpop", EnvValue::Switch),
];

/// What is wrong with the configuration, in words that say what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key has the wrong type or is unknown.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file, or "the environment".
        origin: String,
        /// The parser's message (it names the key).
        message: String,
    },
    /// A key has a value the app cannot use.
    #[error("{key}: {message}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// The keys as written, before validation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    post_logout_redirect_uri: Option<String>,
    scopes: Option<Vec<String>>,
    ca_file: Option<PathBuf>,
    browser_timeout_secs: Option<u64>,
    sign_out_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    absolute_timeout_secs: Option<u64>,
    dpop: Option<bool>,
}

/// An authorization server's issuer identifier, kept exactly as written: OpenID Connect
/// compares issuers as strings, so `https://example.okta.com` (Okta's org server) and
/// `https://example.okta.com/` are two different issuers, and no slash may be added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    /// Checks `issuer`: an https URL (plain http only on this machine's loopback interface,
    /// where a mock IdP may serve), with no query or fragment.
    pub fn new(issuer: &str) -> Result<Self, ConfigError> {
        let url = Url::parse(issuer)
            .map_err(|error| bad("issuer", format!("{issuer:?} is not a URL: {error}")))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("issuer", "must not have a query or fragment"));
        }
        match url.scheme() {
            "https" => Ok(Self(issuer.to_owned())),
            "http" if is_loopback(&url) => Ok(Self(issuer.to_owned())),
            "http" => Err(bad(
                "issuer",
                format!("must use https (plain http is allowed only on 127.0.0.1, [::1] or localhost): {issuer}"),
            )),
            other => Err(bad("issuer", format!("must be an https URL, not {other}:"))),
        }
    }

    /// The issuer as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The Okta org (or any OIDC provider) the app signs in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaOrg {
    /// The authorization server: `https://example.okta.com` (the org server) or
    /// `https://example.okta.com/oauth2/default` (a custom one).
    pub issuer: Issuer,
    /// The app's client ID in Okta.
    pub client_id: String,
    /// An extra root certificate (PEM) to trust, for a private CA or mock-okta.
    pub ca_file: Option<PathBuf>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Okta org; `None`: none configured (the app says what to configure, or runs its demo
    /// mode).
    pub okta: Option<OktaOrg>,
    /// Where Okta sends the browser after sign-in (the app's private-use scheme).
    pub redirect_uri: Url,
    /// Where Okta sends the browser after sign-out (the app's private-use scheme).
    pub post_logout_redirect_uri: Url,
    /// The scopes asked for at sign-in.
    pub scopes: Vec<String>,
    /// How long to wait for the browser to come back from sign-in.
    pub browser_timeout: Duration,
    /// How long to wait for Okta to confirm the end of its session.
    pub sign_out_timeout: Duration,
    /// Sign out of the app after this long without use; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Sign out of the app this long after signing in; `None`: never.
    pub absolute_timeout: Option<Duration>,
    /// Bind the tokens of each new sign-in to a key of its own (DPoP, RFC 9449), as an Okta
    /// app with "Require Demonstrating Proof of Possession (DPoP) header in token requests"
    /// expects. Off by default.
    pub dpop: bool,
}

impl Config {
    /// Reads `file` (a missing file is an empty one) and the environment through `env`, and
    /// validates the result. `scheme` is the app's registered private-use URI scheme.
    pub fn load(
        file: &Path,
        env: impl Fn(&str) -> Option<String>,
        scheme: &str,
    ) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: file.to_owned(),
                    source,
                })
            }
        };
        let origin = file.display().to_string();
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|error| ConfigError::Invalid {
                origin: origin.clone(),
                message: error.message().to_owned(),
            })?;
        for (key, kind) in KEYS {
            let name = env_var_name(key);
            if let Some(value) = env(&name) {
                table.insert((*key).to_owned(), env_value(&name, &value, *kind)?);
            }
        }
        let raw = RawConfig::deserialize(table).map_err(|error| ConfigError::Invalid {
            origin,
            message: error.message().to_owned(),
        })?;
        raw.validate(scheme)
    }

    /// The defaults: no Okta org, the app's standard redirect URIs.
    pub fn defaults(scheme: &str) -> Self {
        RawConfig::default()
            .validate(scheme)
            .expect("the defaults are valid")
    }
}

/// `OKTA_SIGNOUT_<KEY>`.
fn env_var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn env_value(name: &str, value: &str, kind: EnvValue) -> Result<toml::Value, ConfigError> {
    Ok(match kind {
        EnvValue::Text => toml::Value::String(value.to_owned()),
        EnvValue::List => toml::Value::Array(
            value
                .split_whitespace()
                .map(|item| toml::Value::String(item.to_owned()))
                .collect(),
        ),
        EnvValue::Seconds => {
            let seconds: i64 = value.trim().parse().map_err(|_| ConfigError::Invalid {
                origin: "the environment".into(),
                message: format!("{name} must be a whole number of seconds, not {value:?}"),
            })?;
            toml::Value::Integer(seconds)
        }
        EnvValue::Switch => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => toml::Value::Boolean(true),
            "false" | "0" => toml::Value::Boolean(false),
            _ => {
                return Err(ConfigError::Invalid {
                    origin: "the environment".into(),
                    message: format!("{name} must be true or false, not {value:?}"),
                })
            }
        },
    })
}

impl RawConfig {
    fn validate(self, scheme: &str) -> Result<Config, ConfigError> {
        let okta = match (self.issuer, self.client_id) {
            (Some(issuer), Some(client_id)) => Some(OktaOrg {
                issuer: Issuer::new(&issuer)?,
                client_id: non_empty("client_id", client_id)?,
                ca_file: self.ca_file,
            }),
            (None, None) => {
                if self.ca_file.is_some() {
                    return Err(bad("ca_file", "only applies with an issuer"));
                }
                None
            }
            (Some(_), None) => return Err(bad("client_id", "is needed with an issuer: copy it from the app's General tab in the Okta admin console")),
            (None, Some(_)) => return Err(bad("issuer", "is needed with a client_id, e.g. https://example.okta.com/oauth2/default")),
        };
        let redirect_uri =
            validate_app_uri("redirect_uri", self.redirect_uri, scheme, "/callback")?;
        let post_logout_redirect_uri = validate_app_uri(
            "post_logout_redirect_uri",
            self.post_logout_redirect_uri,
            scheme,
            "/logout/callback",
        )?;
        if redirect_uri == post_logout_redirect_uri {
            return Err(bad(
                "post_logout_redirect_uri",
                "must differ from redirect_uri, so a sign-in and a sign-out callback cannot be mistaken for each other",
            ));
        }
        let scopes = self.scopes.unwrap_or_else(|| {
            DEFAULT_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .collect()
        });
        if !scopes.iter().any(|scope| scope == "openid") {
            return Err(bad("scopes", "must include openid"));
        }
        if let Some(scope) = scopes
            .iter()
            .find(|scope| scope.is_empty() || scope.contains(char::is_whitespace))
        {
            return Err(bad("scopes", format!("{scope:?} is not a scope")));
        }
        Ok(Config {
            okta,
            redirect_uri,
            post_logout_redirect_uri,
            scopes,
            browser_timeout: timeout("browser_timeout_secs", self.browser_timeout_secs, 300)?,
            sign_out_timeout: timeout("sign_out_timeout_secs", self.sign_out_timeout_secs, 120)?,
            idle_timeout: optional_timeout("idle_timeout_secs", self.idle_timeout_secs)?,
            absolute_timeout: optional_timeout(
                "absolute_timeout_secs",
                self.absolute_timeout_secs.or(Some(12 * 60 * 60)),
            )?,
            dpop: self.dpop.unwrap_or(false),
        })
    }
}

fn bad(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key,
        message: message.into(),
    }
}

fn non_empty(key: &'static str, value: String) -> Result<String, ConfigError> {
    if value.trim().is_empty() {
        return Err(bad(key, "must not be empty"));
    }
    Ok(value)
}

/// Whether `url` points at this machine's loopback interface.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A redirect URI must be in the app's own private-use scheme (RFC 8252 §7.1), in the
/// `scheme:/path` form: with `scheme://path` the first segment would be a host instead.
fn validate_app_uri(
    key: &'static str,
    value: Option<String>,
    scheme: &str,
    default_path: &str,
) -> Result<Url, ConfigError> {
    let text = value.unwrap_or_else(|| format!("{scheme}:{default_path}"));
    let example = format!("{scheme}:{default_path}");
    let url = Url::parse(&text).map_err(|error| {
        bad(
            key,
            format!("{text:?} is not a URI ({error}); use e.g. {example}"),
        )
    })?;
    if url.scheme() != scheme {
        return Err(bad(
            key,
            format!(
                "must use the app's registered scheme {scheme}: (the desktop hands only that scheme to the app), e.g. {example}"
            ),
        ));
    }
    if url.has_host() {
        return Err(bad(
            key,
            format!("{text} has a host; write one slash after the scheme, e.g. {example}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(key, "must not have a query or fragment"));
    }
    Ok(url)
}

fn timeout(key: &'static str, seconds: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match seconds.unwrap_or(default) {
        0 => Err(bad(key, "must be at least 1 second")),
        seconds if seconds > 24 * 60 * 60 => Err(bad(key, "must be at most a day (86400)")),
        seconds => Ok(Duration::from_secs(seconds)),
    }
}

/// 0 switches the timeout off.
fn optional_timeout(
    key: &'static str,
    seconds: Option<u64>,
) -> Result<Option<Duration>, ConfigError> {
    match seconds {
        None | Some(0) => Ok(None),
        Some(seconds) if seconds < 60 => {
            Err(bad(key, "must be at least 60 seconds, or 0 for none"))
        }
        Some(seconds) => Ok(Some(Duration::from_secs(seconds))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SCHEME: &str = "com.example.oktasignout";

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, file).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        Config::load(&path, |name| env.get(name).cloned(), SCHEME)
    }

    fn message(result: Result<Config, ConfigError>) -> String {
        result
            .expect_err("the configuration should be rejected")
            .to_string()
    }

    #[test]
    fn nothing_configured_is_the_defaults_without_an_org() {
        let config = load("", &[]).unwrap();
        assert_eq!(config, Config::defaults(SCHEME));
        assert_eq!(config.okta, None);
        assert_eq!(
            config.redirect_uri.as_str(),
            "com.example.oktasignout:/callback"
        );
        assert_eq!(
            config.post_logout_redirect_uri.as_str(),
            "com.example.oktasignout:/logout/callback"
        );
        assert_eq!(
            config.scopes,
            ["openid", "profile", "email", "offline_access"]
        );
        assert_eq!(config.browser_timeout, Duration::from_secs(300));
        assert_eq!(config.sign_out_timeout, Duration::from_secs(120));
        assert_eq!(config.idle_timeout, None);
        assert_eq!(config.absolute_timeout, Some(Duration::from_secs(43_200)));
    }

    #[test]
    fn a_missing_file_is_an_empty_one() {
        let config = Config::load(
            Path::new("/nonexistent/okta-signout.toml"),
            |_| None,
            SCHEME,
        );
        assert_eq!(config.unwrap(), Config::defaults(SCHEME));
    }

    #[test]
    fn the_file_sets_every_key() {
        let config = load(
            r#"
            issuer = "https://example.okta.com/oauth2/default"
            client_id = "0oa1b2c3"
            redirect_uri = "com.example.oktasignout:/auth"
            post_logout_redirect_uri = "com.example.oktasignout:/bye"
            scopes = ["openid", "email"]
            ca_file = "/etc/ssl/private-ca.pem"
            browser_timeout_secs = 60
            sign_out_timeout_secs = 30
            idle_timeout_secs = 900
            absolute_timeout_secs = 0
            "#,
            &[],
        )
        .unwrap();
        let okta = config.okta.unwrap();
        assert_eq!(
            okta.issuer.as_str(),
            "https://example.okta.com/oauth2/default"
        );
        assert_eq!(okta.client_id, "0oa1b2c3");
        assert_eq!(okta.ca_file.unwrap(), Path::new("/etc/ssl/private-ca.pem"));
        assert_eq!(
            config.redirect_uri.as_str(),
            "com.example.oktasignout:/auth"
        );
        assert_eq!(
            config.post_logout_redirect_uri.as_str(),
            "com.example.oktasignout:/bye"
        );
        assert_eq!(config.scopes, ["openid", "email"]);
        assert_eq!(config.browser_timeout, Duration::from_secs(60));
        assert_eq!(config.sign_out_timeout, Duration::from_secs(30));
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(900)));
        assert_eq!(config.absolute_timeout, None);
        assert!(!config.dpop, "DPoP is off unless asked for");
    }

    #[test]
    fn the_environment_overrides_every_key() {
        let config = load(
            "issuer = \"https://file.okta.com\"\nclient_id = \"file\"\n",
            &[
                ("OKTA_SIGNOUT_ISSUER", "https://env.okta.com/oauth2/aus1"),
                ("OKTA_SIGNOUT_CLIENT_ID", "env-client"),
                ("OKTA_SIGNOUT_REDIRECT_URI", "com.example.oktasignout:/in"),
                (
                    "OKTA_SIGNOUT_POST_LOGOUT_REDIRECT_URI",
                    "com.example.oktasignout:/out",
                ),
                ("OKTA_SIGNOUT_SCOPES", "openid  profile"),
                ("OKTA_SIGNOUT_CA_FILE", "/tmp/ca.pem"),
                ("OKTA_SIGNOUT_BROWSER_TIMEOUT_SECS", "5"),
                ("OKTA_SIGNOUT_SIGN_OUT_TIMEOUT_SECS", "6"),
                ("OKTA_SIGNOUT_IDLE_TIMEOUT_SECS", "600"),
                ("OKTA_SIGNOUT_ABSOLUTE_TIMEOUT_SECS", "3600"),
                ("OKTA_SIGNOUT_DPOP", "TRUE"),
            ],
        )
        .unwrap();
        let okta = config.okta.unwrap();
        assert_eq!(okta.issuer.as_str(), "https://env.okta.com/oauth2/aus1");
        assert_eq!(okta.client_id, "env-client");
        assert_eq!(okta.ca_file.unwrap(), Path::new("/tmp/ca.pem"));
        assert_eq!(config.redirect_uri.as_str(), "com.example.oktasignout:/in");
        assert_eq!(
            config.post_logout_redirect_uri.as_str(),
            "com.example.oktasignout:/out"
        );
        assert_eq!(config.scopes, ["openid", "profile"]);
        assert_eq!(config.browser_timeout, Duration::from_secs(5));
        assert_eq!(config.sign_out_timeout, Duration::from_secs(6));
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(config.absolute_timeout, Some(Duration::from_secs(3600)));
        assert!(config.dpop);
        let off = load("dpop = true\n", &[("OKTA_SIGNOUT_DPOP", "0")]).unwrap();
        assert!(!off.dpop);
        let error = message(load("", &[("OKTA_SIGNOUT_DPOP", "yes")]));
        assert!(
            error.contains("OKTA_SIGNOUT_DPOP must be true or false"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let error = message(load("isuer = \"https://x.okta.com\"\n", &[]));
        assert!(error.contains("unknown field `isuer`"), "{error}");
    }

    #[test]
    fn bad_toml_and_bad_types_name_the_file() {
        assert!(message(load("issuer = ", &[])).contains("config.toml"));
        let error = message(load("browser_timeout_secs = \"soon\"\n", &[]));
        assert!(error.contains("config.toml"), "{error}");
        let error = message(load("", &[("OKTA_SIGNOUT_IDLE_TIMEOUT_SECS", "ten")]));
        assert!(
            error.contains("OKTA_SIGNOUT_IDLE_TIMEOUT_SECS must be a whole number"),
            "{error}"
        );
    }

    #[test]
    fn the_issuer_must_be_https_except_on_loopback() {
        let with = |issuer: &str| load("client_id = \"c\"\n", &[("OKTA_SIGNOUT_ISSUER", issuer)]);
        let error = message(with("http://example.okta.com/oauth2/default"));
        assert!(error.starts_with("issuer: must use https"), "{error}");
        for loopback in [
            "http://127.0.0.1:8080/oauth2/default",
            "http://localhost:1/",
            "http://[::1]:2/",
        ] {
            assert!(with(loopback).is_ok(), "{loopback}");
        }
        assert!(message(with("not a url")).contains("is not a URL"));
        assert!(message(with("ftp://example.okta.com")).contains("must be an https URL"));
        assert!(message(with("https://x.okta.com/?a=b")).contains("query"));
    }

    #[test]
    fn the_issuer_is_kept_exactly_as_written() {
        for issuer in [
            "https://example.okta.com",
            "https://example.okta.com/",
            "https://example.okta.com/oauth2/default",
            "https://example.okta.com/oauth2/default/",
        ] {
            let config = load(&format!("issuer = {issuer:?}\nclient_id = \"c\"\n"), &[]).unwrap();
            assert_eq!(config.okta.unwrap().issuer.as_str(), issuer);
        }
    }
    #[test]
    fn issuer_and_client_id_come_together() {
        assert!(message(load("issuer = \"https://x.okta.com\"\n", &[]))
            .starts_with("client_id: is needed"));
        assert!(message(load("client_id = \"x\"\n", &[])).starts_with("issuer: is needed"));
        assert!(message(load("ca_file = \"/x.pem\"\n", &[])).starts_with("ca_file:"));
        assert!(message(load(
            "issuer = \"https://x.okta.com\"\nclient_id = \" \"\n",
            &[]
        ))
        .starts_with("client_id: must not be empty"));
    }

    #[test]
    fn redirect_uris_must_use_the_apps_scheme_with_one_slash() {
        let error = message(load(
            "redirect_uri = \"https://example.com/callback\"\n",
            &[],
        ));
        assert!(
            error.contains("must use the app's registered scheme com.example.oktasignout:"),
            "{error}"
        );
        let error = message(load(
            "post_logout_redirect_uri = \"com.example.oktasignout://logout/callback\"\n",
            &[],
        ));
        assert!(error.contains("has a host; write one slash"), "{error}");
        let error = message(load(
            "post_logout_redirect_uri = \"com.example.oktasignout:/callback\"\n",
            &[],
        ));
        assert!(error.contains("must differ from redirect_uri"), "{error}");
        assert!(message(load(
            "redirect_uri = \"com.example.oktasignout:/cb?x=1\"\n",
            &[]
        ))
        .contains("query"));
    }

    #[test]
    fn scopes_must_include_openid() {
        assert!(message(load("scopes = [\"email\"]\n", &[])).contains("must include openid"));
        assert!(message(load("scopes = [\"openid\", \"a b\"]\n", &[])).contains("is not a scope"));
    }

    #[test]
    fn timeouts_have_sane_bounds() {
        assert!(message(load("browser_timeout_secs = 0\n", &[])).contains("at least 1 second"));
        assert!(message(load("sign_out_timeout_secs = 100000\n", &[])).contains("at most a day"));
        assert!(message(load("idle_timeout_secs = 5\n", &[])).contains("at least 60 seconds"));
        assert!(message(load("browser_timeout_secs = -1\n", &[])).contains("config.toml"));
    }
}
