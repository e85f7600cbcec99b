//! Configuration: registered clients, users, token lifetimes, faults and listener ports.
//!
//! The built-in default matches the app's defaults, so `mock-okta` with no configuration file
//! is ready for the desktop app.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::Faults;

/// Client ID of the built-in public native client (the app's default).
pub const DEMO_CLIENT_ID: &str = "okta-signout-demo";
/// Sign-in redirect URI registered for [`DEMO_CLIENT_ID`].
pub const DEMO_REDIRECT_URI: &str = "com.example.oktasignout:/callback";
/// Sign-out redirect URI registered for [`DEMO_CLIENT_ID`].
pub const DEMO_POST_LOGOUT_REDIRECT_URI: &str = "com.example.oktasignout:/logout/callback";
/// Username of the first built-in user.
pub const DEMO_USERNAME: &str = "ada@example.com";
/// Username of the second built-in user.
pub const DEMO_SECOND_USERNAME: &str = "grace@example.com";
/// Password of both built-in users.
pub const DEMO_PASSWORD: &str = "correct-horse-battery";
/// The custom authorization server every configuration has.
pub const DEFAULT_AUTHORIZATION_SERVER: &str = "default";

/// Everything a [`crate::MockOkta`] needs to start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTPS port of the issuer and back-channel endpoints on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Plain-HTTP port for the front channel (authorize, sign-in, logout); 0 = any free port.
    pub browser_port: u16,
    /// Issuers and back channel on the plain-HTTP port (`http://127.0.0.1:B/…`), as an
    /// identity provider on loopback that QA runs without TLS: no Okta org does this.
    pub plain_http_issuer: bool,
    /// Custom authorization servers besides the org server; `default` is always present.
    pub authorization_servers: Vec<String>,
    /// Registered OIDC applications.
    pub clients: Vec<ClientConfig>,
    /// People who can sign in.
    pub users: Vec<UserConfig>,
    /// Initial fault switches (changeable at run time).
    pub faults: Faults,
    /// Initial token lifetimes (changeable at run time).
    pub lifetimes: Lifetimes,
    /// Username signed in without showing the form, for headless runs.
    pub auto_login: Option<String>,
    /// PKCS#8 PEM of the RSA signing key; when absent, the first mock of the process generates
    /// one before it listens, and the process's later mocks share it.
    pub signing_key_pem: Option<String>,
    /// How many past records of each kind are kept (1 or more): requests in the journal, revoke
    /// and logout events, and tokens that can no longer be used (revoked or expired) together
    /// with ID tokens (only ever listed). The oldest go first.
    pub history: usize,
}

/// The default [`Config::history`]: a long QA session's worth, a few MB at most.
pub const DEFAULT_HISTORY: usize = 10_000;

/// A registered OIDC application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// The secret of a confidential client; public clients (PKCE required) have none.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Sign-in redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Sign-out redirect URIs, matched exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Okta's "Require Demonstrating Proof of Possession (DPoP) header in token requests"
    /// (General Settings → Proof of possession): token requests need a DPoP proof, and the
    /// tokens issued are bound to its key.
    #[serde(default)]
    pub require_dpop: bool,
}

impl ClientConfig {
    /// Public clients cannot keep a secret, so Okta demands PKCE from them.
    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }
}

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Sign-in name (`preferred_username`).
    pub username: String,
    /// Password for the sign-in form.
    pub password: String,
    /// Display name (`name` claim).
    pub name: String,
    /// E-mail address (`email` claim).
    pub email: String,
    /// Stable subject identifier (`sub` of ID tokens, `uid` of access tokens).
    pub sub: String,
}

/// Token and code lifetimes in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifetimes {
    /// ID token lifetime.
    pub id_token_secs: u64,
    /// Access token lifetime.
    pub access_token_secs: u64,
    /// Refresh token lifetime.
    pub refresh_token_secs: u64,
    /// Authorization code lifetime (Okta: 60 s).
    pub authorization_code_secs: u64,
    /// Whether a used refresh token is replaced by a new one.
    pub refresh_token_rotation: bool,
    /// How long a refresh token replaced by rotation is still accepted (Okta: 0–60 s, default
    /// 30); presenting it later revokes the whole grant.
    pub refresh_token_grace_secs: u64,
}

