//! What can go wrong in a session. Each error has a stable code the UI can branch on and a
//! message a person can act on; what caused it stays attached as its source, and
//! [`error_chain`] spells the whole chain out.

use std::path::PathBuf;
use std::sync::Arc;

use crate::dpop::DpopError;
use crate::vault::VaultError;

/// A cause of any type, kept as an error's source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failed session operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The configured `ca_file` cannot be read.
    #[error("cannot read ca_file {}", .path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configured `ca_file` is not a PEM certificate or bundle.
    #[error("ca_file is not a PEM certificate or bundle")]
    CaCertificate(#[source] BoxError),
    /// The HTTPS client cannot be set up.
    #[error("cannot set up HTTPS")]
    HttpClient(#[source] BoxError),
    /// The configured issuer is not the one Okta's discovery document names: OpenID Connect
    /// compares them as strings, so even a trailing slash matters.
    #[error("the issuer in config.toml is `{configured}`, but Okta's discovery document names `{discovered}`: write issuer = \"{discovered}\" in config.toml (or OKTA_SIGNOUT_ISSUER)")]
    IssuerMismatch {
        /// The configured issuer.
        configured: String,
        /// The issuer discovery names.
        discovered: String,
    },
    /// No discovery document answers at the configured issuer: it is not an issuer.
    #[error("{issuer} is not an Okta authorization server ({reason}): the issuer in config.toml is https://{{your org}}.okta.com (the org server) or https://{{your org}}.okta.com/oauth2/{{server id}} (a custom one), exactly as its discovery document names it")]
    NotAnIssuer {
        /// The configured issuer.
        issuer: String,
        /// What answered instead.
        reason: String,
    },
    /// TLS refused Okta's certificate.
    #[error("Okta's certificate at {issuer} {problem}")]
    UntrustedCertificate {
        /// The configured issuer.
        issuer: String,
        /// Why, in terms of what to fix.
        problem: CertificateProblem,
        /// The TLS error.
        source: BoxError,
    },
    /// DPoP is on, but the authorization server does not advertise ES256 proofs
    /// (`dpop_signing_alg_values_supported`).
    #[error("dpop = true, but {issuer} does not offer DPoP with ES256 (its discovery document lists {}): sign in to an Okta authorization server that does, or set dpop = false in config.toml (or OKTA_SIGNOUT_DPOP=false)", if .advertised.is_empty() { "no DPoP algorithm".to_owned() } else { .advertised.join(", ") })]
    DpopUnsupported {
        /// The configured issuer.
        issuer: String,
        /// The algorithms it lists, if any.
        advertised: Vec<String>,
    },
    /// DPoP is on, but Okta issued tokens that are not bound to the app's key.
    #[error("dpop = true, but Okta issued {token_type} tokens, not DPoP-bound ones: in the Okta admin console turn on \"Require Demonstrating Proof of Possession (DPoP) header in token requests\" in the app's General Settings, or set dpop = false in config.toml (or OKTA_SIGNOUT_DPOP=false)")]
    NotDpopBound {
        /// The `token_type` Okta answered with.
        token_type: String,
    },
    /// The session's DPoP key could not be made or used.
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// The IdP's discovery document could not be fetched or read, or lacks an endpoint.
    #[error("cannot reach Okta at {issuer}")]
    Discovery {
        /// The configured issuer.
        issuer: String,
        /// What failed.
        source: BoxError,
    },
    /// The IdP could not be reached for a token request, or its answer was unreadable.
    #[error("cannot reach Okta")]
    Network(#[source] BoxError),
    /// The IdP answered with an OAuth error.
    #[error("Okta refused: {}", .description.as_deref().unwrap_or(.code))]
    IdpError {
        /// The OAuth error code, e.g. `access_denied`.
        code: String,
        /// Okta's description.
        description: Option<String>,
    },
    /// The code or refresh token is no longer valid (`invalid_grant`).
    #[error("Okta no longer accepts this session{}", .description.as_deref().map(|text| format!(": {text}")).unwrap_or_default())]
    GrantRejected {
        /// Okta's description.
        description: Option<String>,
    },
    /// There is no refresh token to renew the session with.
    #[error("the session cannot be renewed without signing in again")]
    RefreshUnavailable,
    /// A sign-in answer does not name the issuer it was asked of (RFC 9207): it may come from
    /// another authorization server, so it was not used.
    #[error("Okta's sign-in answer {} instead of {expected}, so it was not used. If this keeps happening, tell your IT administrator", match .received.as_slice() { [] => "named no issuer".to_owned(), [issuer] => format!("named the issuer {issuer}"), several => format!("named several issuers ({})", several.join(", ")) })]
    ResponseIssuer {
        /// The configured issuer.
        expected: String,
        /// Every `iss` the answer carried.
        received: Vec<String>,
    },
    /// A refreshed ID token names another person, or another issuer, than the one signed in
    /// (OIDC Core 12.2).
    #[error(
        "Okta renewed the session for another person or another Okta than the one you signed in to"
    )]
    IdentityChanged,
    /// The ID token failed validation.
    #[error("Okta's answer could not be verified")]
    InvalidIdToken(#[source] BoxError),
    /// The system browser could not be opened.
    #[error("cannot open your web browser: {0}")]
    Browser(String),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] VaultError),
    /// The sign-out journal of a finished sign-out cannot be removed.
    #[error("cannot clear the sign-out journal")]
    Journal(#[source] std::io::Error),
    /// The stored session could not be restored at start.
    #[error("the saved session could not be loaded")]
    Restore(#[source] Arc<SessionError>),
    /// The person cancelled the wait for the browser.
    #[error("sign-in was cancelled")]
    Cancelled,
    /// The browser did not come back in time.
    #[error("your browser did not come back within {0} seconds; try again")]
    TimedOut(u64),
    /// A sign-in or sign-out is already running.
    #[error("another sign-in or sign-out is in progress")]
    Busy,
    /// Nobody is signed in.
    #[error("you are not signed in")]
    NotSignedIn,
    /// Someone is already signed in.
    #[error("you are already signed in")]
    AlreadySignedIn,
}

/// Why TLS refused Okta's certificate, in terms of what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// It is signed by a CA the app does not trust.
    #[error("is not trusted: install your organization's CA certificate in the system's certificate store, or name it in ca_file")]
    UnknownCa,
    /// It has expired or is not valid yet, by this computer's clock.
    #[error(
        "is expired or not yet valid by this computer's clock: check this computer's date and time"
    )]
    OutsideValidity,
    /// It is for another host name than the issuer's.
    #[error("is not for that host name: check the host name of the issuer in config.toml")]
    OtherHost,
    /// Another reason (revoked, malformed, …), which the TLS error gives.
    #[error("was refused")]
    Other,
}

