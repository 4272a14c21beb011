//! `/api/webhooks`: event types (create, list), endpoints (create, list
//! with delivery statistics, read, update, rotate the secret, delete,
//! replay dead deliveries, statistics) and messages (publish, list an
//! endpoint's newest first, read with deliveries and attempts, replay),
//! over the delivery engine.
//!
//! Reading needs the `read` scope, every change `write`; every change is
//! audited with the endpoint before and after, never a secret. A new or
//! rotated secret is in the answer once and nowhere else.

mod endpoints;
mod error;
mod event_types;
mod messages;
mod stats;

use std::time::{SystemTime, UNIX_EPOCH};

use http::StatusCode;
use palisade_problem::Problem;
use palisade_webhooks::deliver::Engine;
use palisade_webhooks::deliver::connect::AddressPolicy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The webhook engine the API works through, and the address policy it
/// delivers under (the API checks URLs against it to name the reason of a
/// refusal).
#[derive(Debug, Clone)]
pub struct Webhooks {
    engine: Engine,
    policy: AddressPolicy,
}

impl Webhooks {
    /// `engine`, built with `policy` (the same one: the server builds both
    /// from its `--webhook-*` flags).
    #[must_use]
    pub fn new(engine: Engine, policy: AddressPolicy) -> Self {
        Self { engine, policy }
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The address policy endpoint URLs are checked against.
    #[must_use]
    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }
}

/// The `/webhooks/*` routes.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(endpoints::create, endpoints::list))
        .routes(routes!(
            endpoints::get_one,
            endpoints::update,
            endpoints::delete
        ))
        .routes(routes!(endpoints::rotate))
        .routes(routes!(endpoints::replay_dead))
        .routes(routes!(stats::get_stats))
        .routes(routes!(event_types::create, event_types::list))
        .routes(routes!(messages::publish, messages::list))
        .routes(routes!(messages::get_one))
        .routes(routes!(messages::replay))
}

/// The engine, or 503 when the server runs without one.
#[allow(clippy::result_large_err)] // returned straight away as the response
fn webhooks(state: &AppState) -> Result<&Webhooks, Problem> {
    state.webhooks.as_ref().ok_or_else(|| {
        Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "webhooks_unavailable")
            .with_detail("this server runs without webhook delivery")
    })
}

/// The time stamped on changes (the store's `now`).
fn now() -> SystemTime {
    // The API's own clock: the store records when a change was made.
    #[allow(clippy::disallowed_methods)]
    SystemTime::now()
}

/// `t` as milliseconds since the Unix epoch, as the API shows times.
fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The inverse of [`millis`].
fn from_millis(ms: i64) -> SystemTime {
    let magnitude = std::time::Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
    }
}
