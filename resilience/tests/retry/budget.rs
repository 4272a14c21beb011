//! The retry budget: retries stop when it is empty and resume when it refills.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_resilience::retry::{Backoff, Jitter, RetryBudget, RetryLayer};
use tower::Layer;

use super::support::{Mode, boom, call, scripted};

fn layer(budget: RetryBudget) -> RetryLayer {
    RetryLayer::builder()
        .max_attempts(2)
        .backoff(
            Backoff::exponential(Duration::from_millis(1), Duration::from_millis(1))
                .jitter(Jitter::None),
        )
        .budget(budget)
        .build()
        .unwrap()
}

/// How many times the inner service was called for one call.
async fn attempts<S>(service: &mut S, count: &AtomicUsize, mode: Mode) -> usize
where
    S: tower::Service<Mode, Response = (), Error = palisade_resilience::BoxError>,
{
    let before = count.load(Ordering::SeqCst);
    let result = call(service, mode).await;
    if mode == Mode::Fail {
        // When the budget stops retries, the last error comes back as it is.
        boom(&result.unwrap_err());
    }
    count.load(Ordering::SeqCst) - before
}

#[tokio::test(start_paused = true)]
async fn retries_stop_when_the_reserve_is_spent_and_resume_with_time() {
    // Nothing earned from successes; 1 retry per second, 10 s worth of reserve.
    let layer = layer(RetryBudget::new(Duration::from_secs(10), 1, 0.0));
    let (inner, count) = scripted();
    // Two services of one layer share its budget.
    let mut first = layer.layer(inner.clone());
    let mut second = layer.layer(inner);

    let mut per_call = Vec::new();
    for i in 0..16 {
        let service = if i % 2 == 0 { &mut first } else { &mut second };
        per_call.push(attempts(service, &count, Mode::Fail).await);
    }
    assert_eq!(per_call, [[2; 10].as_slice(), &[1; 6]].concat());
    assert_eq!(count.load(Ordering::SeqCst), 26);

    // Three seconds refill three retries.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut per_call = Vec::new();
    for _ in 0..5 {
        per_call.push(attempts(&mut first, &count, Mode::Fail).await);
    }
    assert_eq!(per_call, [2, 2, 2, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn successes_pay_for_retries() {
    // No reserve: every retry is paid by successes, two successes per retry.
    let layer = layer(RetryBudget::new(Duration::from_secs(10), 0, 0.5));
    let (inner, count) = scripted();
    let mut service = layer.layer(inner);

    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 1);

    assert_eq!(attempts(&mut service, &count, Mode::Succeed).await, 1);
    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 1);
    assert_eq!(attempts(&mut service, &count, Mode::Succeed).await, 1);
    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 2);
    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 1);

    // Six successes pay for three retries, a while later too (within the
    // deposits' time to live).
    for _ in 0..6 {
        attempts(&mut service, &count, Mode::Succeed).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut observed = Vec::new();
    for _ in 0..4 {
        observed.push(attempts(&mut service, &count, Mode::Fail).await);
    }
    assert_eq!(observed, [2, 2, 2, 1]);
}

#[tokio::test(start_paused = true)]
async fn old_successes_expire() {
    let layer = layer(RetryBudget::new(Duration::from_secs(1), 0, 1.0));
    let (inner, count) = scripted();
    let mut service = layer.layer(inner);

    for _ in 0..3 {
        attempts(&mut service, &count, Mode::Succeed).await;
    }
    // Long after the deposits' time to live they do not count any more.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 1);

    // Fresh successes do.
    attempts(&mut service, &count, Mode::Succeed).await;
    assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 2);
}

#[tokio::test(start_paused = true)]
async fn without_a_budget_every_call_retries() {
    let layer = RetryLayer::builder()
        .max_attempts(2)
        .backoff(Backoff::exponential(
            Duration::from_millis(1),
            Duration::from_millis(1),
        ))
        .no_budget()
        .build()
        .unwrap();
    let (inner, count) = scripted();
    let mut service = layer.layer(inner);
    for _ in 0..200 {
        assert_eq!(attempts(&mut service, &count, Mode::Fail).await, 2);
    }
}
