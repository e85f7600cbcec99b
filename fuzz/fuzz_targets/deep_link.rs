//! Any bytes as a deep link, with a sign-in and a sign-out waiting: no panic, and no flow
//! takes a link that is not its exact callback with its state.

#![no_main]

#[path = "../../crates/oidc-session/tests/it/deep_link_oracle.rs"]
mod deep_link_oracle;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(link) = std::str::from_utf8(data) {
        deep_link_oracle::assert_delivered_only_when_exact(link);
    }
});
