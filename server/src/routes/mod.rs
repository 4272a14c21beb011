//! The HTTP routes of the reference server.

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

mod dashboard;
pub mod demo;
pub mod flagged;
pub mod health;
pub mod inbound;
pub mod metrics;
mod openapi;
pub mod stack;
pub mod timeout;
mod version;

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    // The recorder first: the metrics layers describe their metrics to the
    // recorder installed when they are built.
    metrics::handle();
    let (api, doc) = crate::api::router().split_for_parts();
    let (inbound, inbound_doc) = inbound::router().split_for_parts();
    let doc = std::sync::Arc::new(openapi::document(doc, inbound_doc));
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::guard::authenticate,
    ));
    let config = state.stack;
    let flagged = flagged::routes(&state);
    // Mounted only with a secret: unconfigured, the path is an ordinary 404.
    let inbound = match &state.inbound_webhooks {
        Some(verifier) => inbound.with_state(verifier.clone()),
        None => Router::new(),
    };
    // Routes that read no state get none: a route with state clones the
    // whole `AppState` (a dozen reference counts) on every request.
    let stateless = Router::new()
        .route("/health/live", get(health::live))
        .route("/metrics", get(metrics::metrics))
        .route("/version", get(version::version));
    let router = Router::new()
        .merge(inbound)
        .merge(dashboard::routes())
        .merge(flagged)
        .nest("/api", api)
        .route("/openapi.json", get(openapi::openapi).with_state(doc))
        .route("/health", get(health::report))
        .route("/health/ready", get(health::ready))
        .route("/demo/upstream", get(demo::upstream))
        .with_state(state)
        .merge(stateless);
    stack::wrap(router, config)
}
