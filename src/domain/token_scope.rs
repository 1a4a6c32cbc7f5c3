use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a personal API token may do: `read` tokens only read (GET, HEAD,
/// OPTIONS); `write` tokens have the account's rights in its tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }
}

impl FromStr for TokenScope {
    type Err = super::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(TokenScope::Read),
            "write" => Ok(TokenScope::Write),
            _ => Err(super::Invalid::new("scope", "must be \"read\" or \"write\"")),
        }
    }
}
