//! Compiles the app's Tauri context: its configuration, capabilities and the commands the UI
//! may call.

fn main() {
    // Only the commands listed here get ACL permissions; capabilities/ grants them to the UI.
    let manifest = tauri_build::AppManifest::new().commands(&[
        "session_state",
        "app_info",
        "sign_in",
        "sign_in_with_another_account",
        "cancel",
        "sign_out",
        "sign_out_app_only",
        "record_activity",
        "revocation_status",
        "retry_revocations",
        "watch",
        "open_browser_again",
        "copy_browser_link",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed");
}
