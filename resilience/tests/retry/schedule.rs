//! Attempts, delays, `max_attempts`, `max_elapsed`, the predicate and readiness.

use std::time::Duration;

use palisade_resilience::retry::{Backoff, Jitter, RetryLayer};
use tokio::time::Instant;
use tower::{Layer, ServiceExt, service_fn};
use tower_test::mock;

use super::support::{Boom, Calls, boom, call, flaky};

const MS: Duration = Duration::from_millis(1);

fn backoff(base_ms: u32, cap_ms: u32, jitter: Jitter) -> Backoff {
    Backoff::exponential(base_ms * MS, cap_ms * MS).jitter(jitter)
}

#[tokio::test(start_paused = true)]
async fn delays_without_jitter_double_from_base_up_to_cap() {
    let layer = RetryLayer::builder()
        .max_attempts(7)
        .backoff(backoff(100, 1000, Jitter::None))
        .no_budget()
        .build()
        .unwrap();
    let (inner, calls) = flaky(usize::MAX);
    let mut service = layer.layer(inner);

    let start = Instant::now();
    let error = call(&mut service, "x").await.unwrap_err();

    // base * 2^(n-1), capped: 100, 200, 400, 800, then the 1 s cap.
    let expected: Vec<_> = [100u32, 200, 400, 800, 1000, 1000].map(|ms| ms * MS).into();
    assert_eq!(calls.gaps(), expected);
    assert_eq!(Instant::now() - start, 3500 * MS);
    // The upstream's last error comes back as it is.
    assert_eq!(boom(&error), &Boom(7));
}

/// tokio's timer has millisecond resolution: a sleep ends on the first
/// millisecond tick at or after its deadline.
fn assert_gaps_follow(calls: &Calls, expected: &[Duration]) {
    let gaps = calls.gaps();
    assert_eq!(
        gaps.len(),
        expected.len(),
        "gaps {gaps:?}, expected {expected:?}"
    );
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *want <= *gap && *gap < *want + MS,
            "gap {gap:?} does not follow delay {want:?} (all gaps {gaps:?}, expected {expected:?})"
        );
    }
}

async fn seeded_gaps(jitter: Jitter, seed: u64) -> (Calls, Vec<Duration>) {
    let backoff = backoff(100, 5_000, jitter);
    let layer = RetryLayer::builder()
        .max_attempts(6)
        .backoff(backoff)
        .rng_seed(seed)
        .no_budget()
        .build()
        .unwrap();
    let (inner, calls) = flaky(usize::MAX);
    call(&mut layer.layer(inner), "x").await.unwrap_err();
    (calls, backoff.delays(seed).take(5).collect())
}

