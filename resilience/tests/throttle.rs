//! `ThrottleLayer`: the SRE book's client-side throttling — the reject
//! probability follows the formula, nothing is refused while the upstream
//! accepts, and the window slides.
#![cfg(feature = "throttle")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::classify::Outcome;
use palisade_resilience::rejection::{self, Rejection};
use palisade_resilience::throttle::ThrottleLayer;
use palisade_resilience::throttle::error::Throttled;
use palisade_resilience::{BoxError, ConfigError};
use tokio::time::advance;
use tower::{Layer, Service, ServiceExt, service_fn};

/// An upstream that accepts while `up` is set and refuses otherwise; counts its calls.
fn upstream(
    up: &Arc<AtomicBool>,
    calls: &Arc<AtomicUsize>,
) -> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone {
    let up = Arc::clone(up);
    let calls = Arc::clone(calls);
    service_fn(move |n: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        let up = up.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(n)
            } else {
                Err(BoxError::from("upstream refused"))
            }
        }
    })
}

/// A random source the test sets.
fn controlled() -> (Arc<AtomicU64>, impl Fn() -> f64 + Send + Sync + 'static) {
    let next = Arc::new(AtomicU64::new(0.5_f64.to_bits()));
    let source = Arc::clone(&next);
    (next, move || f64::from_bits(source.load(Ordering::SeqCst)))
}

fn formula(requests: u64, accepts: u64, k: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let (r, a) = (requests as f64, accepts as f64);
    ((r - k * a) / (r + 1.0)).max(0.0)
}

#[tokio::test(start_paused = true)]
async fn the_reject_probability_follows_the_formula_as_accepts_fall() {
    let (next, random) = controlled();
    let layer = ThrottleLayer::builder().random(random).build().unwrap();
    let handle = layer.handle();
    let (up, calls) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicUsize::new(0)),
    );
    let svc = layer.layer(upstream(&up, &calls));

    for n in 0..100 {
        assert_eq!(svc.clone().oneshot(n).await.unwrap(), n);
    }
    assert_eq!((handle.requests(), handle.accepts()), (100, 100));
    assert_eq!(handle.reject_probability(), 0.0);

    // The upstream starts refusing everything: accepts fall behind requests.
    up.store(false, Ordering::SeqCst);
    let mut throttled = 0;
    for extra in 0..400_u64 {
        let expected = formula(100 + extra, 100, 2.0);
        let probability = handle.reject_probability();
        assert!(
            (probability - expected).abs() < 1e-12,
            "after {extra} refusals: {probability} != {expected}"
        );
        // Just below the probability a call is refused, just above it passes.
        let below = extra % 2 == 0;
        let u = if below {
            expected - 1e-9
        } else {
            expected + 1e-9
        };
        next.store(u.to_bits(), Ordering::SeqCst);
        let before = calls.load(Ordering::SeqCst);
        let err = svc.clone().oneshot(0).await.unwrap_err();
        if below && expected > 0.0 {
            let refused = err.downcast_ref::<Throttled>().expect("refused locally");
            assert!((refused.probability() - expected).abs() < 1e-12);
            assert_eq!(
                calls.load(Ordering::SeqCst),
                before,
                "the upstream was not called"
            );
            throttled += 1;
        } else {
            assert_eq!(err.to_string(), "upstream refused");
            assert_eq!(calls.load(Ordering::SeqCst), before + 1);
        }
    }
    // Nothing is refused until requests exceed K·accepts (200, after 101
    // refusals); from then on, every other call (the draws just below).
    assert_eq!(throttled, 149);
    assert_eq!(handle.rejected_total(), 149);
    assert_eq!((handle.requests(), handle.accepts()), (500, 100));
    assert!((handle.reject_probability() - 300.0 / 501.0).abs() < 1e-12);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_refused_while_the_upstream_accepts_everything() {
    let draws = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&draws);
    // A draw of 0 would refuse any call with a probability above 0.
    let layer = ThrottleLayer::builder()
        .random(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            0.0
        })
        .build()
        .unwrap();
    let handle = layer.handle();
    let (up, calls) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicUsize::new(0)),
    );
    let svc = layer.layer(upstream(&up, &calls));
    for n in 0..10_000 {
        assert_eq!(svc.clone().oneshot(n).await.unwrap(), n);
        if n % 100 == 0 {
            advance(Duration::from_secs(1)).await;
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10_000);
    assert_eq!(handle.rejected_total(), 0);
    assert_eq!(
        draws.load(Ordering::SeqCst),
        0,
        "no random number while nothing can be refused"
    );
}

