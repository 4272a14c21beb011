// `allow` first: a false crate-level `cfg` strips the attributes after it.
#![allow(missing_docs)]
// Test helpers outside `#[test]` functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]
#![cfg(feature = "redis")]

#[path = "services/redis.rs"]
mod services;

use std::convert::Infallible;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::rate_limit::Quota;
use palisade_resilience::rate_limit::error::{BackendUnavailable, ExceedsBurst, RateLimited};
use palisade_resilience::rate_limit::redis::{FailurePolicy, RedisRateLimitLayer, lazy_connection};
use redis::aio::ConnectionManager;
use tokio::time::timeout;
use tower::{Layer, Service, ServiceExt, service_fn};

/// Guards against a hang; not a timing assertion.
const HANG_GUARD: Duration = Duration::from_secs(5);
/// Generous for the functional tests, so a busy machine cannot turn a slow
/// answer into a fail-closed rejection.
const SLOW_OK: Duration = Duration::from_secs(2);

/// A key prefix no other test (or earlier run) uses.
fn fresh_prefix(test: &str) -> String {
    let random = std::hash::RandomState::new().build_hasher().finish();
    format!("palisade-test:{test}:{}:{random:x}:", std::process::id())
}

async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// An inner service that counts the calls reaching it.
fn counting() -> (
    impl Service<u32, Response = u32, Error = Infallible, Future: Send> + Clone,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let svc = service_fn(move |n: u32| {
        seen.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, Infallible>(n) }
    });
    (svc, calls)
}

fn shared_layer(
    conn: ConnectionManager,
    prefix: &str,
    quota: Quota,
) -> RedisRateLimitLayer<impl palisade_resilience::key::ExtractKey<u32, Key = &'static str> + use<>>
{
    RedisRateLimitLayer::builder(conn, quota, |_: &u32| Some("shared"))
        .prefix(prefix)
        .timeout(SLOW_OK)
        .failure_policy(FailurePolicy::FailClosed)
        .build()
        .unwrap()
}

async fn bounded<F: Future>(f: F) -> F::Output {
    timeout(HANG_GUARD, f).await.expect("the call hung")
}

#[tokio::test]
async fn two_instances_share_one_quota() {
    let Some(url) = services::redis_url("two_instances_share_one_quota").await else {
        return;
    };
    let prefix = fresh_prefix("shared");
    // Burst 10, one more every 6 minutes: real time cannot refill during the test.
    let quota = Quota::per_hour(NonZeroU32::new(10).unwrap());
    let a = shared_layer(lazy_connection(&url, SLOW_OK).unwrap(), &prefix, quota);
    let b = shared_layer(lazy_connection(&url, SLOW_OK).unwrap(), &prefix, quota);
    let (inner, calls) = counting();
    let (svc_a, svc_b) = (a.layer(inner.clone()), b.layer(inner));

    let mut admitted = 0;
    for n in 0..30 {
        let svc = if n % 2 == 0 {
            svc_a.clone()
        } else {
            svc_b.clone()
        };
        match bounded(svc.oneshot(n)).await {
            Ok(got) => {
                assert_eq!(got, n);
                admitted += 1;
            }
            Err(err) => {
                let limited = err
                    .downcast_ref::<RateLimited>()
                    .unwrap_or_else(|| panic!("expected RateLimited, got {err}"));
                assert!(limited.retry_after() > Duration::from_secs(300));
                assert!(limited.retry_after() <= Duration::from_secs(360));
            }
        }
    }
    assert_eq!(admitted, 10);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        10,
        "a limited call reached the inner service"
    );
}

#[tokio::test]
async fn weighted_calls_take_their_cells_from_the_shared_bucket() {
    let Some(url) =
        services::redis_url("weighted_calls_take_their_cells_from_the_shared_bucket").await
    else {
        return;
    };
    let prefix = fresh_prefix("weighted");
    // Burst 10, one more every 6 minutes: real time cannot refill during the test.
    let quota = Quota::per_hour(NonZeroU32::new(10).unwrap());
    let weighted = |conn| {
        RedisRateLimitLayer::builder(conn, quota, |_: &u32| Some("shared"))
            .prefix(&prefix)
            .timeout(SLOW_OK)
            .failure_policy(FailurePolicy::FailClosed)
            .weight(|cost: &u32| *cost)
            .build()
            .unwrap()
    };
    let a = weighted(lazy_connection(&url, SLOW_OK).unwrap());
    let b = weighted(lazy_connection(&url, SLOW_OK).unwrap());
    let (inner, calls) = counting();
    let (svc_a, svc_b) = (a.layer(inner.clone()), b.layer(inner));

    assert_eq!(bounded(svc_a.clone().oneshot(7)).await.unwrap(), 7);
    // Three cells are left for both instances: 4 must wait for one more,
    // about one interval (6 minutes), not four.
    let err = bounded(svc_b.clone().oneshot(4)).await.unwrap_err();
    let limited = err
        .downcast_ref::<RateLimited>()
        .unwrap_or_else(|| panic!("expected RateLimited, got {err}"));
    assert!(limited.retry_after() > Duration::from_secs(300));
    assert!(limited.retry_after() <= Duration::from_secs(360));
    // A refused weighted call takes nothing: the three cells are still there.
    assert_eq!(bounded(svc_b.clone().oneshot(3)).await.unwrap(), 3);
    assert!(
        bounded(svc_a.clone().oneshot(1))
            .await
            .unwrap_err()
            .is::<RateLimited>()
    );
    // Heavier than the burst: refused before any round trip.
    let err = bounded(svc_a.oneshot(11)).await.unwrap_err();
    let heavy = err.downcast_ref::<ExceedsBurst>().unwrap();
    assert_eq!((heavy.weight(), heavy.burst()), (11, 10));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a refused call reached the inner service"
    );
    assert_eq!(
        (a.handle().allowed_total(), a.handle().limited_total()),
        (1, 2)
    );
}

