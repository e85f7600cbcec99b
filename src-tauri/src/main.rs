//! The app: `okta-signout` (src-tauri/src/lib.rs is all of it).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    okta_signout_lib::run();
}
