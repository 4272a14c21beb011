//! The HTTP routes of the reference server.

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub mod demo;
mod health;
pub mod stack;

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    let (api, _doc) = crate::api::router().split_for_parts();
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::auth::guard::authenticate,
    ));
    let config = state.stack;
    let router = Router::new()
        .nest("/api", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/demo/upstream", get(demo::upstream))
        .with_state(state);
    stack::wrap(router, config)
}
