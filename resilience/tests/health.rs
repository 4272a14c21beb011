//! `HealthRegistry` over real layers: a breaker, a bulkhead and limiters
//! report their state, and the registry combines them.
// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
// Test helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]
#![cfg(all(
    feature = "health",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "rate-limit"
))]

use std::convert::Infallible;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::bulkhead::{BulkheadHandle, BulkheadLayer};
use palisade_resilience::circuit_breaker::{
    CircuitBreakerHandle, CircuitBreakerLayer, SlidingWindow, State,
};
use palisade_resilience::health::{ComponentHealth, HealthRegistry, Status};
use palisade_resilience::rate_limit::error::RateLimited;
use palisade_resilience::rate_limit::{Quota, RateLimitHandle, RateLimitLayer};
use tokio::time;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_test::mock;

const WAIT: Duration = Duration::from_secs(10);

/// What the breaker's upstream does with a call.
#[derive(Debug, Clone, Copy)]
enum Call {
    Ok,
    Fail,
    /// Succeeds after this long.
    Slow(Duration),
}

/// A breaker that judges a window of four calls and opens at 50 % failures.
fn breaker() -> (
    impl Service<Call, Response = &'static str, Error = BoxError>,
    CircuitBreakerHandle,
) {
    let layer = CircuitBreakerLayer::builder()
        .name("payments")
        .sliding_window(SlidingWindow::count(4))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .permitted_calls_in_half_open(1)
        .wait_duration_in_open(WAIT)
        .build()
        .unwrap();
    let handle = layer.handle();
    let service = layer.layer(service_fn(|call: Call| async move {
        match call {
            Call::Ok => Ok("ok"),
            Call::Fail => Err("upstream failed"),
            Call::Slow(after) => {
                time::sleep(after).await;
                Ok("slow")
            }
        }
    }));
    (service, handle)
}

async fn send<S>(service: &mut S, call: Call) -> Result<&'static str, BoxError>
where
    S: Service<Call, Response = &'static str, Error = BoxError>,
{
    service.ready().await?.call(call).await
}

/// A limiter of one call per second.
fn limiter() -> (
    impl Service<u32, Response = u32, Error = BoxError> + Clone,
    RateLimitHandle,
) {
    let layer = RateLimitLayer::global(Quota::per_second(NonZeroU32::MIN));
    let handle = layer.handle();
    let service = layer.layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
    (service, handle)
}

/// A registry with a breaker, a one-permit bulkhead and a limiter.
fn registry(
    breaker: &CircuitBreakerHandle,
    bulkhead: &BulkheadHandle,
    limiter: &RateLimitHandle,
) -> HealthRegistry {
    let registry = HealthRegistry::new();
    registry.register("payments", breaker.clone());
    registry.register("workers", bulkhead.clone());
    registry.register("api", limiter.clone());
    registry
}

fn component(registry: &HealthRegistry, name: &str) -> ComponentHealth {
    registry
        .check()
        .components
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no component {name}"))
        .health
}

