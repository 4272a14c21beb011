// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
#![cfg(feature = "rate-limit")]

use std::num::{NonZeroU32, NonZeroUsize};
use std::task::Poll;
use std::time::Duration;

use palisade_resilience::ConfigError;
use palisade_resilience::key::{MissingKey, PoolMissing};
use palisade_resilience::rate_limit::error::RateLimited;
use palisade_resilience::rate_limit::{Keyed, Quota, RateLimitLayer};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_test::mock;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a non-zero test value")
}

type Mock = mock::Handle<u32, u32>;

fn limited(err: &palisade_resilience::BoxError) -> &RateLimited {
    err.downcast_ref::<RateLimited>()
        .unwrap_or_else(|| panic!("expected RateLimited, got {err}"))
}

/// Drives one call through `svc` and, when the limiter lets it through,
/// answers it from the mock; returns the outcome and whether the inner
/// service saw the request.
async fn call<S>(
    svc: &mut mock::Spawn<S>,
    handle: &mut Mock,
    n: u32,
) -> Result<u32, palisade_resilience::BoxError>
where
    S: Service<u32, Response = u32, Error = palisade_resilience::BoxError>,
{
    assert!(matches!(svc.poll_ready(), Poll::Ready(Ok(()))));
    let fut = svc.call(n);
    match handle.poll_request() {
        Poll::Ready(Some((req, send))) => {
            assert_eq!(req, n);
            send.send_response(n * 10);
            fut.await
        }
        Poll::Ready(None) => panic!("mock closed"),
        Poll::Pending => {
            let result = fut.await;
            assert!(
                result.is_err(),
                "a call that reached no inner service succeeded"
            );
            result
        }
    }
}

