//! Linear backoff: retries are spaced by `base`, `2·base`, … up to `cap`.
#![cfg(feature = "retry")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test(start_paused = true)]
async fn retries_are_spaced_linearly_up_to_the_cap() {
    let start = Instant::now();
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&attempts);
    let layer = RetryLayer::builder()
        .max_attempts(5)
        .backoff(
            Backoff::linear(Duration::from_millis(100), Duration::from_millis(250))
                .jitter(Jitter::None),
        )
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(move |()| {
        seen.lock().unwrap().push(start.elapsed());
        async { Err::<(), BoxError>("unavailable".into()) }
    }));
    svc.oneshot(()).await.unwrap_err();
    // Waits of 100, 200, 250 (capped), 250 ms.
    assert_eq!(
        *attempts.lock().unwrap(),
        [0, 100, 300, 550, 800].map(Duration::from_millis)
    );
}

#[test]
fn full_jitter_stays_below_the_linear_ceiling() {
    let backoff = Backoff::linear(Duration::from_millis(10), Duration::from_secs(1));
    assert!(backoff.is_linear());
    for (n, delay) in (1u32..).zip(backoff.delays(7).take(50)) {
        assert!(delay <= backoff.ceiling(n), "retry {n}: {delay:?}");
        assert!(backoff.ceiling(n) <= Duration::from_millis(10) * n);
    }
}
