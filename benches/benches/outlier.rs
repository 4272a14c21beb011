//! Outlier ejection's per-call cost, all endpoints healthy (nothing ejected):
//!
//! - `outlier_endpoint`: one endpoint alone, the wrapper's own cost;
//!   palisade's `Endpoint` vs tower-resilience 0.13's `outlier`
//!   (`OutlierDetectionLayer` in backpressure mode, which like ours makes an
//!   ejected endpoint not ready).
//! - `outlier_p2c_4`: `tower::balance::p2c::Balance` over 4 endpoints
//!   (`PendingRequestsDiscover` for the load), the plain pool vs the same
//!   pool with each endpoint wrapped. tower has no outlier detection.
//!
//! Allocations per call are printed before each measurement.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_benches::{Noop, bench_service, current_thread};
use palisade_resilience::outlier::OutlierDetector;
use tower::Layer;
use tower::balance::p2c::Balance;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PendingRequestsDiscover};
use tower_resilience::outlier::{OutlierDetectionLayer, OutlierDetector as PeerDetector};

/// Endpoints in the balanced pool.
const POOL: usize = 4;

fn ours() -> OutlierDetector {
    OutlierDetector::builder().build().expect("valid settings")
}

/// A tower-resilience layer for endpoint `name` of `detector`, with its
/// default of 5 consecutive errors, as ours.
fn peer_layer(detector: &PeerDetector, name: &str) -> OutlierDetectionLayer {
    detector.register(name, 5);
    OutlierDetectionLayer::builder()
        .detector(detector.clone())
        .instance_name(name)
        .backpressure()
        .build()
        .expect("valid settings")
}

fn balanced<S>(endpoints: Vec<S>) -> Balance<PendingRequestsDiscover<ServiceList<Vec<S>>>, u64>
where
    S: tower::Service<u64>,
    S::Error: Into<palisade_resilience::BoxError>,
{
    Balance::new(PendingRequestsDiscover::new(
        ServiceList::new(endpoints),
        CompleteOnResponse::default(),
    ))
}

fn outlier_endpoint(c: &mut Criterion) {
    const GROUP: &str = "outlier_endpoint";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "no_layer", Noop);
    let detector = ours();
    let _peers: Vec<_> = (1..POOL).map(|_| detector.layer(Noop)).collect();
    bench_service(&mut group, GROUP, &rt, "palisade", detector.layer(Noop));
    let peer = PeerDetector::new().max_ejection_percent(50);
    for i in 1..POOL {
        let _ = peer_layer(&peer, &format!("endpoint-{i}"));
    }
    let layer = peer_layer(&peer, "endpoint-0");
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "tower_resilience",
        layer.layer(Noop),
    );
    group.finish();
}

fn outlier_p2c(c: &mut Criterion) {
    const GROUP: &str = "outlier_p2c_4";
    let rt = current_thread();
    let _guard = rt.enter();
    let mut group = c.benchmark_group(GROUP);
    bench_service(&mut group, GROUP, &rt, "p2c", balanced(vec![Noop; POOL]));
    let detector = ours();
    let endpoints = (0..POOL).map(|_| detector.layer(Noop)).collect();
    bench_service(&mut group, GROUP, &rt, "p2c_palisade", balanced(endpoints));
    let peer = PeerDetector::new().max_ejection_percent(50);
    let endpoints = (0..POOL)
        .map(|i| peer_layer(&peer, &format!("endpoint-{i}")).layer(Noop))
        .collect();
    bench_service(
        &mut group,
        GROUP,
        &rt,
        "p2c_tower_resilience",
        balanced(endpoints),
    );
    group.finish();
}

criterion_group!(benches, outlier_endpoint, outlier_p2c);
criterion_main!(benches);