/// Okta's limit for the grace period of a rotated refresh token.
const MAX_REFRESH_TOKEN_GRACE_SECS: u64 = 60;

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            id_token_secs: 3600,
            access_token_secs: 3600,
            refresh_token_secs: 7 * 24 * 3600,
            authorization_code_secs: 60,
            refresh_token_rotation: true,
            refresh_token_grace_secs: 30,
        }
    }
}

impl Lifetimes {
    /// Checks the values Okta's admin console would refuse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.refresh_token_grace_secs > MAX_REFRESH_TOKEN_GRACE_SECS {
            return Err(ConfigError::Invalid(format!(
                "refresh_token_grace_secs is {}, but Okta allows 0 to {MAX_REFRESH_TOKEN_GRACE_SECS} seconds",
                self.refresh_token_grace_secs
            )));
        }
        Ok(())
    }

    pub(crate) fn id_token(&self) -> Duration {
        Duration::from_secs(self.id_token_secs)
    }
    pub(crate) fn access_token(&self) -> Duration {
        Duration::from_secs(self.access_token_secs)
    }
    pub(crate) fn refresh_token(&self) -> Duration {
        Duration::from_secs(self.refresh_token_secs)
    }
    pub(crate) fn authorization_code(&self) -> Duration {
        Duration::from_secs(self.authorization_code_secs)
    }
    pub(crate) fn refresh_token_grace(&self) -> Duration {
        Duration::from_secs(self.refresh_token_grace_secs)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            browser_port: 0,
            plain_http_issuer: false,
            authorization_servers: vec![DEFAULT_AUTHORIZATION_SERVER.to_owned()],
            clients: vec![ClientConfig {
                client_id: DEMO_CLIENT_ID.to_owned(),
                client_secret: None,
                redirect_uris: vec![DEMO_REDIRECT_URI.to_owned()],
                post_logout_redirect_uris: vec![DEMO_POST_LOGOUT_REDIRECT_URI.to_owned()],
                require_dpop: false,
            }],
            users: vec![
                UserConfig {
                    username: DEMO_USERNAME.to_owned(),
                    password: DEMO_PASSWORD.to_owned(),
                    name: "Ada Lovelace".to_owned(),
                    email: DEMO_USERNAME.to_owned(),
                    sub: "00u1ada0000000000001".to_owned(),
                },
                UserConfig {
                    username: DEMO_SECOND_USERNAME.to_owned(),
                    password: DEMO_PASSWORD.to_owned(),
                    name: "Grace Hopper".to_owned(),
                    email: DEMO_SECOND_USERNAME.to_owned(),
                    sub: "00u1grace000000000002".to_owned(),
                },
            ],
            faults: Faults::default(),
            lifetimes: Lifetimes::default(),
            auto_login: None,
            signing_key_pem: None,
            history: DEFAULT_HISTORY,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The signing key file given on the command line could not be read.
    #[error("cannot read signing key file {path}: {source}")]
    ReadSigningKey {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped fields.
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// The configuration parses but is inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// This configuration with every client requiring DPoP (Okta's "Require Demonstrating
    /// Proof of Possession (DPoP) header in token requests"), or none.
    pub fn with_dpop_required(mut self, required: bool) -> Config {
        for client in &mut self.clients {
            client.require_dpop = required;
        }
        self
    }

    /// Parses a TOML configuration; absent sections keep the built-in defaults.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML configuration file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text)
    }

    /// Checks the cross-references and ranges a TOML schema cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.lifetimes.validate()?;
        self.faults.validate().map_err(ConfigError::Invalid)?;
        if self.history == 0 {
            return Err(ConfigError::Invalid(
                "history is 0: the mock must keep at least one record of each kind".to_owned(),
            ));
        }
        if !self
            .authorization_servers
            .iter()
            .any(|server| server == DEFAULT_AUTHORIZATION_SERVER)
        {
            return Err(ConfigError::Invalid(format!(
                "authorization_servers must include {DEFAULT_AUTHORIZATION_SERVER:?}"
            )));
        }
        if let Some(server) = self
            .authorization_servers
            .iter()
            .find(|server| server.is_empty() || server.as_str() == "v1" || server.contains('/'))
        {
            return Err(ConfigError::Invalid(format!(
                "authorization server id {server:?} is not a usable path segment"
            )));
        }
        for client in &self.clients {
            if client.redirect_uris.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "client {:?} has no redirect_uris",
                    client.client_id
                )));
            }
            for uri in client
                .redirect_uris
                .iter()
                .chain(&client.post_logout_redirect_uris)
            {
                url::Url::parse(uri).map_err(|error| {
                    ConfigError::Invalid(format!(
                        "client {:?}: redirect URI {uri:?} is not absolute: {error}",
                        client.client_id
                    ))
                })?;
            }
        }
        if let Some(duplicate) = first_duplicate(self.clients.iter().map(|c| &c.client_id)) {
            return Err(ConfigError::Invalid(format!(
                "client {duplicate:?} is listed twice"
            )));
        }
        if let Some(duplicate) = first_duplicate(self.users.iter().map(|u| &u.username)) {
            return Err(ConfigError::Invalid(format!(
                "user {duplicate:?} is listed twice"
            )));
        }
        if let Some(username) = &self.auto_login {
            if self.user(username).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "auto_login names unknown user {username:?}"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    pub(crate) fn user(&self, username: &str) -> Option<&UserConfig> {
        self.users.iter().find(|user| user.username == username)
    }
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().find(|name| !seen.insert(*name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_matches_the_app() {
        let config = Config::default();
        config.validate().unwrap();
        let client = config.client(DEMO_CLIENT_ID).unwrap();
        assert!(client.is_public());
        assert_eq!(client.redirect_uris, [DEMO_REDIRECT_URI]);
        assert_eq!(
            client.post_logout_redirect_uris,
            [DEMO_POST_LOGOUT_REDIRECT_URI]
        );
        assert_eq!(config.user(DEMO_USERNAME).unwrap().name, "Ada Lovelace");
        assert_eq!(
            config.user(DEMO_SECOND_USERNAME).unwrap().name,
            "Grace Hopper"
        );
    }

    #[test]
    fn toml_overrides_sections_and_rejects_unknown_fields() {
        let config = Config::from_toml_str(
            r#"
            port = 8443
            auto_login = "ada@example.com"
            [lifetimes]
            id_token_secs = 5
            [faults.token]
            status = 503
            "#,
        )
        .unwrap();
        assert_eq!(config.port, 8443);
        assert_eq!(config.lifetimes.id_token_secs, 5);
        assert_eq!(config.lifetimes.access_token_secs, 3600);
        assert_eq!(config.faults.token.status, Some(503));
        assert_eq!(config.clients, Config::default().clients);
        assert!(!config.clients[0].require_dpop);

        let error = Config::from_toml_str("prot = 1").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `prot`"),
            "{error}"
        );
        let dpop = Config::from_toml_str(
            "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"a:/cb\"]\nrequire_dpop = true",
        )
        .unwrap();
        assert!(dpop.clients[0].require_dpop);
        let error = Config::from_toml_str("[faults.tokn]\nstatus = 1").unwrap_err();
        assert!(error.to_string().contains("tokn"), "{error}");
    }

    #[test]
    fn inconsistent_config_is_rejected_with_a_reason() {
        let error = Config::from_toml_str("auto_login = \"nobody\"").unwrap_err();
        assert!(error.to_string().contains("nobody"), "{error}");
        let error = Config::from_toml_str(
            "[[clients]]\nclient_id = \"a\"\nredirect_uris = [\"not a uri\"]",
        )
        .unwrap_err();
        assert!(error.to_string().contains("not absolute"), "{error}");
        let error =
            Config::from_toml_str("[lifetimes]\nrefresh_token_grace_secs = 61").unwrap_err();
        assert!(error.to_string().contains("0 to 60 seconds"), "{error}");
        Config::from_toml_str("[lifetimes]\nrefresh_token_grace_secs = 60").unwrap();
        let error = Config::from_toml_str("history = 0").unwrap_err();
        assert!(error.to_string().contains("history is 0"), "{error}");
        let error = Config::from_toml_str("[faults.revoke]\ncount = 0").unwrap_err();
        assert!(error.to_string().contains("revoke.count is 0"), "{error}");
    }
}
