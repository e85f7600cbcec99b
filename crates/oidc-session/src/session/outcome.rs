//! What a sign-out tells the person: how it ended, in plain words.

use serde::Serialize;
use url::Url;

use crate::journal::SignOutMode;

/// What came of a sign-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// App session ended, tokens revoked, Okta confirmed the end of its session.
    Completed,
    /// App session ended as asked; the browser stays signed in to Okta.
    SignedOutOfAppOnly,
    /// App session ended; Okta did not confirm in time.
    TimedOut,
    /// App session ended; the person stopped waiting for Okta.
    Cancelled,
    /// App session ended; Okta reported an error on the way back.
    IdpError,
    /// App session ended; Okta could not be reached, revocation is queued.
    Offline,
    /// App session ended; Okta's sign-out could not start (configuration to fix).
    PreflightFailed,
}

impl OutcomeKind {
    /// Whether the browser may still be signed in to Okta although the person asked for a
    /// full sign-out: the next sign-in must then ask for a password.
    fn okta_session_may_survive(self) -> bool {
        match self {
            Self::Completed | Self::SignedOutOfAppOnly => false,
            Self::TimedOut
            | Self::Cancelled
            | Self::IdpError
            | Self::Offline
            | Self::PreflightFailed => true,
        }
    }
}

/// A sign-out's outcome, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignOutOutcome {
    /// What came of it.
    pub kind: OutcomeKind,
    /// What it means, in plain words.
    pub message: String,
    /// Tokens were still waiting to be revoked when the sign-out ended. The window shows the
    /// queue live ([`super::RevocationStatus`]): the message does not speak of it, as it
    /// would stop being true once they are revoked.
    pub revocation_pending: bool,
    /// Okta got an expired ID token as `id_token_hint` (no fresh one could be had).
    pub expired_id_token_hint: bool,
    /// The next sign-in asks for a password: the browser may still be signed in to Okta.
    pub password_required: bool,
    /// The keychain failed to delete the session: it is out of the app's memory, and the
    /// next start deletes it (the sign-out's journal stays until then).
    pub session_left_in_keychain: bool,
}

/// How the network part of a sign-out ended, with what Okta said or what went wrong where the
/// kind does not say it all.
#[derive(Debug)]
pub(super) enum Ending {
    /// Okta confirmed the end of its session.
    Confirmed,
    /// The app only, as asked.
    AppOnly,
    /// Okta did not confirm in time.
    TimedOut,
    /// The person stopped waiting.
    Cancelled,
    /// Okta reported this on the way back.
    IdpError(String),
    /// Okta could not be reached.
    Offline,
    /// Okta's sign-out could not start, for this reason.
    PreflightFailed(String),
}

impl Ending {
    fn kind(&self) -> OutcomeKind {
        match self {
            Self::Confirmed => OutcomeKind::Completed,
            Self::AppOnly => OutcomeKind::SignedOutOfAppOnly,
            Self::TimedOut => OutcomeKind::TimedOut,
            Self::Cancelled => OutcomeKind::Cancelled,
            Self::IdpError(_) => OutcomeKind::IdpError,
            Self::Offline => OutcomeKind::Offline,
            Self::PreflightFailed(_) => OutcomeKind::PreflightFailed,
        }
    }
}

const BROWSER_MAY_BE_SIGNED_IN: &str = "your browser may still be signed in to Okta";
const EXPIRED_HINT: &str = " Your ID token had expired and could not be renewed, so Okta got \
                            the expired one as the sign-out hint.";
const PASSWORD_REQUIRED: &str = " The next sign-in here asks you to sign in to Okta again, \
                                 so that this browser's Okta session cannot sign anyone in \
                                 silently.";

