//! Fault switches QA turns on to check that the app survives a misbehaving Okta.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The protocol endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `/v1/authorize` and the sign-in form it shows.
    Authorize,
    /// `/v1/token`.
    Token,
    /// `/v1/revoke`.
    Revoke,
    /// `/v1/logout`.
    Logout,
    /// `/v1/introspect`.
    Introspect,
    /// `/v1/userinfo`.
    Userinfo,
    /// `/v1/keys`.
    Keys,
    /// `/.well-known/openid-configuration` and `oauth-authorization-server`.
    Discovery,
}

impl Endpoint {
    /// Every endpoint, in a stable order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Revoke,
        Endpoint::Logout,
        Endpoint::Introspect,
        Endpoint::Userinfo,
        Endpoint::Keys,
        Endpoint::Discovery,
    ];

    /// The lower-case name used in TOML, JSON and CLI flags.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Authorize => "authorize",
            Endpoint::Token => "token",
            Endpoint::Revoke => "revoke",
            Endpoint::Logout => "logout",
            Endpoint::Introspect => "introspect",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Keys => "keys",
            Endpoint::Discovery => "discovery",
        }
    }

    /// The endpoint a request path addresses, on any authorization server.
    pub(crate) fn of_path(path: &str) -> Option<Endpoint> {
        if path == crate::pages::SIGN_IN_PATH {
            return Some(Endpoint::Authorize);
        }
        if path.contains("/.well-known/") {
            return Some(Endpoint::Discovery);
        }
        let (_, name) = path.rsplit_once("/v1/")?;
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.name() == name)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An endpoint name that is not one of [`Endpoint::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown endpoint {0:?} (expected one of authorize, token, revoke, logout, introspect, userinfo, keys, discovery)")]
pub struct UnknownEndpoint(String);

impl FromStr for Endpoint {
    type Err = UnknownEndpoint;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.name() == name)
            .ok_or_else(|| UnknownEndpoint(name.to_owned()))
    }
}

/// Faults applied to every request of one endpoint, in this order: latency, drop, status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointFault {
    /// Delay before answering; a "hang" is just a huge latency.
    pub latency_ms: u64,
    /// Close the connection without any response.
    pub drop_connection: bool,
    /// Answer with this HTTP status instead of the real response (e.g. 503).
    pub status: Option<u16>,
    /// When set (1 or more), this endpoint's faults (these three and its switches in
    /// [`Faults`]: `logout_error_page` and `logout_never_redirects` for logout,
    /// `malformed_discovery` for discovery, `refresh_changes_subject` and
    /// `refresh_changes_issuer` for token) are in force for its next `count` requests, whether
    /// they change a request's answer or not, then turn themselves off. Unset: until changed.
    pub count: Option<u64>,
}

impl EndpointFault {
    pub(crate) fn latency(&self) -> Option<Duration> {
        (self.latency_ms > 0).then(|| Duration::from_millis(self.latency_ms))
    }
}

/// What logout does with an `id_token_hint` that has expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiredHintPolicy {
    /// Accept it, as many Okta orgs do.
    #[default]
    Accept,
    /// Reject it with the 400 error page.
    Reject,
}

/// Whether, and with which issuer, `/v1/authorize` names itself in its redirects back to the
/// app: RFC 9207's `iss` parameter, advertised by discovery as
/// `authorization_response_iss_parameter_supported`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationResponseIss {
    /// Advertised, and every redirect carries the issuer of the authorization server that
    /// answered, exactly as its discovery document writes it.
    #[default]
    Sent,
    /// Neither advertised nor sent, like an Okta org without RFC 9207 support.
    NotSupported,
    /// Advertised but not sent.
    Omitted,
    /// Advertised, but the redirect names another authorization server of the same org (the
    /// org server for a custom server, the `default` server for the org server): a mix-up.
    OtherIssuer,
}

impl AuthorizationResponseIss {
    /// Every mode, in a stable order.
    pub const ALL: [AuthorizationResponseIss; 4] = [
        AuthorizationResponseIss::Sent,
        AuthorizationResponseIss::NotSupported,
        AuthorizationResponseIss::Omitted,
        AuthorizationResponseIss::OtherIssuer,
    ];

    /// The snake_case name used in TOML, JSON and the CLI flag.
    pub fn name(self) -> &'static str {
        match self {
            AuthorizationResponseIss::Sent => "sent",
            AuthorizationResponseIss::NotSupported => "not_supported",
            AuthorizationResponseIss::Omitted => "omitted",
            AuthorizationResponseIss::OtherIssuer => "other_issuer",
        }
    }

    /// Whether discovery advertises `authorization_response_iss_parameter_supported`.
    pub(crate) fn is_advertised(self) -> bool {
        self != AuthorizationResponseIss::NotSupported
    }
}

impl FromStr for AuthorizationResponseIss {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AuthorizationResponseIss::ALL
            .into_iter()
            .find(|mode| mode.name() == name)
            .ok_or_else(|| {
                format!("unknown mode {name:?} (expected one of sent, not_supported, omitted, other_issuer)")
            })
    }
}

/// All fault switches. The default is a well-behaved Okta.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Faults of `/v1/authorize` and the sign-in form.
    pub authorize: EndpointFault,
    /// Faults of `/v1/token`.
    pub token: EndpointFault,
    /// Faults of `/v1/revoke` (a `status` here is a revoke failure; nothing is revoked).
    pub revoke: EndpointFault,
    /// Faults of `/v1/logout`.
    pub logout: EndpointFault,
    /// Faults of `/v1/introspect`.
    pub introspect: EndpointFault,
    /// Faults of `/v1/userinfo`.
    pub userinfo: EndpointFault,
    /// Faults of `/v1/keys`.
    pub keys: EndpointFault,
    /// Faults of the discovery documents.
    pub discovery: EndpointFault,
    /// Logout always answers with the 400 error page.
    pub logout_error_page: bool,
    /// Logout ends the session but answers 200 with a page that never navigates.
    pub logout_never_redirects: bool,
    /// Logout shows an interstitial page that then navigates to the redirect.
    pub logout_interstitial: bool,
    /// What logout does with an expired `id_token_hint`.
    pub expired_id_token_hint: ExpiredHintPolicy,
    /// Discovery answers 200 with a document that is not valid JSON metadata.
    pub malformed_discovery: bool,
    /// Whether the authorization response carries RFC 9207 `iss`, and which issuer it names.
    pub authorization_response_iss: AuthorizationResponseIss,
    /// The ID token of a `refresh_token` grant names another `sub` than the grant's person
    /// (OIDC Core 12.2 requires the same `iss` and `sub` as the original ID token).
    pub refresh_changes_subject: bool,
    /// The ID token of a `refresh_token` grant names another authorization server of the org
    /// as its `iss` (OIDC Core 12.2 again).
    pub refresh_changes_issuer: bool,
    /// An OpenID Provider without DPoP: discovery omits `dpop_signing_alg_values_supported`
    /// and the token endpoint ignores DPoP headers (every client gets Bearer tokens).
    pub dpop_unsupported: bool,
}

impl Faults {
    /// The per-endpoint faults of `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> &EndpointFault {
        match endpoint {
            Endpoint::Authorize => &self.authorize,
            Endpoint::Token => &self.token,
            Endpoint::Revoke => &self.revoke,
            Endpoint::Logout => &self.logout,
            Endpoint::Introspect => &self.introspect,
            Endpoint::Userinfo => &self.userinfo,
            Endpoint::Keys => &self.keys,
            Endpoint::Discovery => &self.discovery,
        }
    }

    /// Why these faults cannot be used: a `count` of 0, which would hit nothing.
    pub fn validate(&self) -> Result<(), String> {
        match Endpoint::ALL
            .into_iter()
            .find(|endpoint| self.endpoint(*endpoint).count == Some(0))
        {
            Some(endpoint) => Err(format!(
                "{endpoint}.count is 0: give the number of requests (1 or more) or leave it out"
            )),
            None => Ok(()),
        }
    }

    /// Turns off the faults of `endpoint`: its latency, drop and status, and the switches that
    /// change only its answers. Okta behaviour switches (interstitial, expired hints, `iss`,
    /// DPoP) stay.
    pub fn clear_endpoint(&mut self, endpoint: Endpoint) {
        *self.endpoint_mut(endpoint) = EndpointFault::default();
        match endpoint {
            Endpoint::Logout => {
                self.logout_error_page = false;
                self.logout_never_redirects = false;
            }
            Endpoint::Discovery => self.malformed_discovery = false,
            Endpoint::Token => {
                self.refresh_changes_subject = false;
                self.refresh_changes_issuer = false;
            }
            Endpoint::Authorize
            | Endpoint::Revoke
            | Endpoint::Introspect
            | Endpoint::Userinfo
            | Endpoint::Keys => {}
        }
    }

    /// The per-endpoint faults of `endpoint`, to change.
    pub fn endpoint_mut(&mut self, endpoint: Endpoint) -> &mut EndpointFault {
        match endpoint {
            Endpoint::Authorize => &mut self.authorize,
            Endpoint::Token => &mut self.token,
            Endpoint::Revoke => &mut self.revoke,
            Endpoint::Logout => &mut self.logout,
            Endpoint::Introspect => &mut self.introspect,
            Endpoint::Userinfo => &mut self.userinfo,
            Endpoint::Keys => &mut self.keys,
            Endpoint::Discovery => &mut self.discovery,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_round_trip() {
        for endpoint in Endpoint::ALL {
            assert_eq!(endpoint.name().parse::<Endpoint>().unwrap(), endpoint);
            let json = serde_json::to_string(&endpoint).unwrap();
            assert_eq!(json, format!("\"{}\"", endpoint.name()));
        }
        assert!("tokens".parse::<Endpoint>().is_err());
    }

    #[test]
    fn all_endpoints_are_listed_in_declaration_order() {
        // The request counters are indexed by `endpoint as usize`.
        for (index, endpoint) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(endpoint as usize, index, "{endpoint}");
        }
    }

    #[test]
    fn authorization_response_iss_names_round_trip() {
        for mode in AuthorizationResponseIss::ALL {
            assert_eq!(mode.name().parse::<AuthorizationResponseIss>(), Ok(mode));
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{}\"", mode.name()));
        }
        assert!("other-issuer".parse::<AuthorizationResponseIss>().is_err());
    }

    #[test]
    fn endpoint_mut_changes_the_named_endpoint_only() {
        let mut faults = Faults::default();
        faults.endpoint_mut(Endpoint::Revoke).status = Some(503);
        assert_eq!(faults.revoke.status, Some(503));
        assert_eq!(faults.endpoint(Endpoint::Token), &EndpointFault::default());
    }
}
