//! The real app on a real (virtual) Linux desktop: its window driven by WebDriver, its
//! keychain a real Secret Service, its links handed over by the desktop. One test binary, a
//! module per topic.

mod acl;
mod app_shell;
mod console;
mod features;
mod install;
mod session_e2e;
mod support;
