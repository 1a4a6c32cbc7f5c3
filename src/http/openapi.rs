//! The OpenAPI 3.1 description of the API, derived from the handlers'
//! `#[utoipa::path]` annotations and the types they take and answer: each
//! router registers its handlers with `utoipa_axum::routes!`, which adds the
//! route and its description together, so a route cannot be served without
//! being described (checked by the test below against the router itself).
//!
//! What the annotations would repeat on every operation is added here, in
//! [`finish`]: the tenant parameter (path or `X-Tenant-Id`), and the errors
//! that the shared layers and extractors can answer (bad parameters, a body
//! that is too large or not JSON, a missing session, a cross-site request,
//! an unavailable database). Every error is `{"detail": "…"}` ([`ErrorBody`]).
//!
//! Served at `/api/openapi.json`, with Swagger UI at `/docs` (vendored in the
//! binary, under the UI's Content-Security-Policy; web.rs).

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::Router;
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Response, ResponseBuilder, Type};
use utoipa::{Modify, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::AppState;

/// Every error's body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person to read. Internals never appear here.
    pub detail: String,
}

/// Where the schema is served.
pub const SCHEMA_PATH: &str = "/api/openapi.json";
/// Where the interactive docs are served.
pub const DOCS_PATH: &str = "/docs";

/// Security scheme names, as the annotations name them.
pub const BEARER: &str = "bearer";
pub const COOKIE: &str = "cookie";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Aswan",
        description = "A multi-tenant task manager with AI time estimates. \
            Sign up or log in to get a session (the `access_token` cookie, or the \
            returned token sent as `Authorization: Bearer …`); create a tenant; \
            add todos to it. The seed's routes (`/api/todos` with `X-Tenant-Id`) \
            and tenant-scoped ones (`/api/tenants/{tenant_id}/todos`) do the same.\n\n\
            Lists are paged: `?limit=` and `?cursor=`, the next page in a \
            `Link: <…>; rel=\"next\"` header. Every error is `{\"detail\": \"…\"}`.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("cookie" = [])),
    components(schemas(ErrorBody)),
    tags(
        (name = "accounts", description = "Sign-up, login, logout, email verification, password resets"),
        (name = "account", description = "The signed-in account: password, sessions, API tokens, its data, deletion"),
        (name = "tenants", description = "Organisations: each has its own todos and members"),
        (name = "members", description = "A tenant's members, their roles, and invitations"),
        (name = "todos", description = "A tenant's todos and their estimates"),
        (name = "transfer", description = "A tenant's export and import (JSON Lines)"),
        (name = "operations", description = "Health probes and this description"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access_token that sign-up and login answer."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "access_token",
                "The session cookie that sign-up and login set (HttpOnly). State-changing \
                 requests from a browser must be same-origin and application/json.",
            ))),
        );
    }
}

/// The whole description: the routers' paths under the document's header,
/// with the shared parameters and errors added.
pub fn finish(paths: OpenApi) -> OpenApi {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi().merge_from(paths);
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (false, &mut item.get),
            (true, &mut item.post),
            (true, &mut item.put),
            (true, &mut item.patch),
            (true, &mut item.delete),
        ];
        for (changes_state, op) in ops {
            if let Some(op) = op.as_mut() {
                complete(path, changes_state, op);
            }
        }
    }
    // Bodies that must change something: the handlers answer 422 to `{}`.
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for (name, fields) in AT_LEAST_ONE_OF {
        let schema = schemas.remove(*name).unwrap_or_else(|| panic!("{name} is described"));
        schemas.insert((*name).to_owned(), at_least_one_of(schema, fields));
    }
    doc
}

/// Request bodies whose fields are each optional, but one is needed (and
/// not `null`); utoipa's derive cannot say that, JSON Schema can.
const AT_LEAST_ONE_OF: &[(&str, &[(&str, Type)])] = &[
    (
        "PatchTodo",
        &[
            ("title", Type::String),
            ("complete", Type::Boolean),
            ("actual_minutes", Type::Integer),
        ],
    ),
    ("PutTodo", &[("title", Type::String), ("complete", Type::Boolean)]),
];

