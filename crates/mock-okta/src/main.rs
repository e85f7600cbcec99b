//! `mock-okta`: run the mock Okta org for QA and the app.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser;
use mock_okta::{AuthorizationResponseIss, Config, Endpoint, ExpiredHintPolicy, MockOkta};

/// An Okta-shaped mock identity provider for QA and tests.
///
/// Prints, first, the issuer; then the browser URL, the CA certificate path and the admin URL.
#[derive(Debug, Parser)]
#[command(name = "mock-okta", version)]
struct Cli {
    /// TOML configuration (clients, users, faults, lifetimes); the built-in demo when absent.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// HTTPS port of the issuer and back channel on 127.0.0.1 (0 = any free port).
    #[arg(long)]
    port: Option<u16>,
    /// Plain-HTTP port of the front channel (authorize, sign-in, logout); 0 = any free port.
    #[arg(long)]
    browser_port: Option<u16>,
    /// Serve the issuers and the back channel on the plain-HTTP port too (no TLS at all).
    #[arg(long)]
    plain_http_issuer: bool,
    /// Where to write the CA certificate (PEM) to trust; default: a file in the temp directory.
    #[arg(long, value_name = "PATH")]
    ca_cert_out: Option<PathBuf>,
    /// Sign this user in without showing the form (headless runs).
    #[arg(long, value_name = "USERNAME")]
    auto_login: Option<String>,
    /// Delay an endpoint's answers, e.g. `token=2000` (repeatable).
    #[arg(long, value_name = "ENDPOINT=MS", value_parser = endpoint_setting::<u64>)]
    latency: Vec<(Endpoint, u64)>,
    /// Force an endpoint's HTTP status, e.g. `revoke=503` (repeatable).
    #[arg(long, value_name = "ENDPOINT=STATUS", value_parser = endpoint_setting::<u16>)]
    status: Vec<(Endpoint, u16)>,
    /// Close an endpoint's connections without answering (repeatable).
    #[arg(long, value_name = "ENDPOINT")]
    drop_connection: Vec<Endpoint>,
    /// An endpoint's faults hit only its next N requests, e.g. `revoke=1` (repeatable).
    #[arg(long, value_name = "ENDPOINT=N", value_parser = endpoint_setting::<u64>)]
    fault_count: Vec<(Endpoint, u64)>,
    /// Logout always shows the 400 error page.
    #[arg(long)]
    logout_error_page: bool,
    /// Logout shows a page that never navigates.
    #[arg(long)]
    logout_never_redirects: bool,
    /// Logout shows an interstitial page before redirecting.
    #[arg(long)]
    logout_interstitial: bool,
    /// Logout rejects an expired `id_token_hint` (default: accepted).
    #[arg(long)]
    reject_expired_id_token_hint: bool,
    /// Discovery answers with a malformed document.
    #[arg(long)]
    malformed_discovery: bool,
    /// RFC 9207 `iss` in authorize redirects: sent (default), not_supported, omitted or
    /// other_issuer.
    #[arg(long, value_name = "MODE")]
    authorization_response_iss: Option<AuthorizationResponseIss>,
    /// ID tokens of refresh_token grants name another `sub` than the grant's person.
    #[arg(long)]
    refresh_changes_subject: bool,
    /// ID tokens of refresh_token grants name another authorization server as `iss`.
    #[arg(long)]
    refresh_changes_issuer: bool,
    /// The built-in demo client requires DPoP (RFC 9449) proofs in token requests, as Okta's
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests" setting.
    #[arg(long)]
    require_dpop: bool,
    /// A provider without DPoP: discovery does not offer it and token requests' proofs are
    /// ignored.
    #[arg(long)]
    dpop_unsupported: bool,
    /// ID token lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    id_token_lifetime: Option<u64>,
    /// Access token lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    access_token_lifetime: Option<u64>,
    /// Refresh token lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    refresh_token_lifetime: Option<u64>,
    /// Authorization code lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    code_lifetime: Option<u64>,
    /// Keep refresh tokens when they are used (default: rotate).
    #[arg(long)]
    no_refresh_token_rotation: bool,
    /// Seconds a rotated refresh token is still accepted, 0 to 60 (default 30).
    #[arg(long, value_name = "SECS")]
    refresh_token_grace: Option<u64>,
    /// PKCS#8 PEM file of the RSA signing key (default: one generated at start, before
    /// listening; a given key makes the start instant).
    #[arg(long, value_name = "PATH")]
    signing_key: Option<PathBuf>,
    /// How many journal entries, events, and inactive and ID tokens are kept (default 10000).
    #[arg(long, value_name = "N")]
    history: Option<usize>,
}

