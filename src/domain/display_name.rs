use std::fmt;

use super::{bounded_text, Invalid};

/// A person's display name: 1–100 characters after trimming, no control
/// characters (no NUL, newline or terminal escape: names end up in logs, in
/// `aswan sql`'s output and in other members' screens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        bounded_text("name", raw, 1, Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_text() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        for bad in ["a\0b", "a\nb", "\u{1b}[31mred", "", "   "] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
    }
}
