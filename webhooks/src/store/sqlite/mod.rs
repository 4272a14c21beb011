//! The SQLite outbox: one file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so concurrent
//! publishes and worker reports queue in Rust, in order, instead of retrying
//! on `SQLITE_BUSY`; reads use a pool of their own and never wait for a
//! writer (WAL).

mod rows;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sqlx::Row as _;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use self::rows::{endpoint_from_rows, event_type_from_row};
use super::rows::{
    attempt_from_row, claimed_from_row, delivery_from_row, endpoint_stats_from_row, fill_buckets,
    in_order_of, recent_message_from_row, width_millis,
};
use super::{
    Attempt, AttemptResult, Buckets, Claimed, Delivery, DisabledReason, Endpoint, EndpointAttempts,
    EndpointStats, EventType, FinishReport, Finished, Message, NewEndpoint, NewMessage, Next,
    Published, QueueStats, RecentMessage, SecretKeyring, Store, StoreError, StoreResult,
    from_millis, new_id, to_millis,
};
use crate::Secret;

/// How hard SQLite works to keep a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous = FULL`: every commit is on disk before `publish`
    /// returns; a published message survives a power cut. The default.
    #[default]
    Full,
    /// `synchronous = NORMAL`: a commit survives the process crashing, but
    /// the last few may be lost if the machine loses power. Several times
    /// more commits per second on slow disks.
    Normal,
}

/// The SQLite outbox. Cheap to clone (two pool handles).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use palisade_webhooks::store::{EventType, NewMessage, SqliteStore, Store};
///
/// let dir = std::env::temp_dir().join(format!("palisade-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = SqliteStore::open(dir.join("outbox.db")).await?;
/// store
///     .create_event_type(EventType {
///         name: "invoice.paid".into(),
///         description: "An invoice was paid.".into(),
///         schema: None,
///     }, std::time::SystemTime::now())
///     .await?;
/// let published = store
///     .publish(
///         NewMessage {
///             application: "default".into(),
///             event_type: "invoice.paid".into(),
///             channels: vec![],
///             payload: r#"{"id":"in_1"}"#.into(),
///             idempotency_key: Some("in_1".into()),
///         },
///         std::time::SystemTime::now(),
///     )
///     .await?;
/// assert!(published.created);
/// assert_eq!(published.deliveries, 0); // no endpoint subscribed yet
/// # drop(store); std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    keyring: Arc<SecretKeyring>,
}

/// The embedded migrations, applied in order by [`SqliteStore::open`].
fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let mut migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "outbox".into(),
            MigrationType::Simple,
            include_str!("../../../migrations/sqlite/0001_outbox.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "endpoint stats".into(),
            MigrationType::Simple,
            include_str!("../../../migrations/sqlite/0002_endpoint_stats.sql").into_sql_str(),
            false,
        ),
    ]);
    // Our own bookkeeping table, so an application can keep its own sqlx
    // migrations in the same database file.
    migrator.dangerous_set_table_name("_palisade_webhooks_migrations");
    migrator
}

