use std::fmt;

use super::{name_text, Invalid};

/// A person's display name: 1–100 characters after trimming, no control
/// characters (no NUL, newline or terminal escape: names end up in logs, in
/// `aswan sql`'s output and in other members' screens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        name_text("name", raw, 1, Self::MAX).map(Self)
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

    #[test]
    fn names_hide_nothing_and_reorder_nothing() {
        for bad in [
            "Ada\u{202E}ecalevol",
            "Ad\u{200B}a",
            "\u{2066}Ada\u{2069}",
            "Ada\u{FEFF}",
            "Ada\u{E0041}",
        ] {
            let e = DisplayName::parse(bad).unwrap_err();
            assert!(e.message.contains("invisible"), "{bad:?}: {e}");
        }
        // Scripts and emoji keep their joiners and variation selectors.
        for good in [
            "می\u{200C}خواهم",
            "Team \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
            "I \u{2764}\u{FE0F} tea",
            "عربي",
        ] {
            assert!(DisplayName::parse(good).is_ok(), "{good:?}");
        }
    }
}
