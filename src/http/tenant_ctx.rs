//! The tenant context of a request (ARCHITECTURE.md, "Isolation"). The tenant is named by the
//! `/api/tenants/{tenant_id}/…` path or, for the seed's routes, by the
//! `X-Tenant-Id` header. The same extractor checks membership and yields the
//! tenant handle, so no handler can reach tenant data without the check.

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::current_user::{verified_session, SESSION_ENDED};
use super::extract::not_a_uuid;
use super::{ApiError, AppState, CurrentUser};
use crate::domain::TenantId;
use crate::store::{Membership, OwnerTenant, SessionTenant, TenantStore};

pub const TENANT_HEADER: &str = "x-tenant-id";

pub struct TenantCtx {
    pub user: CurrentUser,
    pub membership: Membership,
    pub tenant: TenantStore,
    /// The owner's handle, when the signed-in user owns the tenant.
    owner: Option<OwnerTenant>,
}

impl TenantCtx {
    /// The handle that can do what only owners may; 403 for a member.
    pub fn owner(&self) -> Result<&OwnerTenant, ApiError> {
        self.owner
            .as_ref()
            .ok_or(ApiError::Forbidden("only the tenant's owners can do this"))
    }
}

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = verified_session(parts, state).await?;
        let tenant_id = tenant_id_from(parts, state).await?;
        // One query checks both the session's revocation and the membership.
        match state
            .store
            .tenant_for_session(tenant_id, session.user_id, session.jti)
            .await?
        {
            SessionTenant::Ended => Err(SESSION_ENDED),
            // 404, not 403: a non-member must not learn that the tenant exists.
            SessionTenant::NotMember => Err(ApiError::NotFound("tenant not found")),
            SessionTenant::Member(tenant, membership) => Ok(Self {
                user: CurrentUser(session),
                membership,
                tenant,
                owner: None,
            }),
            SessionTenant::Owner(owner, membership) => Ok(Self {
                user: CurrentUser(session),
                membership,
                tenant: TenantStore::clone(&owner),
                owner: Some(owner),
            }),
        }
    }
}

/// The tenant named by the path's `tenant_id`, else by `X-Tenant-Id`. A
/// path that names one invalidly is a 400: it never falls back to the header.
async fn tenant_id_from(parts: &mut Parts, state: &AppState) -> Result<TenantId, ApiError> {
    const KEY: &str = "tenant_id";
    let from_path = match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => params.iter().find(|(k, _)| *k == KEY).map(|(_, v)| v.to_owned()),
        // Some path segment does not decode; its name is in the text.
        Err(RawPathParamsRejection::InvalidUtf8InPathParam(e)) => {
            return Err(ApiError::BadRequest(format!("invalid path: {}", e.body_text())))
        }
        Err(e) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "path parameters: {}",
                e.body_text()
            )))
        }
    };
    match from_path {
        Some(raw) => raw.parse().map_err(|_| not_a_uuid(KEY)),
        None => parts
            .headers
            .get(TENANT_HEADER)
            .ok_or_else(|| ApiError::BadRequest("missing tenant: send the X-Tenant-Id header".into()))?
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ApiError::BadRequest("X-Tenant-Id is not a valid tenant id".into())),
    }
}
