//! Secrets (tokens, codes, verifiers) live in [`Sensitive`]: it cannot be printed, logged or
//! serialized by accident, and its memory is zeroized when it is dropped.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret value. `Debug` prints `[redacted]`, there is no `Display` and no `Serialize`, and
/// the value is wiped from memory on drop. Read it only where it leaves the process on
/// purpose (an HTTP request, the keychain) through [`Sensitive::expose`].
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Sensitive<T: Zeroize>(T);

impl<T: Zeroize> Sensitive<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that must send or store it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> fmt::Debug for Sensitive<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Sensitive::new(String::from("eyJhbGciOi.secret"));
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "eyJhbGciOi.secret");
    }

    #[test]
    fn zeroize_wipes_the_value() {
        let mut secret = Sensitive::new(String::from("refresh-token"));
        secret.zeroize();
        assert!(secret.expose().is_empty());
    }
}