fn endpoint_setting<T: std::str::FromStr>(text: &str) -> Result<(Endpoint, T), String>
where
    T::Err: std::fmt::Display,
{
    let (endpoint, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected ENDPOINT=VALUE, got {text:?}"))?;
    let endpoint = endpoint
        .parse::<Endpoint>()
        .map_err(|error| error.to_string())?;
    let value = value.parse::<T>().map_err(|error| error.to_string())?;
    Ok((endpoint, value))
}

impl Cli {
    fn into_config(self) -> Result<(Config, Option<PathBuf>), mock_okta::ConfigError> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.port = self.port.unwrap_or(config.port);
        config.browser_port = self.browser_port.unwrap_or(config.browser_port);
        config.plain_http_issuer |= self.plain_http_issuer;
        config.auto_login = self.auto_login.or(config.auto_login);
        config.history = self.history.unwrap_or(config.history);
        if self.require_dpop {
            let demo = config
                .clients
                .iter_mut()
                .find(|client| client.client_id == mock_okta::DEMO_CLIENT_ID)
                .ok_or_else(|| {
                    mock_okta::ConfigError::Invalid(format!(
                        "--require-dpop applies to the built-in client {:?}, which the configuration does not have",
                        mock_okta::DEMO_CLIENT_ID
                    ))
                })?;
            demo.require_dpop = true;
        }
        if let Some(path) = &self.signing_key {
            config.signing_key_pem = Some(std::fs::read_to_string(path).map_err(|source| {
                mock_okta::ConfigError::ReadSigningKey {
                    path: path.clone(),
                    source,
                }
            })?);
        }
        let faults = &mut config.faults;
        for (endpoint, latency_ms) in self.latency {
            faults.endpoint_mut(endpoint).latency_ms = latency_ms;
        }
        for (endpoint, status) in self.status {
            faults.endpoint_mut(endpoint).status = Some(status);
        }
        for endpoint in self.drop_connection {
            faults.endpoint_mut(endpoint).drop_connection = true;
        }
        for (endpoint, count) in self.fault_count {
            faults.endpoint_mut(endpoint).count = Some(count);
        }
        faults.logout_error_page |= self.logout_error_page;
        faults.logout_never_redirects |= self.logout_never_redirects;
        faults.logout_interstitial |= self.logout_interstitial;
        faults.malformed_discovery |= self.malformed_discovery;
        faults.refresh_changes_subject |= self.refresh_changes_subject;
        faults.refresh_changes_issuer |= self.refresh_changes_issuer;
        faults.dpop_unsupported |= self.dpop_unsupported;
        faults.authorization_response_iss = self
            .authorization_response_iss
            .unwrap_or(faults.authorization_response_iss);
        if self.reject_expired_id_token_hint {
            faults.expired_id_token_hint = ExpiredHintPolicy::Reject;
        }
        let lifetimes = &mut config.lifetimes;
        lifetimes.id_token_secs = self.id_token_lifetime.unwrap_or(lifetimes.id_token_secs);
        lifetimes.access_token_secs = self
            .access_token_lifetime
            .unwrap_or(lifetimes.access_token_secs);
        lifetimes.refresh_token_secs = self
            .refresh_token_lifetime
            .unwrap_or(lifetimes.refresh_token_secs);
        lifetimes.authorization_code_secs = self
            .code_lifetime
            .unwrap_or(lifetimes.authorization_code_secs);
        lifetimes.refresh_token_rotation &= !self.no_refresh_token_rotation;
        lifetimes.refresh_token_grace_secs = self
            .refresh_token_grace
            .unwrap_or(lifetimes.refresh_token_grace_secs);
        config.validate()?;
        Ok((config, self.ca_cert_out))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mock-okta: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let (config, ca_cert_out) = cli.into_config()?;
    let mock = MockOkta::start(config).await?;
    let ca_path = ca_cert_out
        .unwrap_or_else(|| std::env::temp_dir().join(format!("mock-okta-{}-ca.pem", mock.port())));
    write_whole(&ca_path, mock.ca_certificate_pem())
        .map_err(|error| format!("cannot write {}: {error}", ca_path.display()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", mock.issuer())?;
    writeln!(stdout, "browser: {}", mock.browser_url())?;
    writeln!(stdout, "ca-cert: {}", ca_path.display())?;
    writeln!(stdout, "admin: {}", mock.admin_url())?;
    stdout.flush()?;
    drop(stdout);
    shutdown_signal().await;
    tracing::info!("shutting down");
    mock.shutdown().await;
    Ok(())
}

/// Writes `contents` to `path` whole or not at all: into a new file beside it, then renamed
/// over it. A client that waits for the file to appear (rather than for the `ca-cert:` line)
/// would otherwise read it half written, and then trust no certificate at all.
fn write_whole(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A certificate, not a secret: readable as `fs::write` would leave it (the umask applies),
    // not the owner-only mode of temporary files.
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    file.write_all(contents.as_bytes())?;
    file.persist(path)?;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a process supervisor.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_flags_set_the_built_in_client_and_the_switch() {
        let cli = Cli::parse_from(["mock-okta", "--require-dpop", "--dpop-unsupported"]);
        let (config, _) = cli.into_config().unwrap();
        assert!(config.clients.iter().all(|client| client.require_dpop));
        assert!(config.faults.dpop_unsupported);
        let (config, _) = Cli::parse_from(["mock-okta"]).into_config().unwrap();
        assert!(!config.clients[0].require_dpop && !config.faults.dpop_unsupported);
    }

    #[test]
    fn require_dpop_needs_the_built_in_client() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            file.path(),
            "[[clients]]\nclient_id = \"web\"\nredirect_uris = [\"https://app.example/cb\"]\n",
        )
        .unwrap();
        let path = file.path().to_str().unwrap();
        let cli = Cli::parse_from(["mock-okta", "--config", path, "--require-dpop"]);
        let error = cli.into_config().unwrap_err().to_string();
        assert!(error.contains("--require-dpop"), "{error}");
    }
}
