//! Demo mode: with no Okta org configured, mock-okta runs inside the app, its built-in client
//! matching the app's default redirect URIs, and the window says so.

use mock_okta::MockOkta;
use oidc_session::provider::{DEFAULT_REQUEST_TIMEOUT, DISCOVERY_MAX_AGE};
use oidc_session::{IdentityProvider, Issuer};

use crate::commands::DemoInfo;
use crate::state::StartError;

/// The embedded mock-okta; it serves as long as this lives.
pub(crate) struct DemoIdp {
    mock: MockOkta,
}

impl DemoIdp {
    /// Starts mock-okta on 127.0.0.1 with its demo user and client; the client requires DPoP
    /// when the app is set to use it, as its Okta app would.
    pub(crate) async fn start(require_dpop: bool) -> Result<Self, StartError> {
        let config = mock_okta::Config::default().with_dpop_required(require_dpop);
        let mock = MockOkta::start(config).await.map_err(StartError::Demo)?;
        Ok(Self { mock })
    }

    /// mock-okta as the session's identity provider, its certificate trusted.
    pub(crate) fn identity_provider(&self) -> IdentityProvider {
        IdentityProvider {
            issuer: Issuer::new(self.mock.issuer().as_str()).expect("mock-okta's issuer is valid"),
            client_id: mock_okta::DEMO_CLIENT_ID.to_owned(),
            extra_root_pem: Some(self.mock.ca_certificate_pem().as_bytes().to_vec()),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            discovery_max_age: DISCOVERY_MAX_AGE,
        }
    }

    /// What the demo banner says: where the browser signs in, and as whom.
    pub(crate) fn info(&self) -> DemoInfo {
        DemoInfo {
            browser_url: self.mock.browser_url().to_string(),
            username: mock_okta::DEMO_USERNAME.to_owned(),
            password: mock_okta::DEMO_PASSWORD.to_owned(),
        }
    }
}
