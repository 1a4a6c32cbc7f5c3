use std::fmt;

use super::Invalid;

/// A candidate password: 8–128 characters. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Err(Invalid::new("password", "must not be only spaces"));
        }
        let len = raw.chars().count();
        if len < Self::MIN {
            return Err(Invalid::new(
                "password",
                format!("must be at least {} characters", Self::MIN),
            ));
        }
        if len > Self::MAX {
            return Err(Invalid::new(
                "password",
                format!("must be at most {} characters", Self::MAX),
            ));
        }
        // Spaces around a common password do not make it another one.
        if is_common(raw.trim()) {
            return Err(Invalid::new(
                "password",
                "is one of the most common passwords: choose another",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `candidate` is on the common-password list (NOTICE), ignoring case.
fn is_common(candidate: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| {
        include_str!("common_passwords.txt")
            .lines()
            // Shorter entries cannot pass the length rule anyway: not kept.
            .filter(|l| !l.starts_with('#') && l.chars().count() >= Password::MIN)
            .map(str::to_lowercase)
            .collect()
    });
    list.contains(&candidate.to_lowercase())
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_in_characters() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("k3v9q2x7").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("hunter22x").unwrap()), "Password(***)");
    }

    #[test]
    fn blank_and_common_passwords_are_refused() {
        for weak in [
            "        ",
            "\t\t\t\t\t\t\t\t",
            "password        ",
            "PASSWORD1",
            "12345678",
            "iloveyou",
        ] {
            assert!(Password::parse(weak).is_err(), "{weak:?} should be refused");
        }
        assert!(Password::parse("correct horse").is_ok());
    }

    /// The list is at least 20,000 entries (Django's and Openwall's), and
    /// holds what attackers try first. (Before: 3,546 entries; `password123`
    /// and `qwertyuiop1` were accepted.)
    #[test]
    fn the_common_list_is_large_and_catches_the_usual_suspects() {
        let entries = include_str!("common_passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        assert!(entries >= 20_000, "{entries}");
        for weak in ["password123", "Password123", "qwertyuiop1", "football1", "baseball"] {
            assert!(Password::parse(weak).is_err(), "{weak:?} should be refused");
        }
    }
}
