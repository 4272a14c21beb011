//! What the engine does on a timer: queue gauges, breaker gauges, payload
//! retention.
//!
//! Gauges (every `upkeep_interval`, 5 s by default):
//! - `palisade_webhook_deliveries_waiting`: deliveries not yet finished (any instance's).
//! - `palisade_webhook_deliveries_dead`: dead deliveries.
//! - `palisade_webhook_queue_lag_seconds`: how long the oldest due delivery has waited
//!   (0 when none is overdue).
//! - `palisade_webhook_attempts_in_flight`: this instance's running attempts.
//! - `palisade_webhook_endpoint_breaker_open{endpoint}` (opt-in, one series per
//!   endpoint with a breaker): 1 while the endpoint's breaker rejects.

use std::sync::Arc;
use std::time::Duration;

use palisade_resilience::circuit_breaker::State;
use tokio::sync::{Semaphore, watch};

use super::Shared;

/// Runs until `stop` carries a deadline.
pub(super) async fn run(
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<Option<Duration>>,
) {
    let mut ticks = tokio::time::interval(shared.config.upkeep_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_expunge: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => {}
        }
        if stop.borrow().is_some() {
            return;
        }
        let now = shared.clock.now();
        match shared.store.stats(now).await {
            Ok(stats) => {
                #[allow(clippy::cast_precision_loss)]
                {
                    metrics::gauge!("palisade_webhook_deliveries_waiting")
                        .set(stats.waiting as f64);
                    metrics::gauge!("palisade_webhook_deliveries_dead").set(stats.dead as f64);
                }
                let lag = stats
                    .oldest_due_at
                    .and_then(|due| now.duration_since(due).ok())
                    .unwrap_or_default();
                metrics::gauge!("palisade_webhook_queue_lag_seconds").set(lag.as_secs_f64());
            }
            Err(error) => tracing::warn!(%error, "reading the delivery queue's size failed"),
        }
        let in_flight = shared
            .config
            .max_in_flight
            .saturating_sub(permits.available_permits());
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("palisade_webhook_attempts_in_flight").set(in_flight as f64);
        if shared.config.breaker_metrics {
            for (endpoint, handle) in shared.breakers.handles() {
                let open = matches!(handle.state(), State::Open | State::ForcedOpen);
                metrics::gauge!("palisade_webhook_endpoint_breaker_open", "endpoint" => endpoint)
                    .set(if open { 1.0 } else { 0.0 });
            }
        }
        if let Some(retention) = shared.config.retention
            && last_expunge.is_none_or(|at| at.elapsed() >= EXPUNGE_EVERY)
        {
            last_expunge = Some(tokio::time::Instant::now());
            let before = now.checked_sub(retention).unwrap_or(std::time::UNIX_EPOCH);
            match shared.store.expunge_payloads(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(payloads = n, "expunged message payloads past retention"),
                Err(error) => tracing::warn!(%error, "expunging old payloads failed"),
            }
        }
    }
}

/// Payloads past retention are removed at most this often.
const EXPUNGE_EVERY: Duration = Duration::from_secs(60 * 60);
