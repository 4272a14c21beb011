//! The one configuration error every layer returns from its constructor.

use std::fmt;

/// A layer was configured with values that cannot work.
///
/// Every layer validates its configuration when it is built and returns this
/// error instead of panicking, so bad values from a config file surface as an
/// error the caller can report.
///
/// ```
/// use palisade_resilience::ConfigError;
///
/// let err = ConfigError::OutOfRange { field: "failure_rate_threshold", value: 120.0, min: 0.0, max: 100.0 };
/// assert_eq!(err.to_string(), "failure_rate_threshold must be within 0..=100, got 120");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size, count or duration that must be greater than zero was zero.
    Zero {
        /// The name of the setting.
        field: &'static str,
    },
    /// A number was outside its permitted range (inclusive).
    OutOfRange {
        /// The name of the setting.
        field: &'static str,
        /// The rejected value.
        value: f64,
        /// The smallest permitted value.
        min: f64,
        /// The largest permitted value.
        max: f64,
    },
    /// A floating-point setting was NaN or infinite.
    NotFinite {
        /// The name of the setting.
        field: &'static str,
    },
    /// Two settings that bound a range were given the wrong way round.
    Inverted {
        /// The setting that must be the smaller one.
        lower: &'static str,
        /// The setting that must be the larger one.
        upper: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero { field } => write!(f, "{field} must be greater than zero"),
            Self::OutOfRange {
                field,
                value,
                min,
                max,
            } => write!(f, "{field} must be within {min}..={max}, got {value}"),
            Self::NotFinite { field } => write!(f, "{field} must be a finite number"),
            Self::Inverted { lower, upper } => {
                write!(f, "{lower} must not be greater than {upper}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Checks that `value` is finite and within `min..=max`.
#[allow(dead_code)] // used by the features that take rates and multipliers
pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<f64, ConfigError> {
    if !value.is_finite() {
        return Err(ConfigError::NotFinite { field });
    }
    if !(min..=max).contains(&value) {
        return Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_range_rejects_nan_infinity_and_out_of_range() {
        assert_eq!(
            check_range("x", f64::NAN, 0.0, 1.0),
            Err(ConfigError::NotFinite { field: "x" })
        );
        assert_eq!(
            check_range("x", f64::INFINITY, 0.0, 1.0),
            Err(ConfigError::NotFinite { field: "x" })
        );
        assert!(matches!(
            check_range("x", -0.5, 0.0, 1.0),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert_eq!(check_range("x", 1.0, 0.0, 1.0), Ok(1.0));
    }
}