#[tokio::test(start_paused = true)]
async fn the_throttle_recovers_as_the_window_slides() {
    let layer = ThrottleLayer::builder()
        .window(Duration::from_secs(120))
        .random(|| 0.0)
        .build()
        .unwrap();
    let handle = layer.handle();
    let (up, calls) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let svc = layer.layer(upstream(&up, &calls));

    for _ in 0..100 {
        let _ = svc.clone().oneshot(0).await;
    }
    advance(Duration::from_secs(60)).await;
    for _ in 0..100 {
        let _ = svc.clone().oneshot(0).await;
    }
    assert_eq!(handle.requests(), 200);
    assert!(handle.reject_probability() > 0.99);
    // With every draw at 0, only the very first call reached the upstream.
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The upstream is back. The first 100 leave the window after 2 minutes
    // (plus one 2-second step), the rest a minute later.
    up.store(true, Ordering::SeqCst);
    advance(Duration::from_secs(62)).await;
    assert_eq!(handle.requests(), 100);
    assert!(handle.reject_probability() > 0.99);
    advance(Duration::from_secs(60)).await;
    assert_eq!(handle.requests(), 0);
    assert_eq!(handle.reject_probability(), 0.0);
    assert_eq!(svc.clone().oneshot(7).await.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_counts_as_accepted() {
    // Answers are `Ok(status)`; 5xx are refusals although they are not errors.
    let by_status = |result: &Result<u16, BoxError>| match result {
        Ok(status) if *status < 500 => Outcome::Success,
        _ => Outcome::Failure,
    };
    let layer = ThrottleLayer::builder()
        .classify(by_status)
        .random(|| 0.0)
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|status: u16| async move {
        Ok::<_, BoxError>(status)
    }));
    for _ in 0..10 {
        assert_eq!(svc.clone().oneshot(404).await.unwrap(), 404);
    }
    assert_eq!(handle.accepts(), 10);
    let mut refused = None;
    for _ in 0..30 {
        if let Err(err) = svc.clone().oneshot(503).await {
            refused = Some(err);
            break;
        }
    }
    let err = refused.expect("503s count as refusals, so calls get throttled");
    let found = rejection::find(&*err).expect("a rejection");
    assert!(matches!(found, Rejection::Throttled(_)));
    assert_eq!(found.code(), "throttled");
    assert_eq!(found.retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_throttle_refuses_only_the_failing_upstream() {
    let layer = ThrottleLayer::builder()
        .random(|| 0.0)
        .keyed(|upstream: &u32| Some(*upstream))
        .max_keys(NonZeroUsize::new(16).unwrap())
        .build()
        .unwrap();
    let handle = layer.handle();
    let svc = layer.layer(service_fn(|upstream: u32| async move {
        if upstream == 1 {
            Err(BoxError::from("upstream 1 is down"))
        } else {
            Ok(upstream)
        }
    }));
    let mut refused_locally = 0;
    for _ in 0..50 {
        let err = svc.clone().oneshot(1).await.unwrap_err();
        refused_locally += usize::from(err.is::<Throttled>());
        assert_eq!(svc.clone().oneshot(2).await.unwrap(), 2);
    }
    assert_eq!(refused_locally, 49);
    assert!(handle.reject_probability_for(&1).unwrap() > 0.9);
    assert_eq!(handle.reject_probability_for(&2), Some(0.0));
    assert_eq!(handle.reject_probability_for(&3), None);
    assert_eq!(handle.key_count(), 2);

    // Refusing calls for a failing upstream is its job: healthy, counted.
    #[cfg(feature = "health")]
    {
        use palisade_resilience::health::{HealthSource, Status};
        let health = handle.health();
        assert_eq!(health.status, Status::Healthy);
        assert_eq!(health.rejections, 49);
        assert_eq!(health.state, "keys tracked: 2");
    }
}

#[test]
fn bad_settings_are_reported() {
    assert!(matches!(
        ThrottleLayer::builder().k(0.5).build(),
        Err(ConfigError::OutOfRange { field: "k", .. })
    ));
    assert!(matches!(
        ThrottleLayer::builder().k(f64::NAN).build(),
        Err(ConfigError::NotFinite { field: "k" })
    ));
    assert!(matches!(
        ThrottleLayer::builder().window(Duration::ZERO).build(),
        Err(ConfigError::Zero { field: "window" })
    ));
}
