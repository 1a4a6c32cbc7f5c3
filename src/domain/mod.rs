//! Domain types: identifiers and validated values. No I/O, no dependencies on
//! the rest of the crate; everything else imports from here.
//!
//! Each type is parsed once at the edge (`parse`/`FromStr`) and is valid from
//! then on ("parse, don't validate").

mod display_name;
mod email;
mod ids;
mod password;
mod role;
mod tenant_name;
mod todo;
mod token_scope;

pub use display_name::DisplayName;
pub use email::audit as audit_emails;
pub use email::Email;
pub use ids::{TenantId, TodoId, UserId};
pub use password::Password;
pub use role::Role;
pub use tenant_name::TenantName;
pub use todo::{TodoFilter, TodoTitle};
pub use token_scope::TokenScope;

/// A value that failed validation: which field, and why (safe to show users).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Trims `raw` and checks its length in characters (not bytes).
fn bounded_text(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    let len = text.chars().count();
    if len < min {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if len > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters")));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// [`bounded_text`] for a name shown to other people (a tenant's, a
/// person's, a token's): also no direction controls (which reorder what is
/// shown around them: "Acme\u{202E}gnp.exe") and no invisible characters
/// (which make two names look alike). Joiners and variation selectors stay:
/// scripts and emoji need them.
fn name_text(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let text = bounded_text(field, raw, min, max)?;
    if text.chars().any(hidden_in_names) {
        return Err(Invalid::new(
            field,
            "must not contain invisible or direction-control characters",
        ));
    }
    Ok(text)
}

/// Bidi controls and characters that render as nothing.
fn hidden_in_names(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180E}' | '\u{200B}' | '\u{200E}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}
