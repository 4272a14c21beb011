//! Liveness, readiness and the full health report.
//!
//! Readiness asks only what this instance needs to do its job — the
//! database, the Redis of the shared rate limits (when configured), the
//! webhook delivery workers — so a load balancer never takes every
//! instance out because an upstream is down. The breakers, bulkheads and
//! limiters of the health registry show in `/health`, where an open
//! breaker degrades the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use palisade_resilience::health::Status;
use serde_json::{Value, json};

use crate::state::AppState;

/// How long a dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the webhook delivery workers are running: set by `serve` when
/// it starts them and cleared when their shutdown begins. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct DeliveryStatus(Arc<AtomicBool>);

impl DeliveryStatus {
    /// Records whether the workers run.
    pub fn set_running(&self, running: bool) {
        self.0.store(running, Ordering::Release);
    }

    /// Whether the workers run.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `GET /health/live`: the process is up and serving requests. The answer
/// never changes, so it is a constant: probes call this often.
pub(crate) async fn live() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

/// The instance's own dependencies, each as a component, and whether all are up.
async fn dependencies(state: &AppState) -> (bool, Vec<Value>) {
    let mut up = true;
    let mut components = Vec::new();
    if let Some((kind, store)) = &state.database {
        // Only the round trip matters here; the time just bounds the
        // queue-lag figure the query also computes.
        #[allow(clippy::disallowed_methods)]
        let now = SystemTime::now();
        let problem = match tokio::time::timeout(CHECK_TIMEOUT, store.stats(now)).await {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: the database check failed");
                Some(error.kind())
            }
            Err(_) => {
                tracing::warn!(timeout = ?CHECK_TIMEOUT, "readiness: the database did not answer");
                Some("timeout")
            }
        };
        up &= problem.is_none();
        components.push(json!({
            "name": "database",
            "kind": kind,
            "status": if problem.is_some() { Status::Unhealthy } else { Status::Healthy }.as_str(),
            "error": problem,
        }));
    }
    if let Some(redis) = state.auth.as_ref().and_then(|a| a.redis.clone()) {
        let problem = ping(redis).await.err();
        if let Some(error) = &problem {
            tracing::warn!(%error, "readiness: Redis did not answer");
        }
        up &= problem.is_none();
        components.push(json!({
            "name": "redis",
            "kind": "rate_limit",
            "status": if problem.is_some() { Status::Unhealthy } else { Status::Healthy }.as_str(),
            "error": problem,
        }));
    }
    if let Some(delivery) = &state.delivery {
        let running = delivery.is_running();
        up &= running;
        components.push(json!({
            "name": "webhook-delivery",
            "kind": "workers",
            "status": if running { Status::Healthy } else { Status::Unhealthy }.as_str(),
        }));
    }
    (up, components)
}

async fn ping(mut redis: redis::aio::ConnectionManager) -> Result<(), String> {
    let cmd = redis::cmd("PING");
    let pong = cmd.query_async::<String>(&mut redis);
    match tokio::time::timeout(CHECK_TIMEOUT, pong).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".to_owned()),
    }
}

/// `GET /health/ready`: 200 while the database, Redis (when configured)
/// and the delivery workers are up, else 503, so a load balancer stops
/// sending traffic to this instance.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (up, components) = dependencies(&state).await;
    let (code, status) = if up {
        (StatusCode::OK, Status::Healthy)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Status::Unhealthy)
    };
    (
        code,
        Json(json!({ "status": status.as_str(), "components": components })),
    )
}

/// `GET /health`: everything — the dependencies of readiness plus every
/// registered breaker, bulkhead and limiter. Always 200 (it is a report,
/// not a probe): `unhealthy` when a dependency is down, `degraded` when
/// only a registered component (an open breaker) is not healthy.
pub(crate) async fn report(State(state): State<AppState>) -> Json<Value> {
    let (up, mut components) = dependencies(&state).await;
    let report = state.health.check();
    let status = if !up {
        Status::Unhealthy
    } else if report.status == Status::Healthy {
        Status::Healthy
    } else {
        Status::Degraded
    };
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
    Json(json!({ "status": status.as_str(), "components": components }))
}
