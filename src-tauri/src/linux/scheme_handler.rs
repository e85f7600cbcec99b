//! Registers the app with the Linux desktop as the handler of its private-use URI scheme, so
//! that a browser handing `com.example.oktasignout:/…` to the desktop reaches the app.
//!
//! tauri-plugin-deep-link's own `register` writes `Exec="<path>" %u`. Debian 12's `xdg-open`
//! (xdg-utils 1.1.3, generic mode, which Chromium uses outside GNOME) splits `Exec` on spaces
//! without honouring quotes, so it tries to run `"<path>"`, quotes included, and fails. We
//! write the path unquoted whenever the Desktop Entry spec allows it, which both `gio open`
//! and every `xdg-open` can run.

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

    /// Writes the entry into `applications_dir` and makes it the default handler of the
    /// scheme. Returns the entry's path.
    pub(crate) fn install(&self, applications_dir: &Path) -> io::Result<PathBuf> {
        let path = self.write_entry(applications_dir)?;
        // The MIME cache only speeds look-ups up, and not every desktop ships the tool.
        match Command::new("update-desktop-database")
            .arg(applications_dir)
            .status()
        {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tracing::debug!("update-desktop-database is not installed; skipping the MIME cache")
            }
            result => check_status("update-desktop-database", result)?,
        }
        check_status(
            "xdg-mime",
            Command::new("xdg-mime")
                .args(["default", &self.file_name, &self.mime_type])
                .status(),
        )?;
        Ok(path)
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

/// Checks that the desktop's default handler of `scheme:` links is this app's entry (the
/// one [`SchemeHandler`] installs for `identifier`), so a browser's redirect comes back here.
pub(crate) fn check_default_handler(identifier: &str, scheme: &str) -> Result<(), String> {
    let expected = handler_file_name(identifier);
    let output = Command::new("xdg-mime")
        .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
        .output()
        .map_err(|error| format!("xdg-mime: {error}"))?;
    let handler = String::from_utf8_lossy(&output.stdout).trim().to_owned();
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
