//! argon2id password hashing with the OWASP minimum parameters (19 MiB, two
//! passes, one lane). Hashing costs tens of milliseconds of CPU, so it runs on
//! the blocking pool, never on the async runtime's worker threads, and at
//! most [`max_parallel_hashes`] at a time: each hash holds 19 MiB, and a
//! login flood must queue rather than take the machine's memory (measured:
//! 64 concurrent logins took the server to 5 GiB RSS before this limit).

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One hash per core but one: more would only queue for the CPU while
/// holding memory, and the last core stays free for signed-in users, whose
/// requests never hash (a login flood must not slow them down).
fn max_parallel_hashes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(max_parallel_hashes()))
}

/// A PHC-format argon2id hash of `password`.
pub async fn hash_password(password: Password) -> anyhow::Result<String> {
    let _permit = permits().acquire().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Checks `password` against `hash`. With `hash = None` (no such user) it
/// still spends the time of a real check, so a failed login takes as long
/// whether or not the email exists.
pub async fn verify_password(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    let _permit = permits().acquire().await?;
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"not a real password", &salt)
            .expect("hashing a constant")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let hash = hash_password(Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
