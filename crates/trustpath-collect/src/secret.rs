//! Secrets (client secret, private key): held in memory only, never printed.

use std::fmt;

/// A secret value whose `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    /// The value, for the one place that sends it (the token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2-very-secret".into());
        assert!(!format!("{s:?} {s}").contains("hunter2"));
    }
}
