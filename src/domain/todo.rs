use super::{bounded_text, Invalid};

/// A todo's title: 1–256 characters after trimming (the seed's varchar(256)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoTitle(String);

impl TodoTitle {
    pub const MAX: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        bounded_text("title", raw, 1, Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which todos a list shows, and how much of each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TodoFilter {
    /// `Some(true)`: done only; `Some(false)`: open only; `None`: all.
    pub complete: Option<bool>,
    /// Each todo with its estimate's basis (the similar tasks it came from).
    /// Lists leave it out unless asked: it was more than half of a list
    /// answer's bytes and a third of its CPU (BENCHMARKS.md).
    pub with_basis: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_bounds() {
        assert!(TodoTitle::parse("   ").is_err());
        assert_eq!(TodoTitle::parse("  Buy milk ").unwrap().as_str(), "Buy milk");
        assert!(TodoTitle::parse(&"x".repeat(256)).is_ok());
        assert!(TodoTitle::parse(&"x".repeat(257)).is_err());
        assert!(TodoTitle::parse("a\u{0}b").is_err());
    }
}
