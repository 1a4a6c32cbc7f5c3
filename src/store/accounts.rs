//! Accounts and sessions: one body per query for both backends. On
//! PostgreSQL the built-in tables live in Nile's `users` and `auth` schemas;
//! the app's connections put both on the `search_path`, so the same
//! unqualified names serve both backends (postgres/mod.rs).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::models::MembershipRow;
use super::sessions::end_credentials_in;
use super::{Accounts, EmailPurpose, Membership, OwnerAdmin, Result, Store, StoreError, User, UserWithHash};
use crate::domain::{Email, TenantId, UserId};

/// A password credential's payload, Nile's shape: `{"crypt", "hash"}`.
#[derive(Serialize)]
struct PasswordPayload<'a> {
    crypt: &'static str,
    hash: &'a str,
}

/// Whether user `$1` is the last owner of a tenant that has other members
/// (so cannot leave it ownerless).
macro_rules! still_needed_as_owner {
    () => {
        "EXISTS (SELECT 1 FROM tenant_users tu
                 WHERE tu.user_id = $1 AND tu.role = 'owner'
                   AND EXISTS (SELECT 1 FROM tenant_users o WHERE o.tenant_id = tu.tenant_id AND o.user_id <> $1)
                   AND NOT EXISTS (SELECT 1 FROM tenant_users o
                                   WHERE o.tenant_id = tu.tenant_id AND o.user_id <> $1 AND o.role = 'owner'))"
    };
}

/// Deletes `$user`'s unused password reset links, inside the caller's
/// transaction: a link made for the old password must not outlive it.
macro_rules! forget_reset_links {
    ($c:ident, $user:expr) => {
        sqlx::query("DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2")
            .bind($user)
            .bind(EmailPurpose::ResetPassword.as_str())
            .execute(&mut *$c)
            .await?
    };
}