impl SessionError {
    /// A stable identifier for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CaFile { .. }
            | Self::CaCertificate(_)
            | Self::HttpClient(_)
            | Self::IssuerMismatch { .. }
            | Self::NotAnIssuer { .. }
            | Self::UntrustedCertificate { .. }
            | Self::DpopUnsupported { .. }
            | Self::NotDpopBound { .. } => "configuration",
            Self::Dpop(_) => "dpop",
            Self::Discovery { .. } => "discovery",
            Self::Network(_) => "network",
            Self::IdpError { .. } => "idp_error",
            Self::GrantRejected { .. } => "grant_rejected",
            Self::RefreshUnavailable => "refresh_unavailable",
            Self::ResponseIssuer { .. } => "response_issuer",
            Self::IdentityChanged => "identity_changed",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::Browser(_) => "browser",
            Self::Keychain(VaultError::Unavailable(_)) => "keychain_unavailable",
            Self::Keychain(_) => "keychain",
            Self::Journal(_) => "journal",
            Self::Restore(cause) => cause.code(),
            Self::Cancelled => "cancelled",
            Self::TimedOut(_) => "timed_out",
            Self::Busy => "busy",
            Self::NotSignedIn => "not_signed_in",
            Self::AlreadySignedIn => "already_signed_in",
        }
    }
}

/// `error` and its sources, each once: the message that says what really failed.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let cause = std::io::Error::other("permission denied");
        let error = SessionError::CaFile {
            path: "/etc/ca.pem".into(),
            source: cause,
        };
        assert_eq!(
            error_chain(&error),
            "cannot read ca_file /etc/ca.pem: permission denied"
        );
        let restore = SessionError::Restore(Arc::new(SessionError::Journal(
            std::io::Error::other("read-only file system"),
        )));
        assert_eq!(restore.code(), "journal");
        assert_eq!(
            error_chain(&restore),
            "the saved session could not be loaded: cannot clear the sign-out journal: \
             read-only file system"
        );
    }
}
