//! The audit log: every change made through the API — who, what, when,
//! before and after.
//!
//! [`Audit`] is the handle the API modules record into. It is backed by the
//! server's database (see the `AuditStore` implementations) or, in tests of
//! routes that need no database, by memory.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::api::Caller;

/// One change, as an API handler describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What was done, `noun.verb`: `flag.update`, `endpoint.create`,
    /// `key.revoke`, `breaker.force_open`, …
    pub action: &'static str,
    /// What it was done to: a flag key, an endpoint id, a key id, a breaker name.
    pub target: String,
    /// The target before the change (`None` when it was created).
    pub before: Option<Value>,
    /// The target after the change (`None` when it was deleted).
    pub after: Option<Value>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Increasing id, the paging cursor.
    pub id: i64,
    /// Who made it: the API key's id.
    pub actor: String,
    /// When it was recorded.
    #[serde(with = "crate::audit::unix_millis")]
    pub at: SystemTime,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// Where audit entries are kept.
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Appends an entry.
    fn append<'a>(
        &'a self,
        actor: &'a str,
        at: SystemTime,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), AuditError>>;

    /// Up to `limit` entries with ids below `before` (all when `None`), newest first.
    fn list(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Entry>, AuditError>>;
}

/// The audit store failed.
#[derive(Debug)]
pub struct AuditError(pub Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit log: {}", self.0)
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The handle API handlers record changes into. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Audit {
    store: Arc<dyn AuditStore>,
}

impl Audit {
    /// An audit log kept in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn AuditStore>) -> Self {
        Self { store }
    }

    /// An audit log kept in memory, for tests and embedders without a database.
    #[must_use]
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryAudit::default()))
    }

    /// Records `change`, made by `caller`, now.
    ///
    /// # Errors
    ///
    /// The store's error; the change itself has already been made, so the
    /// handler logs it and answers 500 rather than pretending nothing happened.
    pub async fn record(&self, caller: &Caller, change: Change) -> Result<(), AuditError> {
        // The audit log's own clock: entries are stamped when written.
        #[allow(clippy::disallowed_methods)]
        let now = SystemTime::now();
        self.store.append(&caller.key_id, now, &change).await
    }

    /// Up to `limit` entries older than the id `before`, newest first.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn list(&self, before: Option<i64>, limit: u32) -> Result<Vec<Entry>, AuditError> {
        self.store.list(before, limit).await
    }
}

/// Entries in a vector.
#[derive(Debug, Default)]
struct MemoryAudit {
    entries: Mutex<Vec<Entry>>,
}

impl AuditStore for MemoryAudit {
    fn append<'a>(
        &'a self,
        actor: &'a str,
        at: SystemTime,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), AuditError>> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = i64::try_from(entries.len()).unwrap_or(i64::MAX - 1) + 1;
        entries.push(Entry {
            id,
            actor: actor.to_owned(),
            at,
            change: change.clone(),
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn list(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Entry>, AuditError>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let page = entries
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.id < b))
            .take(limit as usize)
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(page)))
    }
}

/// `SystemTime` as milliseconds since the Unix epoch.
pub(crate) mod unix_millis {
    use std::time::{SystemTime, UNIX_EPOCH};

    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        s.serialize_u64(millis)
    }
}
