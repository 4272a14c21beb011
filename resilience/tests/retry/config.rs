//! Bad settings are errors from `build()`, never panics.

use std::time::Duration;

use palisade_resilience::ConfigError;
use palisade_resilience::retry::{Backoff, RetryBudget, RetryLayer};

const S: Duration = Duration::from_secs(1);

fn budget_error(ratio: f64) -> ConfigError {
    RetryLayer::builder()
        .budget(RetryBudget::new(S, 1, ratio))
        .build()
        .unwrap_err()
}

#[test]
fn each_bad_value_is_reported() {
    let zero = |field| ConfigError::Zero { field };
    assert_eq!(
        RetryLayer::builder().max_attempts(0).build().unwrap_err(),
        zero("max_attempts")
    );
    assert_eq!(
        RetryLayer::builder()
            .backoff(Backoff::exponential(Duration::ZERO, S))
            .build()
            .unwrap_err(),
        zero("base")
    );
    assert_eq!(
        RetryLayer::builder()
            .backoff(Backoff::exponential(2 * S, S))
            .build()
            .unwrap_err(),
        ConfigError::Inverted {
            lower: "base",
            upper: "cap"
        }
    );
    assert_eq!(
        RetryLayer::builder()
            .max_elapsed(Duration::ZERO)
            .build()
            .unwrap_err(),
        zero("max_elapsed")
    );
    assert_eq!(
        RetryLayer::builder()
            .budget(RetryBudget::new(Duration::ZERO, 1, 0.2))
            .build()
            .unwrap_err(),
        zero("budget_ttl")
    );
    let not_finite = ConfigError::NotFinite {
        field: "retry_ratio",
    };
    assert_eq!(budget_error(f64::NAN), not_finite);
    assert_eq!(budget_error(f64::INFINITY), not_finite);
    assert!(matches!(
        budget_error(-0.1),
        ConfigError::OutOfRange {
            field: "retry_ratio",
            ..
        }
    ));
    assert!(matches!(
        budget_error(1000.5),
        ConfigError::OutOfRange {
            field: "retry_ratio",
            ..
        }
    ));
}

#[test]
fn good_values_build() {
    let layer = RetryLayer::builder()
        .max_attempts(1)
        .backoff(Backoff::exponential(S, S))
        .budget(RetryBudget::new(S, 0, 0.0))
        .max_elapsed(S)
        .build()
        .unwrap();
    assert_eq!(layer.max_attempts(), 1);
    assert_eq!(layer.backoff().cap(), S);
}

#[cfg(feature = "http")]
#[test]
fn the_http_preset_checks_the_same_values() {
    assert_eq!(
        RetryLayer::http().max_attempts(0).build().unwrap_err(),
        ConfigError::Zero {
            field: "max_attempts"
        }
    );
    assert_eq!(
        RetryLayer::http()
            .backoff(Backoff::exponential(2 * S, S))
            .build()
            .unwrap_err(),
        ConfigError::Inverted {
            lower: "base",
            upper: "cap"
        }
    );
    assert_eq!(
        RetryLayer::http()
            .budget(RetryBudget::new(S, 1, f64::NAN))
            .build()
            .unwrap_err(),
        ConfigError::NotFinite {
            field: "retry_ratio"
        }
    );
}
