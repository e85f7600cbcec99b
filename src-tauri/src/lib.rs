//! The app shell: plugins, deep-link wiring and the window. It never speaks OIDC itself;
//! the session core lives in `crates/oidc-session`.

mod commands;
mod hand_off;
mod logging;
#[cfg(target_os = "linux")]
mod scheme_handler;
mod session;

use tauri::{AppHandle, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use session::AppSession;

/// Starts the app. A second instance (started with a deep link from a terminal, or by an old
/// desktop entry; the current one runs `okta-signout-link`) forwards its command line to the
/// first one and exits before it opens a window.
pub fn run() {
    let attempts = hand_off::take_attempts();
    #[cfg(target_os = "linux")]
    paint_on_the_cpu();
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
            commands::cancel,
            commands::sign_out,
            commands::sign_out_app_only,
            commands::record_activity,
        ])
        .setup(|app| {
            logging::init(&app.path().app_log_dir()?)?;
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting");
            #[cfg(target_os = "linux")]
            register_scheme_handler(app.handle())?;
            let session = tauri::async_runtime::block_on(AppSession::start(app.handle()));
            app.manage(session);
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    handle.state::<AppSession>().handle_deep_link(&url);
                }
            });
            // The OS may start the app with a callback URL when it was not running: nothing
            // can be pending then, so the session ignores it (and logs why).
            if let Some(urls) = app.deep_link().get_current()? {
                for url in urls {
                    app.state::<AppSession>().handle_deep_link(&url);
                }
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        if hand_off::is_failed_hand_off(&error) {
            hand_off::start_over(attempts, &error);
        }
        panic!("the app failed to start: {error:?}");
    }
}

/// Has WebKitGTK paint the page with the CPU instead of the GPU (WebKit reads this in the web
/// process it starts; `=0` keeps GPU painting). The window is one small form, which the CPU
/// paints as fast, and GPU painting first compiles Skia's shaders at every start: with
/// Mesa's software GL, that cost 30–125 ms of the first paint in our runs, and GPU painting
/// takes 25 MB more memory (BENCHMARKS.md). Processes the app starts inherit the variable,
/// which matters only to a WebKitGTK browser that the app starts itself.
#[cfg(target_os = "linux")]
fn paint_on_the_cpu() {
    const CPU_PAINTING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    if std::env::var_os(CPU_PAINTING).is_none() {
        // Called first thing in `run`, while the process has a single thread.
        std::env::set_var(CPU_PAINTING, "1");
    }
}

fn bring_to_front(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Installs the desktop entry off the main thread: `xdg-mime` is a shell script that takes
/// tens of milliseconds, and the window should not wait for it.
#[cfg(target_os = "linux")]
fn register_scheme_handler(app: &AppHandle) -> tauri::Result<()> {
    let executable = match app.env().appimage {
        Some(appimage) => appimage.into(),
        None => scheme_handler::link_program(tauri::utils::platform::current_exe()?),
    };
    let config = app.config();
    // The scheme is the app's identifier (RFC 8252 §7.1); tauri.conf.json declares it too.
    let handler = scheme_handler::SchemeHandler::new(
        &config.identifier,
        config.product_name.as_deref().unwrap_or(&config.identifier),
        &config.identifier,
        &executable,
    );
    let applications_dir = app.path().data_dir()?.join("applications");
    std::thread::spawn(move || match handler.install(&applications_dir) {
        Ok(path) => tracing::info!(entry = %path.display(), "deep-link handler registered"),
        Err(error) => tracing::error!(%error, "could not register the deep-link handler"),
    });
    Ok(())
}
