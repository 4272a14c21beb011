//! `GET /version`: what is running.

use axum::Json;
use serde_json::{Value, json};

/// The git commit, when the build set `PALISADE_GIT_SHA` (e.g.
/// `PALISADE_GIT_SHA=$(git rev-parse HEAD) cargo build`; no build script
/// runs git).
const GIT_SHA: Option<&str> = option_env!("PALISADE_GIT_SHA");

/// `GET /version`.
pub(crate) async fn version() -> Json<Value> {
    Json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "git_sha": GIT_SHA,
    }))
}
