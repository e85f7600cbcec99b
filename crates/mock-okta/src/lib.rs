//! An Okta-shaped mock identity provider (content arrives with its own issue).
