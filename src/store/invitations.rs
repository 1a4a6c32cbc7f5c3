//! Invitations to a tenant (ARCHITECTURE.md, "Accounts"): an owner invites
//! an email with a role; the invitee, signed in with that email, accepts by
//! a single-use token (only its SHA-256 is stored). Invitations are global
//! rows (like memberships), so the invitee can find one by its token before
//! being a member.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::backend::on;
use super::models::{parse_role, MembershipRow};
use super::{Membership, Result, Store, StoreError, TenantStore};
use crate::domain::{Email, Role, UserId};

/// An invitation to make.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: Email,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: UserId,
    pub expires_at: DateTime<Utc>,
}

/// A pending invitation, as the tenant's owners see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An invitation as its invitee sees it before accepting.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    pub tenant_name: String,
    pub email: String,
    pub role: Role,
    /// Who sent it (their name, else their email), if their account remains.
    pub invited_by: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    email: String,
    role: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PreviewRow {
    tenant_name: String,
    email: String,
    role: String,
    invited_by: Option<String>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;
    fn try_from(r: InvitationRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            email: r.email,
            role: parse_role(&r.role)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    }
}

impl TenantStore {
    pub(super) async fn invite_email(&self, new: &NewInvitation) -> Result<Invitation> {
        let now = super::now();
        let row: InvitationRow = on!(write(&self.db), |c| {
            let member: Option<(i32,)> = sqlx::query_as(
                "SELECT 1 FROM tenant_users tu JOIN users u ON u.id = tu.user_id
                 WHERE tu.tenant_id = $1 AND u.email = $2",
            )
            .bind(self.tenant.0)
            .bind(new.email.as_str())
            .fetch_optional(&mut *c)
            .await?;
            if member.is_some() {
                return Err(StoreError::Conflict);
            }
            // One pending invitation per email: a new one replaces it.
            sqlx::query("DELETE FROM invitations WHERE tenant_id = $1 AND email = $2")
                .bind(self.tenant.0)
                .bind(new.email.as_str())
                .execute(&mut *c)
                .await?;
            sqlx::query_as(
                "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING id, email, role, created_at, expires_at",
            )
            .bind(Uuid::new_v4())
            .bind(self.tenant.0)
            .bind(new.email.as_str())
            .bind(new.role.as_str())
            .bind(&new.token_hash)
            .bind(new.invited_by.0)
            .bind(now)
            .bind(new.expires_at)
            .fetch_one(&mut *c)
            .await?
        });
        row.try_into()
    }

    pub(super) async fn pending_invitations(&self) -> Result<Vec<Invitation>> {
        let rows: Vec<InvitationRow> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT id, email, role, created_at, expires_at FROM invitations
             WHERE tenant_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id"
        )
        .bind(self.tenant.0)
        .bind(super::now())
        .fetch_all(&mut *c)
        .await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub(super) async fn renew(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Invitation>> {
        let row: Option<InvitationRow> = on!(write_one(&self.db), |c| sqlx::query_as(
            "UPDATE invitations SET token_hash = $3, expires_at = $4 WHERE tenant_id = $1 AND id = $2
             RETURNING id, email, role, created_at, expires_at"
        )
        .bind(self.tenant.0)
        .bind(id)
        .bind(token_hash)
        .bind(expires_at)
        .fetch_optional(&mut *c)
        .await?);
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn revoke(&self, id: Uuid) -> Result<bool> {
        let done = on!(write_one(&self.db), |c| sqlx::query(
            "DELETE FROM invitations WHERE tenant_id = $1 AND id = $2"
        )
        .bind(self.tenant.0)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(done == 1)
    }
}

impl Store {
    pub(super) async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<InvitationPreview>> {
        let row: Option<PreviewRow> = on!(read(&self.db), |c| {
            sqlx::query_as(
                "SELECT t.name AS tenant_name, i.email, i.role, COALESCE(u.name, u.email) AS invited_by, i.expires_at
                 FROM invitations i JOIN tenants t ON t.id = i.tenant_id
                 LEFT JOIN users u ON u.id = i.invited_by
                 WHERE i.token_hash = $1 AND i.expires_at > $2",
            )
            .bind(token_hash)
            .bind(super::now())
            .fetch_optional(&mut *c)
            .await?
        });
        row.map(|r| {
            Ok(InvitationPreview {
                tenant_name: r.tenant_name,
                email: r.email,
                role: parse_role(&r.role)?,
                invited_by: r.invited_by,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }

    pub(super) async fn accept(&self, token_hash: &str, user: UserId, email: &str) -> Result<Membership> {
        let now = super::now();
        let row: MembershipRow = on!(write(&self.db), |c| {
            let found: Option<(Uuid, Uuid, String, String)> = sqlx::query_as(
                "SELECT id, tenant_id, email, role FROM invitations WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?;
            let (id, tenant, invited, role) = found.ok_or(StoreError::NotFound)?;
            if invited != email {
                return Err(StoreError::Refused(
                    "this invitation was sent to another email address".into(),
                ));
            }
            // Used up whatever happens next (a member accepting is a no-op).
            sqlx::query("DELETE FROM invitations WHERE id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            let added = sqlx::query(
                "INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, user_id) DO NOTHING",
            )
            .bind(tenant)
            .bind(user.0)
            .bind(&role)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
            if added == 0 {
                // Keep the invitation's deletion: commit, then say so.
                c.commit().await?;
                return Err(StoreError::Conflict);
            }
            sqlx::query_as(
                "SELECT t.id, t.name, tu.role FROM tenant_users tu JOIN tenants t ON t.id = tu.tenant_id
                 WHERE tu.tenant_id = $1 AND tu.user_id = $2",
            )
            .bind(tenant)
            .bind(user.0)
            .fetch_one(&mut *c)
            .await?
        });
        row.try_into()
    }
}
