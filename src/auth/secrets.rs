//! Bearer secrets that are not session tokens: personal API tokens and the
//! single-use links sent by email (invitations, verification, password
//! resets). Each is 256 bits from the OS; only its SHA-256 is stored, so a
//! copy of the database opens nothing.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every personal API token starts with, so that secret scanners
/// (GitHub's, gitleaks …) can recognise a leaked one.
pub const API_TOKEN_PREFIX: &str = "aswan_pat_";

fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new personal API token: `aswan_pat_` and 43 URL-safe characters.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_text())
}

/// A new secret for a link (URL-safe, 43 characters).
pub fn new_link_secret() -> String {
    random_text()
}

/// What is stored in place of a secret: its SHA-256, in hex.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (a, b) = (new_api_token(), new_api_token());
        assert!(a.starts_with("aswan_pat_") && a.len() == 10 + 43, "{a}");
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_eq!(secret_hash(&a), secret_hash(&a.clone()));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
