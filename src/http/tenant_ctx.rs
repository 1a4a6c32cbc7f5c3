//! The tenant context of a request (DESIGN.md §2). The tenant is named by the
//! `/api/tenants/{tenant_id}/…` path or, for the seed's routes, by the
//! `X-Tenant-Id` header. The same extractor checks membership and yields the
//! tenant handle, so no handler can reach tenant data without the check.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::current_user::{verified_session, SESSION_ENDED};
use super::{ApiError, AppState, CurrentUser};
use crate::domain::{Role, TenantId};
use crate::store::{Membership, SessionTenant, TenantStore};

pub const TENANT_HEADER: &str = "x-tenant-id";

pub struct TenantCtx {
    pub user: CurrentUser,
    pub membership: Membership,
    pub tenant: TenantStore,
}

impl TenantCtx {
    /// 403 unless the signed-in user owns the tenant.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        match self.membership.role {
            Role::Owner => Ok(()),
            Role::Member => Err(ApiError::Forbidden("only the tenant's owners can do this")),
        }
    }
}

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = verified_session(parts, state)?;
        let tenant_id = tenant_id_from(parts, state).await?;
        // One query checks both the session's revocation and the membership.
        match state
            .store
            .tenant_for_session(tenant_id, session.user_id, session.jti)
            .await?
        {
            SessionTenant::Revoked => Err(SESSION_ENDED),
            // 404, not 403: a non-member must not learn that the tenant exists.
            SessionTenant::NotMember => Err(ApiError::NotFound("tenant not found")),
            SessionTenant::Member(tenant, membership) => Ok(Self {
                user: CurrentUser(session),
                membership,
                tenant,
            }),
        }
    }
}

async fn tenant_id_from(parts: &mut Parts, state: &AppState) -> Result<TenantId, ApiError> {
    let from_path = RawPathParams::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(k, _)| *k == "tenant_id")
                .map(|(_, v)| v.to_owned())
        });
    let raw = match from_path {
        Some(raw) => raw,
        None => parts
            .headers
            .get(TENANT_HEADER)
            .ok_or_else(|| ApiError::BadRequest("missing tenant: send the X-Tenant-Id header".into()))?
            .to_str()
            .map_err(|_| ApiError::BadRequest("X-Tenant-Id is not a valid tenant id".into()))?
            .to_owned(),
    };
    raw.parse()
        .map_err(|_| ApiError::BadRequest("the tenant id is not a valid UUID".into()))
}
