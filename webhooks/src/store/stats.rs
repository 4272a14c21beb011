//! What an operator reads about endpoints: delivery counts and success rate,
//! attempts over time by outcome, and the recent messages of one endpoint.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use super::Delivery;

/// How one endpoint is doing: its queue, and its attempts since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStats {
    /// The endpoint.
    pub endpoint_id: String,
    /// Deliveries waiting for an attempt (pending or failed-retrying) or
    /// being delivered.
    pub pending: u64,
    /// Deliveries that gave up (until replayed).
    pub dead: u64,
    /// Attempts since the window's start that the endpoint answered 2xx.
    pub succeeded: u64,
    /// Attempts since the window's start that failed: any other status, or
    /// no answer.
    pub failed: u64,
}

impl EndpointStats {
    /// Succeeded attempts as a percentage (0–100) of all attempts in the
    /// window; `None` when there were none.
    ///
    /// ```
    /// use palisade_webhooks::store::EndpointStats;
    ///
    /// let stats = EndpointStats {
    ///     endpoint_id: "ep_1".into(),
    ///     pending: 0,
    ///     dead: 1,
    ///     succeeded: 3,
    ///     failed: 1,
    /// };
    /// assert_eq!(stats.success_rate(), Some(75.0));
    /// assert_eq!(EndpointStats { succeeded: 0, failed: 0, ..stats }.success_rate(), None);
    /// ```
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // attempt counts are far below 2^52
    pub fn success_rate(&self) -> Option<f64> {
        let total = self.succeeded + self.failed;
        (total > 0).then(|| self.succeeded as f64 * 100.0 / total as f64)
    }
}

/// Equal time slices to count attempts in: `count` slices of `width`,
/// the first starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    /// The start of the first slice.
    pub start: SystemTime,
    /// How long each slice is; the store counts in whole milliseconds, so a
    /// width under one millisecond counts as one.
    pub width: Duration,
    /// How many slices.
    pub count: NonZeroU32,
}

impl Buckets {
    /// `count` slices of `width` that end at `now`: the last hour in twelve
    /// slices of five minutes is `Buckets::ending_at(now, 5 min, 12)`.
    ///
    /// ```
    /// use std::num::NonZeroU32;
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use palisade_webhooks::store::Buckets;
    ///
    /// let now = UNIX_EPOCH + Duration::from_secs(7_200);
    /// let hour = Buckets::ending_at(now, Duration::from_secs(300), NonZeroU32::new(12).unwrap());
    /// assert_eq!(hour.start, UNIX_EPOCH + Duration::from_secs(3_600));
    /// assert_eq!(hour.end(), now);
    /// ```
    #[must_use]
    pub fn ending_at(now: SystemTime, width: Duration, count: NonZeroU32) -> Self {
        let span = width.saturating_mul(count.get());
        Self {
            start: now.checked_sub(span).unwrap_or(std::time::UNIX_EPOCH),
            width,
            count,
        }
    }

    /// The end of the last slice.
    #[must_use]
    pub fn end(&self) -> SystemTime {
        self.start + self.width.saturating_mul(self.count.get())
    }
}

/// The attempts made to one endpoint in one time slice, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptBucket {
    /// When the slice starts.
    pub start: SystemTime,
    /// The endpoint answered 2xx.
    pub succeeded: u64,
    /// The endpoint answered with another status.
    pub http_error: u64,
    /// No answer: a timeout, a refused connection, a blocked address, a
    /// broken body.
    pub transport_error: u64,
}

/// One endpoint's attempts per time slice, oldest slice first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointAttempts {
    /// The endpoint.
    pub endpoint_id: String,
    /// One per slice of the [`Buckets`] asked for, empty ones included.
    pub buckets: Vec<AttemptBucket>,
}

/// A message delivered (or to be delivered) to one endpoint, as the
/// endpoint's message list shows it: what it was, and where its delivery
/// stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentMessage {
    /// `msg_…`.
    pub message_id: String,
    /// Its event type.
    pub event_type: String,
    /// When it was published.
    pub created_at: SystemTime,
    /// Its delivery to the endpoint.
    pub delivery: Delivery,
}
