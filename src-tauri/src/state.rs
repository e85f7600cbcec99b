//! The app's session as the shell holds it, managed by Tauri: the core's [`Session`], started
//! with the configuration, the keychain, the journal and the adapters to the desktop, or why it
//! could not start.

use std::path::PathBuf;
use std::sync::Arc;

use oidc_session::{
    error_chain, Config, ConfigError, IdentityProvider, Journal, RevocationStatus, Session,
    SessionError, SessionManager, SessionParts, SessionView, SignOutMode, TokenVault, UserClaims,
};
use tauri::{AppHandle, Manager};

use crate::adapters::{DesktopLinkHandler, OpenerBrowser, WindowChannels};
use crate::commands::{AppInfo, CommandError, SetupGuide};
#[cfg(feature = "demo")]
use crate::demo::DemoIdp;

/// Why the session could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StartError {
    /// The configuration file or the environment holds something the app cannot use.
    #[error("{error} (in {} or the environment)", .file.display())]
    Configuration {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong (its message says what to change).
        error: ConfigError,
    },
    /// The OS gives the app no directory of a kind it needs.
    #[error("no {what} directory")]
    Directory {
        /// Which: "configuration" or "data".
        what: &'static str,
        /// Why not.
        source: tauri::Error,
    },
    /// No Okta org is configured, and this build has no demo mode to fall back on.
    #[cfg(not(feature = "demo"))]
    #[error(
        "this app is not configured: write `issuer` and `client_id` in {}",
        .0.config_file
    )]
    NotConfigured(SetupGuide),
    /// Demo mode's embedded mock-okta did not start.
    #[cfg(feature = "demo")]
    #[error("cannot start the demo identity provider")]
    Demo(#[source] std::io::Error),
    /// The core could not start (the keychain, the HTTPS client).
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl StartError {
    /// A stable identifier for the UI.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Configuration { .. } | Self::Directory { .. } => "configuration",
            #[cfg(not(feature = "demo"))]
            Self::NotConfigured(_) => "not_configured",
            #[cfg(feature = "demo")]
            Self::Demo(_) => "demo",
            Self::Session(error) => error.code(),
        }
    }

    /// What to configure, when the missing configuration is why the app cannot start.
    fn setup_guide(&self) -> Option<SetupGuide> {
        match self {
            #[cfg(not(feature = "demo"))]
            Self::NotConfigured(setup) => Some(setup.clone()),
            _ => None,
        }
    }
}

/// The session once the app started, or why it could not.
pub(crate) enum AppSession {
    Ready(Box<ReadySession>),
    Failed {
        error: CommandError,
        /// What to configure, when that is why.
        setup: Option<SetupGuide>,
    },
}

pub(crate) struct ReadySession {
    session: Session,
    /// Demo mode's mock-okta, running as long as the app.
    #[cfg(feature = "demo")]
    demo: Option<DemoIdp>,
}

impl AppSession {
    /// Loads the configuration, starts mock-okta in demo mode, opens the keychain and starts
    /// the session (which restores the stored one in the background).
    pub(crate) async fn start(app: &AppHandle) -> Self {
        match ReadySession::start(app).await {
            Ok(ready) => Self::Ready(Box::new(ready)),
            Err(error) => {
                let setup = error.setup_guide();
                if setup.is_some() {
                    tracing::warn!(%error, "no Okta org configured: the window says what to configure");
                } else {
                    tracing::error!(code = error.code(), error = %error_chain(&error), "cannot start the session");
                }
                Self::Failed {
                    setup,
                    error: CommandError::from(error),
                }
            }
        }
    }

    fn manager(&self) -> Result<&Arc<SessionManager>, CommandError> {
        match self {
            Self::Ready(ready) => Ok(ready.session.manager()),
            Self::Failed { error, .. } => Err(error.clone()),
        }
    }

    pub(crate) fn info(&self) -> AppInfo {
        match self {
            Self::Ready(ready) => AppInfo {
                issuer: Some(
                    ready
                        .session
                        .manager()
                        .identity_provider()
                        .issuer
                        .to_string(),
                ),
                #[cfg(feature = "demo")]
                demo: ready.demo.as_ref().map(DemoIdp::info),
                startup_error: None,
                setup: None,
            },
            Self::Failed { error, setup } => AppInfo {
                issuer: None,
                #[cfg(feature = "demo")]
                demo: None,
                startup_error: Some(error.clone()),
                setup: setup.clone(),
            },
        }
    }

