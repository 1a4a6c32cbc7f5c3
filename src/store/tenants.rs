//! Tenants and their members. Everything here is one body for both
//! backends but the last-owner rule, which each enforces its own way under
//! concurrency (sqlite/mod.rs, postgres/mod.rs).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::backend::{on, Db};
use super::models::{MemberRow, MembershipRow};
use super::{
    Cursor, Imported, Invitation, InvitationPreview, Member, Membership, NewInvitation, OwnerAdmin, OwnerTenant, Page,
    PageRequest, Result, Store, StoreError, Tenant, TenantAdmin, TenantImport, TenantStore, Tenants,
};
use crate::domain::{Email, Role, TenantId, TenantName, UserId};

use super::sql::member_query;

/// A membership row with when it began (the list's sort key).
#[derive(sqlx::FromRow)]
struct MembershipWithTime {
    #[sqlx(flatten)]
    membership: MembershipRow,
    created_at: DateTime<Utc>,
}

impl Tenants for Store {
    async fn create_tenant(&self, name: &TenantName, owner: UserId) -> Result<Tenant> {
        let id = TenantId::new();
        let now = super::now();
        on!(write(&self.db), |c| {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id.0)
                .bind(name.as_str())
                .bind(now)
                .execute(&mut *c)
                .await?;
            sqlx::query("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id.0)
                .bind(owner.0)
                .bind(Role::Owner.as_str())
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        Ok(Tenant {
            id,
            name: name.as_str().to_owned(),
        })
    }

    async fn tenants_of(&self, user: UserId, page: PageRequest<TenantId>) -> Result<Page<Membership, TenantId>> {
        let (at, key) = page.after.map(|c| (c.at, c.key.0)).unzip();
        let rows: Vec<(MembershipRow, DateTime<Utc>)> =
            on!(read(&self.db), |c| sqlx::query_as::<_, MembershipWithTime>(
                "SELECT t.id, t.name, tu.role, tu.created_at FROM tenant_users tu JOIN tenants t ON t.id = tu.tenant_id
             WHERE tu.user_id = $1
               AND ($2 IS NULL OR tu.created_at > $2 OR (tu.created_at = $2 AND tu.tenant_id > $3))
             ORDER BY tu.created_at, tu.tenant_id
             LIMIT $4",
            )
            .bind(user.0)
            .bind(at)
            .bind(key)
            .bind(page.limit + 1)
            .fetch_all(&mut *c)
            .await?)
            .into_iter()
            .map(|r: MembershipWithTime| (r.membership, r.created_at))
            .collect();
        let page = Page::from_rows(rows, page.limit, |(m, at)| Cursor {
            at: *at,
            key: TenantId(m.id),
        });
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|(m, _)| Membership::try_from(m))
                .collect::<Result<_>>()?,
            next: page.next,
        })
    }

    async fn import_tenant(&self, import: &TenantImport) -> Result<Imported> {
        self.import(import).await
    }

    async fn invitation(&self, token_hash: &str) -> Result<Option<InvitationPreview>> {
        self.invitation_by_token(token_hash).await
    }

    async fn accept_invitation(&self, token_hash: &str, user: UserId, email: &str) -> Result<Membership> {
        self.accept(token_hash, user, email).await
    }

    async fn tenant_ids(&self) -> Result<Vec<TenantId>> {
        let ids: Vec<(Uuid,)> = on!(read(&self.db), |c| sqlx::query_as("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&mut *c)
            .await?);
        Ok(ids.into_iter().map(|(id,)| id.into()).collect())
    }
}

impl TenantAdmin for TenantStore {
    async fn info(&self) -> Result<Tenant> {
        let tenant: Option<Tenant> = on!(read(&self.db), |c| sqlx::query_as(
            "SELECT id, name FROM tenants WHERE id = $1"
        )
        .bind(self.tenant.0)
        .fetch_optional(&mut *c)
        .await?);
        tenant.ok_or(StoreError::NotFound)
    }

