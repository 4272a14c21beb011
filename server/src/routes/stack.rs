//! The layers every route runs under, outermost first: request id → trace
//! span and RED metrics → body limit → timeout; plus 404 and 405 as
//! problems. (`/api` adds authentication and its rate limit inside.)

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse as _, Response};
use http::StatusCode;
use palisade_problem::Problem;
use palisade_tracing_layer::metrics::MetricsLayer;
use palisade_tracing_layer::request_id::RequestIdLayer;
use palisade_tracing_layer::trace::TraceLayer;
use tower::ServiceBuilder;

use super::timeout::RequestTimeoutLayer;

/// The largest request body by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// How long a request may take by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackConfig {
    /// The largest request body, in bytes; larger ones get 413 `payload_too_large`.
    pub body_limit: usize,
    /// How long a request may take; slower ones get 504 `timeout`.
    pub request_timeout: Duration,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Wraps `router` (every route already added) in the stack: what
/// [`app`](crate::app) does to the server's routes, for embedders' own.
///
/// ```
/// use axum::{Router, routing::get};
/// use palisade_server::routes::stack::{StackConfig, wrap};
///
/// let app: Router = wrap(Router::new().route("/", get(|| async { "hi" })), StackConfig::default());
/// # let _ = app;
/// ```
pub fn wrap(router: Router, config: StackConfig) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // `Router::layer` runs after routing, so the trace and metrics
        // layers see the matched route, never the raw path.
        .layer(
            ServiceBuilder::new()
                .layer(RequestIdLayer::new())
                // Inside the request id, so each access line carries it.
                .layer(crate::access_log::access_log_layer())
                .layer(TraceLayer::new())
                .layer(MetricsLayer::new())
                .layer(DefaultBodyLimit::max(config.body_limit))
                .layer(RequestTimeoutLayer::new(config.request_timeout)),
        )
}

async fn not_found() -> Response {
    Problem::palisade(StatusCode::NOT_FOUND, "not_found")
        .with_detail("no route matches this path")
        .into_response()
}

async fn method_not_allowed() -> Response {
    Problem::palisade(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        .with_detail("this path does not answer this method")
        .into_response()
}
