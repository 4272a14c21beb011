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

/// The inner service: answers a call's cost.
fn echo_cost() -> impl tower::Service<u32, Response = u32, Error = BoxError> + Clone {
    service_fn(|cost: u32| async move { Ok::<_, BoxError>(cost) })
}

/// 10 cells a second (one every 100 ms), burst 10; a call weighs its value.
fn limited() -> (
    ByValue,
    impl tower::Service<u32, Response = u32, Error = BoxError> + Clone,
) {
    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let weigh: fn(&u32) -> u32 = |cost| *cost;
    let layer = RateLimitLayer::new(Global::new(quota).weight(weigh));
    let svc = layer.layer(echo_cost());
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

/// 10 cells a second per tenant, built through the builder; a call
/// `(tenant, cost)` weighs its cost.
fn keyed_by_tenant()
-> impl tower::Service<(&'static str, u32), Response = u32, Error = BoxError> + Clone {
    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let layer = RateLimitLayer::builder(quota)
        .keyed(|(tenant, _): &(&'static str, u32)| Some(*tenant))
        .weight(|(_, cost): &(&'static str, u32)| *cost)
        .name("exports")
        .build();
    layer.layer(service_fn(|(_, cost): (&'static str, u32)| async move {
        Ok::<_, BoxError>(cost)
    }))
}

#[tokio::test(start_paused = true)]
async fn a_keyed_limiter_charges_each_call_its_weight_in_its_own_bucket() {
    let svc = keyed_by_tenant();
    assert_eq!(svc.clone().oneshot(("acme", 8)).await.unwrap(), 8);
    // Two cells left for acme: a call of 3 waits for one more (100 ms).
    let err = svc.clone().oneshot(("acme", 3)).await.unwrap_err();
    let limited = err.downcast_ref::<RateLimited>().unwrap();
    assert_eq!(limited.retry_after(), Duration::from_millis(100));
    // Another tenant's bucket is untouched by acme's heavy call.
    assert_eq!(svc.clone().oneshot(("globex", 10)).await.unwrap(), 10);
    assert_eq!(svc.clone().oneshot(("acme", 2)).await.unwrap(), 2);
    tokio::time::advance(Duration::from_millis(300)).await;
    assert_eq!(svc.clone().oneshot(("acme", 3)).await.unwrap(), 3);
    // Heavier than any bucket holds: refused at once, and takes nothing.
    let err = svc.clone().oneshot(("initech", 11)).await.unwrap_err();
    let heavy = err.downcast_ref::<ExceedsBurst>().unwrap();
    assert_eq!((heavy.weight(), heavy.burst()), (11, 10));
    assert_eq!(svc.oneshot(("initech", 10)).await.unwrap(), 10);
}

#[tokio::test(start_paused = true)]
async fn the_builder_weighs_a_global_limiter_too() {
    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let layer = RateLimitLayer::builder(quota)
        .weight(|cost: &u32| *cost)
        .build();
    let svc = layer.layer(echo_cost());
    assert_eq!(svc.clone().oneshot(9).await.unwrap(), 9);
    assert!(
        svc.clone()
            .oneshot(2)
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
    assert_eq!(svc.oneshot(1).await.unwrap(), 1);
    assert_eq!(
        (
            layer.handle().allowed_total(),
            layer.handle().limited_total()
        ),
        (2, 1)
    );
}

#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn the_weight_extension_is_charged_per_key_with_the_headers_of_what_is_left() {
    use palisade_resilience::weight::{FromExtension, Weight};

    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let layer = RateLimitLayer::http(quota)
        .keyed(|req: &http::Request<()>| req.headers().get("x-tenant").cloned())
        .weight(FromExtension)
        .build();
    let svc = layer.layer(service_fn(|_: http::Request<()>| async move {
        Ok::<_, BoxError>(http::Response::new(()))
    }));
    let request = |tenant: &'static str, weight: u32| {
        let mut req = http::Request::builder()
            .header("x-tenant", tenant)
            .body(())
            .unwrap();
        if let Some(weight) = NonZeroU32::new(weight) {
            req.extensions_mut().insert(Weight(weight));
        }
        req
    };
    let response = svc.clone().oneshot(request("acme", 6)).await.unwrap();
    assert_eq!(response.headers()["ratelimit-remaining"], "4");
    // Without the extension a request costs one cell.
    let response = svc.clone().oneshot(request("acme", 0)).await.unwrap();
    assert_eq!(response.headers()["ratelimit-remaining"], "3");
    let response = svc.clone().oneshot(request("globex", 0)).await.unwrap();
    assert_eq!(response.headers()["ratelimit-remaining"], "9");
    assert!(
        svc.oneshot(request("acme", 4))
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
}

#[cfg(feature = "registry")]
#[tokio::test(start_paused = true)]
async fn a_tunable_rate_keeps_its_weights_across_a_new_quota() {
    use palisade_resilience::registry::{LayerConfig, Registry, TunableRate};

    let quota = Quota::per_second(NonZeroU32::new(10).unwrap());
    let layer = RateLimitLayer::new(TunableRate::new(quota).weight(|cost: &u32| *cost));
    let registry = Registry::new();
    registry.register_rate_limit("exports", &layer).unwrap();
    let svc = layer.layer(echo_cost());
    assert_eq!(svc.clone().oneshot(10).await.unwrap(), 10);
    assert!(
        svc.clone()
            .oneshot(1)
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );

    // A larger burst: the new bucket starts full, and weights still apply.
    let bigger = Quota::per_second(NonZeroU32::new(20).unwrap());
    registry
        .reconfigure("exports", LayerConfig::RateLimit(bigger))
        .unwrap();
    assert_eq!(svc.clone().oneshot(15).await.unwrap(), 15);
    assert!(
        svc.clone()
            .oneshot(6)
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
    let err = svc.oneshot(21).await.unwrap_err();
    assert_eq!(err.downcast_ref::<ExceedsBurst>().unwrap().burst(), 20);
}
