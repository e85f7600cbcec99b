//! Registers the app with the Linux desktop as the handler of its private-use URI scheme, so
//! that a browser handing `com.example.oktasignout:/…` to the desktop reaches the app.
//!
//! An installed app (a .deb or .rpm from scripts/package) comes with a system-wide entry that
//! does this already: the app then writes no entry of its own, and removes the one an earlier
//! run from elsewhere wrote, which would win over the package's (a per-user entry does).
//!
//! tauri-plugin-deep-link's own `register` writes `Exec="<path>" %u`. Debian 12's `xdg-open`
//! (xdg-utils 1.1.3, generic mode, which Chromium uses outside GNOME) splits `Exec` on spaces
//! without honouring quotes, so it tries to run `"<path>"`, quotes included, and fails. We
//! write the path unquoted whenever the Desktop Entry spec allows it, which both `gio open`
//! and every `xdg-open` can run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{fs, io};

/// Characters that the Desktop Entry spec says must be quoted in an `Exec` argument.
const RESERVED: &[char] = &[
    ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')',
    '`',
];

/// The link handler installed beside the app (src-tauri/src/bin/okta-signout-link.rs).
const LINK_PROGRAM: &str = "okta-signout-link";

/// What the desktop entry runs for a link: the small link handler beside the app, which hands
/// the link over without loading WebKit, or else the app itself (its second instance hands it
/// over too, only slower).
pub(crate) fn link_program(app_executable: PathBuf) -> PathBuf {
    let link_program = app_executable.with_file_name(LINK_PROGRAM);
    if link_program.is_file() {
        link_program
    } else {
        app_executable
    }
}

/// The handler's desktop entry, identified by the app's reverse-DNS identifier.
pub(crate) struct SchemeHandler {
    /// The desktop file ID, e.g. `com.example.oktasignout-handler.desktop`.
    file_name: String,
    /// The entry's text.
    contents: String,
    /// The MIME type it claims: `x-scheme-handler/<scheme>`.
    mime_type: String,
}

impl SchemeHandler {
    /// The entry for `executable` handling `scheme`, shown to people as `name`.
    pub(crate) fn new(identifier: &str, name: &str, scheme: &str, executable: &Path) -> Self {
        let mime_type = format!("x-scheme-handler/{scheme}");
        let exec = exec_argument(&executable.to_string_lossy());
        let contents = format!(
            "[Desktop Entry]\nType=Application\nName={name}\nExec={exec} %u\nTerminal=false\n\
             NoDisplay=true\nMimeType={mime_type};\n"
        );
        Self {
            file_name: handler_file_name(identifier),
            contents,
            mime_type,
        }
    }

    /// The desktop file ID of the entry [`SchemeHandler::install`] writes.
    pub(crate) fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The MIME type of the app's links, `x-scheme-handler/<scheme>`.
    pub(crate) fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// Writes the entry into `applications_dir` and makes it the default handler of the
    /// scheme. Returns the entry's path.
    pub(crate) fn install(&self, applications_dir: &Path) -> io::Result<PathBuf> {
        let path = self.write_entry(applications_dir)?;
        update_mime_cache(applications_dir)?;
        check_status(
            "xdg-mime",
            Command::new("xdg-mime")
                .args(["default", &self.file_name, &self.mime_type])
                .status(),
        )?;
        Ok(path)
    }

    /// Leaves the app's links to the package's `installed` entry: removes the per-user entry
    /// an earlier run wrote into `applications_dir`, which would win over the package's. (A
    /// default that still names it is passed over: the desktop skips an entry that is gone.)
    pub(crate) fn defer_to(
        &self,
        installed: &InstalledEntry,
        applications_dir: &Path,
    ) -> io::Result<()> {
        let own = applications_dir.join(&self.file_name);
        // Read for the log only: the entry goes whatever it holds.
        let text = fs::read_to_string(&own).unwrap_or_default();
        match fs::remove_file(&own) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            result => result?,
        }
        tracing::info!(
            entry = %own.display(),
            exec = text.lines().find_map(|line| line.strip_prefix("Exec=")).unwrap_or(""),
            package_entry = %installed.path.display(),
            "removed the per-user desktop entry of an earlier run: the package's entry handles the app's links"
        );
        update_mime_cache(applications_dir)
    }

    /// Writes the entry, rewriting it only when it changed.
    fn write_entry(&self, applications_dir: &Path) -> io::Result<PathBuf> {
        fs::create_dir_all(applications_dir)?;
        let path = applications_dir.join(&self.file_name);
        if fs::read_to_string(&path).ok().as_deref() != Some(self.contents.as_str()) {
            fs::write(&path, &self.contents)?;
        }
        Ok(path)
    }
}

