//! `GET /demo/upstream`: an upstream call through the circuit breaker and the
//! retry, so a newcomer can watch both work.
//!
//! The upstream is simulated in-process (no network, nothing to set up): it
//! answers 503 for the share of calls given by `?fail_percent=` (default 30),
//! spread evenly, and 200 otherwise. Try:
//!
//! ```text
//! curl 'http://127.0.0.1:8080/demo/upstream'                  # retries hide the blips
//! curl 'http://127.0.0.1:8080/demo/upstream?fail_percent=100' # a few of these open the breaker
//! curl 'http://127.0.0.1:8080/demo/upstream'                  # 503 circuit_open until the wait is over
//! ```

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use palisade_resilience::circuit_breaker::error::CircuitOpen;
use palisade_resilience::circuit_breaker::{
    CircuitBreaker, CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow,
};
use palisade_resilience::classify::{Classify, Outcome};
use palisade_resilience::edge::Problem;
use palisade_resilience::retry::{Backoff, Jitter, Predicate, Retry, RetryLayer};
use palisade_resilience::{BoxError, ConfigError};
use serde::Deserialize;
use serde_json::json;
use tower::{Layer, Service, ServiceExt};

use crate::state::AppState;

/// One call to the simulated upstream.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    fail_percent: u64,
    /// Counts the attempts the retry makes for this one request.
    attempts: Arc<AtomicU32>,
}

/// The simulated upstream: fails `fail_percent` of its calls with 503.
#[derive(Debug, Clone, Default)]
pub struct FlakyUpstream {
    calls: Arc<AtomicU64>,
}

impl Service<UpstreamRequest> for FlakyUpstream {
    type Response = StatusCode;
    type Error = Infallible;
    type Future = Ready<Result<StatusCode, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: UpstreamRequest) -> Self::Future {
        req.attempts.fetch_add(1, Ordering::Relaxed);
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        // Spread failures evenly: call n fails when the running share of
        // failures steps up, so 50 % alternates and 100 % always fails.
        let p = req.fail_percent;
        let fails = (n + 1) * p / 100 > n * p / 100;
        ready(Ok(if fails {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        }))
    }
}

/// A 5xx status is a failed call; anything else (including 4xx) succeeded.
#[derive(Debug, Clone, Copy)]
pub struct ServerErrorsFail;

impl<E> Classify<StatusCode, E> for ServerErrorsFail {
    fn classify(&self, result: &Result<StatusCode, E>) -> Outcome {
        match result {
            Ok(status) if !status.is_server_error() => Outcome::Success,
            _ => Outcome::Failure,
        }
    }
}

/// Retry 5xx answers and transport errors, but not the breaker's own
/// rejection: retrying `CircuitOpen` would only wait for the same answer.
#[derive(Debug, Clone, Copy)]
pub struct WorthRetrying;

impl Predicate<StatusCode, BoxError> for WorthRetrying {
    fn should_retry(&self, result: &Result<StatusCode, BoxError>) -> bool {
        match result {
            Ok(status) => status.is_server_error(),
            Err(err) => !err.is::<CircuitOpen>(),
        }
    }

    /// Only real successes refill the retry budget.
    fn is_success(&self, result: &Result<StatusCode, BoxError>) -> bool {
        matches!(result, Ok(status) if !status.is_server_error())
    }
}

/// The client stack: retry outside, breaker inside, so every attempt is
/// judged by the breaker and an open breaker stops the retries at once.
pub type DemoClient = Retry<CircuitBreaker<FlakyUpstream, ServerErrorsFail>, WorthRetrying>;

/// Builds the demo client and the handle of its breaker.
///
/// # Errors
///
/// Never with these constants; the signature keeps configuration errors
/// visible instead of hiding them behind a panic.
pub fn client() -> Result<(DemoClient, CircuitBreakerHandle), ConfigError> {
    let breaker = CircuitBreakerLayer::builder()
        .name("demo-upstream")
        .sliding_window(SlidingWindow::count(20))
        .minimum_calls(10)
        .failure_rate_threshold(50.0)
        .wait_duration_in_open(WAIT_IN_OPEN)
        .permitted_calls_in_half_open(3)
        .classifier(ServerErrorsFail)
        .build()?;
    let handle = breaker.handle();
    let retry = RetryLayer::builder()
        .max_attempts(3)
        .backoff(
            Backoff::exponential(Duration::from_millis(20), Duration::from_millis(200))
                .jitter(Jitter::Full),
        )
        .predicate(WorthRetrying)
        .build()?;
    let client = retry.layer(breaker.layer(FlakyUpstream::default()));
    Ok((client, handle))
}

/// The query of `/demo/upstream`.
#[derive(Debug, Deserialize)]
pub(crate) struct DemoQuery {
    /// The share of upstream calls that fail, 0..=100.
    #[serde(default = "default_fail_percent")]
    fail_percent: u64,
}

fn default_fail_percent() -> u64 {
    30
}

/// `GET /demo/upstream?fail_percent=N`.
pub(crate) async fn upstream(
    State(state): State<AppState>,
    Query(q): Query<DemoQuery>,
) -> Response {
    if q.fail_percent > 100 {
        return Problem::new(StatusCode::BAD_REQUEST)
            .with_code("invalid_query")
            .with_detail("fail_percent must be within 0..=100")
            .into_response();
    }
    let attempts = Arc::new(AtomicU32::new(0));
    let request = UpstreamRequest {
        fail_percent: q.fail_percent,
        attempts: Arc::clone(&attempts),
    };
    let result = state.demo.client.clone().oneshot(request).await;
    let attempts = attempts.load(Ordering::Relaxed);
    match result {
        Ok(status) => {
            let snapshot = state.demo.breaker.snapshot();
            let body = Json(json!({
                "upstream_status": status.as_u16(),
                "attempts": attempts,
                "breaker": {
                    "state": snapshot.state.as_str(),
                    "calls_in_window": snapshot.calls,
                    "failures_in_window": snapshot.failures,
                    "failure_rate": snapshot.failure_rate(),
                    "rejected": snapshot.rejected,
                },
            }));
            let code = if status.is_server_error() {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::OK
            };
            (code, body).into_response()
        }
        Err(err) => {
            let mut response = palisade_resilience::edge::error_response(&err);
            // A breaker held open by an operator schedules no probe, so the
            // edge names no Retry-After; clients still need a pace, so the
            // demo suggests its breaker's usual wait.
            if err.is::<CircuitOpen>() && !response.headers().contains_key(RETRY_AFTER) {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(WAIT_IN_OPEN.as_secs()));
            }
            response
        }
    }
}

/// How long the demo breaker stays open before a probe.
const WAIT_IN_OPEN: Duration = Duration::from_secs(10);

/// The demo's client and the handle of its breaker.
#[derive(Debug, Clone)]
pub struct Demo {
    client: DemoClient,
    breaker: CircuitBreakerHandle,
}

impl Demo {
    /// Builds the demo client.
    ///
    /// # Errors
    ///
    /// See [`client`].
    pub fn new() -> Result<Self, ConfigError> {
        let (client, breaker) = client()?;
        Ok(Self { client, breaker })
    }

    /// The handle of the demo's breaker.
    #[must_use]
    pub fn breaker(&self) -> &CircuitBreakerHandle {
        &self.breaker
    }
}
