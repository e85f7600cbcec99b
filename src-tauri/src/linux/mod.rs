//! What the app does on a Linux desktop that other systems do for it: register the handler of
//! its links, hand a link to the running instance, and choose how WebKitGTK paints.

pub(crate) mod hand_off;
pub(crate) mod scheme_handler;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager};

/// Has WebKitGTK paint the page with the CPU instead of the GPU (WebKit reads this in the web
/// process it starts; `=0` keeps GPU painting). The window is one small form, which the CPU
/// paints as fast, and GPU painting first compiles Skia's shaders at every start: with Mesa's
/// software GL that delays the first paint, and GPU painting takes more memory
/// (BENCHMARKS.md). Processes the app starts inherit the variable, which matters only to a
/// WebKitGTK browser that the app starts itself.
pub(crate) fn paint_on_the_cpu() {
    const CPU_PAINTING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    if std::env::var_os(CPU_PAINTING).is_none() {
        // Called first thing in `run`, while the process has a single thread.
        std::env::set_var(CPU_PAINTING, "1");
    }
}

/// The desktop file ID of the entry that hands the app's links to it: the package's, or the
/// one the app writes for itself (managed state, for the check before a full sign-out).
pub(crate) struct LinkEntry(pub(crate) String);

/// Makes the desktop hand the app's links to it. An app installed by its package leaves that
/// to the package's system-wide entry; any other copy writes a per-user entry. The files are
/// written off the main thread: `xdg-mime` is a shell script that takes tens of milliseconds,
/// and the window should not wait for it.
pub(crate) fn register_scheme_handler(app: &AppHandle) -> tauri::Result<()> {
    let env = app.env();
    let current_exe = tauri::utils::platform::current_exe()?;
    let executable =
        match running_appimage(env.appimage.as_deref(), env.appdir.as_deref(), &current_exe) {
            Some(appimage) => appimage,
            None => scheme_handler::link_program(current_exe),
        };
    let config = app.config();
    // What people see as the app's name: its window's title.
    let name = config
        .app
        .windows
        .first()
        .map_or(config.identifier.as_str(), |window| window.title.as_str());
    // The scheme is the app's identifier (RFC 8252 §7.1); tauri.conf.json declares it too.
    let handler = scheme_handler::SchemeHandler::new(
        &config.identifier,
        name,
        &config.identifier,
        &executable,
    );
    let applications_dir = app.path().data_dir()?.join("applications");
    let installed = scheme_handler::find_installed_entry(
        &system_data_dirs(),
        handler.mime_type(),
        &executable,
        std::env::var_os("PATH").as_deref(),
    );
    match installed {
        Some(installed) => {
            tracing::info!(entry = %installed.path.display(), "the package's desktop entry hands the app's links to it");
            app.manage(LinkEntry(installed.id.clone()));
            std::thread::spawn(move || {
                if let Err(error) = handler.defer_to(&installed, &applications_dir) {
                    tracing::error!(%error, "could not remove the per-user desktop entry of an earlier run");
                }
            });
        }
        None => {
            app.manage(LinkEntry(handler.file_name().to_owned()));
            std::thread::spawn(move || match handler.install(&applications_dir) {
                Ok(path) => tracing::info!(entry = %path.display(), "deep-link handler registered"),
                Err(error) => tracing::error!(%error, "could not register the deep-link handler"),
            });
        }
    }
    Ok(())
}

/// The desktop's system data directories, where packages install desktop entries:
/// `$XDG_DATA_DIRS`, by default `/usr/local/share:/usr/share` (XDG Base Directory spec).
fn system_data_dirs() -> Vec<PathBuf> {
    match std::env::var_os("XDG_DATA_DIRS") {
        Some(dirs) if !dirs.is_empty() => std::env::split_paths(&dirs).collect(),
        _ => vec![
            PathBuf::from("/usr/local/share"),
            PathBuf::from("/usr/share"),
        ],
    }
}

/// The AppImage the app runs from, if it does: `appimage` (`$APPIMAGE`) counts only when the
/// executable lies inside the image's mount, `appdir` (`$APPDIR`), as the AppImage runtime sets
/// them both. An `APPIMAGE` inherited from another program's environment would otherwise make
/// that program the handler of the app's links.
fn running_appimage(
    appimage: Option<&OsStr>,
    appdir: Option<&OsStr>,
    executable: &Path,
) -> Option<PathBuf> {
    let appimage = PathBuf::from(appimage?);
    let inside = executable.starts_with(appdir?) && appimage.is_file();
    if !inside {
        tracing::warn!(appimage = %appimage.display(), "APPIMAGE is set, but the app does not run from it; ignored");
    }
    inside.then_some(appimage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inherited_appimage_is_not_the_app_s() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("okta-signout.AppImage");
        std::fs::write(&image, b"").unwrap();
        let mount = dir.path().join(".mount_okta");
        let inside = mount.join("usr/bin/okta-signout");
        let installed = Path::new("/usr/bin/okta-signout");
        let (image_var, mount_var) = (Some(image.as_os_str()), Some(mount.as_os_str()));

        assert_eq!(
            running_appimage(image_var, mount_var, &inside),
            Some(image.clone())
        );
        for (appimage, appdir, executable) in [
            (image_var, mount_var, installed),
            (image_var, None, inside.as_path()),
            (None, mount_var, inside.as_path()),
            (
                Some(OsStr::new("/nowhere/else.AppImage")),
                mount_var,
                inside.as_path(),
            ),
        ] {
            assert_eq!(
                running_appimage(appimage, appdir, executable),
                None,
                "{appimage:?} {appdir:?} {executable:?}"
            );
        }
    }
}
