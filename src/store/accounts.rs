//! Accounts and sessions: one body per query for both backends. On
//! PostgreSQL the built-in tables live in Nile's `users` and `auth` schemas;
//! the app's connections put both on the `search_path`, so the same
//! unqualified names serve both backends (postgres/mod.rs).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::models::MembershipRow;
use super::{Accounts, Membership, Result, Store, StoreError, User, UserWithHash};
use crate::domain::{Email, TenantId, UserId};

/// A password credential's payload, Nile's shape: `{"crypt", "hash"}`.
#[derive(Serialize)]
struct PasswordPayload<'a> {
    crypt: &'static str,
    hash: &'a str,
}

impl Accounts for Store {
    async fn create_user(&self, email: &Email, name: Option<&str>, password_hash: &str) -> Result<User> {
        let id = UserId::new();
        let now = super::now();
        let payload = sqlx::types::Json(PasswordPayload {
            crypt: "argon2id",
            hash: password_hash,
        });
        on!(write(&self.db), |c| {
            sqlx::query("INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id.0)
                .bind(email.as_str())
                .bind(name)
                .bind(now)
                .execute(&mut *c)
                .await
                .map_err(StoreError::conflict_on_unique)?;
            sqlx::query(
                "INSERT INTO credentials (user_id, method, payload, created_at) VALUES ($1, 'PASSWORD', $2, $3)",
            )
            .bind(id.0)
            .bind(&payload)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
        Ok(User {
            id,
            email: email.as_str().to_owned(),
            name: name.map(str::to_owned),
        })
    }

    async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(
            "SELECT u.id, u.email, u.name, c.payload ->> 'hash' AS password_hash
             FROM users u JOIN credentials c ON c.user_id = u.id AND c.method = 'PASSWORD'
             WHERE u.email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(
            "SELECT id, email, name FROM users WHERE id = $1"
        )
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn revoke_token(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<()> {
        on!(write(&self.db), |c| {
            // Expired entries can go: their tokens are refused for expiry anyway.
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
                .bind(super::now())
                .execute(&mut *c)
                .await?;
            sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
                .bind(jti)
                .bind(expires_at)
                .execute(&mut *c)
                .await?;
        });
        Ok(())
    }

    async fn session_is_live(&self, jti: Uuid, user: UserId) -> Result<bool> {
        let (live,): (bool,) = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1)
                    AND EXISTS (SELECT 1 FROM users WHERE id = $2)"
        )
        .bind(jti)
        .bind(user.0)
        .fetch_one(&mut *c)
        .await?);
        Ok(live)
    }
}

impl Store {
    /// Whether the session is live (as [`Accounts::session_is_live`]), and
    /// `user`'s membership of `tenant`: one row, whatever the answers.
    pub(super) async fn session_membership(
        &self,
        tenant: TenantId,
        user: UserId,
        jti: Uuid,
    ) -> Result<(bool, Option<Membership>)> {
        let row: (bool, Option<Uuid>, Option<String>, Option<String>) = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $3)
                    AND EXISTS (SELECT 1 FROM users WHERE id = $2), t.id, t.name, tu.role
             FROM (SELECT 1) AS one
             LEFT JOIN tenant_users tu ON tu.tenant_id = $1 AND tu.user_id = $2
             LEFT JOIN tenants t ON t.id = tu.tenant_id",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(jti)
        .fetch_one(&mut *c)
        .await?);
        let membership = match row {
            (_, Some(id), Some(name), Some(role)) => Some(MembershipRow { id, name, role }.try_into()?),
            _ => None,
        };
        Ok((row.0, membership))
    }
}
