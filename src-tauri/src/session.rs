//! The app's session, as the shell holds it: the core's [`SessionManager`] wired to the
//! keychain, the system browser (tauri-plugin-opener) and the window (events), plus the
//! embedded mock-okta of demo mode. The shell never speaks OIDC itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mock_okta::MockOkta;
use oidc_session::{
    Config, IdentityProvider, Journal, SessionError, SessionEvents, SessionManager, SessionView,
    SignOutMode, SignOutOutcome, SystemBrowser, TokenVault, UserClaims,
};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_opener::OpenerExt;
use tokio::sync::watch;
use url::Url;

/// The event that carries every [`SessionView`] change to the window.
pub const SESSION_CHANGED: &str = "session-changed";
/// The event that carries each sign-out's [`SignOutOutcome`] to the window.
pub const SIGNED_OUT: &str = "signed-out";

/// An error as the UI receives it: a stable code to branch on and a message for people.
#[derive(Debug, Clone, Serialize)]
pub struct CommandError {
    code: &'static str,
    message: String,
}

impl From<SessionError> for CommandError {
    fn from(error: SessionError) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// What the window shows around the session: demo mode, and a start-up failure.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The issuer in use, if the app started.
    issuer: Option<String>,
    /// Demo mode: the embedded mock-okta's sign-in page and its demo account.
    demo: Option<DemoInfo>,
    /// Why the app cannot sign anybody in (configuration, keychain).
    startup_error: Option<CommandError>,
}

/// The embedded mock-okta, as the demo banner describes it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoInfo {
    /// Where the browser signs in.
    browser_url: String,
    /// The demo account.
    username: String,
    /// Its password (a published demo value, not a secret).
    password: String,
}

/// The session once the app started, or why it could not.
pub enum AppSession {
    Ready(Box<ReadySession>),
    Failed(CommandError),
}

pub struct ReadySession {
    manager: Arc<SessionManager>,
    demo: Option<DemoInfo>,
    /// Keeps the embedded IdP running as long as the app.
    _mock_okta: Option<MockOkta>,
    /// Set once the stored session was restored (or found missing), with the error if the
    /// keychain could not be read.
    restored: watch::Receiver<Option<Result<(), CommandError>>>,
}

impl AppSession {
    /// Loads the configuration, starts mock-okta in demo mode, opens the keychain and
    /// restores the stored session in the background.
    pub async fn start(app: &AppHandle) -> Self {
        match ReadySession::start(app).await {
            Ok(ready) => Self::Ready(Box::new(ready)),
            Err(error) => {
                tracing::error!(code = error.code, message = %error.message, "cannot start the session");
                Self::Failed(error)
            }
        }
    }

    fn ready(&self) -> Result<&ReadySession, CommandError> {
        match self {
            Self::Ready(ready) => Ok(ready),
            Self::Failed(error) => Err(error.clone()),
        }
    }

    pub fn info(&self) -> AppInfo {
        match self {
            Self::Ready(ready) => AppInfo {
                issuer: Some(ready.manager.identity_provider().issuer.to_string()),
                demo: ready.demo.clone(),
                startup_error: None,
            },
            Self::Failed(error) => AppInfo {
                issuer: None,
                demo: None,
                startup_error: Some(error.clone()),
            },
        }
    }

    /// The session once the stored one was restored (or found missing), or why not.
    async fn restored(&self) -> Result<&ReadySession, CommandError> {
        let ready = self.ready()?;
        let mut restored = ready.restored.clone();
        if let Ok(result) = restored.wait_for(Option::is_some).await {
            if let Some(Err(error)) = &*result {
                return Err(error.clone());
            }
        }
        Ok(ready)
    }

    pub async fn state(&self) -> Result<SessionView, CommandError> {
        // The first answer waits for the restore, so the window never flashes "signed out".
        Ok(self.restored().await?.manager.view())
    }

    pub async fn sign_in(&self) -> Result<UserClaims, CommandError> {
        // A sign-in stores a session, as the restore may: never both at once.
        Ok(self.restored().await?.manager.sign_in().await?)
    }

    pub fn cancel(&self) -> Result<(), CommandError> {
        self.ready()?.manager.cancel();
        Ok(())
    }

    pub async fn sign_out(&self, mode: SignOutMode) -> Result<(), CommandError> {
        Ok(self.ready()?.manager.sign_out(mode).await?)
    }

    pub fn record_activity(&self) -> Result<(), CommandError> {
        self.ready()?.manager.record_activity();
        Ok(())
    }

    /// A deep link from the OS (a forwarded second instance, or the URL the app started with).
    pub fn handle_deep_link(&self, link: &Url) {
        let shown = oidc_session::callback::redacted(link.as_str());
        tracing::info!(url = %shown, "deep link received");
        match self {
            Self::Ready(ready) => {
                ready.manager.handle_deep_link(link.as_str());
            }
            Self::Failed(_) => tracing::warn!("deep link ignored: the session did not start"),
        }
    }
}

