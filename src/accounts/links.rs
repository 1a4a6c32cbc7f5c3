//! Mailed links: a one-time secret, only its SHA-256 stored, valid for a
//! while. A reset link is printed by `aswan user reset-password` or mailed;
//! a verification link is mailed.

use chrono::Duration;

use crate::auth::{new_link_secret, secret_hash};
use crate::domain::UserId;
use crate::store::prelude::*;
use crate::store::{EmailPurpose, Store};

/// How long a verification link works.
pub const VERIFY_FOR: Duration = Duration::days(3);
/// How long a password reset link works.
pub const RESET_FOR: Duration = Duration::minutes(30);

/// Makes a password reset link for `user` (whose email is `email`) under
/// `base` (PUBLIC_URL, or the origin the request came to): replaces any
/// earlier one.
pub async fn reset_link(store: &Store, base: &str, user: UserId, email: &str) -> crate::store::Result<String> {
    link(store, base, user, email, EmailPurpose::ResetPassword).await
}

/// Makes an email verification link for `user`'s address `email` under
/// `base`: replaces any earlier one.
pub async fn verification_link(store: &Store, base: &str, user: UserId, email: &str) -> crate::store::Result<String> {
    link(store, base, user, email, EmailPurpose::VerifyEmail).await
}

/// A new secret for `purpose`, its hash stored with its expiry; the link.
async fn link(
    store: &Store,
    base: &str,
    user: UserId,
    email: &str,
    purpose: EmailPurpose,
) -> crate::store::Result<String> {
    let (valid_for, page) = match purpose {
        EmailPurpose::ResetPassword => (RESET_FOR, "reset-password"),
        EmailPurpose::VerifyEmail => (VERIFY_FOR, "verify-email"),
    };
    let secret = new_link_secret();
    let expires = crate::store::now() + valid_for;
    store
        .create_email_token(user, purpose, &secret_hash(&secret), email, expires)
        .await?;
    Ok(format!("{base}/{page}/{secret}"))
}
