//! `OutlierDetector`: consecutive-error and success-rate ejection, the cap,
//! growing ejections, and a `p2c::Balance` that stops sending to a bad
//! endpoint.
#![cfg(feature = "outlier")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Waker};
use std::time::Duration;

use palisade_resilience::outlier::{Endpoint, OutlierDetector};
use palisade_resilience::{BoxError, ConfigError};
use tokio::time::Instant;
use tower::balance::p2c::Balance;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequestsDiscover};
use tower::{Layer, Service, ServiceExt};

/// A replica whose calls fail while `failing` is set, counting its calls.
#[derive(Clone, Default)]
struct Replica {
    failing: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl Replica {
    fn failing() -> Self {
        let replica = Self::default();
        replica.failing.store(true, Ordering::SeqCst);
        replica
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<u32> for Replica {
    type Response = u32;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u32, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, n: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if self.failing.load(Ordering::SeqCst) {
            Err("replica failed".into())
        } else {
            Ok(n)
        })
    }
}

fn is_ready<S: Service<u32>>(svc: &mut S) -> bool {
    svc.poll_ready(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

#[tokio::test(start_paused = true)]
async fn consecutive_errors_eject_an_endpoint_for_a_growing_time() {
    let detector = OutlierDetector::builder()
        .consecutive_errors(NonZeroU32::new(3).unwrap())
        .no_success_rate()
        .interval(Duration::from_secs(10))
        .base_ejection_time(Duration::from_secs(30))
        .max_ejection_time(Duration::from_secs(75))
        .build()
        .unwrap();
    let handle = detector.handle();
    let bad = Replica::failing();
    let mut endpoint = detector.endpoint("bad", bad.clone());
    let _peer = detector.endpoint("good", Replica::default());

    // Two errors in a row are not enough; a success breaks the run.
    for _ in 0..2 {
        endpoint.ready().await.unwrap().call(0).await.unwrap_err();
    }
    bad.fail(false);
    endpoint.ready().await.unwrap().call(0).await.unwrap();
    bad.fail(true);
    for _ in 0..2 {
        endpoint.ready().await.unwrap().call(0).await.unwrap_err();
    }
    assert!(is_ready(&mut endpoint));
    assert_eq!(handle.ejections(), 0);

    // The third error in a row ejects it: not ready for the base time.
    endpoint.ready().await.unwrap().call(0).await.unwrap_err();
    assert_eq!(handle.ejected(), ["bad"]);
    assert!(endpoint.is_ejected());
    assert!(!is_ready(&mut endpoint));
    tokio::time::advance(Duration::from_millis(29_999)).await;
    assert!(!is_ready(&mut endpoint));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(is_ready(&mut endpoint));
    assert!(handle.ejected().is_empty());

    // Ejected again at once: twice the base time, then capped at 75 s.
    for expected in [60, 75] {
        for _ in 0..3 {
            endpoint.ready().await.unwrap().call(0).await.unwrap_err();
        }
        let start = Instant::now();
        endpoint.ready().await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(expected));
    }
    assert_eq!(handle.ejections(), 3);
    assert_eq!(bad.calls(), 2 + 1 + 3 + 3 + 3);

    // Each base time (30 s) back in the pool forgives one ejection: after
    // 90 s of good calls the next ejection lasts the base time again.
    bad.fail(false);
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(10)).await;
        endpoint.ready().await.unwrap().call(0).await.unwrap();
    }
    bad.fail(true);
    for _ in 0..3 {
        endpoint.ready().await.unwrap().call(0).await.unwrap_err();
    }
    let start = Instant::now();
    endpoint.ready().await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

/// `calls` calls to `endpoint`, of which every `fail_every`th fails.
async fn traffic<C>(
    endpoint: &mut Endpoint<Replica, C>,
    replica: &Replica,
    calls: usize,
    fail_every: usize,
) where
    C: palisade_resilience::classify::Classify<u32, BoxError> + Clone,
{
    for i in 0..calls {
        replica.fail(fail_every != 0 && i % fail_every == 0);
        let _ = endpoint.ready().await.unwrap().call(0).await;
    }
    replica.fail(false);
}

#[tokio::test(start_paused = true)]
async fn a_success_rate_far_below_the_peers_ejects_the_outlier() {
    let detector = OutlierDetector::builder()
        .no_consecutive_errors()
        .success_rate(5, 100, 1.9)
        .interval(Duration::from_secs(10))
        .build()
        .unwrap();
    let handle = detector.handle();
    let replicas: Vec<Replica> = (0..6).map(|_| Replica::default()).collect();
    let mut endpoints: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| detector.endpoint(format!("r{i}"), r.clone()))
        .collect();