    pub(crate) async fn state(&self) -> Result<SessionView, CommandError> {
        // The first answer waits for the restore, so the window never flashes "signed out".
        Ok(self.manager()?.restored().await?)
    }

    pub(crate) async fn sign_in(&self) -> Result<UserClaims, CommandError> {
        Ok(self.manager()?.sign_in().await?)
    }

    pub(crate) async fn sign_in_with_another_account(&self) -> Result<UserClaims, CommandError> {
        Ok(self.manager()?.sign_in_with_another_account().await?)
    }

    pub(crate) fn cancel(&self) -> Result<(), CommandError> {
        self.manager()?.cancel();
        Ok(())
    }

    pub(crate) async fn sign_out(&self, mode: SignOutMode) -> Result<(), CommandError> {
        Ok(self.manager()?.sign_out(mode).await?)
    }

    pub(crate) fn record_activity(&self) -> Result<(), CommandError> {
        self.manager()?.record_activity();
        Ok(())
    }

    pub(crate) fn revocation_status(&self) -> Result<RevocationStatus, CommandError> {
        Ok(self.manager()?.revocation_status())
    }

    pub(crate) fn retry_revocations(&self) -> Result<(), CommandError> {
        self.manager()?.retry_revocations();
        Ok(())
    }

    pub(crate) async fn open_browser_again(&self) -> Result<(), CommandError> {
        Ok(self.manager()?.open_browser_again().await?)
    }

    pub(crate) async fn browser_link(&self) -> Result<Option<String>, CommandError> {
        let link = self.manager()?.browser_link().await?;
        Ok(link.map(String::from))
    }

    /// A deep link from the OS (a forwarded second instance, or the URL the app started with).
    pub(crate) fn handle_deep_link(&self, link: &str) {
        match self.manager() {
            Ok(manager) => {
                manager.handle_deep_link(link);
            }
            Err(_) => tracing::warn!("deep link ignored: the session did not start"),
        }
    }
}

impl ReadySession {
    async fn start(app: &AppHandle) -> Result<Self, StartError> {
        let config_file = config_file(app)?;
        let scheme = app.config().identifier.clone();
        let config = Config::load(&config_file, |name| std::env::var(name).ok(), &scheme).map_err(
            |error| StartError::Configuration {
                file: config_file.clone(),
                error,
            },
        )?;
        #[cfg(feature = "demo")]
        let (idp, demo) = match &config.okta {
            Some(org) => (IdentityProvider::from_org(org)?, None),
            None => {
                let demo = DemoIdp::start(config.dpop).await?;
                (demo.identity_provider(), Some(demo))
            }
        };
        #[cfg(not(feature = "demo"))]
        let idp = match &config.okta {
            Some(org) => IdentityProvider::from_org(org)?,
            None => {
                return Err(StartError::NotConfigured(SetupGuide::new(
                    &config_file,
                    &config,
                )))
            }
        };
        tracing::info!(issuer = %idp.issuer, demo = cfg!(feature = "demo") && config.okta.is_none(), "identity provider");
        let vault = TokenVault::platform(&scheme).map_err(SessionError::from)?;
        let data_dir = app
            .path()
            .app_data_dir()
            .map_err(|source| StartError::Directory {
                what: "data",
                source,
            })?;
        let session = SessionManager::start(SessionParts {
            config,
            idp,
            vault,
            journal: Journal::in_dir(&data_dir),
            browser: Arc::new(OpenerBrowser(app.clone())),
            desktop_links: Arc::new(DesktopLinkHandler(app.clone())),
            events: Arc::new(app.state::<WindowChannels>().inner().clone()),
        })?;
        Ok(Self {
            session,
            #[cfg(feature = "demo")]
            demo,
        })
    }
}

/// `$OKTA_SIGNOUT_CONFIG`, else `config.toml` in the app's config directory.
fn config_file(app: &AppHandle) -> Result<PathBuf, StartError> {
    if let Some(path) = std::env::var_os(oidc_session::config::CONFIG_FILE_VAR) {
        return Ok(PathBuf::from(path));
    }
    let dir = app
        .path()
        .app_config_dir()
        .map_err(|source| StartError::Directory {
            what: "configuration",
            source,
        })?;
    Ok(dir.join("config.toml"))
}