impl SqliteStore {
    /// Opens (creating it if needed) the outbox at `path` with
    /// [`Durability::Full`] and applies the migrations. The directory must
    /// exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened or created,
    /// [`StoreError::Migrate`] if the migrations fail (for example a file
    /// written by a newer version).
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, Durability::Full).await
    }

    /// [`open`](Self::open) with a chosen [`Durability`].
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub async fn open_with(path: impl AsRef<Path>, durability: Durability) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            // Only readers and checkpoints can make the one writer wait.
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrator().run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            writer,
            reader,
            keyring: Arc::default(),
        })
    }

    /// Seals endpoint secrets at rest with `keyring` (see
    /// [`SecretKeyring`]); secrets already stored stay readable in whatever
    /// form they have until [`reseal_secrets`](Self::reseal_secrets).
    #[must_use]
    pub fn with_keyring(mut self, keyring: SecretKeyring) -> Self {
        self.keyring = Arc::new(keyring);
        self
    }

    /// Writes every stored endpoint secret again under the keyring's current
    /// key (or as plain text without one), in one transaction. Returns how
    /// many were written.
    ///
    /// # Errors
    ///
    /// [`StoreError::Secret`] if a stored secret does not open with the
    /// keyring (nothing is changed then), or a database error.
    pub async fn reseal_secrets(&self) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query("SELECT rowid, endpoint_id, secret FROM endpoint_secrets")
            .fetch_all(&mut *tx)
            .await?;
        let mut written = 0;
        for row in rows {
            let rowid: i64 = row.try_get("rowid")?;
            let endpoint_id: String = row.try_get("endpoint_id")?;
            let stored: String = row.try_get("secret")?;
            let secret = self.keyring.open(&stored, &endpoint_id)?;
            sqlx::query("UPDATE endpoint_secrets SET secret = ?2 WHERE rowid = ?1")
                .bind(rowid)
                .bind(self.keyring.seal(&secret, &endpoint_id)?)
                .execute(&mut *tx)
                .await?;
            written += 1;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The pool of the one writing connection: begin a transaction on it to
    /// write your own rows and [`publish_in`](Self::publish_in) together.
    /// Begin it with `BEGIN IMMEDIATE` when another process (a running
    /// server) writes the same file: a deferred transaction that read
    /// first fails with "database is locked" at once instead of waiting.
    #[must_use]
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Publishes inside the caller's transaction (the outbox pattern): the
    /// message and its deliveries commit or roll back with the caller's own
    /// writes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use palisade_webhooks::store::{EventType, NewMessage, SqliteStore, Store};
    /// # let dir = std::env::temp_dir().join(format!("palisade-doc-in-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let store = SqliteStore::open(dir.join("outbox.db")).await?;
    /// # store.create_event_type(EventType { name: "order.placed".into(), description: String::new(), schema: None }, std::time::SystemTime::now()).await?;
    /// let mut tx = store.writer().begin_with("BEGIN IMMEDIATE").await?;
    /// sqlx::query("CREATE TABLE IF NOT EXISTS orders (id TEXT)").execute(&mut *tx).await?;
    /// sqlx::query("INSERT INTO orders VALUES ('o1')").execute(&mut *tx).await?;
    /// let message = NewMessage {
    ///     application: "default".into(),
    ///     event_type: "order.placed".into(),
    ///     channels: vec![],
    ///     payload: r#"{"order":"o1"}"#.into(),
    ///     idempotency_key: None,
    /// };
    /// let published = store.publish_in(&mut tx, message, std::time::SystemTime::now()).await?;
    /// tx.commit().await?; // the order and its event, or neither
    /// assert!(store.message(&published.message_id).await.is_ok());
    /// # drop(store); std::fs::remove_dir_all(&dir)?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Store::publish`]; the caller's transaction should then be
    /// rolled back.
    pub async fn publish_in(
        &self,
        conn: &mut SqliteConnection,
        message: NewMessage,
        now: SystemTime,
    ) -> StoreResult<Published> {
        publish_on(conn, &message, now).await
    }

    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        // IMMEDIATE takes the write lock at once, so a transaction never
        // fails half-way when it would have to upgrade from a read.
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

fn opt_json_list(list: Option<&Vec<String>>) -> Option<String> {
    list.map(|l| json_list(l))
}

async fn publish_on(
    conn: &mut SqliteConnection,
    message: &NewMessage,
    now: SystemTime,
) -> StoreResult<Published> {
    let channels = json_list(&message.channels);
    if let Some(key) = &message.idempotency_key {
        let existing = sqlx::query(
            "SELECT id, event_type, channels, payload FROM messages \
             WHERE application = ?1 AND idempotency_key = ?2",
        )
        .bind(&message.application)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = existing {
            let id: String = row.try_get("id")?;
            let same = row.try_get::<String, _>("event_type")? == message.event_type
                && row.try_get::<String, _>("channels")? == channels
                && row
                    .try_get::<Option<Vec<u8>>, _>("payload")?
                    .is_none_or(|p| p == message.payload.as_ref());
            if !same {
                return Err(StoreError::IdempotencyConflict {
                    key: key.clone(),
                    message_id: id,
                });
            }
            let deliveries: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE message_id = ?1")
                    .bind(&id)
                    .fetch_one(&mut *conn)
                    .await?;
            return Ok(Published {
                message_id: id,
                created: false,
                deliveries: u64::try_from(deliveries).unwrap_or(0),
            });
        }
    }
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM event_types WHERE name = ?1")
        .bind(&message.event_type)
        .fetch_optional(&mut *conn)
        .await?;
    if known.is_none() {
        return Err(StoreError::UnknownEventType(message.event_type.clone()));
    }
    let id = new_id("msg_", now);
    let now_ms = to_millis(now);
    sqlx::query(
        "INSERT INTO messages (id, application, event_type, channels, payload, idempotency_key, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(&id)
    .bind(&message.application)
    .bind(&message.event_type)
    .bind(&channels)
    .bind(message.payload.as_ref())
    .bind(&message.idempotency_key)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let fanned = sqlx::query(
        "INSERT INTO deliveries (message_id, endpoint_id, state, attempts, due_at, created_at, \
         updated_at) \
         SELECT ?1, e.id, 'pending', 0, ?2, ?2, ?2 FROM endpoints e \
         WHERE e.application = ?3 AND e.disabled_reason IS NULL \
           AND (e.event_types IS NULL \
                OR EXISTS (SELECT 1 FROM json_each(e.event_types) t WHERE t.value = ?4)) \
           AND (e.channels IS NULL \
                OR EXISTS (SELECT 1 FROM json_each(e.channels) a, json_each(?5) b \
                           WHERE a.value = b.value)) \
         ORDER BY e.created_at, e.id",
    )
    .bind(&id)
    .bind(now_ms)
    .bind(&message.application)
    .bind(&message.event_type)
    .bind(&channels)
    .execute(&mut *conn)
    .await?;
    Ok(Published {
        message_id: id,
        created: true,
        deliveries: fanned.rows_affected(),
    })
}

/// Reads endpoints (with their secrets) selected by `filter`, a WHERE clause
/// on `endpoints` with at most one parameter.
async fn load_endpoints(
    pool: &SqlitePool,
    keyring: &SecretKeyring,
    filter: &'static str,
    param: Option<&str>,
) -> StoreResult<Vec<Endpoint>> {
    let endpoints_sql = match filter {
        "id" => "SELECT * FROM endpoints WHERE id = ?1",
        "application" => "SELECT * FROM endpoints WHERE application = ?1 ORDER BY created_at, id",
        _ => "SELECT * FROM endpoints ORDER BY created_at, id",
    };
    let secrets_sql = match filter {
        "id" => {
            "SELECT * FROM endpoint_secrets WHERE endpoint_id = ?1 \
             ORDER BY created_at DESC, rowid DESC"
        }
        "application" => {
            "SELECT s.* FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id \
             WHERE e.application = ?1 ORDER BY s.created_at DESC, s.rowid DESC"
        }
        _ => "SELECT * FROM endpoint_secrets ORDER BY created_at DESC, rowid DESC",
    };
    let mut conn = pool.acquire().await?;
    let endpoints = sqlx::query(endpoints_sql)
        .bind(param)
        .fetch_all(&mut *conn)
        .await?;
    let secrets = sqlx::query(secrets_sql)
        .bind(param)
        .fetch_all(&mut *conn)
        .await?;
    endpoint_from_rows(&endpoints, &secrets, keyring)
}

fn is_attempt_failure(attempt: &Attempt) -> bool {
    !matches!(attempt.result, AttemptResult::Status(s) if (200..300).contains(&s))
}

impl Store for SqliteStore {
    fn create_event_type(
        &self,
        event_type: EventType,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            let schema = event_type.schema.as_ref().map(ToString::to_string);
            let done = sqlx::query(
                "INSERT INTO event_types (name, description, schema, created_at) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&event_type.name)
            .bind(&event_type.description)
            .bind(schema)
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::EventTypeExists(event_type.name));
            }
            Ok(())
        }
        .boxed()
    }

    fn event_type<'a>(&'a self, name: &'a str) -> BoxFuture<'a, StoreResult<Option<EventType>>> {
        async move {
            let row = sqlx::query("SELECT * FROM event_types WHERE name = ?1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
            row.as_ref().map(event_type_from_row).transpose()
        }
        .boxed()
    }

    fn event_types(&self) -> BoxFuture<'_, StoreResult<Vec<EventType>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM event_types ORDER BY name")
                .fetch_all(&self.reader)
                .await?;
            rows.iter().map(event_type_from_row).collect()
        }
        .boxed()
    }

    fn create_endpoint(
        &self,
        endpoint: NewEndpoint,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<Endpoint>> {
        async move {
            let id = new_id("ep_", now);
            let now_ms = to_millis(now);
            let headers = serde_json::to_string(&endpoint.headers).unwrap_or_default();
            let mut tx = self.write_tx().await?;
            sqlx::query(
                "INSERT INTO endpoints (id, application, url, description, event_types, \
                 channels, rate_limit, max_concurrency, ordered, headers, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            )
            .bind(&id)
            .bind(&endpoint.application)
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(opt_json_list(endpoint.event_types.as_ref()))
            .bind(opt_json_list(endpoint.channels.as_ref()))
            .bind(endpoint.rate_limit.map(i64::from))
            .bind(endpoint.max_concurrency.map(i64::from))
            .bind(endpoint.ordered)
            .bind(headers)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?1, ?2, ?3)",
            )
            .bind(&id)
            .bind(self.keyring.seal(&endpoint.secret, &id)?)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.endpoint(&id).await
        }
        .boxed()
    }

    fn endpoint<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Endpoint>> {
        async move {
            // Read on the writer: a caller that just wrote expects to read it.
            load_endpoints(&self.writer, &self.keyring, "id", Some(id))
                .await?
                .pop()
                .ok_or_else(|| StoreError::UnknownEndpoint(id.to_owned()))
        }
        .boxed()
    }

    fn endpoints<'a>(
        &'a self,
        application: Option<&'a str>,
    ) -> BoxFuture<'a, StoreResult<Vec<Endpoint>>> {
        async move {
            match application {
                Some(app) => {
                    load_endpoints(&self.reader, &self.keyring, "application", Some(app)).await
                }
                None => load_endpoints(&self.reader, &self.keyring, "all", None).await,
            }
        }
        .boxed()
    }

    fn update_endpoint<'a>(
        &'a self,
        endpoint: &'a Endpoint,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let headers = serde_json::to_string(&endpoint.headers).unwrap_or_default();
            let done = sqlx::query(
                "UPDATE endpoints SET url = ?2, description = ?3, event_types = ?4, \
                 channels = ?5, rate_limit = ?6, max_concurrency = ?7, ordered = ?8, \
                 headers = ?9, updated_at = ?10 WHERE id = ?1",
            )
            .bind(&endpoint.id)
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(opt_json_list(endpoint.event_types.as_ref()))
            .bind(opt_json_list(endpoint.channels.as_ref()))
            .bind(endpoint.rate_limit.map(i64::from))
            .bind(endpoint.max_concurrency.map(i64::from))
            .bind(endpoint.ordered)
            .bind(headers)
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownEndpoint(endpoint.id.clone()));
            }
            Ok(())
        }
        .boxed()
    }

    fn rotate_secret<'a>(
        &'a self,
        endpoint_id: &'a str,
        secret: Secret,
        overlap: Duration,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let now_ms = to_millis(now);
            let mut tx = self.write_tx().await?;
            require(&mut tx, "SELECT 1 FROM endpoints WHERE id = ?1", endpoint_id, StoreError::UnknownEndpoint)
                .await?;
            sqlx::query(
                "DELETE FROM endpoint_secrets WHERE endpoint_id = ?1 \
                 AND expires_at IS NOT NULL AND expires_at <= ?2",
            )
            .bind(endpoint_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE endpoint_secrets SET expires_at = ?2 \
                 WHERE endpoint_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            )
            .bind(endpoint_id)
            .bind(to_millis(now + overlap))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?1, ?2, ?3)",
            )
            .bind(endpoint_id)
            .bind(self.keyring.seal(&secret, endpoint_id)?)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .boxed()
    }

    fn set_disabled<'a>(
        &'a self,
        endpoint_id: &'a str,
        reason: Option<DisabledReason>,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let done = sqlx::query(
                "UPDATE endpoints SET disabled_reason = ?2, \
                 disabled_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END, \
                 failing_since = CASE WHEN ?2 IS NULL THEN NULL ELSE failing_since END, \
                 updated_at = ?3 WHERE id = ?1",
            )
            .bind(endpoint_id)
            .bind(reason.as_ref().map(DisabledReason::as_str))
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownEndpoint(endpoint_id.to_owned()));
            }
            Ok(())
        }
        .boxed()
    }

    fn delete_endpoint<'a>(&'a self, endpoint_id: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let done = sqlx::query("DELETE FROM endpoints WHERE id = ?1")
                .bind(endpoint_id)
                .execute(&self.writer)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownEndpoint(endpoint_id.to_owned()));
            }
            Ok(())
        }
        .boxed()
    }

    fn publish(
        &self,
        message: NewMessage,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<Published>> {
        async move {
            let mut tx = self.write_tx().await?;
            let published = publish_on(&mut tx, &message, now).await?;
            tx.commit().await?;
            Ok(published)
        }
        .boxed()
    }

    fn message<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Message>> {
        async move {
            let row = sqlx::query("SELECT * FROM messages WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.writer)
                .await?
                .ok_or_else(|| StoreError::UnknownMessage(id.to_owned()))?;
            rows::message_from_row(&row)
        }
        .boxed()
    }

    fn deliveries<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Delivery>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM deliveries WHERE message_id = ?1 ORDER BY id")
                .bind(message_id)
                .fetch_all(&self.writer)
                .await?;
            rows.iter().map(delivery_from_row).collect()
        }
        .boxed()
    }

    fn attempts<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Attempt>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM attempts WHERE message_id = ?1 ORDER BY id")
                .bind(message_id)
                .fetch_all(&self.writer)
                .await?;
            rows.iter().map(attempt_from_row).collect()
        }
        .boxed()
    }

    fn claim<'a>(
        &'a self,
        token: &'a str,
        now: SystemTime,
        lease: Duration,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<Claimed>>> {
        async move {
            let now_ms = to_millis(now);
            let mut tx = self.write_tx().await?;
            // An ordered endpoint yields its oldest unfinished delivery, and
            // only while no other of its deliveries is under a running lease
            // (a replayed older message must wait for the one in flight).
            let claimed = sqlx::query(
                "UPDATE deliveries SET state = 'delivering', lease_token = ?1, due_at = ?2, \
                 updated_at = ?3 \
                 WHERE id IN ( \
                   SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                   WHERE d.due_at <= ?3 AND e.disabled_reason IS NULL \
                     AND (e.ordered = 0 OR (NOT EXISTS ( \
                       SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
                         AND p.id < d.id AND p.due_at IS NOT NULL) \
                     AND NOT EXISTS ( \
                       SELECT 1 FROM deliveries s WHERE s.endpoint_id = d.endpoint_id \
                         AND s.id > d.id AND s.state = 'delivering' AND s.due_at > ?3))) \
                   ORDER BY d.due_at, d.id LIMIT ?4)",
            )
            .bind(token)
            .bind(to_millis(now + lease))
            .bind(now_ms)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let rows = sqlx::query(
                "SELECT d.id, d.message_id, d.endpoint_id, d.attempts, m.event_type, m.payload \
                 FROM deliveries d JOIN messages m ON m.id = d.message_id \
                 WHERE d.lease_token = ?1 ORDER BY d.id",
            )
            .bind(token)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows.iter().map(claimed_from_row).collect()
        }
        .boxed()
    }

    fn finish<'a>(
        &'a self,
        token: &'a str,
        finished: &'a [Finished],
        now: SystemTime,
        disable_after: Option<Duration>,
    ) -> BoxFuture<'a, StoreResult<FinishReport>> {
        async move {
            let now_ms = to_millis(now);
            let mut report = FinishReport::default();
            let mut failing = Vec::new();
            let mut tx = self.write_tx().await?;
            for item in finished {
                if let Some(attempt) = &item.attempt {
                    insert_attempt(&mut tx, attempt).await?;
                    if is_attempt_failure(attempt) {
                        sqlx::query(
                            "UPDATE endpoints SET failing_since = COALESCE(failing_since, ?2) \
                             WHERE id = ?1",
                        )
                        .bind(&item.endpoint_id)
                        .bind(to_millis(attempt.at))
                        .execute(&mut *tx)
                        .await?;
                        if !failing.contains(&item.endpoint_id) {
                            failing.push(item.endpoint_id.clone());
                        }
                    } else {
                        let recovered = sqlx::query(
                            "UPDATE endpoints SET failing_since = NULL \
                             WHERE id = ?1 AND failing_since IS NOT NULL",
                        )
                        .bind(&item.endpoint_id)
                        .execute(&mut *tx)
                        .await?;
                        if recovered.rows_affected() > 0 {
                            report
                                .recovered
                                .push((item.endpoint_id.clone(), attempt.message_id.clone()));
                        }
                    }
                }
                let counted = i64::from(item.attempt.is_some());
                let (sql, due_at) = match &item.next {
                    Next::Succeeded => (UPDATE_SUCCEEDED, None),
                    Next::RetryAt(at) => (UPDATE_RETRYING, Some(to_millis(*at))),
                    Next::Dead | Next::Gone => (UPDATE_DEAD, None),
                    Next::Postpone(at) => (UPDATE_POSTPONED, Some(to_millis(*at))),
                };
                sqlx::query(sql)
                    .bind(item.delivery_id)
                    .bind(token)
                    .bind(counted)
                    .bind(due_at)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                if item.next == Next::Gone {
                    let done = sqlx::query(
                        "UPDATE endpoints SET disabled_reason = 'gone', disabled_at = ?2, \
                         updated_at = ?2 WHERE id = ?1 AND disabled_reason IS NULL",
                    )
                    .bind(&item.endpoint_id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() > 0 {
                        report.disabled.push(item.endpoint_id.clone());
                    }
                }
            }
            if let Some(after) = disable_after {
                let cutoff = to_millis(now.checked_sub(after).unwrap_or(std::time::UNIX_EPOCH));
                for endpoint_id in failing {
                    let done = sqlx::query(
                        "UPDATE endpoints SET disabled_reason = 'failing', disabled_at = ?2, \
                         updated_at = ?2 WHERE id = ?1 AND disabled_reason IS NULL \
                         AND failing_since IS NOT NULL AND failing_since <= ?3",
                    )
                    .bind(&endpoint_id)
                    .bind(now_ms)
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() > 0 {
                        report.disabled.push(endpoint_id);
                    }
                }
            }
            tx.commit().await?;
            Ok(report)
        }
        .boxed()
    }

    fn release<'a>(&'a self, token: &'a str, now: SystemTime) -> BoxFuture<'a, StoreResult<u64>> {
        async move {
            let done = sqlx::query(
                "UPDATE deliveries SET \
                 state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'failed_retrying' END, \
                 due_at = ?2, lease_token = NULL, updated_at = ?2 \
                 WHERE lease_token = ?1 AND state = 'delivering'",
            )
            .bind(token)
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }

    fn replay_message<'a>(
        &'a self,
        message_id: &'a str,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        async move {
            let mut tx = self.write_tx().await?;
            require(
                &mut tx,
                "SELECT 1 FROM messages WHERE id = ?1",
                message_id,
                StoreError::UnknownMessage,
            )
            .await?;
            let done = sqlx::query(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?2, \
                 lease_token = NULL, updated_at = ?2 \
                 WHERE message_id = ?1 AND state <> 'delivering'",
            )
            .bind(message_id)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }

    fn replay_dead<'a>(
        &'a self,
        endpoint_id: &'a str,
        since: SystemTime,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<u64>> {
        async move {
            let mut tx = self.write_tx().await?;
            require(
                &mut tx,
                "SELECT 1 FROM endpoints WHERE id = ?1",
                endpoint_id,
                StoreError::UnknownEndpoint,
            )
            .await?;
            let done = sqlx::query(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = ?3, \
                 lease_token = NULL, updated_at = ?3 \
                 WHERE endpoint_id = ?1 AND state = 'dead' \
                   AND message_id IN (SELECT id FROM messages WHERE created_at >= ?2)",
            )
            .bind(endpoint_id)
            .bind(to_millis(since))
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }

    fn expunge_payloads(&self, before: SystemTime) -> BoxFuture<'_, StoreResult<u64>> {
        async move {
            let done = sqlx::query(
                "UPDATE messages SET payload = NULL \
                 WHERE created_at < ?1 AND payload IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM deliveries d \
                                   WHERE d.message_id = messages.id AND d.due_at IS NOT NULL)",
            )
            .bind(to_millis(before))
            .execute(&self.writer)
            .await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, StoreResult<QueueStats>> {
        async move {
            let mut conn = self.reader.acquire().await?;
            let waiting: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE due_at IS NOT NULL")
                    .fetch_one(&mut *conn)
                    .await?;
            let dead: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'")
                    .fetch_one(&mut *conn)
                    .await?;
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(due_at) FROM deliveries \
                 WHERE due_at IS NOT NULL AND state <> 'delivering'",
            )
            .fetch_one(&mut *conn)
            .await?;
            let now_ms = to_millis(now);
            Ok(QueueStats {
                waiting: u64::try_from(waiting).unwrap_or(0),
                dead: u64::try_from(dead).unwrap_or(0),
                oldest_due_at: oldest.filter(|&t| t <= now_ms).map(from_millis),
            })
        }
        .boxed()
    }

    fn endpoint_stats<'a>(
        &'a self,
        endpoint_ids: &'a [String],
        since: SystemTime,
    ) -> BoxFuture<'a, StoreResult<Vec<EndpointStats>>> {
        async move {
            // The ids travel as one JSON array, so a page of endpoints is
            // one statement whatever its size.
            let rows = sqlx::query(
                "SELECT e.id AS endpoint_id, \
                   (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id \
                      AND d.state IN ('pending', 'delivering', 'failed_retrying')) AS pending, \
                   (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id \
                      AND d.state = 'dead') AS dead, \
                   (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id AND a.at >= ?2 \
                      AND a.status >= 200 AND a.status < 300) AS succeeded, \
                   (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id \
                      AND a.at >= ?2) AS attempts \
                 FROM endpoints e WHERE e.id IN (SELECT value FROM json_each(?1))",
            )
            .bind(json_list(endpoint_ids))
            .bind(to_millis(since))
            .fetch_all(&self.reader)
            .await?;
            let stats = rows
                .iter()
                .map(endpoint_stats_from_row)
                .collect::<StoreResult<_>>()?;
            Ok(in_order_of(endpoint_ids, stats))
        }
        .boxed()
    }

    fn attempt_buckets<'a>(
        &'a self,
        endpoint_ids: &'a [String],
        buckets: Buckets,
    ) -> BoxFuture<'a, StoreResult<Vec<EndpointAttempts>>> {
        async move {
            // One row per endpoint and slice with attempts; an endpoint
            // without any still has its row (slot null), so it is listed.
            let rows = sqlx::query(
                "SELECT e.id AS endpoint_id, (a.at - ?2) / ?3 AS slot, \
                   COUNT(CASE WHEN a.status >= 200 AND a.status < 300 THEN 1 END) AS succeeded, \
                   COUNT(CASE WHEN a.status < 200 OR a.status >= 300 THEN 1 END) AS http_error, \
                   COUNT(CASE WHEN a.id IS NOT NULL AND a.status IS NULL THEN 1 END) \
                     AS transport_error \
                 FROM endpoints e LEFT JOIN attempts a ON a.endpoint_id = e.id \
                   AND a.at >= ?2 AND a.at < ?4 \
                 WHERE e.id IN (SELECT value FROM json_each(?1)) GROUP BY e.id, slot",
            )
            .bind(json_list(endpoint_ids))
            .bind(to_millis(buckets.start))
            .bind(width_millis(&buckets))
            .bind(to_millis(buckets.end()))
            .fetch_all(&self.reader)
            .await?;
            fill_buckets(endpoint_ids, &buckets, &rows)
        }
        .boxed()
    }

    fn recent_messages<'a>(
        &'a self,
        endpoint_id: &'a str,
        before: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, StoreResult<Vec<RecentMessage>>> {
        async move {
            let mut conn = self.reader.acquire().await?;
            require(
                &mut conn,
                "SELECT 1 FROM endpoints WHERE id = ?1",
                endpoint_id,
                StoreError::UnknownEndpoint,
            )
            .await?;
            // Deliveries are numbered in publish order: newest first is
            // the highest id first, and a page ends below its cursor's.
            let below = match before {
                None => i64::MAX,
                Some(message_id) => sqlx::query_scalar(
                    "SELECT id FROM deliveries WHERE endpoint_id = ?1 AND message_id = ?2",
                )
                .bind(endpoint_id)
                .bind(message_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| StoreError::UnknownMessage(message_id.to_owned()))?,
            };
            let rows = sqlx::query(
                "SELECT d.*, m.event_type, m.created_at AS published_at \
                 FROM deliveries d JOIN messages m ON m.id = d.message_id \
                 WHERE d.endpoint_id = ?1 AND d.id < ?2 ORDER BY d.id DESC LIMIT ?3",
            )
            .bind(endpoint_id)
            .bind(below)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
            rows.iter().map(recent_message_from_row).collect()
        }
        .boxed()
    }
}

