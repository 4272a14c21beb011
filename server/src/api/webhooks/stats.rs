//! How endpoints are doing, from the outbox: queue counts, the last hour's
//! success rate and its attempts in five-minute slices by outcome. The
//! endpoint list reads these for a whole page in two store calls, never one
//! per endpoint.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use palisade_problem::Problem;
use palisade_webhooks::store::{AttemptBucket, Buckets, EndpointStats, Store};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::store_problem;
use super::{millis, now, webhooks};
use crate::api::extract::{Json, Path};
use crate::api::{Caller, Scope};
use crate::state::AppState;

/// The width of one chart slice: five minutes.
const SLICE: Duration = Duration::from_secs(5 * 60);
/// Slices in the window: twelve of five minutes, the last hour.
const SLICES: NonZeroU32 = NonZeroU32::MIN.saturating_add(11);

/// The attempts of one time slice, by outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct AttemptSlice {
    /// When the slice starts (ms since the Unix epoch).
    start: i64,
    /// Attempts the endpoint answered 2xx.
    succeeded: u64,
    /// Attempts it answered with another status.
    http_error: u64,
    /// Attempts without an answer (timeout, refused connection, …).
    transport_error: u64,
}

impl From<&AttemptBucket> for AttemptSlice {
    fn from(b: &AttemptBucket) -> Self {
        Self {
            start: millis(b.start),
            succeeded: b.succeeded,
            http_error: b.http_error,
            transport_error: b.transport_error,
        }
    }
}

/// An endpoint's deliveries now and its attempts over the last hour.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DeliveryStats {
    /// Deliveries waiting for an attempt or being delivered.
    pending: u64,
    /// Deliveries that gave up (until replayed).
    dead: u64,
    /// Attempts in the last hour the endpoint answered 2xx.
    succeeded: u64,
    /// Attempts in the last hour that failed (another status, or no answer).
    failed: u64,
    /// Succeeded attempts as a percentage of the last hour's; null when
    /// there were none.
    success_rate: Option<f64>,
    /// The last hour in twelve slices of five minutes, oldest first.
    attempts_last_hour: Vec<AttemptSlice>,
}

impl DeliveryStats {
    /// An endpoint the store has nothing on (deleted between the two reads).
    fn empty(buckets: &Buckets) -> Self {
        let slices = (0..buckets.count.get())
            .map(|i| AttemptSlice {
                start: millis(buckets.start + buckets.width * i),
                succeeded: 0,
                http_error: 0,
                transport_error: 0,
            })
            .collect();
        Self {
            pending: 0,
            dead: 0,
            succeeded: 0,
            failed: 0,
            success_rate: None,
            attempts_last_hour: slices,
        }
    }
}

/// The last hour's window ending at `at`.
fn last_hour(at: SystemTime) -> Buckets {
    Buckets::ending_at(at, SLICE, SLICES)
}

/// The statistics of every endpoint in `ids`, by id, in two store calls.
pub(super) async fn delivery_stats(
    store: &dyn Store,
    ids: &[String],
) -> Result<HashMap<String, DeliveryStats>, Problem> {
    let window = last_hour(now());
    let counts = store
        .endpoint_stats(ids, window.start)
        .await
        .map_err(|e| store_problem(&e))?;
    let history = store
        .attempt_buckets(ids, window)
        .await
        .map_err(|e| store_problem(&e))?;
    let mut slices: HashMap<String, Vec<AttemptSlice>> = history
        .into_iter()
        .map(|e| {
            let slices = e.buckets.iter().map(AttemptSlice::from).collect();
            (e.endpoint_id, slices)
        })
        .collect();
    let mut out: HashMap<String, DeliveryStats> = counts
        .into_iter()
        .map(|c: EndpointStats| {
            let stats = DeliveryStats {
                pending: c.pending,
                dead: c.dead,
                succeeded: c.succeeded,
                failed: c.failed,
                success_rate: c.success_rate(),
                attempts_last_hour: slices
                    .remove(&c.endpoint_id)
                    .unwrap_or_else(|| DeliveryStats::empty(&window).attempts_last_hour),
            };
            (c.endpoint_id, stats)
        })
        .collect();
    for id in ids {
        out.entry(id.clone())
            .or_insert_with(|| DeliveryStats::empty(&window));
    }
    Ok(out)
}

/// An endpoint's deliveries and its last hour of attempts by outcome.
#[utoipa::path(
    get,
    path = "/webhooks/endpoints/{id}/stats",
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint id, `ep_…`")),
    responses(
        (status = 200, description = "Its statistics", body = DeliveryStats),
        (status = 404, description = "`not_found`"),
        (status = 503, description = "`database_unavailable` or `webhooks_unavailable`"),
    )
)]
pub(crate) async fn get_stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryStats>, Problem> {
    caller.require(Scope::Read)?;
    let store = webhooks(&state)?.engine().store();
    // An unknown id is a 404, not an endpoint without traffic.
    store.endpoint(&id).await.map_err(|e| store_problem(&e))?;
    Ok(Json(endpoint_stats(store.as_ref(), &id).await?))
}

/// The statistics of one endpoint known to exist (empty without traffic).
pub(super) async fn endpoint_stats(store: &dyn Store, id: &str) -> Result<DeliveryStats, Problem> {
    let ids = [id.to_owned()];
    let mut all = delivery_stats(store, &ids).await?;
    Ok(all
        .remove(id)
        .unwrap_or_else(|| DeliveryStats::empty(&last_hour(now()))))
}
