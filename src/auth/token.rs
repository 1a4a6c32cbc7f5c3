//! Session tokens: HS256 JWTs with the seed's claims (`sub` = user id,
//! `email`, `exp`) plus `iat` and a `jti` that logout revokes server-side.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::UserId;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    email: String,
    exp: i64,
    iat: i64,
    jti: Uuid,
}

/// A verified credential: who, and which one (a sign-in session's `jti`,
/// or a personal API token's id), for revocation and liveness.
/// A device cookie's claims: this browser has signed in to account `sub`.
#[derive(Debug, Serialize, Deserialize)]
struct DeviceClaims {
    sub: Uuid,
    /// A nonce per device.
    dev: Uuid,
    exp: i64,
}

/// How long a device stays known after its last sign-in.
const DEVICE_TTL: Duration = Duration::days(365);

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: UserId,
    pub jti: Uuid,
    pub credential: Credential,
}

/// A new session token, and what its session row records.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A sign-in session's JWT (cookie or Bearer).
    Session,
    /// A personal API token (Bearer only).
    ApiToken,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("session expired")]
    Expired,
    #[error("invalid session token")]
    Invalid,
}

/// Issues and verifies tokens with one key.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    /// Device cookies are signed with a key of their own, derived from the
    /// secret, so that neither kind of token can pass for the other.
    device_encoding: EncodingKey,
    device_decoding: DecodingKey,
}

impl Tokens {
    pub fn new(secret: &[u8], ttl_minutes: u32) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let device_key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"aswan device cookie\0");
            h.update(secret);
            h.finalize()
        };
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl: Duration::minutes(i64::from(ttl_minutes)),
            device_encoding: EncodingKey::from_secret(&device_key),
            device_decoding: DecodingKey::from_secret(&device_key),
        }
    }

    /// How long a device cookie lasts.
    pub fn device_ttl(&self) -> Duration {
        DEVICE_TTL
    }

    /// A signed device cookie: this browser has signed in to `user`
    /// (the throttle lets it through when others' guesses have closed the
    /// account to unknown devices; src/http/throttle.rs).
    pub fn device_cookie(&self, user: UserId) -> anyhow::Result<String> {
        let claims = DeviceClaims {
            sub: user.0,
            dev: Uuid::new_v4(),
            exp: (Utc::now() + DEVICE_TTL).timestamp(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.device_encoding,
        )?)
    }

    /// The account a device cookie was made for, if it is ours and current.
    pub fn device_user(&self, cookie: &str) -> Option<UserId> {
        jsonwebtoken::decode::<DeviceClaims>(cookie, &self.device_decoding, &self.validation)
            .ok()
            .map(|d| d.claims.sub.into())
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, user_id: UserId, email: &str) -> anyhow::Result<Issued> {
        let now = Utc::now();
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.0,
            email: email.to_owned(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(Issued {
            token,
            jti: claims.jti,
            expires_at,
        })
    }

    pub fn verify(&self, token: &str) -> Result<Session, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let c = data.claims;
        Utc.timestamp_opt(c.exp, 0).single().ok_or(TokenError::Invalid)?;
        Ok(Session {
            user_id: c.sub.into(),
            jti: c.jti,
            credential: Credential::Session,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cookies_and_sessions_never_pass_for_each_other() {
        let tokens = Tokens::new(b"k1", 60);
        let user = UserId::new();
        let device = tokens.device_cookie(user).unwrap();
        assert_eq!(tokens.device_user(&device), Some(user));
        assert!(tokens.verify(&device).is_err(), "a device cookie is no session");
        let session = tokens.issue(user, "a@x.io").unwrap().token;
        assert_eq!(tokens.device_user(&session), None, "a session is no device cookie");
        assert_eq!(Tokens::new(b"k2", 60).device_user(&device), None, "another secret");
    }

    #[test]
    fn round_trip_and_tamper() {
        let tokens = Tokens::new(b"k1", 60);
        let user = UserId::new();
        let issued = tokens.issue(user, "a@b.co").unwrap();
        let back = tokens.verify(&issued.token).unwrap();
        assert_eq!(back.user_id, user);
        assert_eq!(back.jti, issued.jti);
        assert!(matches!(
            Tokens::new(b"k2", 60).verify(&issued.token),
            Err(TokenError::Invalid)
        ));
        assert!(matches!(tokens.verify("garbage"), Err(TokenError::Invalid)));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let tokens = Tokens {
            ttl: Duration::seconds(-10),
            ..Tokens::new(b"k", 1)
        };
        let issued = tokens.issue(UserId::new(), "a@b.co").unwrap();
        assert!(matches!(tokens.verify(&issued.token), Err(TokenError::Expired)));
    }
}
