//! Invalid configuration is an error from `build()`, never a panic.

use std::time::Duration;

use palisade_resilience::ConfigError;
use palisade_resilience::circuit_breaker::{
    CircuitBreakerLayer, CircuitBreakerLayerBuilder, SlidingWindow,
};

fn error(
    configure: impl FnOnce(CircuitBreakerLayerBuilder) -> CircuitBreakerLayerBuilder,
) -> ConfigError {
    configure(CircuitBreakerLayer::builder())
        .build()
        .expect_err("the configuration is invalid")
}

#[test]
fn the_defaults_are_valid() {
    let layer = CircuitBreakerLayer::builder().build().unwrap();
    assert_eq!(layer.handle().name(), "default");
}

#[test]
fn zero_sizes_and_durations_are_rejected() {
    let zero = |field| ConfigError::Zero { field };
    assert_eq!(
        error(|b| b.sliding_window(SlidingWindow::count(0))),
        zero("sliding_window")
    );
    assert_eq!(
        error(|b| b.sliding_window(SlidingWindow::time(Duration::from_secs(10), 0))),
        zero("sliding_window.buckets")
    );
    assert_eq!(
        error(|b| b.sliding_window(SlidingWindow::time(Duration::ZERO, 10))),
        zero("sliding_window.duration")
    );
    // Buckets shorter than a nanosecond.
    assert_eq!(
        error(|b| b.sliding_window(SlidingWindow::time(Duration::from_nanos(5), 10))),
        zero("sliding_window.duration")
    );
    assert_eq!(error(|b| b.minimum_calls(0)), zero("minimum_calls"));
    assert_eq!(
        error(|b| b.permitted_calls_in_half_open(0)),
        zero("permitted_calls_in_half_open")
    );
    assert_eq!(
        error(|b| b.wait_duration_in_open(Duration::ZERO)),
        zero("wait_duration_in_open")
    );
    assert_eq!(
        error(|b| b.slow_call_duration(Duration::ZERO)),
        zero("slow_call_duration")
    );
}

#[test]
fn thresholds_outside_0_to_100_or_nan_are_rejected() {
    for bad in [-0.1, 100.1, 1e9] {
        assert!(matches!(
            error(|b| b.failure_rate_threshold(bad)),
            ConfigError::OutOfRange {
                field: "failure_rate_threshold",
                ..
            }
        ));
        assert!(matches!(
            error(|b| b.slow_call_rate_threshold(bad)),
            ConfigError::OutOfRange {
                field: "slow_call_rate_threshold",
                ..
            }
        ));
    }
    for bad in [f64::NAN, f64::INFINITY] {
        assert_eq!(
            error(|b| b.failure_rate_threshold(bad)),
            ConfigError::NotFinite {
                field: "failure_rate_threshold"
            }
        );
        assert_eq!(
            error(|b| b.slow_call_rate_threshold(bad)),
            ConfigError::NotFinite {
                field: "slow_call_rate_threshold"
            }
        );
    }
    // The bounds themselves are fine.
    for ok in [0.0, 100.0] {
        assert!(
            CircuitBreakerLayer::builder()
                .failure_rate_threshold(ok)
                .build()
                .is_ok()
        );
    }
}

#[test]
fn a_shrinking_or_nan_multiplier_and_an_inverted_cap_are_rejected() {
    assert!(matches!(
        error(|b| b.wait_multiplier(0.5)),
        ConfigError::OutOfRange {
            field: "wait_multiplier",
            ..
        }
    ));
    assert_eq!(
        error(|b| b.wait_multiplier(f64::NAN)),
        ConfigError::NotFinite {
            field: "wait_multiplier"
        }
    );
    assert_eq!(
        error(|b| b
            .wait_duration_in_open(Duration::from_secs(30))
            .max_wait_duration(Duration::from_secs(10))),
        ConfigError::Inverted {
            lower: "wait_duration_in_open",
            upper: "max_wait_duration"
        }
    );
}

#[test]
fn oversized_windows_and_probe_counts_are_rejected() {
    assert!(matches!(
        error(|b| b.sliding_window(SlidingWindow::count(1_000_001))),
        ConfigError::OutOfRange {
            field: "sliding_window",
            ..
        }
    ));
    assert!(matches!(
        error(|b| b.sliding_window(SlidingWindow::time(Duration::from_secs(60), 10_001))),
        ConfigError::OutOfRange {
            field: "sliding_window.buckets",
            ..
        }
    ));
    assert!(matches!(
        error(|b| b.permitted_calls_in_half_open(4_096)),
        ConfigError::OutOfRange {
            field: "permitted_calls_in_half_open",
            ..
        }
    ));
}
