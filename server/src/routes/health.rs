//! Liveness (and, as the platform grows, readiness) probes.

use axum::Json;
use serde_json::{Value, json};

/// `GET /health/live`: the process is up and serving requests.
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
