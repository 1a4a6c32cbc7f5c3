//! Creating a tenant from an export (`aswan import`, src/transfer.rs): the
//! tenant and its members in one transaction, then its todos in the new
//! tenant's context (row-level security needs it), undone if they fail.

use uuid::Uuid;

use super::backend::on;
use super::queue::enqueue_due;
use super::{EstimateStatus, Imported, Result, Store, StoreError, Tenant, TenantImport};
use crate::domain::Role;
use crate::domain::TenantId;

impl Store {
    pub(super) async fn import(&self, import: &TenantImport) -> Result<Imported> {
        let id = TenantId::new();
        let now = super::now();
        let (members, skipped) = on!(write(&self.db), |c| {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id.0)
                .bind(import.name.as_str())
                .bind(now)
                .execute(&mut *c)
                .await?;
            // Makes the account with `$email` a member with `$role`: false
            // when there is no such account here. (A macro: the same
            // statements on either backend's transaction.)
            macro_rules! add {
                ($email:expr, $role:expr) => {{
                    let user: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
                        .bind($email.as_str())
                        .fetch_optional(&mut *c)
                        .await?;
                    if let Some((user,)) = user {
                        sqlx::query(
                            "INSERT INTO tenant_users (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role",
                        )
                        .bind(id.0)
                        .bind(user)
                        .bind($role.as_str())
                        .bind(now)
                        .execute(&mut *c)
                        .await?;
                    }
                    user.is_some()
                }};
            }
            let (mut members, mut skipped, mut owner) = (0usize, Vec::new(), false);
            for (email, role) in &import.members {
                if add!(email, role) {
                    members += 1;
                    owner |= *role == Role::Owner;
                } else {
                    skipped.push(email.as_str().to_owned());
                }
            }
            if !owner {
                let Some(email) = &import.owner_fallback else {
                    return Err(StoreError::Refused(
                        "none of the exported owners has an account here: name one with --owner EMAIL".into(),
                    ));
                };
                if !add!(email, Role::Owner) {
                    return Err(StoreError::Refused(format!(
                        "--owner {email}: no account with this email"
                    )));
                }
            }
            (members, skipped)
        });
        match self.import_todos(id, import).await {
            Ok(()) => Ok(Imported {
                tenant: Tenant {
                    id,
                    name: import.name.as_str().to_owned(),
                },
                todos: import.todos.len(),
                members,
                skipped_members: skipped,
            }),
            Err(e) => {
                // Undo: the tenant goes, and its memberships with it.
                let undo: Result<u64> = async {
                    Ok(on!(write(&self.db), |c| sqlx::query(
                        "DELETE FROM tenants WHERE id = $1"
                    )
                    .bind(id.0)
                    .execute(&mut *c)
                    .await?
                    .rows_affected()))
                }
                .await;
                if let Err(undo) = undo {
                    tracing::error!(error = %undo, tenant_id = %id, "a failed import could not be undone");
                }
                Err(e)
            }
        }
    }

    async fn import_todos(&self, id: TenantId, import: &TenantImport) -> Result<()> {
        on!(tenant_write(&self.db, id), |c| {
            for t in &import.todos {
                sqlx::query(
                    "INSERT INTO todos (tenant_id, id, title, complete, estimate, estimate_status, estimate_minutes,
                                        estimate_basis, estimate_error, actual_minutes, created_at, updated_at,
                                        estimate_low_minutes, estimate_high_minutes, estimate_model_minutes)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(id.0)
                .bind(t.id.0)
                .bind(t.title.as_str())
                .bind(t.complete)
                .bind(t.estimate.as_deref())
                .bind(t.estimate_status.as_str())
                .bind(t.estimate_minutes)
                .bind(sqlx::types::Json(&t.estimate_basis))
                .bind(t.estimate_reason.as_deref())
                .bind(t.actual_minutes)
                .bind(t.created_at)
                .bind(t.updated_at)
                .bind(t.estimate_low_minutes)
                .bind(t.estimate_high_minutes)
                .bind(t.estimate_model_minutes)
                .execute(&mut *c)
                .await?;
                if t.estimate_status == EstimateStatus::Pending {
                    enqueue_due!(c, id, t.id);
                }
            }
        });
        Ok(())
    }
}
