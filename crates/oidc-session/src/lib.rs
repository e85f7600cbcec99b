//! The Tauri-free session core (content arrives with its own issue).
