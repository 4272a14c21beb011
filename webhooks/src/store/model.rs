//! What the outbox stores: event types, endpoints, messages, deliveries and
//! attempts.
//!
//! Times are [`SystemTime`]s in the API and whole milliseconds since the Unix
//! epoch in the database, so both backends order and compare them the same way.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::Secret;

/// The application (tenant) used when a caller names none.
pub const DEFAULT_APPLICATION: &str = "default";

/// A kind of event producers publish and endpoints subscribe to, such as
/// `invoice.paid`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventType {
    /// The name messages carry (`[A-Za-z0-9_.-]`, 1 to 128 characters).
    pub name: String,
    /// What the event means, for the people who subscribe to it.
    pub description: String,
    /// A JSON Schema that every payload of this type must satisfy at publish.
    pub schema: Option<serde_json::Value>,
}

/// Why an endpoint receives nothing until it is enabled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisabledReason {
    /// An operator or the API disabled it.
    Manual,
    /// The endpoint answered `410 Gone`: it asked never to be called again.
    Gone,
    /// Every attempt failed for longer than the engine's `disable_after`.
    Failing,
}

impl DisabledReason {
    /// The word stored in the database and shown by the API.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Gone => "gone",
            Self::Failing => "failing",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "gone" => Self::Gone,
            "failing" => Self::Failing,
            // Anything else was set by a person.
            _ => Self::Manual,
        }
    }
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of an endpoint's signing secrets. During a rotation the old secret
/// stays active until `expires_at`, and every attempt is signed with all
/// active secrets, so receivers can switch without missing a message.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSecret {
    /// The key (never shown by `Debug`).
    pub secret: Secret,
    /// When it was added.
    pub created_at: SystemTime,
    /// When it stops being used; `None` while it is the current secret.
    pub expires_at: Option<SystemTime>,
}

/// What a caller gives to create an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint {
    /// The tenant that owns the endpoint.
    pub application: String,
    /// Where messages are POSTed (checked against the SSRF rules by the engine).
    pub url: String,
    /// Free text for the people who own it.
    pub description: String,
    /// Event types it receives; `None` means every type.
    pub event_types: Option<Vec<String>>,
    /// Channels it receives; `None` means every channel.
    pub channels: Option<Vec<String>>,
    /// The signing secret.
    pub secret: Secret,
    /// At most this many requests per second to this endpoint.
    pub rate_limit: Option<u32>,
    /// At most this many requests in flight to this endpoint.
    pub max_concurrency: Option<u32>,
    /// Deliver one at a time, in publish order.
    pub ordered: bool,
    /// Extra headers sent with every request (hop-by-hop and signature
    /// headers are refused by the engine).
    pub headers: Vec<(String, String)>,
}

/// A stored endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `ep_…`, assigned at creation.
    pub id: String,
    /// The tenant that owns it.
    pub application: String,
    /// Where messages are POSTed.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Event types it receives; `None` means every type.
    pub event_types: Option<Vec<String>>,
    /// Channels it receives; `None` means every channel.
    pub channels: Option<Vec<String>>,
    /// Active secrets, newest first.
    pub secrets: Vec<EndpointSecret>,
    /// At most this many requests per second.
    pub rate_limit: Option<u32>,
    /// At most this many requests in flight.
    pub max_concurrency: Option<u32>,
    /// One at a time, in publish order.
    pub ordered: bool,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// `Some` while disabled, with why and since when.
    pub disabled: Option<(DisabledReason, SystemTime)>,
    /// Since when every attempt has failed; `None` after a success.
    pub failing_since: Option<SystemTime>,
    /// When it was created.
    pub created_at: SystemTime,
}

