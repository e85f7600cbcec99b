//! The app shell: plugins, commands, deep-link wiring and the window. It never speaks OIDC
//! itself: the session core lives in `crates/oidc-session`, and the shell hands it what the
//! desktop gives (ARCHITECTURE.md at the repository's root).

mod adapters;
mod commands;
#[cfg(feature = "demo")]
mod demo;
#[cfg(target_os = "linux")]
mod linux;
mod logging;
mod state;

use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use adapters::WindowChannels;
use state::AppSession;

/// Starts the app. A second instance (started with a deep link from a terminal, or by an old
/// desktop entry; the current one runs `okta-signout-link`) forwards its command line to the
/// first one and exits before it opens a window.
pub fn run() {
    #[cfg(target_os = "linux")]
    let attempts = linux::hand_off::take_attempts();
    #[cfg(target_os = "linux")]
    linux::paint_on_the_cpu();
    let result = tauri::Builder::default()
        // Registered first: a second instance must hand its URL over before anything else runs.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            bring_to_front(app)
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::session_state,
            commands::app_info,
            commands::sign_in,
            commands::sign_in_with_another_account,
            commands::cancel,
            commands::sign_out,
            commands::sign_out_app_only,
            commands::record_activity,
            commands::revocation_status,
            commands::retry_revocations,
            commands::watch,
            commands::open_browser_again,
            commands::copy_browser_link,
        ])
        .setup(|app| {
            logging::init(&app.path().app_log_dir()?)?;
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting");
            #[cfg(target_os = "linux")]
            linux::register_scheme_handler(app.handle())?;
            // Before the session, which reports through it from its start.
            app.manage(WindowChannels::default());
            let session = tauri::async_runtime::block_on(AppSession::start(app.handle()));
            app.manage(session);
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    handle.state::<AppSession>().handle_deep_link(url.as_str());
                }
            });
            // The OS may start the app with a callback URL when it was not running: nothing
            // can be pending then, so the session ignores it (and logs why).
            if let Some(urls) = app.deep_link().get_current()? {
                for url in urls {
                    app.state::<AppSession>().handle_deep_link(url.as_str());
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        #[cfg(target_os = "linux")]
        if linux::hand_off::is_failed_hand_off(&error) {
            linux::hand_off::start_over(attempts, &error);
        }
        panic!("the app failed to start: {error:?}");
    }
}

/// Another start of the app (from the menu, or handing a link over) shows the running one.
fn bring_to_front(app: &AppHandle) {
    tracing::info!("started again: window brought to the front");
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
