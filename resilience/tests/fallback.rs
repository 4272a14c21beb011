//! `FallbackLayer`: error → fallback answer, predicates, untouched successes,
//! request-aware and service fallbacks.
#![cfg(feature = "fallback")]
#![allow(missing_docs)]

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_resilience::BoxError;
use palisade_resilience::fallback::FallbackLayer;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

/// Odd ids succeed, even ids fail with an `io::Error`.
fn upstream() -> impl Service<u32, Response = String, Error = std::io::Error, Future: Send> + Clone
{
    service_fn(|id: u32| async move {
        if id.is_multiple_of(2) {
            Err(std::io::Error::other(format!("upstream failed for {id}")))
        } else {
            Ok(format!("live {id}"))
        }
    })
}

#[tokio::test]
async fn error_is_answered_by_the_fallback() {
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::value(|error: BoxError| {
            format!("cached ({error})")
        }))
        .service(upstream());
    assert_eq!(
        svc.oneshot(2).await.unwrap(),
        "cached (upstream failed for 2)"
    );

    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::from_fn(|_: BoxError| async {
            tokio::task::yield_now().await;
            Ok::<_, BoxError>("async default".to_owned())
        }))
        .service(upstream());
    assert_eq!(svc.oneshot(4).await.unwrap(), "async default");
}

#[tokio::test]
async fn success_is_untouched_and_the_fallback_never_runs() {
    let fallbacks = Arc::new(AtomicUsize::new(0));
    let counter = fallbacks.clone();
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::value(move |_: BoxError| {
            counter.fetch_add(1, Ordering::SeqCst);
            "fallback".to_owned()
        }))
        .service(upstream());
    assert_eq!(svc.clone().oneshot(1).await.unwrap(), "live 1");
    assert_eq!(fallbacks.load(Ordering::SeqCst), 0);
    assert_eq!(svc.oneshot(2).await.unwrap(), "fallback");
    assert_eq!(fallbacks.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn declined_errors_propagate_unchanged() {
    let svc = ServiceBuilder::new()
        .layer(
            FallbackLayer::value(|_: BoxError| "fallback".to_owned())
                .on(|error: &BoxError| error.to_string().contains("timeout")),
        )
        .service(upstream());
    let err = svc.oneshot(2).await.unwrap_err();
    let io = err.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.to_string(), "upstream failed for 2");
}

#[tokio::test]
async fn rejection_predicate_ignores_ordinary_errors() {
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::value(|_: BoxError| "fallback".to_owned()).on_rejection())
        .service(upstream());
    let err = svc.clone().oneshot(2).await.unwrap_err();
    assert!(err.is::<std::io::Error>());
    assert_eq!(svc.oneshot(3).await.unwrap(), "live 3");
}

#[cfg(feature = "bulkhead")]
#[tokio::test]
async fn rejection_predicate_answers_a_full_bulkhead() {
    use palisade_resilience::bulkhead::BulkheadLayer;

    let (mock, mut handle) = mock::pair::<&str, &str>();
    let mut svc = ServiceBuilder::new()
        .layer(
            FallbackLayer::value(|e: BoxError| {
                if e.is::<std::io::Error>() {
                    "io"
                } else {
                    "busy"
                }
            })
            .on_rejection(),
        )
        .layer(BulkheadLayer::new(NonZeroUsize::MIN))
        .service(mock);

    let running = svc.ready().await.unwrap().call("first");
    // No permit left: the rejection is answered by the fallback.
    assert_eq!(
        svc.ready().await.unwrap().call("second").await.unwrap(),
        "busy"
    );
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, "first");
    // An ordinary inner error is not a rejection.
    send.send_error(std::io::Error::other("boom"));
    assert_eq!(running.await.unwrap_err().to_string(), "boom");
}

#[cfg(feature = "timeout")]
#[tokio::test(start_paused = true)]
async fn rejection_predicate_answers_a_timeout() {
    use std::time::Duration;

    use palisade_resilience::timeout::TimeoutLayer;
    use palisade_resilience::timeout::error::Elapsed;

    let slow = service_fn(|(): ()| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok::<_, BoxError>("slow")
    });
    let svc = ServiceBuilder::new()
        .layer(
            FallbackLayer::value(|e: BoxError| {
                if e.is::<Elapsed>() {
                    "timed out"
                } else {
                    "other"
                }
            })
            .on_rejection(),
        )
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .service(slow);
    assert_eq!(svc.oneshot(()).await.unwrap(), "timed out");
}

#[tokio::test]
async fn request_aware_fallback_gets_a_clone_of_the_request() {
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::with_request(
            |id: u32, error: BoxError| async move {
                Ok::<_, BoxError>(format!("default for {id} after {error}"))
            },
        ))
        .service(upstream());
    assert_eq!(
        svc.oneshot(8).await.unwrap(),
        "default for 8 after upstream failed for 8"
    );
}

#[tokio::test]
async fn fallback_service_gets_the_request_and_its_readiness_is_honoured() {
    let (secondary, mut handle) = mock::pair::<u32, String>();
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::service(secondary))
        .service(upstream());

    handle.allow(0);
    let call = tokio::spawn(svc.oneshot(6));
    tokio::task::yield_now().await;
    assert!(handle.poll_request().is_pending(), "called before ready");
    assert!(!call.is_finished());

    handle.allow(1);
    let (req, send) = handle.next_request().await.unwrap();
    assert_eq!(req, 6);
    send.send_response("secondary 6".to_owned());
    assert_eq!(call.await.unwrap().unwrap(), "secondary 6");

    // The secondary's own failure is what the caller sees.
    let (secondary, mut handle) = mock::pair::<u32, String>();
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::service(secondary))
        .service(upstream());
    let call = tokio::spawn(svc.oneshot(2));
    let (_, send) = handle.next_request().await.unwrap();
    send.send_error(std::io::Error::other("secondary down too"));
    assert_eq!(
        call.await.unwrap().unwrap_err().to_string(),
        "secondary down too"
    );
}

#[cfg(feature = "rate-limit")]
#[tokio::test(start_paused = true)]
async fn rejection_predicate_answers_a_rate_limit() {
    use palisade_resilience::rate_limit::{Quota, RateLimitLayer};

    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::value(|_: BoxError| "slow down".to_owned()).on_rejection())
        .layer(RateLimitLayer::global(Quota::per_second(NonZeroU32::MIN)))
        .service(upstream());
    assert_eq!(svc.clone().oneshot(1).await.unwrap(), "live 1");
    assert_eq!(svc.clone().oneshot(3).await.unwrap(), "slow down");
}

#[cfg(feature = "circuit-breaker")]
#[tokio::test(start_paused = true)]
async fn rejection_predicate_answers_an_open_circuit() {
    use palisade_resilience::circuit_breaker::CircuitBreakerLayer;

    let breaker = CircuitBreakerLayer::builder().build().unwrap();
    let handle = breaker.handle();
    let svc = ServiceBuilder::new()
        .layer(FallbackLayer::value(|_: BoxError| "circuit open".to_owned()).on_rejection())
        .layer(breaker)
        .service(upstream());
    assert_eq!(svc.clone().oneshot(1).await.unwrap(), "live 1");
    handle.force_open();
    assert_eq!(svc.clone().oneshot(1).await.unwrap(), "circuit open");
}
