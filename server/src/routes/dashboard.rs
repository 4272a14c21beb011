//! The operator dashboard: one page, its style sheet and its script, embedded
//! in the binary (nothing is fetched from anywhere else at run time).
//!
//! The page signs in with an API key and reads the same `/api` routes and
//! `/metrics` everyone else does; it has no privileges of its own.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderName, HeaderValue};

const INDEX: &str = include_str!("../../dashboard/index.html");
const STYLE: &str = include_str!("../../dashboard/style.css");
const SCRIPT: &str = include_str!("../../dashboard/app.js");

/// Only our own origin: no inline script, no third-party resource, no framing.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                      script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `/dashboard` and its two assets.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/dashboard",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 4] = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        // Assets change with the binary; a short cache keeps upgrades visible.
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body)
}