impl ReadySession {
    async fn start(app: &AppHandle) -> Result<Self, CommandError> {
        let config_file = config_file(app)?;
        let scheme = app.config().identifier.clone();
        let config = Config::load(&config_file, |name| std::env::var(name).ok(), &scheme).map_err(
            |error| CommandError {
                code: "configuration",
                message: format!("{error} (in {} or the environment)", config_file.display()),
            },
        )?;
        let (idp, demo, mock_okta) = match &config.okta {
            Some(org) => (IdentityProvider::from_org(org)?, None, None),
            None => start_demo_idp().await?,
        };
        tracing::info!(issuer = %idp.issuer, demo = demo.is_some(), "identity provider");
        let vault = TokenVault::platform(&scheme).map_err(SessionError::from)?;
        let data_dir = app.path().app_data_dir().map_err(|error| CommandError {
            code: "configuration",
            message: format!("no data directory: {error}"),
        })?;
        let manager = Arc::new(SessionManager::new(
            config,
            idp,
            vault,
            Journal::in_dir(&data_dir),
            Arc::new(OpenerBrowser(app.clone())),
            Arc::new(WindowEvents(app.clone())),
        )?);
        let (restored_sender, restored) = watch::channel(None);
        let background = manager.clone();
        tauri::async_runtime::spawn(async move {
            let restored = background.restore().await.map(drop).map_err(|error| {
                tracing::error!(code = error.code(), %error, "could not restore the session");
                CommandError::from(error)
            });
            let _ = restored_sender.send(Some(restored));
            tokio::join!(
                background.run_revocation_retries(),
                background.run_session_timeouts()
            );
        });
        Ok(Self {
            manager,
            demo,
            _mock_okta: mock_okta,
            restored,
        })
    }
}

/// `$OKTA_SIGNOUT_CONFIG`, else `config.toml` in the app's config directory.
fn config_file(app: &AppHandle) -> Result<PathBuf, CommandError> {
    if let Some(path) = std::env::var_os(oidc_session::config::CONFIG_FILE_VAR) {
        return Ok(PathBuf::from(path));
    }
    let dir = app.path().app_config_dir().map_err(|error| CommandError {
        code: "configuration",
        message: format!("no configuration directory: {error}"),
    })?;
    Ok(dir.join(Path::new("config.toml")))
}

/// Demo mode: mock-okta in this process, its built-in client matching the app's defaults.
async fn start_demo_idp(
) -> Result<(IdentityProvider, Option<DemoInfo>, Option<MockOkta>), CommandError> {
    let mock = MockOkta::start(mock_okta::Config::default())
        .await
        .map_err(|error| CommandError {
            code: "demo",
            message: format!("cannot start the demo identity provider: {error}"),
        })?;
    let idp = IdentityProvider {
        issuer: mock.issuer(),
        client_id: mock_okta::DEMO_CLIENT_ID.to_owned(),
        extra_root_pem: Some(mock.ca_certificate_pem().as_bytes().to_vec()),
        request_timeout: oidc_session::provider::DEFAULT_REQUEST_TIMEOUT,
    };
    let demo = DemoInfo {
        browser_url: mock.browser_url().to_string(),
        username: mock_okta::DEMO_USERNAME.to_owned(),
        password: mock_okta::DEMO_PASSWORD.to_owned(),
    };
    Ok((idp, Some(demo), Some(mock)))
}

/// The person's default browser, through tauri-plugin-opener.
struct OpenerBrowser(AppHandle);

impl SystemBrowser for OpenerBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        self.0
            .opener()
            .open_url(url.as_str(), None::<&str>)
            .map_err(|error| {
                // The opener's message repeats the URL, with its state and ID token: neither
                // logged nor shown.
                let cause = match &error {
                    tauri_plugin_opener::Error::Io(io) => format!("{:?}", io.kind()),
                    _ => "not an I/O error".to_owned(),
                };
                tracing::warn!(%cause, "the opener failed");
                "no program could open the link; check that a web browser is installed and set as the default".to_owned()
            })
    }

    fn check_scheme_handler(&self, scheme: &str) -> Result<(), String> {
        #[cfg(target_os = "linux")]
        return crate::scheme_handler::check_default_handler(&self.0.config().identifier, scheme);
        #[cfg(not(target_os = "linux"))]
        {
            // Windows and macOS register the scheme with the installer.
            let _ = scheme;
            Ok(())
        }
    }
}

/// Session changes, sent to the window.
struct WindowEvents(AppHandle);

impl SessionEvents for WindowEvents {
    fn changed(&self, view: &SessionView) {
        if let Err(error) = self.0.emit(SESSION_CHANGED, view) {
            tracing::warn!(%error, "could not tell the window about the session");
        }
    }

    fn signed_out(&self, outcome: &SignOutOutcome) {
        if let Err(error) = self.0.emit(SIGNED_OUT, outcome) {
            tracing::warn!(%error, "could not tell the window about the sign-out");
        }
    }
}