#[tokio::test(start_paused = true)]
async fn seeded_schedules_are_the_backoff_iterators_and_reproducible() {
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let (first, expected) = seeded_gaps(jitter, 42).await;
        assert_gaps_follow(&first, &expected);

        // Same seed, same schedule; another seed, another schedule.
        let (again, _) = seeded_gaps(jitter, 42).await;
        assert_eq!(first.gaps(), again.gaps(), "{jitter:?}");
        let (other, _) = seeded_gaps(jitter, 7).await;
        assert_ne!(first.gaps(), other.gaps(), "{jitter:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_differ_from_the_plain_exponential_ones() {
    let (calls, _) = seeded_gaps(Jitter::Full, 3).await;
    let plain: Vec<_> = [100u32, 200, 400, 800, 1600].map(|ms| ms * MS).into();
    assert_ne!(calls.gaps(), plain);
    for (gap, ceiling) in calls.gaps().iter().zip(&plain) {
        assert!(*gap <= *ceiling + MS, "{gap:?} above {ceiling:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn max_attempts_counts_the_first_attempt() {
    for max_attempts in [1, 2, 5] {
        let layer = RetryLayer::builder()
            .max_attempts(max_attempts)
            .backoff(backoff(10, 100, Jitter::None))
            .no_budget()
            .build()
            .unwrap();
        let (inner, calls) = flaky(usize::MAX);
        let error = call(&mut layer.layer(inner), "x").await.unwrap_err();
        assert_eq!(calls.count(), max_attempts as usize);
        assert_eq!(boom(&error), &Boom(max_attempts as usize));
    }
}

#[tokio::test(start_paused = true)]
async fn a_success_after_failures_is_returned() {
    let layer = RetryLayer::builder()
        .max_attempts(4)
        .backoff(backoff(10, 100, Jitter::None))
        .no_budget()
        .build()
        .unwrap();
    let (inner, calls) = flaky(2);
    assert_eq!(call(&mut layer.layer(inner), "x").await.unwrap(), 3);
    assert_eq!(calls.count(), 3);
}

async fn attempts_within(max_elapsed: Duration) -> usize {
    let layer = RetryLayer::builder()
        .max_attempts(10)
        .backoff(backoff(100, 10_000, Jitter::None))
        .max_elapsed(max_elapsed)
        .no_budget()
        .build()
        .unwrap();
    let (inner, calls) = flaky(usize::MAX);
    call(&mut layer.layer(inner), "x").await.unwrap_err();
    calls.count()
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_retries_whose_delay_would_end_too_late() {
    // Attempts start at 0, 100, 300 and 700 ms.
    assert_eq!(attempts_within(299 * MS).await, 2);
    // An attempt starting exactly at the limit is allowed.
    assert_eq!(attempts_within(300 * MS).await, 3);
    assert_eq!(attempts_within(699 * MS).await, 3);
    assert_eq!(attempts_within(700 * MS).await, 4);
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_the_time_spent_in_attempts() {
    let layer = RetryLayer::builder()
        .max_attempts(10)
        .backoff(backoff(100, 100, Jitter::None))
        .max_elapsed(Duration::from_secs(1))
        .no_budget()
        .build()
        .unwrap();
    let calls = Calls::default();
    let recorder = calls.clone();
    // Each attempt takes 200 ms before failing.
    let slow = service_fn(move |_: ()| {
        let n = recorder.record();
        async move {
            tokio::time::sleep(200 * MS).await;
            Err::<(), _>(Boom(n))
        }
    });
    call(&mut layer.layer(slow), ()).await.unwrap_err();
    // Attempts start at 0, 300, 600 and 900 ms; the next would be at 1.2 s.
    assert_eq!(calls.count(), 4);
}

#[tokio::test(start_paused = true)]
async fn by_default_responses_are_not_retried() {
    let layer = RetryLayer::builder().no_budget().build().unwrap();
    let calls = Calls::default();
    let recorder = calls.clone();
    let busy = service_fn(move |_: ()| {
        recorder.record();
        async { Ok::<_, Boom>("busy") }
    });
    assert_eq!(call(&mut layer.layer(busy), ()).await.unwrap(), "busy");
    assert_eq!(calls.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_predicate_decides_what_is_retried() {
    let retry_busy = |result: &Result<&'static str, Boom>| matches!(result, Ok("busy"));
    let layer = RetryLayer::builder()
        .max_attempts(5)
        .backoff(backoff(10, 100, Jitter::None))
        .predicate(retry_busy)
        .no_budget()
        .build()
        .unwrap();

    let calls = Calls::default();
    let recorder = calls.clone();
    let answers = service_fn(move |_: ()| {
        let n = recorder.record();
        async move { Ok::<_, Boom>(if n < 3 { "busy" } else { "done" }) }
    });
    assert_eq!(call(&mut layer.layer(answers), ()).await.unwrap(), "done");
    assert_eq!(calls.count(), 3);

    // Errors are not retried by this predicate.
    let calls = Calls::default();
    let recorder = calls.clone();
    let failing = service_fn(move |_: ()| {
        let n = recorder.record();
        async move { Err::<&'static str, _>(Boom(n)) }
    });
    let error = call(&mut layer.layer(failing), ()).await.unwrap_err();
    assert_eq!(boom(&error), &Boom(1));
    assert_eq!(calls.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn each_retry_waits_for_the_inner_service_to_be_ready() {
    let layer = RetryLayer::builder()
        .max_attempts(2)
        .backoff(backoff(100, 100, Jitter::None))
        .no_budget()
        .build()
        .unwrap();
    let (inner, mut handle) = mock::pair::<&'static str, &'static str>();
    handle.allow(1);
    let response = tokio::spawn(layer.layer(inner).oneshot("hello"));

    let (request, reply) = handle.next_request().await.unwrap();
    assert_eq!(request, "hello");
    reply.send_error(Boom(1));

    // Long after the backoff, the inner service is still not ready: no retry.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!response.is_finished());
    let nothing = tokio::time::timeout(Duration::from_secs(1), handle.next_request()).await;
    assert!(
        nothing.is_err(),
        "a retry was sent to a service that was not ready"
    );

    handle.allow(1);
    let (request, reply) = handle.next_request().await.unwrap();
    assert_eq!(request, "hello");
    reply.send_response("world");
    assert_eq!(response.await.unwrap().unwrap(), "world");
}

#[tokio::test(start_paused = true)]
async fn enormous_settings_do_not_panic() {
    for jitter in [Jitter::None, Jitter::Full, Jitter::Decorrelated] {
        let layer = RetryLayer::builder()
            .max_attempts(3)
            .backoff(Backoff::exponential(MS, Duration::MAX).jitter(jitter))
            .max_elapsed(Duration::MAX)
            .max_retry_after(Duration::MAX)
            .rng_seed(1)
            .no_budget()
            .build()
            .unwrap();
        let (inner, calls) = flaky(2);
        assert_eq!(call(&mut layer.layer(inner), "x").await.unwrap(), 3);
        assert_eq!(calls.count(), 3);
    }
}