/// What a producer publishes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The tenant whose endpoints receive it.
    pub application: String,
    /// Its event type (must exist).
    pub event_type: String,
    /// Channels it is published on (endpoints filtering by channel receive it
    /// when one matches).
    pub channels: Vec<String>,
    /// The exact bytes every endpoint receives (JSON).
    pub payload: Bytes,
    /// Publishing again with the same key (in the same application) returns
    /// the first message instead of creating another.
    pub idempotency_key: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `msg_…`: the `webhook-id` every attempt carries.
    pub id: String,
    /// The tenant.
    pub application: String,
    /// Its event type.
    pub event_type: String,
    /// Its channels.
    pub channels: Vec<String>,
    /// The body; `None` once expunged by the retention policy.
    pub payload: Option<Bytes>,
    /// The key it was published with.
    pub idempotency_key: Option<String>,
    /// When it was stored.
    pub created_at: SystemTime,
}

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The message's id (the existing one for a repeated idempotency key).
    pub message_id: String,
    /// `false` when the idempotency key had been used already and nothing new
    /// was stored.
    pub created: bool,
    /// How many deliveries (subscribed, enabled endpoints) it fanned out to.
    pub deliveries: u64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Pending,
    /// Claimed by a worker whose lease has not expired.
    Delivering,
    /// The endpoint answered 2xx.
    Succeeded,
    /// An attempt failed; another is scheduled.
    FailedRetrying,
    /// Every attempt failed (or the endpoint is gone): no more attempts until
    /// it is replayed.
    Dead,
}

impl DeliveryState {
    /// The word stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivering => "delivering",
            Self::Succeeded => "succeeded",
            Self::FailedRetrying => "failed_retrying",
            Self::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "delivering" => Self::Delivering,
            "succeeded" => Self::Succeeded,
            "failed_retrying" => Self::FailedRetrying,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Increasing in publish order.
    pub id: i64,
    /// The message.
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far (a postponement by an open breaker is not one).
    pub attempts: u32,
    /// When a worker looks at it next: the next attempt while pending or
    /// failed-retrying, the end of the lease while delivering, `None` once
    /// finished.
    pub next_attempt_at: Option<SystemTime>,
    /// When it last changed.
    pub updated_at: SystemTime,
}

/// A delivery a worker has claimed, with what it needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The delivery's id.
    pub delivery_id: i64,
    /// The message id (`webhook-id`).
    pub message_id: String,
    /// The endpoint to send to.
    pub endpoint_id: String,
    /// The message's event type.
    pub event_type: String,
    /// The body; `None` if it was expunged (the delivery then dies).
    pub payload: Option<Bytes>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The endpoint answered with this status.
    Status(u16),
    /// No answer: a short, low-cardinality kind such as `timeout`,
    /// `connect`, `blocked_address` or `body`.
    Transport(String),
}

/// One attempt to deliver a message, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The delivery it belongs to.
    pub delivery_id: i64,
    /// The message.
    pub message_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// When it started.
    pub at: SystemTime,
    /// Status code or transport error.
    pub result: AttemptResult,
    /// Time to the response head (or to the failure).
    pub latency: Duration,
    /// The start of the response body, bounded by the engine.
    pub response_excerpt: String,
}

/// What happens to a claimed delivery next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// It was delivered.
    Succeeded,
    /// Try again at this time.
    RetryAt(SystemTime),
    /// No more attempts.
    Dead,
    /// Dead, and the endpoint answered 410 Gone: disable it.
    Gone,
    /// Not attempted (the endpoint's breaker is open or it is disabled):
    /// due again at this time, attempts unchanged.
    Postpone(SystemTime),
}

/// A worker's report on one claimed delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The delivery.
    pub delivery_id: i64,
    /// The endpoint (for its failure tracking).
    pub endpoint_id: String,
    /// The attempt made, if one was (a postponement makes none).
    pub attempt: Option<Attempt>,
    /// What happens next.
    pub next: Next,
}

/// What a worker's report changed beyond its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FinishReport {
    /// Endpoints disabled by this report (410 Gone, or failing for longer
    /// than `disable_after`).
    pub disabled: Vec<String>,
    /// Endpoints that had been failing and just succeeded, each with the
    /// message whose delivery succeeded.
    pub recovered: Vec<(String, String)>,
}

/// How many deliveries wait, for metrics and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Pending or failed-retrying (due or not), plus those being delivered.
    pub waiting: u64,
    /// Dead deliveries.
    pub dead: u64,
    /// When the oldest due-but-not-delivered delivery became due.
    pub oldest_due_at: Option<SystemTime>,
}

/// Milliseconds since the Unix epoch, as the databases store times.
pub(crate) fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The inverse of [`to_millis`].
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_trip() {
        for ms in [0, 1, 1_700_000_000_123, -5_000] {
            assert_eq!(to_millis(from_millis(ms)), ms);
        }
    }

    #[test]
    fn states_round_trip_through_their_words() {
        use DeliveryState::*;
        for s in [Pending, Delivering, Succeeded, FailedRetrying, Dead] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryState::parse("lost"), None);
    }
}
