//! The sliding windows, through the public API.

use std::time::Duration;

use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow, State};
use proptest::prelude::*;
use tokio::time;

use crate::support::{Call, breaker, send_all};

#[tokio::test(start_paused = true)]
async fn the_count_window_really_slides() {
    let (mut service, handle, _) = breaker(
        CircuitBreakerLayer::builder()
            .sliding_window(SlidingWindow::count(10))
            .minimum_calls(10)
            .failure_rate_threshold(50.0),
    );
    send_all(&mut service, &[Call::Ok; 1_003]).await;
    send_all(&mut service, &[Call::Fail; 4]).await;
    assert_eq!(handle.state(), State::Closed);
    assert_eq!(handle.snapshot().failures, 4);
    send_all(&mut service, &[Call::Fail]).await;
    // 5 of the last 10.
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn failures_older_than_the_time_window_no_longer_count() {
    let (mut service, handle, _) = breaker(
        CircuitBreakerLayer::builder()
            .sliding_window(SlidingWindow::time(Duration::from_secs(10), 10))
            .minimum_calls(3)
            .failure_rate_threshold(50.0),
    );
    send_all(&mut service, &[Call::Fail, Call::Fail]).await;
    time::advance(Duration::from_millis(9_500)).await;
    assert_eq!(handle.snapshot().failures, 2);
    time::advance(Duration::from_millis(500)).await;
    // The first bucket has left the window.
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.failures), (0, 0));

    // 1 failure of 3 now; with the old failures it would be 3 of 5.
    send_all(&mut service, &[Call::Ok, Call::Ok, Call::Fail]).await;
    assert_eq!(handle.state(), State::Closed);
    send_all(&mut service, &[Call::Fail]).await;
    assert_eq!(handle.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn the_time_window_drops_bucket_by_bucket() {
    let (mut service, handle, _) = breaker(
        CircuitBreakerLayer::builder()
            .sliding_window(SlidingWindow::time(Duration::from_secs(3), 3))
            .minimum_calls(100),
    );
    for _ in 0..3 {
        send_all(&mut service, &[Call::Fail]).await;
        time::advance(Duration::from_secs(1)).await;
    }
    // Now in the fourth second: the first failure is out.
    assert_eq!(handle.snapshot().failures, 2);
    time::advance(Duration::from_secs(1)).await;
    assert_eq!(handle.snapshot().failures, 1);
    time::advance(Duration::from_secs(60)).await;
    assert_eq!(handle.snapshot().calls, 0);
}

proptest! {
    /// Drives random outcomes through a breaker and a naive model of "the
    /// last N calls": the snapshot matches the model while Closed, and the
    /// breaker opens exactly when the model crosses the threshold.
    #[test]
    fn the_count_window_agrees_with_a_naive_model(
        size in 1u32..24,
        minimum in 1u32..30,
        threshold in prop::sample::select(vec![0.0, 25.0, 50.0, 75.0, 100.0]),
        outcomes in prop::collection::vec(any::<bool>(), 0..200),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let (mut service, handle, _) = breaker(
                CircuitBreakerLayer::builder()
                    .sliding_window(SlidingWindow::count(size))
                    .minimum_calls(minimum)
                    .failure_rate_threshold(threshold),
            );
            let mut history = Vec::new();
            for failed in outcomes {
                send_all(&mut service, &[if failed { Call::Fail } else { Call::Ok }]).await;
                history.push(failed);
                let window = &history[history.len().saturating_sub(size as usize)..];
                let calls = window.len() as u64;
                let failures = window.iter().filter(|f| **f).count() as u64;
                let opens = calls >= u64::from(minimum.min(size))
                    && failures > 0
                    && failures as f64 * 100.0 >= threshold * calls as f64;
                if opens {
                    prop_assert_eq!(handle.state(), State::Open);
                    break;
                }
                prop_assert_eq!(handle.state(), State::Closed);
                let snapshot = handle.snapshot();
                prop_assert_eq!((snapshot.calls, snapshot.failures), (calls, failures));
            }
            Ok(())
        })?;
    }
}

#[tokio::test(start_paused = true)]
async fn slow_calls_in_a_time_window_open_the_breaker_and_expire() {
    let (mut service, handle, _) = breaker(
        CircuitBreakerLayer::builder()
            .sliding_window(SlidingWindow::time(Duration::from_secs(10), 10))
            .minimum_calls(2)
            .slow_call_duration(Duration::from_millis(500))
            .slow_call_rate_threshold(100.0),
    );
    let slow = Call::Slow(Duration::from_secs(1));
    send_all(&mut service, &[slow]).await;
    assert_eq!(handle.snapshot().slow_calls, 1);
    // The slow call leaves the window before the next one comes.
    time::advance(Duration::from_secs(10)).await;
    send_all(&mut service, &[slow]).await;
    assert_eq!(handle.state(), State::Closed);
    let snapshot = handle.snapshot();
    assert_eq!((snapshot.calls, snapshot.slow_calls), (1, 1));
    send_all(&mut service, &[slow]).await;
    assert_eq!(handle.state(), State::Open);
}
