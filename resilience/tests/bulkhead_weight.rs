//! Weighted bulkhead permits: a call takes what it weighs; one heavier than
//! the whole bulkhead is refused at once instead of waiting for ever.
#![cfg(feature = "bulkhead")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::bulkhead::error::{BulkheadFull, Reason};
use tower::{Layer, ServiceExt, service_fn};

/// A call of `weight` permits lasting `secs` seconds.
#[derive(Clone, Copy)]
struct Job {
    weight: u32,
    secs: u64,
}

fn reason(err: &BoxError) -> Reason {
    err.downcast_ref::<BulkheadFull>().unwrap().reason()
}

#[tokio::test(start_paused = true)]
async fn heavy_calls_take_several_permits_and_queue_for_them() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::new(4).unwrap())
        .max_waiters(4)
        .max_wait(Duration::from_secs(10))
        .weight(|job: &Job| job.weight)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|job: Job| async move {
        tokio::time::sleep(Duration::from_secs(job.secs)).await;
        Ok::<_, BoxError>(job.weight)
    }));

    let heavy = tokio::spawn(svc.clone().oneshot(Job { weight: 3, secs: 2 }));
    tokio::task::yield_now().await;
    assert_eq!((handle.in_flight(), handle.available()), (3, 1));

    // Two permits are not free: it waits for the heavy call to end.
    let started = tokio::time::Instant::now();
    let second = tokio::spawn(svc.clone().oneshot(Job { weight: 2, secs: 1 }));
    tokio::task::yield_now().await;
    assert_eq!(handle.waiting(), 1);
    assert_eq!(heavy.await.unwrap().unwrap(), 3);
    assert_eq!(second.await.unwrap().unwrap(), 2);
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(handle.available(), 4);

    // Weight 0 counts as one permit.
    let zero = tokio::spawn(svc.clone().oneshot(Job { weight: 0, secs: 1 }));
    tokio::task::yield_now().await;
    assert_eq!(handle.in_flight(), 1);
    zero.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_call_heavier_than_the_bulkhead_is_refused_at_once() {
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::new(4).unwrap())
        .max_waiters(8)
        .max_wait(Duration::from_secs(60))
        .weight(|job: &Job| job.weight)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|job: Job| async move {
        Ok::<_, BoxError>(job.weight)
    }));

    // Free, but never enough.
    let started = tokio::time::Instant::now();
    let err = svc
        .clone()
        .oneshot(Job { weight: 5, secs: 0 })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), Reason::TooHeavy { weight: 5 });
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(
        err.to_string(),
        "bulkhead full: a call of weight 5 exceeds the 4 permits there are"
    );
    assert_eq!(handle.rejected_total(), 1);
    // Exactly the capacity passes.
    assert_eq!(svc.oneshot(Job { weight: 4, secs: 0 }).await.unwrap(), 4);
}

#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn the_weight_extension_weighs_http_requests() {
    use std::num::NonZeroU32;

    use palisade_resilience::weight::{FromExtension, Weight};

    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::new(2).unwrap())
        .weight(FromExtension)
        .build()
        .unwrap();
    let svc = layer.layer(service_fn(|_req: http::Request<()>| async {
        Ok::<_, BoxError>("ok")
    }));

    assert_eq!(
        svc.clone().oneshot(http::Request::new(())).await.unwrap(),
        "ok"
    );
    let mut heavy = http::Request::new(());
    heavy
        .extensions_mut()
        .insert(Weight(NonZeroU32::new(3).unwrap()));
    let err = svc.oneshot(heavy).await.unwrap_err();
    assert_eq!(reason(&err), Reason::TooHeavy { weight: 3 });
}
