//! The HTTP edge (feature `axum`): every error our layers originate as an
//! RFC 9457 `application/problem+json` response, in one place.
//!
//! - [`error_response`] maps a [`BoxError`] to a response; [`handle_error`]
//!   is the same as an async fn for axum's `HandleErrorLayer`.
//! - [`Problem`] is the response type, also for your own errors: the one
//!   problem+json type of the Palisade crates, from `palisade-problem`
//!   (re-exported here), which `palisade-webhooks` answers with too.
//! - [`problem_for`] is the mapping itself, for callers that want the
//!   [`Problem`] before it becomes a response.
//! - [`ServiceBuilderExt`] (from the crate root, re-exported here) names our
//!   layers on a `tower::ServiceBuilder`.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, error_handling::HandleErrorLayer, routing::get};
//! use palisade_resilience::edge;
//! use palisade_resilience::timeout::TimeoutLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let app = Router::new()
//!     .route("/slow", get(|| async {
//!         tokio::time::sleep(Duration::from_secs(60)).await;
//!         "done"
//!     }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(HandleErrorLayer::new(edge::handle_error))
//!             .layer(TimeoutLayer::new(Duration::from_secs(1))),
//!     );
//!
//! let request = http::Request::get("/slow").body(axum::body::Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), 504);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # Ok(())
//! # }
//! ```
//!
//! # The mapping
//!
//! The first error of the [`source`](std::error::Error::source) chain that
//! one of our layers originated decides, so wrapped errors (such as retry's
//! `BodyTooLargeToRetry`) are recognised. Every body has `type`, `title`,
//! `status`, `detail` and a stable `code`; `type` is
//! `https://palisade-rs.github.io/problems/<code>`, the one scheme of every
//! Palisade crate (`docs/problems.md` in the repository lists the codes).
//! Which errors are ours is decided by [`crate::rejection::find_own`]. The `detail` texts are
//! fixed: no breaker name, capacity or inner error text reaches the client.
//!
//! | error (module)                             | status | `code`                   | headers |
//! |--------------------------------------------|--------|--------------------------|---------|
//! | <a id="circuit_open"></a>`CircuitOpen` (`circuit_breaker`) | 503 | `circuit_open` | `Retry-After`: [`retry_after`], in whole seconds rounded up; none when no probe is scheduled (HalfOpen, ForcedOpen) |
//! | <a id="bulkhead_full"></a>`BulkheadFull` (`bulkhead`) | 503 | `bulkhead_full` | `Retry-After: 1` ([`BULKHEAD_RETRY_AFTER`]: permits free as calls end; there is no schedule to report) |
//! | <a id="rate_limited"></a>`RateLimited` (`rate_limit`) | 429 | `rate_limited` | `Retry-After`, `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (`RateLimited::headers`) |
//! | <a id="rate_limit_unavailable"></a>`BackendUnavailable` (`rate_limit`, Redis failing closed) | 503 | `rate_limit_unavailable` | — |
//! | <a id="timeout"></a>`Elapsed` (`timeout`)  | 504    | `timeout`                | — |
//! | <a id="coalesce_full"></a>`CoalesceFull` (`coalesce`) | 503 | `coalesce_full` | — |
//! | <a id="throttled"></a>`Throttled` (`throttle`) | 503 | `throttled` | — |
//! | <a id="limit_reached"></a>`LimitReached` (`adaptive`) | 503 | `limit_reached` | — (places free as calls end) |
//! | <a id="fault_injected"></a>`ChaosError` (`chaos`) | 500 | `fault_injected` | — (an injected fault stands for a bug or crash, not for "try later") |
//! | <a id="exceeds_burst"></a>`ExceedsBurst` (`rate_limit`), a call weighing more than the burst | 400 | `exceeds_burst` | — |
//! | <a id="invalid_timeout"></a>`InvalidTimeout` (`timeout::http`), a malformed `x-request-timeout` header | 400 | `invalid_timeout` | — |
//! | <a id="missing_key"></a>`MissingKey` (`key`), the request lacks what the key is made of (a header) | 400 | `missing_key` | — (the detail says what is missing) |
//! | <a id="key_unavailable"></a>`MissingKey` (`key`), the server cannot find keys (no peer address recorded, no matched route) | 500 | `key_unavailable` | — (the keyed layer logs the first one at `ERROR`) |
//! | anything else                              | 500    | `internal`               | — (type `about:blank`; the error is logged at `ERROR`, never sent) |
//!
//! Each mapping exists when its layer's feature is on. Rejections are logged
//! at `DEBUG`.
//!
//! [`retry_after`]: https://docs.rs/palisade-resilience/latest/palisade_resilience/circuit_breaker/error/struct.CircuitOpen.html#method.retry_after
//!
//! # The order of effects in a full stack
//!
//! ```text
//! ServiceBuilder::new()
//!     .fallback(fallback)             // 1
//!     .rate_limit_with(limiter)       // 2
//!     .timeout_per_call(overall)      // 3
//!     .retry_with(retry)              // 4
//!     .circuit_breaker(breaker)       // 5
//!     .bulkhead(bulkhead)             // 6
//!     .timeout_per_call(per_attempt)  // 7
//!     .service(upstream)              // 8
//! ```
//!
//! Readiness comes first: `poll_ready` goes down the whole stack before
//! `call`, and the breaker decides there. So while it is open, a call that
//! the rate limiter then rejects in `call` has still been counted as a
//! breaker rejection (`Snapshot::rejected`, the `rejected` metric); a
//! HalfOpen probe permit reserved that way is given back when the unused
//! service is dropped.
//!
//! On the way in:
//!
//! 1. **Fallback** passes the call on, keeping a clone of the request only if
//!    its handler needs one.
//! 2. **Rate limit** decides in `call`, once per call: it sits outside the
//!    retry layer, so retries are not counted. Over the limit, the call fails
//!    at once with `RateLimited` and nothing below runs.
//! 3. **Overall timeout** starts its clock: it bounds every attempt *and*
//!    every backoff sleep below. When it fires, the attempt in flight is
//!    dropped (a bulkhead permit it held is released, the breaker records
//!    nothing for it) and no further attempt starts.
//! 4. **Retry** sends attempt 1. For attempt `n + 1` it first sleeps the
//!    backoff (or longer, when a rejection asked for a longer wait), then
//!    waits for the readiness of its clone of the stack below, which is
//!    where the breaker decides.
//! 5. **Breaker** decides in `poll_ready`: Closed (or a free HalfOpen probe)
//!    admits; otherwise the attempt fails at once with `CircuitOpen` and the
//!    layers below do not run (no permit taken, no timer started). An
//!    admitted attempt's duration, for slow-call detection, includes the
//!    time it waits for a bulkhead permit.
//! 6. **Bulkhead** takes a permit in `call`, or queues for at most
//!    `max_wait`, or fails the attempt at once with `BulkheadFull`.
//! 7. **Per-attempt timeout** starts when the attempt holds a permit, so it
//!    does not count the time spent in the bulkhead queue.
//! 8. The **service** runs.
//!
//! On the way out:
//!
//! - **7, per-attempt timeout**: a hung attempt becomes `Elapsed`.
//! - **6, bulkhead**: the permit is released when the attempt's future
//!   completes or is dropped.
//! - **5, breaker**: it classifies the attempt. With the default classifier
//!   every error is a failure: `Elapsed` from the per-attempt timeout and
//!   also `BulkheadFull` from the bulkhead below it, so saturation alone can
//!   open the breaker — use a classifier that ignores `BulkheadFull` (the
//!   breaker's error type is `BoxError`, so it can `downcast_ref`) or put the
//!   bulkhead above the breaker if that is not wanted. Its own `CircuitOpen`
//!   rejections are not recorded.
//! - **4, retry**: it asks its predicate. The default ([`RetryErrors`]) and
//!   the HTTP preset (for idempotent requests) retry errors, and honour our
//!   own rejections ([`crate::rejection`]): after a `CircuitOpen` from an
//!   Open breaker (or a `RateLimited`) the next attempt waits the **larger**
//!   of the backoff and the rejection's `retry_after`, so it reaches the
//!   breaker when its probe is due; when that wait would end after
//!   `max_elapsed`, exceeds `max_retry_after` (30 s by default) or no
//!   attempt is left, the rejection is returned at once, unchanged, and no
//!   retry budget is spent. A ForcedOpen breaker is not retried at all.
//!   `BulkheadFull` (no schedule: permits free as calls end) and `Elapsed`
//!   are retried after the backoff like other errors. In this stack, with a
//!   breaker that stays open 60 s, the first `CircuitOpen` ends the call.
//! - **3, overall timeout**: `Elapsed` if its deadline passed first.
//! - **2, rate limit**: an allowed response gets the `RateLimit-*` headers
//!   (with `RateLimitLayer::http`); errors pass through.
//! - **1, fallback**: it answers the final error if its predicate accepts it.
//!   With `on_rejection` that is `CircuitOpen`, `BulkheadFull`, `RateLimited`
//!   and `Elapsed` — including the limiter's own `RateLimited`, since the
//!   limiter is inside the fallback: to send 429s to clients, put the rate
//!   limit outside the fallback. Other errors (the upstream's own, chaos
//!   faults, `BackendUnavailable`) pass through to the edge.
//!
//! At the HTTP edge, [`handle_error`] turns what is left into a response.
//! The workspace's `tests/tests/composition.rs` checks each of these steps.
//!
//! [`BoxError`]: crate::BoxError
//! [`RetryErrors`]: https://docs.rs/palisade-resilience/latest/palisade_resilience/retry/struct.RetryErrors.html

mod map;

use axum::response::{IntoResponse, Response};

/// Re-exported from the crate root, where it lives (it needs no axum).
pub use crate::ServiceBuilderExt;
pub use map::{BULKHEAD_RETRY_AFTER, problem_for};
pub use palisade_problem::{PROBLEM_JSON, Problem};

use crate::BoxError;

/// The problem+json response for `error`; see the table in the
/// [module docs](self) and [`problem_for`].
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::edge::error_response;
///
/// let err: BoxError = "db password rejected".into();
/// let response = error_response(&err);
/// assert_eq!(response.status(), 500);
/// ```
#[must_use]
pub fn error_response(error: &BoxError) -> Response {
    problem_for(&**error).into_response()
}

/// [`error_response`] as the handler of axum's `HandleErrorLayer`:
/// `HandleErrorLayer::new(edge::handle_error)`.
#[allow(clippy::needless_pass_by_value)] // `HandleErrorLayer` hands the error over by value
pub async fn handle_error(error: BoxError) -> Response {
    error_response(&error)
}