/// A desktop entry that a package installed system-wide, which hands the app's links to this
/// very app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstalledEntry {
    /// Its desktop file ID, e.g. `okta-signout.desktop`.
    pub(crate) id: String,
    /// Where it lies.
    pub(crate) path: PathBuf,
}

/// The system-wide entry that claims `mime_type` and runs `program`, if one of the desktop's
/// system data directories (`data_dirs`, `$XDG_DATA_DIRS`) has one. A bare `Exec` program is
/// looked up in `search_path` (`$PATH`), as the desktop does when it runs the entry.
pub(crate) fn find_installed_entry(
    data_dirs: &[PathBuf],
    mime_type: &str,
    program: &Path,
    search_path: Option<&OsStr>,
) -> Option<InstalledEntry> {
    let program = fs::canonicalize(program).ok()?;
    data_dirs.iter().find_map(|dir| {
        let applications = dir.join("applications");
        let mut entries: Vec<PathBuf> = fs::read_dir(&applications)
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension() == Some(OsStr::new("desktop")))
            .collect();
        // The same answer on every run, whatever order the directory lists in.
        entries.sort();
        entries.into_iter().find_map(|path| {
            let entry = DesktopEntry::parse(&fs::read_to_string(&path).ok()?);
            // Only the few entries that claim the scheme cost a look-up in the PATH.
            if !entry.claims(mime_type) {
                return None;
            }
            let found = resolve_program(entry.program()?, search_path)?;
            if fs::canonicalize(found).ok()? != program {
                return None;
            }
            let id = path.file_name()?.to_string_lossy().into_owned();
            Some(InstalledEntry { id, path })
        })
    })
}

/// The keys of a desktop entry's `[Desktop Entry]` group that tell what it handles and runs.
#[derive(Debug, Default)]
struct DesktopEntry {
    exec: Option<String>,
    mime_types: Vec<String>,
    hidden: bool,
}

impl DesktopEntry {
    fn parse(text: &str) -> Self {
        let mut entry = Self::default();
        let mut in_main_group = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_main_group = line == "[Desktop Entry]";
                continue;
            }
            let Some((key, value)) = line.split_once('=').filter(|_| in_main_group) else {
                continue;
            };
            match key.trim() {
                "Exec" => entry.exec = Some(value.trim().to_owned()),
                "MimeType" => {
                    entry.mime_types = value
                        .split(';')
                        .map(str::trim)
                        .filter(|mime_type| !mime_type.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "Hidden" => entry.hidden = value.trim() == "true",
                _ => {}
            }
        }
        entry
    }

    /// Whether the entry is in force and handles `mime_type`.
    fn claims(&self, mime_type: &str) -> bool {
        !self.hidden && self.mime_types.iter().any(|claimed| claimed == mime_type)
    }

    /// The program `Exec` runs, its quotes taken off.
    fn program(&self) -> Option<&str> {
        let exec = self.exec.as_deref()?;
        match exec.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next(),
            None => exec.split_whitespace().next(),
        }
    }
}

