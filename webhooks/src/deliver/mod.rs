//! Webhook delivery: the engine that turns published messages into signed
//! HTTP requests to every subscribed endpoint, retried until they succeed
//! or die, without losing one.
//!
//! # How a message travels
//!
//! 1. [`Engine::publish`] checks the payload (JSON, at most `max_payload`)
//!    and stores the message with one delivery per subscribed, enabled
//!    endpoint in one transaction ([`crate::store`]).
//! 2. A worker ([`Engine::start`]) claims due deliveries in batches under a
//!    lease and sends each through the stack: the endpoint's rate and
//!    concurrency limits → its circuit breaker (keyed by endpoint) →
//!    timeout → the HTTP client (whose connector refuses non-public
//!    addresses). Each attempt is signed (Standard Webhooks) with every
//!    active secret of the endpoint; `webhook-id` is the message id on every
//!    attempt, `webhook-timestamp` is fresh.
//! 3. The answer decides: 2xx succeeded; 410 Gone kills the delivery and
//!    disables the endpoint; 429 and 503 wait at least their `Retry-After`
//!    (at most `max_retry_after`); anything else, and no answer, follows the
//!    [`RetrySchedule`]; after its last attempt the delivery is dead, to be
//!    replayed by an operator. Redirects are never followed (a 3xx is a
//!    failure). An open breaker, a full endpoint or a disabled endpoint
//!    postpones the delivery without spending an attempt.
//! 4. The attempt (time, status or error kind, latency, the start of the
//!    response body) and the delivery's new state are written together.
//!
//! # Guarantees
//!
//! At least once: a message is stored before `publish` returns, and a
//! delivery leaves the queue only when a worker has recorded its outcome.
//! A worker that crashes leaves its claims to expire (`lease`, 60 s by
//! default) and be sent again, so a receiver may see a message twice: at
//! most the deliveries that were in flight. Receivers de-duplicate by
//! `webhook-id`. Deliveries to an endpoint marked `ordered` go one at a
//! time in publish order; others may arrive in any order.

mod attempt;
mod client;
mod config;
pub mod connect;
mod engine;
mod error;
mod headers;
mod limits;
pub mod operational;
mod schedule;
mod schema;
mod telemetry;
mod upkeep;

pub use client::{HttpClient, ResponseBody, boxed_client};
pub use engine::{Engine, EngineBuilder, Running, ShutdownReport};
pub use error::{BuildError, EndpointError, EventTypeError, PublishError};
pub use schedule::RetrySchedule;

use engine::Shared;
