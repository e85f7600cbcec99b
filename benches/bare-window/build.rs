//! Compiles the bare window's Tauri context (its configuration and page).

fn main() {
    tauri_build::build();
}