fn at_least_one_of(schema: RefOr<Schema>, fields: &[(&str, Type)]) -> RefOr<Schema> {
    let one_of_them = fields.iter().fold(AnyOfBuilder::new(), |any, (field, kind)| {
        any.item(
            ObjectBuilder::new()
                .required(*field)
                .property(*field, ObjectBuilder::new().schema_type(kind.clone())),
        )
    });
    RefOr::T(Schema::AllOf(
        AllOfBuilder::new().item(schema).item(one_of_them).build(),
    ))
}

/// One operation's shared parameters and errors.
fn complete(path: &str, changes_state: bool, op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    if path.contains("{tenant_id}") && !params.iter().any(|p| matches!(p, RefOr::T(p) if p.name == "tenant_id")) {
        params.insert(0, RefOr::T(tenant_param("tenant_id", ParameterIn::Path)));
    }
    // The seed's routes name the tenant by header (tenant_ctx.rs).
    if path.starts_with("/api/todos") {
        params.insert(0, RefOr::T(tenant_param("X-Tenant-Id", ParameterIn::Header)));
    }
    // The same handlers are mounted twice; operation ids must stay unique.
    if path.starts_with("/api/tenants/{tenant_id}/todos") {
        if let Some(id) = op.operation_id.as_mut() {
            id.push_str("_in_tenant");
        }
    }
    if params.is_empty() {
        op.parameters = None;
    }
    let has_params = op.parameters.is_some();
    let has_body = op.request_body.is_some();
    // `security: [{}]` (or a `{}` among the choices) means no session is needed.
    let public = op.security.as_ref().is_some_and(|s| {
        s.iter()
            .any(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
    });
    let is_probe = path == "/healthz" || path == SCHEMA_PATH;

    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description).into());
    };
    if has_params || has_body || !public {
        add("400", "A parameter or header is malformed");
    }
    if !public {
        add("401", "No session, or it has ended (expired, logged out, revoked)");
    }
    if changes_state {
        add("403", "A cross-site request from a browser (CSRF), or not allowed");
    }
    if has_body {
        add("408", "The request body did not arrive in time");
        add("413", "The request body is larger than the limit");
        add("415", "A browser's cookie-authenticated body must be application/json");
        add("422", "The body is not valid: the detail names the field");
    }
    if !is_probe {
        add(
            "500",
            "An internal error (logged with the request id; never detailed here)",
        );
        add(
            "503",
            "The database is unavailable: try again after Retry-After seconds",
        );
    }
}

fn tenant_param(name: &str, location: ParameterIn) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(Required::True)
        .description(Some("The tenant's id (a UUID). Members only: others get 404."))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
        ))))
        .build()
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// The docs' Content-Security-Policy: the UI's (web.rs), plus the one inline
/// `<style>` Swagger UI writes, allowed by its hash alone: the colours of its
/// logo, `.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}`.
/// Without it the page works but logs a violation (tests/e2e/docs.test.mjs).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
                        style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
                        img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
                        frame-ancestors 'none'";

/// The Swagger UI at `/docs`, from the binary.
pub fn docs() -> Router<AppState> {
    // The schema is fetched from our own origin; no validator badge (it
    // would call swagger.io).
    let ui = SwaggerUi::new(DOCS_PATH).config(Config::from(SCHEMA_PATH).validator_url("none"));
    Router::from(ui).layer(SetResponseHeaderLayer::overriding(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    ))
}

/// This description, as JSON.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "This description (OpenAPI 3.1)", body = Object))
)]
pub async fn schema() -> impl IntoResponse {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        serde_json::to_vec(super::description())
            .expect("the description serialises")
            .into()
    });
    ([(CONTENT_TYPE, "application/json")], json.clone())
}
