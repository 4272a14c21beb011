//! Why a store operation failed.

use std::fmt;

/// A store operation failed. Nothing was half-written: every operation that
/// changes more than one row runs in one transaction.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The message names an event type that was never created.
    UnknownEventType(String),
    /// No endpoint has this id.
    UnknownEndpoint(String),
    /// No message has this id.
    UnknownMessage(String),
    /// An event type with this name exists already.
    EventTypeExists(String),
    /// The idempotency key was used before for a different message (another
    /// event type, channels or payload). Publishing the same message again
    /// with the same key is not an error: it returns the first one.
    IdempotencyConflict {
        /// The key.
        key: String,
        /// The message first published with it.
        message_id: String,
    },
    /// A value read back from the database is not one this version writes
    /// (a newer schema, or a manual edit).
    Corrupt(String),
    /// An endpoint secret cannot be sealed or opened: the key it was sealed
    /// with is not configured, or the row was tampered with.
    Secret(String),
    /// The database refused or could not be reached.
    Database(sqlx::Error),
    /// The embedded migrations could not be applied.
    Migrate(sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A short, stable name for the error (for metrics, logs and problem
    /// types).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownEventType(_) => "unknown_event_type",
            Self::UnknownEndpoint(_) => "unknown_endpoint",
            Self::UnknownMessage(_) => "unknown_message",
            Self::EventTypeExists(_) => "event_type_exists",
            Self::IdempotencyConflict { .. } => "idempotency_conflict",
            Self::Corrupt(_) => "corrupt_row",
            Self::Secret(_) => "secret_key",
            Self::Database(_) => "database",
            Self::Migrate(_) => "migrate",
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownEventType(name) => write!(f, "unknown event type `{name}`"),
            Self::UnknownEndpoint(id) => write!(f, "no endpoint with id `{id}`"),
            Self::UnknownMessage(id) => write!(f, "no message with id `{id}`"),
            Self::EventTypeExists(name) => write!(f, "event type `{name}` exists already"),
            Self::IdempotencyConflict { key, message_id } => write!(
                f,
                "idempotency key `{key}` was used for message `{message_id}` with a different \
                 event type, channels or payload"
            ),
            Self::Corrupt(what) => write!(f, "unreadable row in the outbox: {what}"),
            Self::Secret(why) => f.write_str(why),
            Self::Database(_) => f.write_str("the outbox database failed"),
            Self::Migrate(_) => f.write_str("the outbox migrations could not be applied"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            Self::Migrate(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e)
    }
}
