//! `GET /metrics`: every `metrics` counter, gauge and histogram of the
//! process in the Prometheus text format.

use std::sync::OnceLock;
use std::time::Duration;

use axum::response::IntoResponse;
use http::header::CONTENT_TYPE;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use palisade_tracing_layer::metrics::DURATION_BUCKETS;

/// How often histograms are compacted (the exporter's upkeep).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use. A process
/// has one global recorder; when another was installed first (an embedder's
/// own), this one still answers but sees nothing, and says so once.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Prometheus' own names (`http_server_request_duration_seconds`)
        // and OpenTelemetry's duration buckets, as histograms, not summaries.
        // The matchers are plain suffixes, valid by construction.
        let builder = || PrometheusBuilder::new().with_recommended_naming(true);
        let recorder = builder()
            .set_buckets_for_metric(Matcher::Suffix("duration".into()), &DURATION_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &DURATION_BUCKETS)
            })
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "histogram buckets refused; durations are summaries");
                builder()
            })
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let upkeep = handle.clone();
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
        }
        handle
    })
}

/// `GET /metrics`.
pub(crate) async fn metrics() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle().render(),
    )
}
