use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

use super::Invalid;

/// An email address, normalised as RFC 8265 (PRECIS) advises for
/// identifiers people compare by eye: trimmed, NFKC, lower-cased, and shaped
/// like `local@domain.tld`. Refused: invisible and direction-control
/// characters (they make two different addresses look alike, or one look
/// like another), and a local part or domain label that mixes scripts
/// (`аlice` with a Cyrillic `а`). One script per part is fine (`алиса@…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Default-ignorable and bidirectional-control code points (Unicode's
/// DerivedCoreProperties `Default_Ignorable_Code_Point`, and the bidi
/// controls): they render as nothing or reorder what is shown.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("email", "is not a valid email address");
        let trimmed = raw.trim();
        if trimmed.chars().any(invisible) {
            return Err(Invalid::new(
                "email",
                "must not contain invisible or direction-control characters",
            ));
        }
        // NFKC again after lower-casing: a few lower-case mappings leave a
        // string that is not in normal form.
        let email: String = trimmed.nfkc().collect::<String>().to_lowercase().nfkc().collect();
        if email.chars().any(invisible) {
            return Err(bad());
        }
        if email.is_empty() || email.len() > 254 {
            return Err(bad());
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
        if !well_formed {
            return Err(bad());
        }
        let parts = std::iter::once(local).chain(domain.split('.'));
        if parts.into_iter().any(|part| !part.is_single_script()) {
            return Err(Invalid::new(
                "email",
                "mixes scripts in one part (a look-alike of another address)",
            ));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What stored addresses the current rules would refuse, change, or make
/// collide (two accounts that would be one address): one line each. For
/// accounts made before these rules (`aswan migrate` reports them; nothing
/// is merged or changed, an operator decides).
pub fn audit<'a>(emails: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_normal: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for stored in emails {
        match Email::parse(stored) {
            Err(e) => lines.push(format!("refused by the current rules: {stored:?} ({})", e.message)),
            Ok(normal) => {
                if normal.as_str() != stored {
                    lines.push(format!("not normalised: {stored:?} (would be {:?})", normal.as_str()));
                }
                by_normal.entry(normal.0).or_default().push(stored);
            }
        }
    }
    for (normal, accounts) in by_normal {
        if accounts.len() > 1 {
            lines.push(format!("collide as {normal:?}: {accounts:?}"));
        }
    }
    lines
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    /// Addresses that look like another (case, dots, plus tags, Unicode
    /// confusables): each is refused, or becomes the address it imitates.
    #[test]
    fn look_alikes_are_refused_or_normalised() {
        for sneaky in [
            "ali\u{202E}ce@corp.example",
            "ali\u{200B}ce@corp.example",
            "ali\u{2060}ce@corp.example",
            "ali\u{00AD}ce@corp.example",
            "alice@co\u{00AD}rp.example",
            "alice@corp\u{200B}.example",
            "\u{0430}lice@corp.example",
            "alice@c\u{043E}rp.example",
        ] {
            assert!(Email::parse(sneaky).is_err(), "{sneaky:?} should be refused");
        }
        let precomposed = Email::parse("jos\u{00E9}@corp.example").unwrap();
        let decomposed = Email::parse("jose\u{0301}@corp.example").unwrap();
        assert_eq!(precomposed, decomposed);
        // Compatibility forms fold (fullwidth letters, the ﬁ ligature).
        assert_eq!(
            Email::parse("\u{FF41}lice@corp.example").unwrap().as_str(),
            "alice@corp.example"
        );
        assert_eq!(
            Email::parse("\u{FB01}n@corp.example").unwrap().as_str(),
            "fin@corp.example"
        );
        // One script per part is someone's real address.
        assert!(Email::parse("\u{0430}\u{043B}\u{0438}\u{0441}\u{0430}@corp.example").is_ok());
        assert!(Email::parse("ada+tag-1@mail.corp.example").is_ok());
    }

    #[test]
    fn the_audit_reports_and_never_merges() {
        let stored = [
            "ada@x.io",
            "jos\u{00E9}@x.io",
            "jose\u{0301}@x.io",
            "ali\u{200B}ce@x.io",
        ];
        let lines = audit(stored);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("refused") && l.contains("ali")));
        assert!(lines.iter().any(|l| l.starts_with("not normalised")));
        assert!(lines.iter().any(|l| l.starts_with("collide as")));
        assert!(audit(["ada@x.io", "bob@x.io"]).is_empty());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
            "ada@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