#[tokio::test]
async fn a_call_heavier_than_the_burst_never_asks_redis() {
    // Nothing listens here: any round trip would fail closed instead.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let conn = lazy_connection(&format!("redis://127.0.0.1:{port}"), SLOW_OK).unwrap();
    let layer = RedisRateLimitLayer::builder(
        conn,
        Quota::per_hour(NonZeroU32::new(10).unwrap()),
        |_: &u32| Some("k"),
    )
    .failure_policy(FailurePolicy::FailClosed)
    .weight(|cost: &u32| *cost)
    .build()
    .unwrap();
    let (inner, _) = counting();
    let svc = layer.layer(inner);
    let err = bounded(svc.clone().oneshot(11)).await.unwrap_err();
    assert!(err.is::<ExceedsBurst>(), "got {err}");
    let err = bounded(svc.oneshot(10)).await.unwrap_err();
    assert!(err.is::<BackendUnavailable>(), "got {err}");
    assert_eq!(layer.handle().backend_errors_total(), 1);
}

#[tokio::test]
async fn the_key_expires_by_itself() {
    let Some(url) = services::redis_url("the_key_expires_by_itself").await else {
        return;
    };
    let prefix = fresh_prefix("expiry");
    let layer = shared_layer(
        lazy_connection(&url, SLOW_OK).unwrap(),
        &prefix,
        Quota::per_hour(NonZeroU32::new(10).unwrap()),
    );
    let (inner, _) = counting();
    bounded(layer.layer(inner).oneshot(1)).await.unwrap();

    let key = layer.redis_key(&"shared");
    assert!(key.starts_with(prefix.as_bytes()));
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut admin(&url).await)
        .await
        .unwrap();
    // One call used one cell: the bucket is full again after one interval.
    assert!(pttl > 0, "no expiry on {key:?}: {pttl}");
    assert!(pttl <= 360_000, "expiry beyond one interval: {pttl}");
}

#[cfg(feature = "http")]
#[tokio::test]
async fn allowed_responses_carry_ratelimit_headers() {
    let Some(url) = services::redis_url("allowed_responses_carry_ratelimit_headers").await else {
        return;
    };
    let layer = RedisRateLimitLayer::http(
        lazy_connection(&url, SLOW_OK).unwrap(),
        Quota::per_hour(NonZeroU32::new(10).unwrap()),
        |_: &http::Request<()>| Some("client"),
    )
    .prefix(fresh_prefix("headers"))
    .timeout(SLOW_OK)
    .failure_policy(FailurePolicy::FailClosed)
    .build()
    .unwrap();
    let svc = layer.layer(service_fn(|_: http::Request<()>| async {
        Ok::<_, Infallible>(http::Response::new(()))
    }));
    let header =
        |res: &http::Response<()>, name: &str| res.headers()[name].to_str().unwrap().to_owned();
    // Interval 360 s; reset rounds up, so sub-second latency does not show.
    for (remaining, reset) in [("9", "360"), ("8", "720")] {
        let res = bounded(svc.clone().oneshot(http::Request::new(())))
            .await
            .unwrap();
        assert_eq!(header(&res, "ratelimit-limit"), "10");
        assert_eq!(header(&res, "ratelimit-remaining"), remaining);
        assert_eq!(header(&res, "ratelimit-reset"), reset);
    }
}

/// Asserts what each policy answers when Redis cannot decide.
async fn assert_policies(url: &str) {
    for policy in [FailurePolicy::FailOpen, FailurePolicy::FailClosed] {
        let conn = lazy_connection(url, Duration::from_millis(50)).unwrap();
        let layer =
            RedisRateLimitLayer::builder(conn, Quota::per_second(NonZeroU32::MIN), |_: &u32| {
                Some("k")
            })
            .timeout(Duration::from_millis(50))
            .failure_policy(policy)
            .build()
            .unwrap();
        let (inner, calls) = counting();
        let result = bounded(layer.layer(inner).oneshot(7)).await;
        match policy {
            FailurePolicy::FailOpen => {
                assert_eq!(result.unwrap(), 7);
                assert_eq!(calls.load(Ordering::SeqCst), 1);
            }
            _ => {
                let err = result.unwrap_err();
                assert!(err.is::<BackendUnavailable>(), "got {err}");
                assert_eq!(calls.load(Ordering::SeqCst), 0);
            }
        }
    }
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_timeout_and_the_policy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds every connection without ever writing a byte.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    assert_policies(&format!("redis://{addr}")).await;
    holder.abort();
}

