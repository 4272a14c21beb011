//! The durable outbox behind the delivery engine: one [`Store`] trait, two
//! backends with embedded migrations.
//!
//! - [`SqliteStore`] (feature `sqlite`): one file in WAL mode, the embedded
//!   default. Writes go through one connection, so they queue in order
//!   instead of contending for SQLite's lock.
//! - [`PostgresStore`] (feature `postgres`): several engine instances share
//!   one database; deliveries are claimed with `FOR UPDATE SKIP LOCKED`.
//!
//! # Guarantees
//!
//! - [`Store::publish`] returns only after the message and one delivery per
//!   subscribed, enabled endpoint are committed in one transaction: there is
//!   no moment at which a message is stored but not queued. Both backends
//!   also offer a `publish_in` that writes inside the caller's own
//!   transaction (the outbox pattern): the message exists exactly when the
//!   producer's own write does.
//! - Publishing again with the same idempotency key returns the first message
//!   and stores nothing; the same key with a different message is an
//!   [`StoreError::IdempotencyConflict`].
//! - A claim is a lease: a worker that dies leaves its deliveries in
//!   `delivering` until the lease ends, when any worker claims them again.
//!   Delivery is therefore at least once; duplicates happen only after a
//!   lease expired (a crash, or an attempt slower than the lease).
//! - A worker's report ([`Store::finish`]) only changes deliveries it still
//!   holds; the attempt itself is always recorded.

mod cipher;
mod error;
mod id;
mod model;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod stats;

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

pub use cipher::{KeyError, SecretKey, SecretKeyring};
pub use error::StoreError;
pub(crate) use id::new_id;
pub use model::{
    Attempt, AttemptResult, Claimed, DEFAULT_APPLICATION, Delivery, DeliveryState, DisabledReason,
    Endpoint, EndpointSecret, EventType, FinishReport, Finished, Message, NewEndpoint, NewMessage,
    Next, Published, QueueStats,
};
pub(crate) use model::{from_millis, to_millis};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::{Durability, SqliteStore};
pub use stats::{AttemptBucket, Buckets, EndpointAttempts, EndpointStats, RecentMessage};

/// The result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where the delivery engine keeps event types, endpoints, messages,
/// deliveries and attempts.
///
/// Object safe (the futures are boxed: one allocation per database call,
/// nothing beside the database round trip), so an engine or a server can hold
/// an `Arc<dyn Store>` chosen at start-up.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Creates an event type.
    fn create_event_type(
        &self,
        event_type: EventType,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<()>>;

    /// Reads one event type.
    fn event_type<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<EventType>>>;

    /// Lists event types by name.
    fn event_types(&self) -> BoxFuture<'_, StoreResult<Vec<EventType>>>;

    /// Stores a new endpoint and returns it with its id.
    fn create_endpoint(
        &self,
        endpoint: NewEndpoint,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<Endpoint>>;

    /// Reads one endpoint with its active secrets.
    fn endpoint<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Endpoint>>;

    /// Lists endpoints (of one application, or all), oldest first.
    fn endpoints<'a>(
        &'a self,
        application: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<Vec<Endpoint>>>;

    /// Replaces an endpoint's settings (URL, description, filters, limits,
    /// ordering, headers). Secrets, state and ids are left alone: use
    /// [`rotate_secret`](Self::rotate_secret) and
    /// [`set_disabled`](Self::set_disabled).
    fn update_endpoint<'a>(
        &'a self,
        endpoint: &'a Endpoint,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Makes `secret` the endpoint's current secret; the previous ones stay
    /// active for `overlap` and are then dropped.
    fn rotate_secret<'a>(
        &'a self,
        endpoint_id: &'a str,
        secret: crate::Secret,
        overlap: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Disables the endpoint for `reason`, or enables it with `None` (which
    /// also forgets its failure streak).
    fn set_disabled<'a>(
        &'a self,
        endpoint_id: &'a str,
        reason: Option<DisabledReason>,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Deletes an endpoint with its deliveries and attempts.
    fn delete_endpoint<'a>(&'a self, endpoint_id: &'a str) -> BoxFuture<'a, StoreResult<()>>;

    /// Stores a message and fans it out to every enabled endpoint of its
    /// application subscribed to its event type and channels, in one
    /// transaction.
    fn publish(
        &self,
        message: NewMessage,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<Published>>;

    /// Reads one message.
    fn message<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Message>>;

    /// The deliveries of one message.
    fn deliveries<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Delivery>>>;

    /// The attempts made for one message, oldest first.
    fn attempts<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Attempt>>>;

    /// Claims up to `limit` due deliveries for `lease`, oldest due first.
    /// `token` names this claim (unique per claim: the engine uses its
    /// instance id and a counter); [`finish`](Self::finish) must give it
    /// back. An ordered endpoint yields only its oldest unfinished delivery.
    fn claim<'a>(
        &'a self,
        token: &'a str,
        now: SystemTime,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<Claimed>>>;

    /// Records the outcome of claimed deliveries in one transaction. When
    /// `disable_after` is set, an endpoint whose attempts have all failed
    /// for that long is disabled as [`DisabledReason::Failing`]. The report
    /// says which endpoints this call disabled (failing or gone) and which
    /// recovered (succeeded after failing).
    fn finish<'a>(
        &'a self,
        token: &'a str,
        finished: &'a [Finished],
        now: SystemTime,
        disable_after: Option<Duration>,
    ) -> BoxFuture<'a, StoreResult<FinishReport>>;

    /// Gives back every delivery still held under `token`, due at `now`
    /// with its attempts unchanged (graceful shutdown).
    fn release<'a>(&'a self, token: &'a str, now: SystemTime) -> BoxFuture<'a, StoreResult<u64>>;

    /// Queues every delivery of a message again (whatever its state, except
    /// one being delivered), with a fresh retry schedule. Returns how many.
    fn replay_message<'a>(
        &'a self,
        message_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<u64>>;

    /// Queues again every dead delivery of an endpoint whose message was
    /// published at or after `since`. Returns how many.
    fn replay_dead<'a>(
        &'a self,
        endpoint_id: &'a str,
        since: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<u64>>;

    /// Removes the payloads of messages created before `before` whose
    /// deliveries are all finished (succeeded or dead); attempts and
    /// message metadata stay. Returns how many payloads were removed.
    fn expunge_payloads(&self, before: SystemTime) -> BoxFuture<'_, StoreResult<u64>>;

    /// Queue depth and lag.
    fn stats(&self, now: SystemTime) -> BoxFuture<'_, StoreResult<QueueStats>>;

    /// Delivery statistics of the endpoints named in `endpoint_ids`, in one
    /// query: their queues now, and their attempts at or after `since`.
    /// Ids that name no endpoint are left out; the order is the ids'.
    fn endpoint_stats<'a>(
        &'a self,
        endpoint_ids: &'a [String],
        since: SystemTime,
    ) -> BoxFuture<'a, StoreResult<Vec<EndpointStats>>>;

    /// The attempts made to each endpoint named in `endpoint_ids` in each
    /// of `buckets`' slices, by outcome, in one query. Ids that name no
    /// endpoint are left out; the order is the ids'.
    fn attempt_buckets<'a>(
        &'a self,
        endpoint_ids: &'a [String],
        buckets: Buckets,
    ) -> BoxFuture<'a, StoreResult<Vec<EndpointAttempts>>>;

    /// The messages delivered to one endpoint, newest first, at most
    /// `limit`; with `before`, only those published before that message
    /// (the last one of the previous page).
    fn recent_messages<'a>(
        &'a self,
        endpoint_id: &'a str,
        before: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<RecentMessage>>>;
}
