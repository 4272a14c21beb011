//! The HTTP routes of the reference server.

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

mod health;

/// Builds the whole application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health/live", get(health::live))
        .with_state(state)
}