/// `program` as the desktop finds it: a path as it is, a bare name in `search_path`.
fn resolve_program(program: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(search_path?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Checks that the desktop's default handler of `scheme:` links is `expected` (the desktop
/// file ID of the app's entry), so a browser's redirect comes back here.
pub(crate) fn check_default_handler(expected: &str, scheme: &str) -> Result<(), String> {
    let handler = default_handler(&format!("x-scheme-handler/{scheme}"))
        .map_err(|error| error.to_string())?;
    if handler == expected {
        Ok(())
    } else if handler.is_empty() {
        Err(format!("no application handles {scheme}: links"))
    } else {
        Err(format!(
            "{scheme}: links go to {handler}, not to {expected}"
        ))
    }
}

/// The desktop file ID of the default handler of `mime_type`, empty when there is none.
fn default_handler(mime_type: &str) -> io::Result<String> {
    let output = Command::new("xdg-mime")
        .args(["query", "default", mime_type])
        .output()
        .map_err(|error| io::Error::new(error.kind(), format!("xdg-mime: {error}")))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Rebuilds `applications_dir`'s MIME cache, which only speeds look-ups up; not every desktop
/// ships the tool.
fn update_mime_cache(applications_dir: &Path) -> io::Result<()> {
    match Command::new("update-desktop-database")
        .arg(applications_dir)
        .status()
    {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            tracing::debug!("update-desktop-database is not installed; skipping the MIME cache");
            Ok(())
        }
        result => check_status("update-desktop-database", result),
    }
}

/// The desktop file ID of the app's handler entry.
fn handler_file_name(identifier: &str) -> String {
    format!("{identifier}-handler.desktop")
}

fn check_status(program: &str, result: io::Result<std::process::ExitStatus>) -> io::Result<()> {
    let status =
        result.map_err(|error| io::Error::new(error.kind(), format!("{program}: {error}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{program} failed: {status}")))
    }
}

/// `path` as one `Exec` argument: bare when the spec allows it, else quoted and escaped.
fn exec_argument(path: &str) -> String {
    let path = path.replace('%', "%%");
    if !path.contains(RESERVED) {
        return path;
    }
    tracing::warn!(
        "the app's path needs quoting in its desktop entry; Debian 12's generic xdg-open cannot \
         run such entries, so install the app under a path without spaces or shell characters"
    );
    let mut quoted = String::from("\"");
    for character in path.chars() {
        // Escaped once for the Exec quoting, then every backslash once more for the desktop
        // file's string syntax.
        match character {
            '\\' => quoted.push_str(r"\\\\"),
            '"' | '`' | '$' => {
                quoted.push_str(r"\\");
                quoted.push(character);
            }
            _ => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_unquoted_so_generic_xdg_open_can_run_them() {
        let handler = SchemeHandler::new(
            "com.example.oktasignout",
            "Okta Sign-Out",
            "com.example.oktasignout",
            Path::new("/opt/okta-signout/bin/okta-signout"),
        );
        assert_eq!(
            handler.contents,
            "[Desktop Entry]\nType=Application\nName=Okta Sign-Out\n\
             Exec=/opt/okta-signout/bin/okta-signout %u\nTerminal=false\nNoDisplay=true\n\
             MimeType=x-scheme-handler/com.example.oktasignout;\n"
        );
        assert_eq!(handler.file_name, "com.example.oktasignout-handler.desktop");
    }

    #[test]
    fn reserved_characters_are_quoted_and_escaped_per_the_desktop_entry_spec() {
        assert_eq!(exec_argument("/home/a b/app"), "\"/home/a b/app\"");
        assert_eq!(exec_argument(r"/x/$HOME\y"), r#""/x/\\$HOME\\\\y""#);
        assert_eq!(exec_argument("/x/100%"), "/x/100%%");
    }

    #[test]
    fn a_stale_entry_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let handler = SchemeHandler::new("a.b", "A", "a.b", Path::new("/usr/bin/a"));
        let path = dir.path().join(&handler.file_name);
        fs::write(&path, "stale").unwrap();
        assert_eq!(handler.write_entry(dir.path()).unwrap(), path);
        assert_eq!(fs::read_to_string(&path).unwrap(), handler.contents);
    }

    /// A data directory holding `entries` (file name, text) in `applications/`.
    fn data_dir(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("applications")).unwrap();
        for (name, text) in entries {
            fs::write(dir.path().join("applications").join(name), text).unwrap();
        }
        dir
    }

    const MIME_TYPE: &str = "x-scheme-handler/com.example.oktasignout";

    #[test]
    fn the_package_s_entry_is_found_through_the_path_as_the_desktop_runs_it() {
        let bin = tempfile::tempdir().unwrap();
        let program = bin.path().join("okta-signout-link");
        fs::write(&program, "").unwrap();
        let entry = format!(
            "[Desktop Entry]\nType=Application\nName=Okta Sign-Out\n\
             Exec=okta-signout-link %u\nMimeType={MIME_TYPE};\n"
        );
        let other_program = "[Desktop Entry]\nExec=/opt/other/okta-signout-link %u\n\
                             MimeType=x-scheme-handler/com.example.oktasignout;\n";
        let other_scheme = "[Desktop Entry]\nExec=okta-signout-link %u\n\
                            MimeType=x-scheme-handler/com.example.other;\n";
        let hidden = format!("{entry}Hidden=true\n");
        let elsewhere = data_dir(&[("a.desktop", other_program), ("b.desktop", other_scheme)]);
        let system = data_dir(&[
            ("hidden.desktop", &hidden),
            ("okta-signout.desktop", &entry),
        ]);
        let dirs = [elsewhere.path().to_owned(), system.path().to_owned()];
        let search_path = std::env::join_paths(["/nowhere", bin.path().to_str().unwrap()]).unwrap();

        assert_eq!(
            find_installed_entry(&dirs, MIME_TYPE, &program, Some(&search_path)),
            Some(InstalledEntry {
                id: "okta-signout.desktop".to_owned(),
                path: system.path().join("applications/okta-signout.desktop"),
            })
        );
        // A checkout's build, or a PATH without the package's programs, has no entry of its own.
        let checkout = bin.path().join("checkout-okta-signout-link");
        fs::write(&checkout, "").unwrap();
        assert_eq!(
            find_installed_entry(&dirs, MIME_TYPE, &checkout, Some(&search_path)),
            None
        );
        assert_eq!(
            find_installed_entry(&dirs, MIME_TYPE, &program, Some("/nowhere".as_ref())),
            None
        );
    }

    #[test]
    fn an_entry_s_program_is_read_from_its_exec_line_quoted_or_not() {
        let program = |exec: &str| {
            DesktopEntry::parse(&format!(
                "[Desktop Entry]\nExec={exec}\n[Desktop Action x]\nExec=other\n"
            ))
            .program()
            .map(str::to_owned)
        };
        assert_eq!(
            program("okta-signout-link %u").as_deref(),
            Some("okta-signout-link")
        );
        assert_eq!(
            program("\"/opt/a b/link\" %u").as_deref(),
            Some("/opt/a b/link")
        );
        assert_eq!(DesktopEntry::parse("[Other]\nExec=x\n").program(), None);
    }

    #[test]
    fn an_installed_app_removes_the_per_user_entry_of_an_earlier_run_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let handler = SchemeHandler::new("a.b", "A", "a.b", Path::new("/usr/bin/a"));
        let installed = InstalledEntry {
            id: "a.desktop".to_owned(),
            path: PathBuf::from("/usr/share/applications/a.desktop"),
        };
        let own = dir.path().join(handler.file_name());
        let other = dir.path().join("other.desktop");
        fs::write(&own, "[Desktop Entry]\nExec=/old/checkout/a %u\n").unwrap();
        fs::write(&other, "[Desktop Entry]\nExec=other\n").unwrap();

        handler.defer_to(&installed, dir.path()).unwrap();
        assert!(!own.exists(), "the earlier run's entry is still there");
        assert!(other.exists(), "another entry was removed");
        // Nothing to remove is no error.
        handler.defer_to(&installed, dir.path()).unwrap();
    }

    /// The shell registers the identifier as the scheme, and single-instance claims
    /// `<identifier>.SingleInstance` on D-Bus: both only work if tauri.conf.json agrees.
    #[test]
    fn the_deep_link_scheme_is_the_identifier_and_a_valid_dbus_name() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../../tauri.conf.json")).unwrap();
        let identifier = config["identifier"].as_str().unwrap();
        assert_eq!(
            config["plugins"]["deep-link"]["desktop"]["schemes"],
            serde_json::json!([identifier])
        );
        let elements: Vec<&str> = identifier.split('.').collect();
        assert!(elements.len() >= 2 && identifier.len() <= 255);
        for element in elements {
            let mut characters = element.chars();
            let first = characters.next().expect("an empty D-Bus name element");
            assert!(first.is_ascii_alphabetic() || first == '_', "{element}");
            assert!(
                characters.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{element}"
            );
        }
    }
}
