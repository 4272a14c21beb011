//! The engine's metrics, through the `metrics` facade.
//!
//! - `palisade_webhook_attempts_total{outcome, status_class}`: every attempt, with
//!   `outcome` one of `succeeded`, `retrying`, `dead`, `gone`, and
//!   `status_class` `2xx` … `5xx` or `transport`.
//! - `palisade_webhook_attempt_duration_seconds`: time to the response head.
//! - `palisade_webhook_postponed_total`: deliveries put off without an attempt
//!   (breaker open, endpoint at its limits or disabled).
//! - `palisade_webhook_endpoints_disabled_total`: endpoints the engine disabled.

use crate::store::{AttemptResult, Finished, Next};

pub(super) fn attempt_finished(finished: &Finished) {
    let Some(attempt) = &finished.attempt else {
        metrics::counter!("palisade_webhook_postponed_total").increment(1);
        return;
    };
    let outcome = match finished.next {
        Next::Succeeded => "succeeded",
        Next::RetryAt(_) | Next::Postpone(_) => "retrying",
        Next::Dead => "dead",
        Next::Gone => "gone",
    };
    let status_class = match attempt.result {
        AttemptResult::Status(s) if s < 200 => "1xx",
        AttemptResult::Status(s) if s < 300 => "2xx",
        AttemptResult::Status(s) if s < 400 => "3xx",
        AttemptResult::Status(s) if s < 500 => "4xx",
        AttemptResult::Status(_) => "5xx",
        AttemptResult::Transport(_) => "transport",
    };
    metrics::counter!("palisade_webhook_attempts_total", "outcome" => outcome, "status_class" => status_class)
        .increment(1);
    metrics::histogram!("palisade_webhook_attempt_duration_seconds")
        .record(attempt.latency.as_secs_f64());
}

pub(super) fn endpoint_disabled() {
    metrics::counter!("palisade_webhook_endpoints_disabled_total").increment(1);
}
