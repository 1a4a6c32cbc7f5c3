//! Sign-in sessions and personal API tokens: the [`Sessions`] contract.
//! Both are credentials, each a row; a credential is live while its row is
//! (not revoked, not expired, its user there), checked by id in one query
//! whichever kind it is (ids are random UUIDs, never shared).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::{Result, Sessions, Store};
use crate::domain::{TokenScope, UserId};

/// A sign-in to record.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session token's `jti`.
    pub id: Uuid,
    pub user: UserId,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A live session as its owner sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// An API token to store (its secret is never stored, only its SHA-256).
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub user: UserId,
    pub name: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: TokenScope,
}

/// A live API token as its owner sees it (never the secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiTokenInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `read` (GET only) or `write`.
    #[schema(value_type = TokenScope)]
    pub scope: String,
}

/// Live: not revoked and not expired (`$now`).
macro_rules! live {
    ($now:literal) => {
        concat!("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ", $now, ")")
    };
}

/// Ends every live credential of `$user` — its sessions but `$keep` (an
/// `Option<Uuid>`), and all its API tokens — inside the caller's transaction
/// on connection `$c`, at `$now`. One body for "log out everywhere", a
/// password change and a reset (accounts.rs): credentials end together.
macro_rules! end_credentials_in {
    ($c:ident, $user:expr, $keep:expr, $now:expr) => {{
        // (`live!("$2")`, spelled out: this macro is used outside this file.)
        let sessions = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND id IS DISTINCT FROM $3
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind($user)
        .bind($now)
        .bind($keep)
        .execute(&mut *$c)
        .await?
        .rows_affected();
        let tokens = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind($user)
        .bind($now)
        .execute(&mut *$c)
        .await?
        .rows_affected();
        sessions + tokens
    }};
}
pub(super) use end_credentials_in;

impl Sessions for Store {
    async fn create_session(&self, s: &NewSession) -> Result<()> {
        let now = super::now();
        on!(write_one(&self.db), |c| sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(s.id)
        .bind(s.user.0)
        .bind(now)
        .bind(s.expires_at)
        .bind(s.user_agent.as_deref())
        .bind(s.ip.as_deref())
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn credential_is_live(&self, id: Uuid, user: UserId) -> Result<bool> {
        let (live,): (bool,) = on!(read(&self.db), |c| sqlx::query_as(concat!(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND ",
            live!("$3"),
            ") OR EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 AND user_id = $2 AND ",
            live!("$3"),
            ")"
        ))
        .bind(id)
        .bind(user.0)
        .bind(super::now())
        .fetch_one(&mut *c)
        .await?);
        Ok(live)
    }

    async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(concat!(
            "SELECT id, created_at, last_seen_at, expires_at, user_agent, ip FROM sessions
             WHERE user_id = $1 AND ",
            live!("$2"),
            " ORDER BY last_seen_at DESC, id"
        ))
        .bind(user.0)
        .bind(super::now())
        .fetch_all(&mut *c)
        .await?))
    }

    async fn revoke_session(&self, user: UserId, id: Uuid) -> Result<bool> {
        let now = super::now();
        let done = on!(write_one(&self.db), |c| sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND ",
            live!("$3")
        ))
        .bind(id)
        .bind(user.0)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    async fn prune_ended_credentials(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(on!(write(&self.db), |c| {
            let mut gone = 0;
            for ended in [
                "DELETE FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1",
                "DELETE FROM api_tokens WHERE revoked_at IS NOT NULL OR expires_at <= $1",
                "DELETE FROM email_tokens WHERE expires_at <= $1",
            ] {
                gone += sqlx::query(ended).bind(now).execute(&mut *c).await?.rows_affected();
            }
            gone
        }))
    }

    async fn end_credentials(&self, user: UserId, keep: Option<Uuid>) -> Result<u64> {
        let now = super::now();
        Ok(on!(write(&self.db), |c| end_credentials_in!(c, user.0, keep, now)))
    }

    async fn touch_credential(&self, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        on!(write(&self.db), |c| {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    async fn create_api_token(&self, t: &NewApiToken) -> Result<ApiTokenInfo> {
        let id = Uuid::new_v4();
        let now = super::now();
        on!(write_one(&self.db), |c| sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at, scope)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(t.user.0)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(now)
        .bind(t.expires_at)
        .bind(t.scope.as_str())
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(ApiTokenInfo {
            id,
            name: t.name.clone(),
            created_at: now,
            expires_at: t.expires_at,
            last_used_at: None,
            scope: t.scope.as_str().to_owned(),
        })
    }

    async fn api_tokens_of(&self, user: UserId) -> Result<Vec<ApiTokenInfo>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(concat!(
            "SELECT id, name, created_at, expires_at, last_used_at, scope FROM api_tokens WHERE user_id = $1 AND ",
            live!("$2"),
            " ORDER BY created_at DESC, id"
        ))
        .bind(user.0)
        .bind(super::now())
        .fetch_all(&mut *c)
        .await?))
    }

    async fn revoke_api_token(&self, user: UserId, id: Uuid) -> Result<bool> {
        let now = super::now();
        let done = on!(write_one(&self.db), |c| sqlx::query(concat!(
            "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND ",
            live!("$3")
        ))
        .bind(id)
        .bind(user.0)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<(Uuid, UserId, TokenScope)>> {
        let row: Option<(Uuid, Uuid, String)> = on!(read(&self.db), |c| sqlx::query_as(concat!(
            "SELECT id, user_id, scope FROM api_tokens WHERE token_hash = $1 AND ",
            live!("$2")
        ))
        .bind(token_hash)
        .bind(super::now())
        .fetch_optional(&mut *c)
        .await?);
        // The column's CHECK allows only the two; anything else reads as
        // the narrower one.
        Ok(row.map(|(id, user, scope)| (id, user.into(), scope.parse().unwrap_or(TokenScope::Read))))
    }
}
