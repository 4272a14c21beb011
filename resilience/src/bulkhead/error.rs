//! The error [`Bulkhead`](super::Bulkhead) originates.

use std::fmt;
use std::time::Duration;

/// The bulkhead had no permit for the call and could not queue it, or the call
/// waited too long in the queue. The call never reached the inner service.
///
/// ```
/// use palisade_resilience::BoxError;
/// use palisade_resilience::bulkhead::error::{BulkheadFull, Reason};
///
/// let err: BoxError = BulkheadFull::new(10, Reason::QueueFull).into();
/// let full = err.downcast_ref::<BulkheadFull>().unwrap();
/// assert_eq!(full.max_concurrent(), 10);
/// assert!(full.is_queue_full());
/// assert_eq!(err.to_string(), "bulkhead full: 10 calls in flight and no room to wait");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadFull {
    max_concurrent: usize,
    reason: Reason,
}

/// Why a call was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Every permit was taken and the wait queue was full (a bulkhead without
    /// a queue, or with a zero `max_wait`, is always full).
    QueueFull,
    /// The call waited `max_wait` in the queue without getting a permit.
    WaitExpired {
        /// How long the call waited.
        max_wait: Duration,
    },
    /// A keyed bulkhead already had `max_keys` partitions and none of the
    /// sampled ones was idle, so there was no room for this call's new key.
    TooManyPartitions {
        /// The configured bound on partitions.
        max_keys: usize,
    },
    /// The call weighed more permits than the bulkhead has at all (see
    /// [`weight`](crate::weight)), so it could never run.
    TooHeavy {
        /// What the call weighed.
        weight: u32,
    },
}

impl BulkheadFull {
    /// A rejection by a bulkhead of `max_concurrent` permits.
    #[must_use]
    pub const fn new(max_concurrent: usize, reason: Reason) -> Self {
        Self {
            max_concurrent,
            reason,
        }
    }

    /// The bulkhead's limit on concurrent calls.
    #[must_use]
    pub const fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Why the call was rejected.
    #[must_use]
    pub const fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether the call was rejected at once because it could not queue.
    #[must_use]
    pub const fn is_queue_full(&self) -> bool {
        matches!(self.reason, Reason::QueueFull)
    }

    /// Whether the call was rejected after waiting `max_wait` in the queue.
    #[must_use]
    pub const fn is_wait_expired(&self) -> bool {
        matches!(self.reason, Reason::WaitExpired { .. })
    }
}

impl Reason {
    /// A short label (`queue_full`, `wait_expired`, `too_many_partitions`,
    /// `too_heavy`),
    /// used as the `reason` label of the rejection metric.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::WaitExpired { .. } => "wait_expired",
            Self::TooManyPartitions { .. } => "too_many_partitions",
            Self::TooHeavy { .. } => "too_heavy",
        }
    }
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::QueueFull => write!(
                f,
                "bulkhead full: {} calls in flight and no room to wait",
                self.max_concurrent
            ),
            Reason::WaitExpired { max_wait } => write!(
                f,
                "bulkhead full: no permit within {max_wait:?} ({} calls in flight)",
                self.max_concurrent
            ),
            Reason::TooManyPartitions { max_keys } => {
                write!(f, "bulkhead full: all {max_keys} partitions are busy")
            }
            Reason::TooHeavy { weight } => write!(
                f,
                "bulkhead full: a call of weight {weight} exceeds the {} permits there are",
                self.max_concurrent
            ),
        }
    }
}

impl std::error::Error for BulkheadFull {}
