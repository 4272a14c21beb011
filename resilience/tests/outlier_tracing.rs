//! Ejections and returns are `tracing` events naming the detector, the
//! endpoint and the reason.
//!
//! Alone in its test binary: a scoped `tracing` dispatcher races with other
//! threads that reach the same callsites first.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]
#![cfg(feature = "outlier")]

use std::num::NonZeroU32;

use palisade_resilience::outlier::OutlierDetector;
use tower::{Layer, Service, ServiceExt, service_fn};
use tracing::Level;

#[path = "support/capture.rs"]
mod capture;

use capture::Capture;

/// The info and warn events of the outlier module.
fn outlier_events(metadata: &tracing::Metadata<'_>) -> bool {
    metadata
        .target()
        .starts_with("palisade_resilience::outlier")
        && *metadata.level() <= Level::INFO
}

#[tokio::test(start_paused = true)]
async fn an_ejection_is_a_warning_and_the_return_an_info_event() {
    let capture = Capture::new(outlier_events);
    let _guard = tracing::subscriber::set_default(capture.clone());
    tracing::callsite::rebuild_interest_cache();

    let detector = OutlierDetector::builder()
        .name("users")
        .consecutive_errors(NonZeroU32::new(2).unwrap())
        .build()
        .unwrap();
    let _peer = detector.layer(service_fn(|_: ()| async { Ok::<_, &str>(()) }));
    let mut bad = detector.endpoint(
        "users-2",
        service_fn(|_: ()| async { Err::<(), _>("down") }),
    );
    for _ in 0..2 {
        bad.ready().await.unwrap().call(()).await.unwrap_err();
    }
    // Not ready until the ejection ends, 30 s later.
    bad.ready().await.unwrap();

    let events = capture.events();
    let summary: Vec<(Level, String)> = events
        .iter()
        .map(|(level, fields)| {
            let text: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (*level, text.join(" "))
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Level::WARN,
                "message=outlier endpoint ejected detector=users endpoint=users-2 \
                 reason=consecutive_errors ejected_for_ms=30000 times_ejected=1"
                    .to_owned()
            ),
            (
                Level::INFO,
                "message=endpoint returned to the pool detector=users endpoint=users-2".to_owned()
            ),
        ]
    );
}