/// Sets `$user`'s password payload and ends what the old password made —
/// every credential but the session `$keep`, and unused reset links — in the
/// caller's transaction; `NotFound` (the caller's transaction rolls back)
/// when the user has no password credential.
macro_rules! new_password_in {
    ($c:ident, $user:expr, $payload:expr, $keep:expr, $now:expr) => {{
        let done = sqlx::query("UPDATE credentials SET payload = $2 WHERE user_id = $1 AND method = 'PASSWORD'")
            .bind($user)
            .bind($payload)
            .execute(&mut *$c)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        let _ = end_credentials_in!($c, $user, $keep, $now);
        forget_reset_links!($c, $user);
    }};
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
            email_verified: false,
        })
    }

    async fn user_with_password(&self, email: &Email) -> Result<Option<UserWithHash>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.email_verified_at IS NOT NULL AS email_verified,
                    c.payload ->> 'hash' AS password_hash
             FROM users u JOIN credentials c ON c.user_id = u.id AND c.method = 'PASSWORD'
             WHERE u.email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(on!(read(&self.db), |c| sqlx::query_as(
            "SELECT id, email, name, email_verified_at IS NOT NULL AS email_verified FROM users WHERE id = $1"
        )
        .bind(id.0)
        .fetch_optional(&mut *c)
        .await?))
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<String>> {
        let row: Option<(String,)> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT payload ->> 'hash' FROM credentials WHERE user_id = $1 AND method = 'PASSWORD'"
        )
        .bind(user.0)
        .fetch_optional(&mut *c)
        .await?);
        Ok(row.map(|(h,)| h))
    }

    async fn change_password(&self, user: UserId, password_hash: &str, keep: Option<Uuid>) -> Result<()> {
        let payload = sqlx::types::Json(PasswordPayload {
            crypt: "argon2id",
            hash: password_hash,
        });
        let now = super::now();
        on!(write(&self.db), |c| {
            new_password_in!(c, user.0, &payload, keep, now);
        });
        Ok(())
    }

    async fn reset_password(&self, token_hash: &str, password_hash: &str) -> Result<Option<UserId>> {
        let payload = sqlx::types::Json(PasswordPayload {
            crypt: "argon2id",
            hash: password_hash,
        });
        let now = super::now();
        Ok(on!(write(&self.db), |c| {
            let link: Option<(Uuid, String)> = sqlx::query_as(
                "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3
                 RETURNING user_id, email",
            )
            .bind(token_hash)
            .bind(EmailPurpose::ResetPassword.as_str())
            .bind(now)
            .fetch_optional(&mut *c)
            .await?;
            match link {
                None => None,
                Some((user, email)) => {
                    new_password_in!(c, user, &payload, None::<Uuid>, now);
                    // The link reached the address: it is proven.
                    sqlx::query(
                        "UPDATE users SET email_verified_at = $3
                         WHERE id = $1 AND email = $2 AND email_verified_at IS NULL",
                    )
                    .bind(user)
                    .bind(&email)
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                    Some(UserId::from(user))
                }
            }
        }))
    }

    async fn email_link_is_live(&self, token_hash: &str, purpose: EmailPurpose) -> Result<bool> {
        let found: Option<(i32,)> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT 1 FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3"
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(super::now())
        .fetch_optional(&mut *c)
        .await?);
        Ok(found.is_some())
    }

    async fn mark_email_verified(&self, user: UserId, email: &str) -> Result<bool> {
        let done = on!(write_one(&self.db), |c| sqlx::query(
            "UPDATE users SET email_verified_at = $3 WHERE id = $1 AND email = $2 AND email_verified_at IS NULL"
        )
        .bind(user.0)
        .bind(email)
        .bind(super::now())
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    async fn create_email_token(
        &self,
        user: UserId,
        purpose: EmailPurpose,
        token_hash: &str,
        email: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = super::now();
        on!(write(&self.db), |c| {
            sqlx::query("DELETE FROM email_tokens WHERE expires_at < $1 OR (user_id = $2 AND purpose = $3)")
                .bind(now)
                .bind(user.0)
                .bind(purpose.as_str())
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token_hash)
            .bind(user.0)
            .bind(purpose.as_str())
            .bind(email)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
        });
        Ok(())
    }

    async fn take_email_token(&self, token_hash: &str, purpose: EmailPurpose) -> Result<Option<(UserId, String)>> {
        let row: Option<(Uuid, String, DateTime<Utc>)> = on!(write_one(&self.db), |c| sqlx::query_as(
            "DELETE FROM email_tokens WHERE token_hash = $1 AND purpose = $2 RETURNING user_id, email, expires_at"
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .fetch_optional(&mut *c)
        .await?);
        Ok(row
            .filter(|(_, _, expires_at)| *expires_at > super::now())
            .map(|(user, email, _)| (user.into(), email)))
    }

    async fn delete_user(&self, user: UserId) -> Result<Vec<TenantId>> {
        // A first look, to refuse before deleting anything (checked again
        // below, where it counts).
        let (still_needed,): (bool,) = on!(read(&self.db), |c| sqlx::query_as(concat!(
            "SELECT ",
            still_needed_as_owner!()
        ))
        .bind(user.0)
        .fetch_one(&mut *c)
        .await?);
        if still_needed {
            return Err(StoreError::LastOwner);
        }
        // Tenants where the user is the only member (as owner or not).
        let alone: Vec<(Uuid,)> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT tu.tenant_id FROM tenant_users tu WHERE tu.user_id = $1
               AND NOT EXISTS (SELECT 1 FROM tenant_users o WHERE o.tenant_id = tu.tenant_id AND o.user_id <> $1)",
        )
        .bind(user.0)
        .fetch_all(&mut *c)
        .await?);
        // Each tenant goes whole in its own transaction (its data is reached
        // in its own context); then the account. A failure part-way leaves
        // consistent tenants and the account, and trying again finishes.
        let mut deleted = Vec::with_capacity(alone.len());
        for (tenant,) in alone {
            super::OwnerTenant::for_deletion(self.tenant_handle(tenant.into()))
                .delete_tenant()
                .await?;
            deleted.push(tenant.into());
        }
        // The account goes only if, now, it is still not the last owner of a
        // tenant with others in it: checked in the deleting transaction
        // (the single writer on SQLite; on PostgreSQL with the owner rows of
        // its tenants locked, as a demotion locks them), so a co-owner
        // stepping down at the same moment cannot leave a tenant ownerless.
        let lock_owner_rows = matches!(self.db, super::backend::Db::Postgres(_));
        let still_needed = on!(write(&self.db), |c| {
            if lock_owner_rows {
                sqlx::query(
                    "SELECT 1 FROM tenant_users
                     WHERE role = 'owner'
                       AND tenant_id IN (SELECT tenant_id FROM tenant_users WHERE user_id = $1 AND role = 'owner')
                     FOR UPDATE",
                )
                .bind(user.0)
                .execute(&mut *c)
                .await?;
            }
            let (still_needed,): (bool,) = sqlx::query_as(concat!("SELECT ", still_needed_as_owner!()))
                .bind(user.0)
                .fetch_one(&mut *c)
                .await?;
            if !still_needed {
                // Invitations the user sent would still grant roles after them.
                sqlx::query("DELETE FROM invitations WHERE invited_by = $1")
                    .bind(user.0)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(user.0)
                    .execute(&mut *c)
                    .await?;
            }
            still_needed
        });
        if still_needed {
            return Err(StoreError::LastOwner);
        }
        Ok(deleted)
    }

    async fn user_emails(&self) -> Result<Vec<(UserId, String)>> {
        let rows: Vec<(Uuid, String)> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT id, email FROM users ORDER BY created_at, id"
        )
        .fetch_all(&mut *c)
        .await?);
        Ok(rows.into_iter().map(|(id, email)| (id.into(), email)).collect())
    }
}

impl Store {
    /// Whether the credential is live (as [`Sessions::credential_is_live`]), and
    /// `user`'s membership of `tenant`: one row, whatever the answers.
    pub(super) async fn session_membership(
        &self,
        tenant: TenantId,
        user: UserId,
        jti: Uuid,
    ) -> Result<(bool, Option<Membership>)> {
        let row: (bool, Option<Uuid>, Option<String>, Option<String>) = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT (EXISTS (SELECT 1 FROM sessions s WHERE s.id = $3 AND s.user_id = $2
                             AND s.revoked_at IS NULL AND s.expires_at > $4)
                     OR EXISTS (SELECT 1 FROM api_tokens a WHERE a.id = $3 AND a.user_id = $2
                             AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > $4))),
                    t.id, t.name, tu.role
             FROM (SELECT 1) AS one
             LEFT JOIN tenant_users tu ON tu.tenant_id = $1 AND tu.user_id = $2
             LEFT JOIN tenants t ON t.id = tu.tenant_id",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(jti)
        .bind(super::now())
        .fetch_one(&mut *c)
        .await?);
        let membership = match row {
            (_, Some(id), Some(name), Some(role)) => Some(MembershipRow { id, name, role }.try_into()?),
            _ => None,
        };
        Ok((row.0, membership))
    }
}
