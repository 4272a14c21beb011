//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use palisade_resilience::health::Status;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /health/live`: the process is up and serving requests.
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the aggregate of every registered breaker, bulkhead
/// and limiter. 200 while healthy or degraded (the server still answers),
/// 503 when unhealthy, so a load balancer stops sending traffic.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let report = state.health.check();
    let components: Vec<Value> = report
        .components
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": c.health.kind,
                "status": c.health.status.as_str(),
                "state": c.health.state,
                "in_flight": c.health.in_flight,
                "rejections": c.health.rejections,
                "success_rate": c.health.success_rate,
            })
        })
        .collect();
    let code = if report.status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(json!({ "status": report.status.as_str(), "components": components })),
    )
}
