//! Credentials and sessions: password hashing and session tokens. No HTTP
//! here; `http::current_user` turns requests into [`Session`]s.

mod password;
mod secrets;
mod token;

pub use password::{hash_password, verify_password};
pub use secrets::{new_api_token, new_link_secret, secret_hash, API_TOKEN_PREFIX};
pub use token::{Credential, Issued, Session, TokenError, Tokens};