    async fn members(&self, page: PageRequest<String>) -> Result<Page<Member, String>> {
        let (at, key) = page.after.map(|c| (c.at, c.key)).unzip();
        let rows: Vec<MemberRow> = on!(read(&self.db), |c| sqlx::query_as(member_query!(
            "WHERE tu.tenant_id = $1
               AND ($2 IS NULL OR tu.created_at > $2 OR (tu.created_at = $2 AND u.email > $3))
             ORDER BY tu.created_at, u.email
             LIMIT $4"
        ))
        .bind(self.tenant.0)
        .bind(at)
        .bind(key)
        .bind(page.limit + 1)
        .fetch_all(&mut *c)
        .await?);
        let page = Page::from_rows(rows, page.limit, |m| Cursor {
            at: m.created_at,
            key: m.email.clone(),
        });
        Ok(Page {
            items: page.items.into_iter().map(Member::try_from).collect::<Result<_>>()?,
            next: page.next,
        })
    }

    async fn leave(&self, user: UserId) -> Result<()> {
        match &self.db {
            Db::Sqlite(s) => s.remove_member(self.tenant, user).await,
            Db::Postgres(p) => p.remove_member(self.tenant, user).await,
        }
    }
}

impl OwnerAdmin for OwnerTenant {
    async fn rename(&self, name: &TenantName) -> Result<Tenant> {
        let tenant: Option<Tenant> = on!(write(&self.0.db), |c| sqlx::query_as(
            "UPDATE tenants SET name = $2 WHERE id = $1 RETURNING id, name"
        )
        .bind(self.0.tenant.0)
        .bind(name.as_str())
        .fetch_optional(&mut *c)
        .await?);
        tenant.ok_or(StoreError::NotFound)
    }

    async fn add_member(&self, email: &Email, role: Role) -> Result<Member> {
        let row: MemberRow = on!(write(&self.0.db), |c| {
            let user: Option<(Uuid, bool)> =
                sqlx::query_as("SELECT id, email_verified_at IS NOT NULL FROM users WHERE email = $1")
                    .bind(email.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
            let (user, verified) = user.ok_or(StoreError::NotFound)?;
            if !verified {
                return Err(StoreError::Refused(
                    "this account's email is not verified: send an invitation instead".into(),
                ));
            }
            sqlx::query("INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
                .bind(self.0.tenant.0)
                .bind(user)
                .bind(role.as_str())
                .bind(super::now())
                .execute(&mut *c)
                .await
                .map_err(StoreError::conflict_on_unique)?;
            sqlx::query_as(member_query!("WHERE tu.tenant_id = $1 AND tu.user_id = $2"))
                .bind(self.0.tenant.0)
                .bind(user)
                .fetch_one(&mut *c)
                .await?
        });
        row.try_into()
    }

    async fn set_member_role(&self, user: UserId, role: Role) -> Result<Member> {
        match &self.0.db {
            Db::Sqlite(s) => s.set_member_role(self.0.tenant, user, role).await,
            Db::Postgres(p) => p.set_member_role(self.0.tenant, user, role).await,
        }
    }

    async fn remove_member(&self, user: UserId) -> Result<()> {
        match &self.0.db {
            Db::Sqlite(s) => s.remove_member(self.0.tenant, user).await,
            Db::Postgres(p) => p.remove_member(self.0.tenant, user).await,
        }
    }

    async fn delete_tenant(&self) -> Result<()> {
        // In the tenant's context (its rows are reachable only there), then
        // the tenant itself, whose deletion takes memberships and
        // invitations with it: one transaction.
        on!(tenant_write(&self.0.db, self.0.tenant), |c| {
            for sql in [
                "DELETE FROM estimate_jobs WHERE tenant_id = $1",
                "DELETE FROM todos WHERE tenant_id = $1",
                "DELETE FROM tenants WHERE id = $1",
            ] {
                sqlx::query(sql).bind(self.0.tenant.0).execute(&mut *c).await?;
            }
        });
        Ok(())
    }

    async fn invite(&self, invitation: &NewInvitation) -> Result<Invitation> {
        self.0.invite_email(invitation).await
    }

    async fn invitations(&self) -> Result<Vec<Invitation>> {
        self.0.pending_invitations().await
    }

    async fn renew_invitation(
        &self,
        id: Uuid,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<Invitation>> {
        self.0.renew(id, token_hash, expires_at).await
    }

    async fn revoke_invitation(&self, id: Uuid) -> Result<bool> {
        self.0.revoke(id).await
    }
}