#[tokio::test]
async fn a_refused_connection_answers_with_the_policy() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}");

    #[cfg(feature = "metrics")]
    {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        {
            // This test runs on one thread, so a thread-local recorder sees the futures.
            let _guard = metrics::set_default_local_recorder(&recorder);
            assert_policies(&url).await;
        }
        let errors: Vec<_> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, ..)| key.key().name() == "palisade_rate_limit_backend_errors_total")
            .map(|(.., value)| value)
            .collect();
        assert_eq!(errors, vec![DebugValue::Counter(2)]);
    }
    #[cfg(not(feature = "metrics"))]
    assert_policies(&url).await;
}

#[tokio::test]
async fn a_killed_connection_recovers() {
    let Some(url) = services::redis_url("a_killed_connection_recovers").await else {
        return;
    };
    let conn = lazy_connection(&url, SLOW_OK).unwrap();
    let layer = shared_layer(
        conn.clone(),
        &fresh_prefix("kill"),
        Quota::per_hour(NonZeroU32::new(100).unwrap()),
    );
    let (inner, _) = counting();
    let svc = layer.layer(inner);
    bounded(svc.clone().oneshot(1)).await.unwrap();

    // The limiter's own connection (clones of a manager share it).
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut admin(&url).await)
        .await
        .unwrap();
    assert_eq!(killed, 1, "CLIENT KILL found no connection");

    // Right after the kill the policy answers (fail closed) or the manager
    // has already reconnected; either way the call completes.
    let mut answered_by_redis = 0;
    for n in 2..50 {
        match bounded(svc.clone().oneshot(n)).await {
            Ok(_) => {
                answered_by_redis += 1;
                if answered_by_redis == 3 {
                    break;
                }
            }
            Err(err) => assert!(err.is::<BackendUnavailable>(), "got {err}"),
        }
    }
    assert_eq!(answered_by_redis, 3, "the limiter never recovered");
    let new_id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_ne!(new_id, id, "still on the killed connection");
}

#[tokio::test]
async fn invalid_settings_are_config_errors() {
    use palisade_resilience::ConfigError;

    // A lazy connection does not touch the network, so no Redis is needed.
    let conn = lazy_connection("redis://127.0.0.1:6379", SLOW_OK).unwrap();
    let keys = |_: &u32| Some("k");
    let err = RedisRateLimitLayer::builder(conn.clone(), Quota::per_second(NonZeroU32::MIN), keys)
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::Zero { field: "timeout" });
    // Two million per second is below the script's microsecond resolution.
    let err = RedisRateLimitLayer::builder(
        conn,
        Quota::per_second(NonZeroU32::new(2_000_000).unwrap()),
        keys,
    )
    .build()
    .unwrap_err();
    assert!(matches!(err, ConfigError::Zero { .. }), "{err}");
    assert!(lazy_connection("not a url", SLOW_OK).is_err());
}

#[tokio::test]
async fn an_unreachable_redis_is_a_visible_skip_or_a_failure() {
    // A port nobody listens on: connections are refused at once.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("redis://127.0.0.1:{port}");

    let mut out = Vec::new();
    let found = services::redis_url_or_skip("my_test", url.clone(), false, &mut out).await;
    assert_eq!(found, None);
    let line = String::from_utf8(out).unwrap();
    assert!(
        line.starts_with(&format!(
            "SKIPPED: my_test needs Redis at {url} (set PALISADE_REQUIRE_SERVICES=1 to fail instead): "
        )),
        "{line}"
    );
    assert!(
        line.ends_with('\n') && line.lines().count() == 1,
        "{line:?}"
    );

    // Required: the test fails, naming what it needed.
    let required = tokio::spawn({
        let url = url.clone();
        async move { services::redis_url_or_skip("my_test", url, true, &mut Vec::new()).await }
    });
    let panic = required.await.unwrap_err().into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains(&format!("my_test needs Redis at {url}")),
        "{message}"
    );
    assert!(message.contains("PALISADE_REQUIRE_SERVICES=1"), "{message}");
}

#[test]
fn the_redis_url_names_the_address_tests_connect_to() {
    assert_eq!(services::tcp_addr(services::DEFAULT_URL), "127.0.0.1:6379");
    assert_eq!(services::tcp_addr("redis://localhost"), "localhost:6379");
    assert_eq!(
        services::tcp_addr("redis://:pw@10.0.0.7:6380/2"),
        "10.0.0.7:6380"
    );
    assert_eq!(services::tcp_addr("redis://[::1]:6379"), "[::1]:6379");
}