#[tokio::test(start_paused = true)]
async fn healthy_components_make_a_healthy_registry_and_a_forced_open_breaker_an_unhealthy_one() {
    let (mut service, breaker) = breaker();
    let bulkhead = BulkheadLayer::new(NonZeroUsize::MIN);
    let (_, limiter) = limiter();
    let registry = registry(&breaker, &bulkhead.handle(), &limiter);
    assert_eq!(send(&mut service, Call::Ok).await.unwrap(), "ok");

    let report = registry.check();
    assert_eq!(report.status, Status::Healthy);
    assert_eq!(report.components.len(), 3);
    let payments = component(&registry, "payments");
    assert_eq!(payments.kind, "circuit_breaker");
    assert_eq!(payments.state, "closed");

    breaker.force_open();
    assert!(send(&mut service, Call::Ok).await.is_err());
    assert_eq!(registry.check().status, Status::Unhealthy);
    let payments = component(&registry, "payments");
    assert_eq!(payments.status, Status::Unhealthy);
    assert_eq!(payments.state, "forced_open");
    assert_eq!(payments.rejections, 1);

    breaker.reset();
    assert_eq!(registry.check().status, Status::Healthy);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_opened_by_failures_is_unhealthy_and_probing_it_is_degraded() {
    let (mut service, breaker) = breaker();
    let bulkhead = BulkheadLayer::new(NonZeroUsize::MIN);
    let (_, limiter) = limiter();
    let registry = registry(&breaker, &bulkhead.handle(), &limiter);

    for _ in 0..4 {
        let _ = send(&mut service, Call::Fail).await;
    }
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(registry.check().status, Status::Unhealthy);

    time::advance(WAIT).await;
    // One probe in flight: the breaker is HalfOpen until it completes.
    let probe = service
        .ready()
        .await
        .unwrap()
        .call(Call::Slow(Duration::from_secs(1)));
    assert_eq!(breaker.state(), State::HalfOpen);
    let report = registry.check();
    assert_eq!(report.status, Status::Degraded);
    assert_eq!(component(&registry, "payments").state, "half_open");

    assert_eq!(probe.await.unwrap(), "slow");
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(registry.check().status, Status::Healthy);
}

#[tokio::test(start_paused = true)]
async fn breaker_success_rate_is_100_minus_its_failure_rate() {
    let (mut service, breaker) = breaker();
    let registry = HealthRegistry::new();
    registry.register("payments", breaker.clone());
    assert_eq!(
        component(&registry, "payments").success_rate,
        None,
        "an empty window has no rate"
    );

    for call in [Call::Ok, Call::Ok, Call::Fail] {
        let _ = send(&mut service, call).await;
    }
    let snapshot = breaker.snapshot();
    let rate = component(&registry, "payments").success_rate.unwrap();
    assert!((rate - (100.0 - snapshot.failure_rate())).abs() < 1e-9);
    assert!(
        (rate - 200.0 / 3.0).abs() < 1e-9,
        "two of three succeeded: {rate}"
    );

    // A registry that wants 70 % sees the still-closed breaker as degraded.
    let strict = HealthRegistry::degraded_below(70.0).unwrap();
    strict.register("payments", breaker.clone());
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(strict.check().status, Status::Degraded);
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_degraded_until_its_permit_comes_back() {
    let (_, breaker) = breaker();
    let layer = BulkheadLayer::new(NonZeroUsize::MIN);
    let bulkhead = layer.handle();
    let (_, limiter) = limiter();
    let registry = registry(&breaker, &bulkhead, &limiter);
    let (mut service, mut upstream) = mock::spawn_layer::<&str, &str, _>(layer);

    assert!(service.poll_ready().is_ready());
    let call = service.call("slow");
    let (request, respond) = upstream.next_request().await.unwrap();
    assert_eq!(request, "slow");

    let workers = component(&registry, "workers");
    assert_eq!(workers.status, Status::Degraded);
    assert_eq!(workers.state, "full");
    assert_eq!(workers.in_flight, Some(1));
    assert_eq!(registry.check().status, Status::Degraded);

    respond.send_response("done");
    assert_eq!(call.await.unwrap(), "done");
    assert_eq!(registry.check().status, Status::Healthy);
    assert_eq!(component(&registry, "workers").in_flight, Some(0));
}

#[tokio::test(start_paused = true)]
async fn a_limiting_limiter_stays_healthy_and_counts_its_rejections() {
    let (_, breaker) = breaker();
    let bulkhead = BulkheadLayer::new(NonZeroUsize::MIN);
    let (service, limiter) = limiter();
    let registry = registry(&breaker, &bulkhead.handle(), &limiter);

    assert_eq!(service.clone().oneshot(1).await.unwrap(), 1);
    for n in 2..4 {
        let err = service.clone().oneshot(n).await.unwrap_err();
        assert!(err.downcast_ref::<RateLimited>().is_some(), "{err}");
    }

    assert_eq!(limiter.allowed_total(), 1);
    assert_eq!(limiter.limited_total(), 2);
    assert_eq!(limiter.backend_errors_total(), 0);
    assert!(limiter.backend_available());
    let api = component(&registry, "api");
    assert_eq!(api.kind, "rate_limiter");
    assert_eq!(api.status, Status::Healthy);
    assert_eq!(api.rejections, 2);
    assert_eq!(
        api.success_rate, None,
        "a limiter rejecting is doing its job"
    );
    assert_eq!(registry.check().status, Status::Healthy);

    // Services built later by the same layer count into the same handle.
    time::advance(Duration::from_secs(1)).await;
    assert_eq!(service.oneshot(9).await.unwrap(), 9);
    assert_eq!(limiter.allowed_total(), 2);
}

mod keyed {
    use super::*;
    use palisade_resilience::bulkhead::KeyedBulkheadHandle;
    use palisade_resilience::bulkhead::error::BulkheadFull;
    use palisade_resilience::circuit_breaker::KeyedCircuitBreakerHandle;

    type Request = (&'static str, bool);

    /// One call; its outcome shows in the breaker's counts.
    async fn hit<S>(service: &mut S, request: Request)
    where
        S: Service<Request, Response = &'static str, Error = BoxError>,
    {
        let _ = service.ready().await.unwrap().call(request).await;
    }

    #[tokio::test(start_paused = true)]
    async fn one_open_key_degrades_and_all_open_keys_fail_a_keyed_breaker() {
        let layer = CircuitBreakerLayer::builder()
            .name("hosts")
            .sliding_window(SlidingWindow::count(2))
            .minimum_calls(2)
            .failure_rate_threshold(60.0)
            .wait_duration_in_open(WAIT)
            .keyed(|request: &Request| Some(request.0.to_owned()))
            .max_keys(std::num::NonZeroUsize::new(16).unwrap())
            .build()
            .unwrap();
        let handles: KeyedCircuitBreakerHandle<String> = layer.handle();
        let registry = HealthRegistry::new();
        registry.register("hosts", handles.clone());
        let mut service = layer.layer(service_fn(|(_, fail): Request| async move {
            if fail { Err("down") } else { Ok("up") }
        }));
        assert_eq!(registry.check().status, Status::Healthy, "no key yet");
        hit(&mut service, ("a", false)).await;
        hit(&mut service, ("b", true)).await;
        hit(&mut service, ("b", true)).await;
        let hosts = component(&registry, "hosts");
        assert_eq!(hosts.status, Status::Degraded);
        assert_eq!(hosts.state, "1 of 2 keys not closed");

        hit(&mut service, ("a", true)).await;
        hit(&mut service, ("a", true)).await;
        hit(&mut service, ("b", false)).await;
        let hosts = component(&registry, "hosts");
        assert_eq!(hosts.status, Status::Unhealthy);
        assert_eq!(hosts.rejections, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_keyed_bulkhead_reports_in_flight_calls_over_its_partitions() {
        let layer = BulkheadLayer::builder()
            .max_concurrent(NonZeroUsize::MIN)
            .keyed(|request: &&'static str| Some(*request))
            .build()
            .unwrap();
        let handle: KeyedBulkheadHandle<&'static str> = layer.handle();
        let registry = HealthRegistry::new();
        registry.register("tenants", handle);
        let (mut service, mut upstream) = mock::spawn_layer::<&str, &str, _>(layer);

        assert!(service.poll_ready().is_ready());
        let first = service.call("a");
        assert!(service.poll_ready().is_ready());
        let second = service.call("b");
        assert!(service.poll_ready().is_ready());
        let err = service.call("a").await.unwrap_err();
        assert!(err.downcast_ref::<BulkheadFull>().is_some(), "{err}");
        let (_, respond_a) = upstream.next_request().await.unwrap();
        let (_, respond_b) = upstream.next_request().await.unwrap();

        let tenants = component(&registry, "tenants");
        assert_eq!(tenants.kind, "keyed_bulkhead");
        assert_eq!(tenants.in_flight, Some(2));
        assert_eq!(tenants.rejections, 1);
        assert_eq!(tenants.status, Status::Degraded);
        assert_eq!(tenants.state, "2 of 2 partitions full");

        respond_a.send_response("a");
        assert_eq!(first.await.unwrap(), "a");
        let tenants = component(&registry, "tenants");
        assert_eq!(tenants.status, Status::Degraded, "b is still full");
        assert_eq!(tenants.state, "1 of 2 partitions full");
        respond_b.send_response("b");
        assert_eq!(second.await.unwrap(), "b");
        let tenants = component(&registry, "tenants");
        assert_eq!(tenants.in_flight, Some(0));
        assert_eq!(tenants.status, Status::Healthy);
    }
}

#[cfg(feature = "redis")]
#[path = "services/redis.rs"]
mod services;

#[cfg(feature = "redis")]
mod redis_backend {
    use super::*;
    use palisade_resilience::rate_limit::redis::{
        FailurePolicy, RedisRateLimitLayer, lazy_connection,
    };
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn a_limiter_whose_redis_is_unreachable_is_degraded() {
        // A port nobody listens on: connections are refused at once.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let conn = lazy_connection(
            &format!("redis://127.0.0.1:{port}"),
            Duration::from_millis(200),
        )
        .unwrap();
        let layer = RedisRateLimitLayer::builder(
            conn,
            Quota::per_second(NonZeroU32::new(10).unwrap()),
            |_: &u32| Some("tenant"),
        )
        .timeout(Duration::from_millis(200))
        .failure_policy(FailurePolicy::FailOpen)
        .build()
        .unwrap();
        let handle = layer.handle();
        let registry = HealthRegistry::new();
        registry.register("shared-api", handle.clone());
        assert_eq!(registry.check().status, Status::Healthy, "no call yet");

        let service = layer.layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
        let answer = time::timeout(Duration::from_secs(5), service.oneshot(7))
            .await
            .expect("the call hung");
        assert_eq!(answer.unwrap(), 7, "fail-open admits the call");

        assert_eq!(handle.backend_errors_total(), 1);
        assert!(!handle.backend_available());
        assert_eq!(handle.allowed_total(), 0, "Redis did not decide the call");
        let shared = component(&registry, "shared-api");
        assert_eq!(shared.status, Status::Degraded);
        assert_eq!(shared.state, "backend_unavailable");
        assert_eq!(registry.check().status, Status::Degraded);
    }

    /// Copies bytes from `from` to `to` until either side closes (without
    /// tokio's `io-util`, which this crate does not enable).
    async fn pump(from: OwnedReadHalf, to: OwnedWriteHalf) {
        let mut buf = vec![0; 16 * 1024];
        loop {
            if from.readable().await.is_err() {
                return;
            }
            let n = match from.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            };
            let mut sent = 0;
            while sent < n {
                if to.writable().await.is_err() {
                    return;
                }
                match to.try_write(&buf[sent..n]) {
                    Ok(written) => sent += written,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    }

    /// Forwards every connection accepted on `listener` to `target`.
    async fn proxy(listener: TcpListener, target: String) {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target.as_str()).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write));
            tokio::spawn(pump(server_read, client_write));
        }
    }

    #[tokio::test]
    async fn a_limiter_is_healthy_again_once_redis_answers() {
        let Some(url) =
            services::redis_url("redis_backend::a_limiter_is_healthy_again_once_redis_answers")
                .await
        else {
            return;
        };
        let redis = services::tcp_addr(&url);
        // Nothing listens on `port` at first; later a proxy to Redis does.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let conn = lazy_connection(
            &format!("redis://127.0.0.1:{port}"),
            Duration::from_millis(500),
        )
        .unwrap();
        let prefix = format!("palisade-test:health:{}:{port}:", std::process::id());
        let layer =
            RedisRateLimitLayer::builder(conn, Quota::per_second(NonZeroU32::MIN), |_: &u32| {
                Some("tenant")
            })
            .prefix(prefix)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let handle = layer.handle();
        let registry = HealthRegistry::new();
        registry.register("shared-api", handle.clone());
        let service = layer.layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
        let call = |n: u32| {
            let service = service.clone();
            async move {
                time::timeout(Duration::from_secs(5), service.oneshot(n))
                    .await
                    .expect("the call hung")
            }
        };

        assert_eq!(call(1).await.unwrap(), 1, "fail-open admits the call");
        assert_eq!(registry.check().status, Status::Degraded);

        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        tokio::spawn(proxy(listener, redis));
        // The connection manager reconnects on a later call; bounded.
        let mut attempts = 0;
        while !handle.backend_available() {
            attempts += 1;
            assert!(attempts <= 20, "the limiter never reached Redis");
            let _ = call(attempts + 1).await;
        }
        assert_eq!(handle.allowed_total(), 1, "Redis decided one call");
        assert_eq!(registry.check().status, Status::Healthy);

        // Redis now decides: the bucket of one call is empty.
        let err = call(100).await.unwrap_err();
        assert!(err.downcast_ref::<RateLimited>().is_some(), "{err}");
        assert_eq!(handle.limited_total(), 1);
        let shared = component(&registry, "shared-api");
        assert_eq!((shared.status, shared.rejections), (Status::Healthy, 1));
    }
}
