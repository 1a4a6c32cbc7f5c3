//! Credentials and sessions: password hashing and session tokens. No HTTP
//! here; `http::current_user` turns requests into [`Session`]s.

mod password;
mod token;

pub use password::{hash_password, verify_password};
pub use token::{Session, TokenError, Tokens};