impl SignOutOutcome {
    /// The outcome of a `mode` sign-out that ended with `ending`. `post_logout_redirect_uri`
    /// is named where a wrong setting in Okta is the likely cause.
    pub(super) fn new(
        mode: SignOutMode,
        ending: Ending,
        revocation_pending: bool,
        expired_id_token_hint: bool,
        keychain_failure: Option<&str>,
        post_logout_redirect_uri: &Url,
    ) -> Self {
        let kind = ending.kind();
        let password_required = mode == SignOutMode::Full && kind.okta_session_may_survive();
        let mut message = match ending {
            Ending::Confirmed => {
                "You are signed out of this app and of Okta in your browser.".to_owned()
            }
            Ending::AppOnly => "You are signed out of this app. Your browser stays signed in to \
                Okta, so signing in again needs no password."
                .to_owned(),
            Ending::TimedOut => format!(
                "Signed out of this app; Okta did not confirm — {BROWSER_MAY_BE_SIGNED_IN}. If \
                 your browser shows an Okta error, check that {post_logout_redirect_uri} is one \
                 of the app's Sign-out redirect URIs in Okta."
            ),
            Ending::Cancelled => format!(
                "Signed out of this app. You stopped waiting for Okta, so \
                 {BROWSER_MAY_BE_SIGNED_IN}."
            ),
            Ending::IdpError(reason) => format!(
                "Signed out of this app, but Okta reported: {reason}. {}.",
                capitalized(BROWSER_MAY_BE_SIGNED_IN)
            ),
            Ending::Offline => format!(
                "Signed out of this app. Okta cannot be reached right now, so \
                 {BROWSER_MAY_BE_SIGNED_IN}."
            ),
            Ending::PreflightFailed(reason) => format!(
                "Signed out of this app, but Okta's sign-out could not start: {reason}. {}.",
                capitalized(BROWSER_MAY_BE_SIGNED_IN)
            ),
        };
        if let Some(failure) = keychain_failure {
            message = format!(
                "Your system keychain could not delete your session ({failure}); the app no \
                 longer uses it and deletes it when it next starts. {message}"
            );
        }
        if expired_id_token_hint {
            message.push_str(EXPIRED_HINT);
        }
        if password_required {
            message.push_str(PASSWORD_REQUIRED);
        }
        Self {
            kind,
            message,
            revocation_pending,
            expired_id_token_hint,
            password_required,
            session_left_in_keychain: keychain_failure.is_some(),
        }
    }
}

/// `text` with its first letter upper case, to begin a sentence.
fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    characters
        .next()
        .map(|first| first.to_uppercase().chain(characters).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ending: Ending, revocation_pending: bool, expired_hint: bool) -> SignOutOutcome {
        let uri = Url::parse("com.example.oktasignout:/logout/callback").unwrap();
        SignOutOutcome::new(
            SignOutMode::Full,
            ending,
            revocation_pending,
            expired_hint,
            None,
            &uri,
        )
    }

    #[test]
    fn each_ending_says_whether_the_browser_may_still_be_signed_in() {
        let signed_in_still = [
            Ending::TimedOut,
            Ending::Cancelled,
            Ending::Offline,
            Ending::IdpError("server_error".into()),
            Ending::PreflightFailed("no end_session_endpoint".into()),
        ];
        for ending in signed_in_still {
            let outcome = outcome(ending, false, false);
            assert!(outcome.password_required, "{}", outcome.message);
            assert!(
                outcome.message.starts_with("Signed out of this app")
                    && outcome.message.contains("may still be signed in to Okta"),
                "{}",
                outcome.message
            );
        }
        let completed = outcome(Ending::Confirmed, false, false);
        assert!(!completed.message.contains("may still"));
        assert!(!completed.password_required);
    }

    #[test]
    fn okta_s_words_and_what_is_left_are_in_the_message() {
        let outcome = outcome(
            Ending::IdpError("The session could not be ended".into()),
            true,
            true,
        );
        assert_eq!(outcome.kind, OutcomeKind::IdpError);
        assert!(outcome
            .message
            .contains("Okta reported: The session could not be ended."));
        assert!(outcome.message.contains("expired"));
        assert!(outcome.message.contains(
            "as the sign-out hint. The next sign-in here asks you to sign in to Okta again"
        ));
        assert!(
            !outcome.message.contains("revoke"),
            "the live status speaks of the queue"
        );
        let timed_out = SignOutOutcome::new(
            SignOutMode::Full,
            Ending::TimedOut,
            false,
            false,
            None,
            &Url::parse("com.example.oktasignout:/bye").unwrap(),
        );
        assert!(timed_out.message.contains("com.example.oktasignout:/bye"));
    }

    #[test]
    fn a_session_the_keychain_kept_is_said_first() {
        let outcome = SignOutOutcome::new(
            SignOutMode::AppOnly,
            Ending::AppOnly,
            false,
            false,
            Some("the system keychain failed"),
            &Url::parse("com.example.oktasignout:/bye").unwrap(),
        );
        assert!(outcome.session_left_in_keychain);
        assert!(
            outcome.message.starts_with(
                "Your system keychain could not delete your session (the system keychain failed)"
            ),
            "{}",
            outcome.message
        );
    }
}