// Parameters of the four report statements: ?1 delivery id, ?2 lease token,
// ?3 1 if an attempt was made, ?4 the next due time, ?5 now. A report only
// moves a delivery its worker still holds.
const UPDATE_SUCCEEDED: &str = "UPDATE deliveries SET state = 'succeeded', \
    attempts = attempts + ?3, due_at = NULL, lease_token = NULL, updated_at = ?5 \
    WHERE id = ?1 AND lease_token = ?2 AND state = 'delivering'";
const UPDATE_RETRYING: &str = "UPDATE deliveries SET state = 'failed_retrying', \
    attempts = attempts + ?3, due_at = ?4, lease_token = NULL, updated_at = ?5 \
    WHERE id = ?1 AND lease_token = ?2 AND state = 'delivering'";
const UPDATE_DEAD: &str = "UPDATE deliveries SET state = 'dead', \
    attempts = attempts + ?3, due_at = NULL, lease_token = NULL, updated_at = ?5 \
    WHERE id = ?1 AND lease_token = ?2 AND state = 'delivering'";
const UPDATE_POSTPONED: &str = "UPDATE deliveries SET \
    state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'failed_retrying' END, \
    attempts = attempts + ?3, due_at = ?4, lease_token = NULL, updated_at = ?5 \
    WHERE id = ?1 AND lease_token = ?2 AND state = 'delivering'";

/// Fails with `missing(id)` unless `sql` (`SELECT 1 … WHERE id = ?1`) finds
/// the row.
async fn require(
    conn: &mut SqliteConnection,
    sql: &'static str,
    id: &str,
    missing: fn(String) -> StoreError,
) -> StoreResult<()> {
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found.map(|_| ()).ok_or_else(|| missing(id.to_owned()))
}

async fn insert_attempt(conn: &mut SqliteConnection, attempt: &Attempt) -> StoreResult<()> {
    let (status, error) = match &attempt.result {
        AttemptResult::Status(code) => (Some(i64::from(*code)), None),
        AttemptResult::Transport(kind) => (None, Some(kind.as_str())),
    };
    sqlx::query(
        "INSERT INTO attempts (delivery_id, message_id, endpoint_id, at, status, error, \
         latency_us, excerpt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(attempt.delivery_id)
    .bind(&attempt.message_id)
    .bind(&attempt.endpoint_id)
    .bind(to_millis(attempt.at))
    .bind(status)
    .bind(error)
    .bind(i64::try_from(attempt.latency.as_micros()).unwrap_or(i64::MAX))
    .bind(&attempt.response_excerpt)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