#[tokio::test(start_paused = true)]
async fn global_admits_the_burst_then_one_per_interval() {
    // Burst 3, one cell every 500 ms.
    let quota = Quota::with_period(nz(2), Duration::from_secs(1))
        .and_then(|q| q.burst(nz(3)))
        .unwrap();
    let layer = RateLimitLayer::global(quota);
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(layer);

    for n in 1..=3 {
        assert_eq!(call(&mut svc, &mut handle, n).await.unwrap(), n * 10);
    }
    let err = call(&mut svc, &mut handle, 4).await.unwrap_err();
    assert_eq!(limited(&err).retry_after(), Duration::from_millis(500));

    // Part of the interval: still limited, the wait is what is left.
    advance(Duration::from_millis(200)).await;
    let err = call(&mut svc, &mut handle, 5).await.unwrap_err();
    assert_eq!(limited(&err).retry_after(), Duration::from_millis(300));

    // Exactly the rest of the interval: one more passes, a second does not.
    advance(Duration::from_millis(300)).await;
    assert_eq!(call(&mut svc, &mut handle, 6).await.unwrap(), 60);
    let err = call(&mut svc, &mut handle, 7).await.unwrap_err();
    assert_eq!(limited(&err).retry_after(), Duration::from_millis(500));

    // A long pause refills the burst, and no more than the burst.
    advance(Duration::from_secs(60)).await;
    for n in 8..=10 {
        assert_eq!(call(&mut svc, &mut handle, n).await.unwrap(), n * 10);
    }
    assert!(call(&mut svc, &mut handle, 11).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_limited_call_never_reaches_the_inner_service() {
    let layer = RateLimitLayer::global(Quota::per_minute(NonZeroU32::MIN));
    let (mut svc, mut handle) = mock::spawn_layer::<u32, u32, _>(layer);

    assert_eq!(call(&mut svc, &mut handle, 1).await.unwrap(), 10);
    for n in 2..10 {
        assert!(matches!(svc.poll_ready(), Poll::Ready(Ok(()))));
        let err = svc.call(n).await.unwrap_err();
        assert!(err.is::<RateLimited>());
        assert!(
            handle.poll_request().is_pending(),
            "request {n} reached the inner service"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_limit() {
    let layer = RateLimitLayer::global(Quota::per_minute(NonZeroU32::new(2).unwrap()));
    let svc = layer.layer(service_fn(|n: u32| async move {
        Ok::<_, std::convert::Infallible>(n)
    }));
    assert!(svc.clone().oneshot(1).await.is_ok());
    assert!(svc.clone().oneshot(2).await.is_ok());
    let err = svc.clone().oneshot(3).await.unwrap_err();
    assert_eq!(limited(&err).retry_after(), Duration::from_secs(30));
    // A second service built from the same layer shares the bucket too.
    let other = layer.layer(service_fn(|n: u32| async move {
        Ok::<_, std::convert::Infallible>(n)
    }));
    assert!(other.oneshot(4).await.is_err());
}

type Req = (&'static str, u32);

fn echo()
-> impl Service<Req, Response = u32, Error = std::convert::Infallible, Future: Send> + Clone {
    service_fn(|(_, n): Req| async move { Ok::<_, std::convert::Infallible>(n) })
}

#[tokio::test(start_paused = true)]
async fn keyed_buckets_are_isolated() {
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::new(2).unwrap()), |r: &Req| {
        Some(r.0)
    });
    let svc = layer.layer(echo());

    assert!(svc.clone().oneshot(("a", 1)).await.is_ok());
    assert!(svc.clone().oneshot(("a", 2)).await.is_ok());
    let err = svc.clone().oneshot(("a", 3)).await.unwrap_err();
    assert_eq!(limited(&err).retry_after(), Duration::from_secs(30));

    // Key A is exhausted; key B has its own full burst.
    assert_eq!(svc.clone().oneshot(("b", 4)).await.unwrap(), 4);
    assert_eq!(svc.clone().oneshot(("b", 5)).await.unwrap(), 5);
    assert!(svc.clone().oneshot(("b", 6)).await.is_err());
    assert_eq!(layer.policy().key_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn requests_without_a_key_are_refused_not_pooled() {
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), |r: &Req| {
        (!r.0.is_empty()).then_some(r.0)
    });
    let svc = layer.layer(echo());
    for n in 0..3 {
        let err = svc.clone().oneshot(("", n)).await.unwrap_err();
        assert!(err.is::<MissingKey>(), "{err}");
    }
    // Refusals are not rate-limit decisions: nothing was counted or limited.
    assert_eq!(layer.handle().limited_total(), 0);
    assert!(svc.clone().oneshot(("a", 3)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn pooling_keyless_requests_is_an_explicit_choice() {
    let layer = RateLimitLayer::keyed(
        Quota::per_minute(NonZeroU32::MIN),
        PoolMissing(|r: &Req| (!r.0.is_empty()).then_some(r.0)),
    );
    let svc = layer.layer(echo());
    assert!(svc.clone().oneshot(("", 1)).await.is_ok());
    assert!(
        limited(&svc.clone().oneshot(("", 2)).await.unwrap_err()).retry_after() > Duration::ZERO
    );
    assert!(svc.clone().oneshot(("a", 3)).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_key_map_stays_bounded_and_keeps_recent_keys() {
    // One call per second, burst 1, at most 64 keys.
    let layer = RateLimitLayer::builder(Quota::per_second(NonZeroU32::MIN))
        .keyed(|r: &(u32, u32)| Some(r.0))
        .max_keys(NonZeroUsize::new(64).unwrap())
        .build();
    let svc = layer.layer(service_fn(|(_, n): (u32, u32)| async move {
        Ok::<_, std::convert::Infallible>(n)
    }));
    svc.clone().oneshot((0, 0)).await.unwrap();
    for key in 1..10_000 {
        svc.clone().oneshot((key, key)).await.unwrap();
        // Key 0 is used after every new key, so it is never the least
        // recently used of the sampled keys. (Used only now and then, it
        // could be: the map is sharded, and a shard may take several new
        // keys in a row.)
        assert!(
            svc.clone().oneshot((0, key)).await.is_err(),
            "key 0 kept its empty bucket"
        );
        assert!(layer.policy().key_count() <= 64);
    }
    assert_eq!(layer.policy().key_count(), 64);
    assert_eq!(layer.policy().max_keys(), 64);
}

#[tokio::test(start_paused = true)]
async fn a_million_distinct_keys_keep_the_map_at_its_bound() {
    let max_keys = NonZeroUsize::new(10_000).unwrap();
    let policy = Keyed::new(Quota::per_second(nz(1)), |n: &u32| Some(*n), max_keys);
    for key in 0..1_000_000 {
        assert!(
            policy.check_key(&key).is_ok(),
            "a new key has a full bucket"
        );
    }
    assert_eq!(policy.key_count(), 10_000);
    // The newest keys are the ones kept: their buckets are still empty.
    assert!(policy.check_key(&999_999).is_err());
}

#[test]
fn only_interacting_quota_values_are_config_errors() {
    assert_eq!(
        Quota::with_period(nz(5), Duration::ZERO).unwrap_err(),
        ConfigError::Zero { field: "period" }
    );
    assert_eq!(
        Quota::with_period(nz(10), Duration::from_nanos(5)).unwrap_err(),
        ConfigError::Zero {
            field: "period / count"
        }
    );
    assert!(matches!(
        Quota::per_hour(nz(1)).burst(nz(u32::MAX)).unwrap_err(),
        ConfigError::OutOfRange { .. }
    ));
    // The presets never fail; a burst within a century is accepted.
    let quota = Quota::per_hour(nz(1)).burst(nz(24 * 365)).unwrap();
    assert_eq!(quota.burst_size(), 24 * 365);
    assert_eq!(quota.replenish_interval(), Duration::from_secs(3600));
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn limited_calls_are_counted_by_name() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let quota = Quota::per_minute(NonZeroU32::MIN);
    // Named through the builder, and on a layer around a ready-made policy.
    let built = RateLimitLayer::builder(quota).name("api").build();
    let wrapped =
        RateLimitLayer::new(palisade_resilience::rate_limit::Global::new(quota)).name("exports");
    let (mut api, mut exports) = (built.layer(echo()), wrapped.layer(echo()));
    metrics::with_local_recorder(&recorder, || {
        for n in 0..3 {
            drop(api.call(("x", n)));
        }
        for n in 0..2 {
            drop(exports.call(("x", n)));
        }
    });
    let mut counters: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "palisade_rate_limit_limited_total")
        .map(|(key, _, _, value)| {
            let name = key
                .key()
                .labels()
                .find(|l| l.key() == "name")
                .map(|l| l.value().to_owned());
            (name, value)
        })
        .collect();
    counters.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        counters,
        [
            (Some("api".to_owned()), DebugValue::Counter(2)),
            (Some("exports".to_owned()), DebugValue::Counter(1)),
        ]
    );
}

#[cfg(feature = "http")]
mod http_headers {
    use super::*;
    use http::{HeaderValue, Request, Response};
    use palisade_resilience::key::{HeaderKey, PeerIp};

    fn ok_service()
    -> impl Service<
        Request<()>,
        Response = Response<()>,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone {
        service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(()))
        })
    }

    fn header<'a>(map: &'a http::HeaderMap, name: &str) -> &'a str {
        map.get(name)
            .unwrap_or_else(|| panic!("missing {name}"))
            .to_str()
            .expect("a visible ASCII header value")
    }

    fn triple(map: &http::HeaderMap) -> (&str, &str, &str) {
        (
            header(map, "ratelimit-limit"),
            header(map, "ratelimit-remaining"),
            header(map, "ratelimit-reset"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn allowed_and_limited_responses_carry_exact_headers() {
        // Burst 3, one cell every 10 s.
        let layer =
            RateLimitLayer::http(Quota::with_period(nz(3), Duration::from_secs(30)).unwrap())
                .build();
        let svc = layer.layer(ok_service());

        let expected = [("3", "2", "10"), ("3", "1", "20"), ("3", "0", "30")];
        for want in expected {
            let res = svc.clone().oneshot(Request::new(())).await.unwrap();
            assert_eq!(triple(res.headers()), want);
        }

        let err = svc.clone().oneshot(Request::new(())).await.unwrap_err();
        let headers = limited(&err).headers();
        assert_eq!(header(&headers, "retry-after"), "10");
        assert_eq!(triple(&headers), ("3", "0", "30"));

        advance(Duration::from_secs(4)).await;
        let err = svc.clone().oneshot(Request::new(())).await.unwrap_err();
        let headers = limited(&err).headers();
        // 6 s to the next cell, 26 s to the whole burst.
        assert_eq!(header(&headers, "retry-after"), "6");
        assert_eq!(triple(&headers), ("3", "0", "26"));
        assert_eq!(limited(&err).retry_after(), Duration::from_secs(6));
        assert_eq!(limited(&err).info().reset(), Duration::from_secs(26));
    }

    #[tokio::test(start_paused = true)]
    async fn without_http_the_response_is_untouched() {
        let layer = RateLimitLayer::global(Quota::per_minute(NonZeroU32::new(5).unwrap()));
        let res = layer
            .layer(ok_service())
            .oneshot(Request::new(()))
            .await
            .unwrap();
        assert!(res.headers().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn api_key_header_keys_the_limit() {
        let layer = RateLimitLayer::http(Quota::per_minute(NonZeroU32::MIN))
            .keyed(HeaderKey::new(http::HeaderName::from_static("x-api-key")))
            .max_keys(NonZeroUsize::new(100).unwrap())
            .name("api")
            .build();
        assert_eq!(layer.policy().max_keys(), 100);
        let svc = layer.layer(ok_service());
        let req = |key: &'static str| {
            Request::builder()
                .header("x-api-key", HeaderValue::from_static(key))
                .body(())
                .unwrap()
        };
        let res = svc.clone().oneshot(req("k1")).await.unwrap();
        assert_eq!(triple(res.headers()), ("1", "0", "60"));
        assert!(svc.clone().oneshot(req("k1")).await.is_err());
        assert!(svc.clone().oneshot(req("k2")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn peer_ip_keys_the_limit() {
        let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), PeerIp);
        let svc = layer.layer(ok_service());
        let req = |addr: &str| {
            let mut r = Request::new(());
            r.extensions_mut()
                .insert(addr.parse::<std::net::SocketAddr>().unwrap());
            r
        };
        assert!(svc.clone().oneshot(req("10.0.0.1:5000")).await.is_ok());
        // Same IP, other port: same client.
        assert!(svc.clone().oneshot(req("10.0.0.1:6000")).await.is_err());
        assert!(svc.clone().oneshot(req("10.0.0.2:5000")).await.is_ok());
    }
}

mod model {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every decision, wait and remaining count matches a plain GCRA model
        /// (theoretical arrival time `tat`, tolerance `(burst - 1) × interval`).
        #[test]
        fn global_matches_the_gcra_model(
            burst in 1u32..8,
            interval_ms in 1u64..500,
            gaps_ms in prop::collection::vec(0u64..1_000, 1..40),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let quota = Quota::with_period(nz(1), Duration::from_millis(interval_ms))
                    .and_then(|q| q.burst(nz(burst)))
                    .unwrap();
                let layer = RateLimitLayer::global(quota);
                let (t, tau) = (interval_ms, interval_ms * u64::from(burst - 1));
                let (mut now, mut tat) = (0u64, 0u64);
                for gap in gaps_ms {
                    advance(Duration::from_millis(gap)).await;
                    now += gap;
                    let got = layer.policy().check_now();
                    let allow_at = tat.saturating_sub(tau);
                    if now < allow_at {
                        let err = got.expect_err("the model rejects");
                        assert_eq!(err.retry_after(), Duration::from_millis(allow_at - now));
                        assert_eq!(err.info().reset(), Duration::from_millis(tat - now));
                    } else {
                        tat = tat.max(now) + t;
                        let info = got.expect("the model admits");
                        assert_eq!(u64::from(info.remaining()), (now + tau + t - tat) / t);
                        assert_eq!(info.limit(), burst);
                    }
                }
            });
        }
    }
}
