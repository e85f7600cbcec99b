//! A bare Tauri 2 window with a static page: what scripts/bench compares the app's start-up,
//! memory and size with. Built with the app's toolchain, Tauri version and release profile.

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the bare window failed to start");
}