    // r0..r3 fail 1 call in 100, r4 fails 1 in 2 and r5 1 in 3, but r5 makes
    // only 99 calls: too few to be judged.
    for i in 0..4 {
        traffic(&mut endpoints[i], &replicas[i], 100, 100).await;
    }
    traffic(&mut endpoints[4], &replicas[4], 100, 2).await;
    traffic(&mut endpoints[5], &replicas[5], 99, 3).await;
    assert_eq!(
        handle.ejections(),
        0,
        "judged only at the end of the interval"
    );

    // The first call after the interval judges it: rates 99, 99, 99, 99, 50
    // (mean 89.2, stdev 19.6): only r4 is under 89.2 − 1.9 × 19.6.
    tokio::time::advance(Duration::from_secs(10)).await;
    endpoints[0].ready().await.unwrap().call(0).await.unwrap();
    assert_eq!(handle.ejected(), ["r4"]);
    assert!(!is_ready(&mut endpoints[4]));
    assert!(is_ready(&mut endpoints[5]));
}

#[tokio::test(start_paused = true)]
async fn an_evenly_failing_pool_or_too_few_busy_endpoints_eject_no_one() {
    let detector = OutlierDetector::builder()
        .no_consecutive_errors()
        .success_rate(3, 50, 1.9)
        .build()
        .unwrap();
    let handle = detector.handle();
    let replicas: Vec<Replica> = (0..4).map(|_| Replica::default()).collect();
    let mut endpoints: Vec<_> = replicas.iter().map(|r| detector.layer(r.clone())).collect();
    // Every endpoint fails half of its calls: no outlier.
    for (endpoint, replica) in endpoints.iter_mut().zip(&replicas) {
        traffic(endpoint, replica, 50, 2).await;
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    endpoints[0].ready().await.unwrap().call(0).await.unwrap();
    assert_eq!(handle.ejections(), 0);

    // Counters start afresh each interval. Only two endpoints are busy
    // enough, one of them failing every call: fewer than the 3 needed.
    traffic(&mut endpoints[0], &replicas[0], 50, 0).await;
    traffic(&mut endpoints[1], &replicas[1], 50, 1).await;
    traffic(&mut endpoints[2], &replicas[2], 49, 0).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    endpoints[0].ready().await.unwrap().call(0).await.unwrap();
    assert_eq!(handle.ejections(), 0);
}

#[tokio::test(start_paused = true)]
async fn never_more_than_the_maximum_percentage_nor_the_last_endpoint() {
    let build = |percent| {
        OutlierDetector::builder()
            .consecutive_errors(NonZeroU32::MIN)
            .max_ejection_percent(percent)
            .build()
            .unwrap()
    };
    // Five endpoints all failing, at most 40 %: two are ejected.
    let detector = build(40);
    let handle = detector.handle();
    let mut endpoints: Vec<_> = (0..5).map(|_| detector.layer(Replica::failing())).collect();
    for endpoint in &mut endpoints {
        if is_ready(endpoint) {
            endpoint.call(0).await.unwrap_err();
        }
    }
    assert_eq!(handle.ejected(), ["#0", "#1"]);
    assert_eq!((handle.ejected_count(), handle.endpoints()), (2, 5));
    let ready = endpoints.iter_mut().map(is_ready).filter(|r| *r).count();
    assert_eq!(ready, 3);

    // At 100 %, one endpoint of two stays.
    let detector = build(100);
    let handle = detector.handle();
    let mut endpoints: Vec<_> = (0..2).map(|_| detector.layer(Replica::failing())).collect();
    for _ in 0..3 {
        for endpoint in &mut endpoints {
            if is_ready(endpoint) {
                endpoint.call(0).await.unwrap_err();
            }
        }
    }
    assert_eq!(handle.ejected(), ["#0"]);

    // A dropped endpoint leaves the pool: the cap follows.
    drop(endpoints.remove(0));
    assert_eq!(handle.ejected(), Vec::<String>::new());
    assert_eq!(handle.endpoints(), 1);
}

#[tokio::test(start_paused = true)]
async fn over_p2c_a_bad_endpoint_stops_receiving_traffic_until_its_ejection_ends() {
    let detector = OutlierDetector::builder()
        .consecutive_errors(NonZeroU32::new(5).unwrap())
        .base_ejection_time(Duration::from_secs(30))
        .build()
        .unwrap();
    let handle = detector.handle();
    let replicas: Vec<Replica> = (0..4).map(|_| Replica::default()).collect();
    replicas[3].fail(true);
    let discover = PendingRequestsDiscover::new(
        detector.discover(ServiceList::new(replicas.clone())),
        CompleteOnResponse::default(),
    );
    let mut balance = Balance::new(discover);

    let mut errors = 0;
    for _ in 0..1_000 {
        if balance.ready().await.unwrap().call(0).await.is_err() {
            errors += 1;
        }
    }
    // Five errors in a row, then no more traffic: ServiceList keys are indexes.
    assert_eq!(errors, 5);
    assert_eq!(replicas[3].calls(), 5);
    assert_eq!(handle.ejected(), ["3"]);
    let served: usize = replicas[..3].iter().map(Replica::calls).sum();
    assert_eq!(served, 995);

    // Once its 30 s are over it is tried again, fails, and is out for 60 s.
    tokio::time::advance(Duration::from_secs(30)).await;
    let mut errors = 0;
    for _ in 0..1_000 {
        if balance.ready().await.unwrap().call(0).await.is_err() {
            errors += 1;
        }
    }
    assert_eq!(errors, 5);
    assert_eq!(replicas[3].calls(), 10);
    tokio::time::advance(Duration::from_secs(59)).await;
    for _ in 0..1_000 {
        balance.ready().await.unwrap().call(0).await.unwrap();
    }
    assert_eq!(replicas[3].calls(), 10);
}

#[cfg(feature = "health")]
#[tokio::test(start_paused = true)]
async fn the_health_report_is_degraded_while_an_endpoint_is_ejected() {
    use palisade_resilience::health::{HealthRegistry, Status};

    let detector = OutlierDetector::builder()
        .consecutive_errors(NonZeroU32::MIN)
        .build()
        .unwrap();
    let registry = HealthRegistry::new();
    registry.register("upstreams", detector.handle());
    let mut endpoints: Vec<_> = (0..3).map(|_| detector.layer(Replica::failing())).collect();
    assert_eq!(registry.check().status, Status::Healthy);

    endpoints[0]
        .ready()
        .await
        .unwrap()
        .call(0)
        .await
        .unwrap_err();
    let report = registry.check();
    assert_eq!(report.status, Status::Degraded);
    assert_eq!(
        report.components[0].health.state,
        "1 of 3 endpoints ejected"
    );

    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(registry.check().status, Status::Healthy);
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn ejections_are_counted_and_the_ejected_gauge_follows() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let detector = OutlierDetector::builder()
        .name("users")
        .consecutive_errors(NonZeroU32::MIN)
        .build()
        .unwrap();
    let mut endpoints: Vec<_> = (0..2).map(|_| detector.layer(Replica::failing())).collect();
    endpoints[0].ready().await.unwrap();
    let call = endpoints[0].call(0);
    metrics::with_local_recorder(&recorder, || {
        let mut cx = Context::from_waker(Waker::noop());
        let mut call = std::pin::pin!(call);
        assert!(call.as_mut().poll(&mut cx).is_ready());
    });

    let metrics: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key().clone();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    assert!(
        metrics.contains(&(
            "palisade_outlier_ejections_total".to_owned(),
            vec![
                "name=users".to_owned(),
                "reason=consecutive_errors".to_owned()
            ],
            DebugValue::Counter(1)
        )),
        "{metrics:?}"
    );
    assert!(
        metrics.contains(&(
            "palisade_outlier_ejected".to_owned(),
            vec!["name=users".to_owned()],
            DebugValue::Gauge(1.0.into())
        )),
        "{metrics:?}"
    );
}

#[test]
fn bad_settings_are_reported() {
    let err = |builder: palisade_resilience::outlier::OutlierDetectorBuilder| {
        builder.build().unwrap_err()
    };
    let base = OutlierDetector::builder;
    assert_eq!(
        err(base().interval(Duration::ZERO)),
        ConfigError::Zero { field: "interval" }
    );
    assert_eq!(
        err(base().base_ejection_time(Duration::ZERO)),
        ConfigError::Zero {
            field: "base_ejection_time"
        }
    );
    assert_eq!(
        err(base().max_ejection_time(Duration::from_secs(1))),
        ConfigError::Inverted {
            lower: "base_ejection_time",
            upper: "max_ejection_time"
        }
    );
    assert!(matches!(
        err(base().max_ejection_percent(101)),
        ConfigError::OutOfRange {
            field: "max_ejection_percent",
            ..
        }
    ));
    assert_eq!(
        err(base().success_rate(0, 100, 1.9)),
        ConfigError::Zero {
            field: "minimum_hosts"
        }
    );
    assert_eq!(
        err(base().success_rate(5, 100, f64::NAN)),
        ConfigError::NotFinite {
            field: "stdev_factor"
        }
    );
}
