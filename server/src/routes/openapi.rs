//! `GET /openapi.json`: the OpenAPI 3.1 document of `/api` and of the
//! inbound webhook receiver, built from the same `utoipa-axum` routers that
//! serve them.

use axum::Json;
use axum::extract::State;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{PartialSchema, ToSchema};

/// An RFC 9457 problem, the body of every error.
#[derive(ToSchema)]
#[allow(dead_code)] // only its schema is used
pub(crate) struct Problem {
    /// `https://palisade-rs.github.io/problems/<code>`.
    r#type: String,
    /// A short summary.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong this time.
    detail: Option<String>,
    /// The stable code (see docs/problems.md).
    code: Option<String>,
}

/// Completes the document of [`api::router`](crate::api::router): paths
/// under `/api`, the bearer scheme, the problem schema; then adds the
/// routes outside `/api` documented in `extra` (their paths as they are).
pub(crate) fn document(mut doc: OpenApi, extra: OpenApi) -> OpenApi {
    doc.info.title = "Palisade API".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (format!("/api{path}"), item))
        .collect();
    doc.paths.paths.extend(extra.paths.paths);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("pal_<16 hex id>_<64 hex secret>")
                .build(),
        ),
    );
    components.schemas.insert(
        <Problem as ToSchema>::name().into_owned(),
        Problem::schema(),
    );
    doc
}

/// `GET /openapi.json`.
pub(crate) async fn openapi(State(doc): State<std::sync::Arc<OpenApi>>) -> Json<OpenApi> {
    Json((*doc).clone())
}
