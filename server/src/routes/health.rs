//! Liveness and readiness probes.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use palisade_resilience::health::Status;
use serde_json::{Value, json};

use crate::state::AppState;

/// How long readiness waits for the database before calling it down.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health/live`: the process is up and serving requests.
pub(crate) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the database answers, plus the aggregate of every
/// registered breaker, bulkhead and limiter. 200 while healthy or degraded
/// (the server still answers), 503 when unhealthy, so a load balancer stops
/// sending traffic.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let report = state.health.check();
    let mut status = report.status;
    let mut components: Vec<Value> = Vec::with_capacity(report.components.len() + 1);
    if let Some((kind, store)) = &state.database {
        // Only the round trip matters here; the time just bounds the
        // queue-lag figure the query also computes.
        #[allow(clippy::disallowed_methods)]
        let now = SystemTime::now();
        let problem = match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, store.stats(now)).await {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: the database check failed");
                Some(error.kind())
            }
            Err(_) => {
                tracing::warn!(timeout = ?DATABASE_CHECK_TIMEOUT, "readiness: the database did not answer");
                Some("timeout")
            }
        };
        if problem.is_some() {
            status = Status::Unhealthy;
        }
        components.push(json!({
            "name": "database",
            "kind": kind,
            "status": if problem.is_some() { Status::Unhealthy } else { Status::Healthy }.as_str(),
            "error": problem,
        }));
    }
    components.extend(report.components.iter().map(|c| {
        json!({
            "name": c.name,
            "kind": c.health.kind,
            "status": c.health.status.as_str(),
            "state": c.health.state,
            "in_flight": c.health.in_flight,
            "rejections": c.health.rejections,
            "success_rate": c.health.success_rate,
        })
    }));
    let code = if status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(json!({ "status": status.as_str(), "components": components })),
    )
}
