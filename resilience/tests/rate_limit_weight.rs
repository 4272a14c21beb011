//! Weighted rate limiting: a call takes the cells it weighs; one heavier
//! than the burst is refused at once, never told to wait.
#![cfg(feature = "rate-limit")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::rate_limit::error::{ExceedsBurst, RateLimited};
use palisade_resilience::rate_limit::{Global, Quota, RateLimitLayer};
use tower::{Layer, ServiceExt, service_fn};

/// A limiter whose calls weigh their value.
type ByValue = RateLimitLayer<Global<fn(&u32) -> u32>>;

/// 10 cells a second (one every 100 ms), burst 10; a call weighs its value.
fn limited() -> (
    ByValue,
    impl tower::Service<u32, Response = u32, Error = BoxError> + Clone,
) {
    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let weigh: fn(&u32) -> u32 = |cost| *cost;
    let layer = RateLimitLayer::new(Global::new(quota).weight(weigh));
    let svc = layer.layer(service_fn(
        |cost: u32| async move { Ok::<_, BoxError>(cost) },
    ));
    (layer, svc)
}

#[tokio::test(start_paused = true)]
async fn a_heavy_call_takes_its_weight_and_the_next_waits_for_the_cells() {
    let (layer, svc) = limited();
    assert_eq!(svc.clone().oneshot(7).await.unwrap(), 7);
    assert_eq!(svc.clone().oneshot(3).await.unwrap(), 3);

    // Empty: four cells take 400 ms to come back.
    let err = svc.clone().oneshot(4).await.unwrap_err();
    let limited = err.downcast_ref::<RateLimited>().unwrap();
    assert_eq!(limited.retry_after(), Duration::from_millis(400));

    tokio::time::advance(Duration::from_millis(300)).await;
    assert!(
        svc.clone()
            .oneshot(4)
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(svc.clone().oneshot(4).await.unwrap(), 4);
    assert_eq!(layer.handle().allowed_total(), 3);
    assert_eq!(layer.handle().limited_total(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_call_heavier_than_the_burst_is_refused_at_once() {
    let (layer, svc) = limited();
    let err = svc.clone().oneshot(11).await.unwrap_err();
    let heavy = err.downcast_ref::<ExceedsBurst>().unwrap();
    assert_eq!((heavy.weight(), heavy.burst()), (11, 10));
    assert!(
        palisade_resilience::rejection::find(&*err).is_none(),
        "waiting cannot help"
    );
    assert_eq!(layer.handle().limited_total(), 1);
    // It took nothing: the whole burst is still there.
    assert_eq!(svc.clone().oneshot(10).await.unwrap(), 10);
    // Weight 0 costs one cell, like any call.
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(svc.clone().oneshot(0).await.unwrap(), 0);
    assert!(svc.oneshot(0).await.unwrap_err().is::<RateLimited>());
}

#[cfg(feature = "axum")]
#[tokio::test(start_paused = true)]
async fn too_costly_is_a_400_problem_at_the_edge() {
    let (_layer, svc) = limited();
    let err = svc.oneshot(50).await.unwrap_err();
    let problem = palisade_resilience::edge::problem_for(&*err);
    assert_eq!(problem.status(), http::StatusCode::BAD_REQUEST);
    assert_eq!(problem.code(), Some("exceeds_burst"));
}
