//! The sign-out journal: a small file that says a sign-out is under way and how far it got,
//! so that a crash mid-sign-out is finished at the next start. It never holds a secret: the
//! tokens still to revoke wait in the keychain's pending-revocation entry.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::tokens::unix_seconds;

/// The journal's file name in the app's data directory.
const JOURNAL_FILE: &str = "sign-out-journal.json";
/// The marker, beside the journal, that the next sign-in must ask for a password.
const FRESH_LOGIN_FILE: &str = "next-sign-in-asks-for-password";

/// Which sign-out the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutMode {
    /// The app session and the Okta session in the browser.
    Full,
    /// The app session only; the browser stays signed in to Okta.
    AppOnly,
}

/// How far a sign-out got. Each step is recorded before the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutStep {
    /// Recorded; the session may still be in the keychain.
    Started,
    /// The session is gone from memory and keychain; its tokens wait in the pending entry.
    LocalDone,
    /// The tokens are revoked (or queued for later).
    Revoked,
    /// The browser was sent to Okta's end-session endpoint.
    BrowserOpened,
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// Which sign-out.
    pub mode: SignOutMode,
    /// How far it got.
    pub step: SignOutStep,
    /// When it started (Unix seconds).
    pub started_at: u64,
    /// The id of the session it ends (see [`crate::tokens::StoredSession::id`]); `None` when
    /// unknown (a damaged journal, or one an earlier version wrote): then it ends whichever
    /// session is stored.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl JournalRecord {
    /// A sign-out of session `session_id` starting now.
    pub fn start(mode: SignOutMode, session_id: &str) -> Self {
        Self {
            mode,
            step: SignOutStep::Started,
            started_at: unix_seconds(SystemTime::now()),
            session_id: Some(session_id.to_owned()).filter(|id| !id.is_empty()),
        }
    }

    /// What a journal that is there but cannot be read stands for: a full sign-out of
    /// whichever session is stored, just started (the safest assumption).
    pub fn unreadable() -> Self {
        Self {
            mode: SignOutMode::Full,
            step: SignOutStep::Started,
            started_at: 0,
            session_id: None,
        }
    }

    /// Whether this sign-out ends `session`, not an older one whose journal stayed behind.
    pub fn ends(&self, session: &crate::tokens::StoredSession) -> bool {
        match &self.session_id {
            Some(id) if !session.id.is_empty() => *id == session.id,
            // Unknown on either side: the safe reading is that it does.
            _ => true,
        }
    }
}

/// The journal file, and what a sign-out leaves for the next sign-in.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    fresh_login_marker: PathBuf,
}

impl Journal {
    /// The journal in `dir` (created when first written).
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(JOURNAL_FILE),
            fresh_login_marker: dir.join(FRESH_LOGIN_FILE),
        }
    }

    /// Whether the next sign-in must ask for a password: a sign-out could not confirm that
    /// Okta's session in the browser ended.
    pub fn fresh_login_required(&self) -> bool {
        self.fresh_login_marker.exists()
    }

    /// Records whether the next sign-in must ask for a password, durably.
    pub(crate) fn set_fresh_login_required(&self, required: bool) -> io::Result<()> {
        if !required {
            return remove_durably(&self.fresh_login_marker);
        }
        let dir = self.path.parent().expect("the journal has a directory");
        fs::create_dir_all(dir)?;
        File::create(&self.fresh_login_marker)?.sync_all()?;
        sync_dir(dir)
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The unfinished sign-out, if any. A damaged journal still means one was under way: it
    /// reads as [`JournalRecord::unreadable`].
    pub fn read(&self) -> io::Result<Option<JournalRecord>> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, "the sign-out journal is damaged; finishing the sign-out");
                JournalRecord::unreadable()
            }))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Records `record` durably: written to a temporary file, flushed to disk, then renamed
    /// over the journal, so a crash leaves either the old record or the new one.
    pub fn write(&self, record: &JournalRecord) -> io::Result<()> {
        let dir = self.path.parent().expect("the journal has a directory");
        fs::create_dir_all(dir)?;
        let temporary = self.path.with_extension("json.tmp");
        let mut file = File::create(&temporary)?;
        file.write_all(&serde_json::to_vec(record).expect("a record serializes"))?;
        file.sync_all()?;
        fs::rename(&temporary, &self.path)?;
        sync_dir(dir)
    }

    /// Removes the journal: the sign-out is finished.
    pub(crate) fn clear(&self) -> io::Result<()> {
        remove_durably(&self.path)
    }
}

/// Removes `path` (of a file in the data directory), durably; a missing file is no error.
fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().expect("data files have a directory")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_steps_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(&dir.path().join("data"));
        assert_eq!(journal.read().unwrap(), None);
        let mut record = JournalRecord::start(SignOutMode::AppOnly, "session-1");
        journal.write(&record).unwrap();
        assert_eq!(journal.read().unwrap(), Some(record.clone()));
        record.step = SignOutStep::Revoked;
        journal.write(&record).unwrap();
        assert_eq!(journal.read().unwrap().unwrap().step, SignOutStep::Revoked);
        assert!(!journal.path().with_extension("json.tmp").exists());
        journal.clear().unwrap();
        assert_eq!(journal.read().unwrap(), None);
        journal.clear().unwrap();
    }

    #[test]
    fn a_record_ends_its_own_session_only() {
        let mut session = crate::tokens::StoredSession::sample();
        let record = JournalRecord::start(SignOutMode::Full, &session.id);
        assert!(record.ends(&session));
        session.id = "session-2".into();
        assert!(!record.ends(&session), "a newer session");
        session.id = String::new();
        assert!(record.ends(&session), "a session of an earlier version");
        let earlier: JournalRecord =
            serde_json::from_str(r#"{"mode":"full","step":"local_done","started_at":1}"#).unwrap();
        assert_eq!(earlier.session_id, None);
        assert!(earlier.ends(&crate::tokens::StoredSession::sample()));
    }

    #[test]
    fn the_fresh_login_marker_survives_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(&dir.path().join("data"));
        assert!(!journal.fresh_login_required());
        journal.set_fresh_login_required(true).unwrap();
        assert!(Journal::in_dir(&dir.path().join("data")).fresh_login_required());
        journal.set_fresh_login_required(false).unwrap();
        journal.set_fresh_login_required(false).unwrap();
        assert!(!journal.fresh_login_required());
    }

    #[test]
    fn a_damaged_journal_means_an_unfinished_full_sign_out() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::in_dir(dir.path());
        fs::write(journal.path(), b"{\"mode\":").unwrap();
        let record = journal.read().unwrap().unwrap();
        assert_eq!(
            (record.mode, record.step),
            (SignOutMode::Full, SignOutStep::Started)
        );
    }
}
