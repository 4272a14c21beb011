//! The Postgres outbox: several engine instances share one database.
//!
//! Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers never wait for each other and never take the same delivery while
//! its lease runs. Ordered endpoints are the one place where skipping is not
//! enough (a claimer that skips a locked head must not take the delivery
//! behind it): a claim first locks the ordered endpoints it may serve, and a
//! publish locks the ordered endpoints it fans out to, so their deliveries
//! are numbered in commit order and handed out one at a time.

mod rows;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sqlx::Row as _;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::types::Json;

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

/// How many connections [`PostgresStore::connect`] opens at most.
const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The Postgres outbox. Cheap to clone (one pool handle).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use palisade_webhooks::store::{PostgresStore, Store};
///
/// // Every engine instance connects to the same database; the first one
/// // creates the tables, the others wait for it and find them.
/// let store = PostgresStore::connect("postgres://postgres@127.0.0.1/outbox").await?;
/// let stats = store.stats(std::time::SystemTime::now()).await?;
/// assert_eq!(stats.dead, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    keyring: Arc<SecretKeyring>,
}

/// The embedded migrations, applied in order by [`PostgresStore::from_pool`].
fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let mut migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "outbox".into(),
            MigrationType::Simple,
            include_str!("../../../migrations/postgres/0001_outbox.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "endpoint stats".into(),
            MigrationType::Simple,
            include_str!("../../../migrations/postgres/0002_endpoint_stats.sql").into_sql_str(),
            false,
        ),
    ]);
    // Our own bookkeeping table, so an application can keep its own sqlx
    // migrations in the same database. The migrator holds a Postgres
    // advisory lock while it runs, so instances starting together apply
    // each migration once.
    migrator.dangerous_set_table_name("_palisade_webhooks_migrations");
    migrator
}

impl PostgresStore {
    /// Connects to the database at `url` (a pool of up to 10 connections)
    /// and applies the migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the database cannot be reached,
    /// [`StoreError::Migrate`] if the migrations fail (for example a schema
    /// written by a newer version).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Uses a pool the application configured itself (size, TLS, timeouts)
    /// and applies the migrations.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn from_pool(pool: PgPool) -> StoreResult<Self> {
        migrator().run(&pool).await?;
        Ok(Self {
            pool,
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
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, endpoint_id, secret FROM endpoint_secrets FOR UPDATE")
            .fetch_all(&mut *tx)
            .await?;
        let mut written = 0;
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let endpoint_id: String = row.try_get("endpoint_id")?;
            let stored: String = row.try_get("secret")?;
            let secret = self.keyring.open(&stored, &endpoint_id)?;
            sqlx::query("UPDATE endpoint_secrets SET secret = $2 WHERE id = $1")
                .bind(id)
                .bind(self.keyring.seal(&secret, &endpoint_id)?)
                .execute(&mut *tx)
                .await?;
            written += 1;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The pool: begin a transaction on it to write your own rows and
    /// [`publish_in`](Self::publish_in) together.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Publishes inside the caller's transaction (the outbox pattern): the
    /// message and its deliveries commit or roll back with the caller's own
    /// writes.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use palisade_webhooks::store::{NewMessage, PostgresStore, Store};
    /// # let store = PostgresStore::connect("postgres://postgres@127.0.0.1/outbox").await?;
    /// let mut tx = store.pool().begin().await?;
    /// sqlx::query("INSERT INTO orders (id) VALUES ('o1')").execute(&mut *tx).await?;
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
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A publish to an ordered endpoint locks that endpoint's row until the
    /// caller's transaction ends (that is what keeps its deliveries in
    /// commit order): other publishes to it wait and claimers pass over it
    /// meanwhile, so keep such transactions short.
    ///
    /// # Errors
    ///
    /// As [`Store::publish`]; the caller's transaction should then be
    /// rolled back. Under `REPEATABLE READ` or `SERIALIZABLE`, a concurrent
    /// publish with the same idempotency key is a serialization failure
    /// ([`StoreError::Database`]): retry the transaction.
    pub async fn publish_in(
        &self,
        conn: &mut PgConnection,
        message: NewMessage,
        now: SystemTime,
    ) -> StoreResult<Published> {
        publish_on(conn, &message, now).await
    }
}

/// Which endpoints `e` of `$1` (application) take a message of event type
/// `$2` on channels `$3` (a `text[]`): a macro so the statements that use it
/// stay `&'static str`.
macro_rules! subscribed {
    () => {
        "e.application = $1 AND e.disabled_reason IS NULL \
         AND (e.event_types IS NULL OR e.event_types @> jsonb_build_array($2::text)) \
         AND (e.channels IS NULL OR EXISTS ( \
              SELECT 1 FROM jsonb_array_elements_text(e.channels) c WHERE c = ANY($3::text[])))"
    };
}

/// Whether event type `$2` exists, after locking the ordered endpoints the
/// message goes to (in id order, so two publishers never deadlock): their
/// deliveries then get ids in commit order, and a claimer never sees a later
/// one before an earlier one.
const CHECK_AND_LOCK_ORDERED: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM event_types WHERE name = $2) AS known, \
     (SELECT COUNT(*) FROM (SELECT e.id FROM endpoints e WHERE e.ordered AND ",
    subscribed!(),
    " ORDER BY e.id FOR NO KEY UPDATE OF e) ordered) AS locked"
);

/// Stores the message (`$4` id, `$5` channels, `$6` payload, `$7` key,
/// `$8` now) and one delivery per subscribed endpoint, in one statement. A
/// concurrent publish with the same key makes the insert wait for it and
/// then store nothing: `id` is then NULL.
const INSERT_AND_FAN_OUT: &str = concat!(
    "WITH m AS (INSERT INTO messages (id, application, event_type, channels, payload, \
       idempotency_key, created_at) VALUES ($4, $1, $2, $5, $6, $7, $8) \
       ON CONFLICT (application, idempotency_key) DO NOTHING RETURNING id), \
     d AS (INSERT INTO deliveries (message_id, endpoint_id, state, attempts, due_at, \
       created_at, updated_at) \
       SELECT m.id, e.id, 'pending', 0, $8, $8, $8 FROM m, endpoints e WHERE ",
    subscribed!(),
    " ORDER BY e.created_at, e.id RETURNING 1) \
     SELECT (SELECT id FROM m) AS id, (SELECT COUNT(*) FROM d) AS fanned"
);

/// The message already stored under `key`, as `publish` reports it, or the
/// conflict if it differs from `message`.
async fn published_under_key(
    conn: &mut PgConnection,
    message: &NewMessage,
    key: &str,
) -> StoreResult<Option<Published>> {
    let Some(row) = sqlx::query(
        "SELECT id, event_type, channels, payload FROM messages \
         WHERE application = $1 AND idempotency_key = $2",
    )
    .bind(&message.application)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let id: String = row.try_get("id")?;
    let Json(channels): Json<Vec<String>> = row.try_get("channels")?;
    let same = row.try_get::<String, _>("event_type")? == message.event_type
        && channels == message.channels
        && row
            .try_get::<Option<Vec<u8>>, _>("payload")?
            .is_none_or(|p| p == message.payload.as_ref());
    if !same {
        return Err(StoreError::IdempotencyConflict {
            key: key.to_owned(),
            message_id: id,
        });
    }
    let deliveries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE message_id = $1")
            .bind(&id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Some(Published {
        message_id: id,
        created: false,
        deliveries: u64::try_from(deliveries).unwrap_or(0),
    }))
}

async fn publish_on(
    conn: &mut PgConnection,
    message: &NewMessage,
    now: SystemTime,
) -> StoreResult<Published> {
    if let Some(key) = &message.idempotency_key
        && let Some(published) = published_under_key(conn, message, key).await?
    {
        return Ok(published);
    }
    let checked = sqlx::query(CHECK_AND_LOCK_ORDERED)
        .bind(&message.application)
        .bind(&message.event_type)
        .bind(&message.channels)
        .fetch_one(&mut *conn)
        .await?;
    if !checked.try_get::<bool, _>("known")? {
        return Err(StoreError::UnknownEventType(message.event_type.clone()));
    }
    let id = new_id("msg_", now);
    let stored = sqlx::query(INSERT_AND_FAN_OUT)
        .bind(&message.application)
        .bind(&message.event_type)
        .bind(&message.channels)
        .bind(&id)
        .bind(Json(&message.channels))
        .bind(message.payload.as_ref())
        .bind(&message.idempotency_key)
        .bind(to_millis(now))
        .fetch_one(&mut *conn)
        .await?;
    if stored.try_get::<Option<String>, _>("id")?.is_none() {
        // Only a keyed message can conflict (NULL keys are all distinct),
        // and the winner is visible to the next statement.
        let key = message.idempotency_key.as_deref().unwrap_or_default();
        return published_under_key(conn, message, key)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "idempotency key `{key}` is taken, but by no message this transaction can see"
                ))
            });
    }
    let fanned: i64 = stored.try_get("fanned")?;
    Ok(Published {
        message_id: id,
        created: true,
        deliveries: u64::try_from(fanned).unwrap_or(0),
    })
}

/// Which endpoints [`load_endpoints`] reads.
#[derive(Clone, Copy)]
enum Endpoints<'a> {
    One(&'a str),
    Application(&'a str),
    All,
}

/// Reads endpoints with their secrets (newest first).
async fn load_endpoints(
    pool: &PgPool,
    keyring: &SecretKeyring,
    which: Endpoints<'_>,
) -> StoreResult<Vec<Endpoint>> {
    let (endpoints_sql, secrets_sql, param) = match which {
        Endpoints::One(id) => (
            "SELECT * FROM endpoints WHERE id = $1",
            "SELECT * FROM endpoint_secrets WHERE endpoint_id = $1 \
             ORDER BY created_at DESC, id DESC",
            Some(id),
        ),
        Endpoints::Application(app) => (
            "SELECT * FROM endpoints WHERE application = $1 ORDER BY created_at, id",
            "SELECT s.* FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id \
             WHERE e.application = $1 ORDER BY s.created_at DESC, s.id DESC",
            Some(app),
        ),
        Endpoints::All => (
            "SELECT * FROM endpoints ORDER BY created_at, id",
            "SELECT * FROM endpoint_secrets ORDER BY created_at DESC, id DESC",
            None,
        ),
    };
    // One snapshot for both reads, so a secret rotated in between cannot
    // leave an endpoint without its secrets.
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let mut endpoints = sqlx::query(endpoints_sql);
    let mut secrets = sqlx::query(secrets_sql);
    if let Some(param) = param {
        endpoints = endpoints.bind(param);
        secrets = secrets.bind(param);
    }
    let endpoints = endpoints.fetch_all(&mut *tx).await?;
    let secrets = secrets.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    endpoint_from_rows(&endpoints, &secrets, keyring)
}

fn is_attempt_failure(attempt: &Attempt) -> bool {
    !matches!(attempt.result, AttemptResult::Status(s) if (200..300).contains(&s))
}

/// What one `finish` call does to an endpoint's failure streak, folded over
/// its reports in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streak {
    /// No attempt to this endpoint was reported.
    Untouched,
    /// Only failures: the streak goes on, or starts at this time.
    Failing(i64),
    /// A success, then possibly failures: the streak restarts (at the first
    /// failure after the last success, if any).
    Restarted(Option<i64>),
}

/// Everything `finish` changes on one endpoint.
#[derive(Debug, Clone)]
struct EndpointReport {
    streak: Streak,
    any_failure: bool,
    gone: bool,
    /// The message of the report's first success, and whether a failure
    /// came before it (then the endpoint recovered within this report).
    first_success: Option<String>,
    failed_before_success: bool,
}

impl EndpointReport {
    fn new() -> Self {
        Self {
            streak: Streak::Untouched,
            any_failure: false,
            gone: false,
            first_success: None,
            failed_before_success: false,
        }
    }

    fn attempt(&mut self, attempt: &Attempt) {
        if is_attempt_failure(attempt) {
            self.any_failure = true;
            self.failed_before_success |= self.first_success.is_none();
            let at = to_millis(attempt.at);
            self.streak = match self.streak {
                Streak::Untouched => Streak::Failing(at),
                Streak::Restarted(None) => Streak::Restarted(Some(at)),
                kept => kept,
            };
        } else {
            self.streak = Streak::Restarted(None);
            if self.first_success.is_none() {
                self.first_success = Some(attempt.message_id.clone());
            }
        }
    }
}

impl Store for PostgresStore {
    fn create_event_type(
        &self,
        event_type: EventType,
        now: SystemTime,
    ) -> BoxFuture<'_, StoreResult<()>> {
        async move {
            let done = sqlx::query(
                "INSERT INTO event_types (name, description, schema, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&event_type.name)
            .bind(&event_type.description)
            .bind(event_type.schema.as_ref().map(Json))
            .bind(to_millis(now))
            .execute(&self.pool)
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
            let row = sqlx::query("SELECT * FROM event_types WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(event_type_from_row).transpose()
        }
        .boxed()
    }

    fn event_types(&self) -> BoxFuture<'_, StoreResult<Vec<EventType>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM event_types ORDER BY name")
                .fetch_all(&self.pool)
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
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO endpoints (id, application, url, description, event_types, \
                 channels, rate_limit, max_concurrency, ordered, headers, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(&id)
            .bind(&endpoint.application)
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(endpoint.event_types.as_ref().map(Json))
            .bind(endpoint.channels.as_ref().map(Json))
            .bind(endpoint.rate_limit.map(i64::from))
            .bind(endpoint.max_concurrency.map(i64::from))
            .bind(endpoint.ordered)
            .bind(Json(&endpoint.headers))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)",
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
            load_endpoints(&self.pool, &self.keyring, Endpoints::One(id))
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
            let which = application.map_or(Endpoints::All, Endpoints::Application);
            load_endpoints(&self.pool, &self.keyring, which).await
        }
        .boxed()
    }

    fn update_endpoint<'a>(
        &'a self,
        endpoint: &'a Endpoint,
        now: SystemTime,
    ) -> BoxFuture<'a, StoreResult<()>> {
        async move {
            let done = sqlx::query(
                "UPDATE endpoints SET url = $2, description = $3, event_types = $4, \
                 channels = $5, rate_limit = $6, max_concurrency = $7, ordered = $8, \
                 headers = $9, updated_at = $10 WHERE id = $1",
            )
            .bind(&endpoint.id)
            .bind(&endpoint.url)
            .bind(&endpoint.description)
            .bind(endpoint.event_types.as_ref().map(Json))
            .bind(endpoint.channels.as_ref().map(Json))
            .bind(endpoint.rate_limit.map(i64::from))
            .bind(endpoint.max_concurrency.map(i64::from))
            .bind(endpoint.ordered)
            .bind(Json(&endpoint.headers))
            .bind(to_millis(now))
            .execute(&self.pool)
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
            let mut tx = self.pool.begin().await?;
            // Locking the endpoint serializes two rotations of it, so each
            // sees the other's secrets.
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM endpoints WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(endpoint_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::UnknownEndpoint(endpoint_id.to_owned()));
            }
            sqlx::query(
                "DELETE FROM endpoint_secrets WHERE endpoint_id = $1 \
                 AND expires_at IS NOT NULL AND expires_at <= $2",
            )
            .bind(endpoint_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE endpoint_secrets SET expires_at = $2 \
                 WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(endpoint_id)
            .bind(to_millis(now + overlap))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)",
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
                "UPDATE endpoints SET disabled_reason = $2::text, \
                 disabled_at = CASE WHEN $2::text IS NULL THEN NULL ELSE $3 END, \
                 failing_since = CASE WHEN $2::text IS NULL THEN NULL ELSE failing_since END, \
                 updated_at = $3 WHERE id = $1",
            )
            .bind(endpoint_id)
            .bind(reason.as_ref().map(DisabledReason::as_str))
            .bind(to_millis(now))
            .execute(&self.pool)
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
            let done = sqlx::query("DELETE FROM endpoints WHERE id = $1")
                .bind(endpoint_id)
                .execute(&self.pool)
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
            let mut tx = self.pool.begin().await?;
            let published = publish_on(&mut tx, &message, now).await?;
            tx.commit().await?;
            Ok(published)
        }
        .boxed()
    }

    fn message<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Message>> {
        async move {
            let row = sqlx::query("SELECT * FROM messages WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::UnknownMessage(id.to_owned()))?;
            rows::message_from_row(&row)
        }
        .boxed()
    }

    fn deliveries<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Delivery>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM deliveries WHERE message_id = $1 ORDER BY id")
                .bind(message_id)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(delivery_from_row).collect()
        }
        .boxed()
    }

    fn attempts<'a>(&'a self, message_id: &'a str) -> BoxFuture<'a, StoreResult<Vec<Attempt>>> {
        async move {
            let rows = sqlx::query("SELECT * FROM attempts WHERE message_id = $1 ORDER BY id")
                .bind(message_id)
                .fetch_all(&self.pool)
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
            let mut tx = self.pool.begin().await?;
            // Ordered endpoints whose oldest unfinished delivery is due (the
            // oldest first, at most one per delivery wanted), locked for
            // this transaction. Another claimer holding one is skipped, not
            // waited for; once it has committed, the next statement's
            // snapshot sees its claim.
            let ordered: Vec<String> = sqlx::query_scalar(
                "SELECT e.id FROM endpoints e CROSS JOIN LATERAL ( \
                   SELECT d.due_at FROM deliveries d \
                   WHERE d.endpoint_id = e.id AND d.due_at IS NOT NULL \
                   ORDER BY d.id LIMIT 1) head \
                 WHERE e.ordered AND e.disabled_reason IS NULL AND head.due_at <= $1 \
                 ORDER BY head.due_at, e.id LIMIT $2 \
                 FOR NO KEY UPDATE OF e SKIP LOCKED",
            )
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            // An ordered endpoint yields its oldest unfinished delivery, and
            // only while no other of its deliveries is under a running lease
            // (a replayed older message must wait for the one in flight).
            let rows = sqlx::query(
                "WITH c AS ( \
                   SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                   WHERE d.due_at <= $3 AND e.disabled_reason IS NULL \
                     AND (NOT e.ordered OR (e.id = ANY($5) \
                       AND NOT EXISTS (SELECT 1 FROM deliveries p \
                         WHERE p.endpoint_id = d.endpoint_id AND p.id < d.id \
                           AND p.due_at IS NOT NULL) \
                       AND NOT EXISTS (SELECT 1 FROM deliveries s \
                         WHERE s.endpoint_id = d.endpoint_id AND s.id > d.id \
                           AND s.state = 'delivering' AND s.due_at > $3))) \
                   ORDER BY d.due_at, d.id LIMIT $4 \
                   FOR UPDATE OF d SKIP LOCKED), \
                 u AS ( \
                   UPDATE deliveries SET state = 'delivering', lease_token = $1, due_at = $2, \
                     updated_at = $3 \
                   FROM c WHERE deliveries.id = c.id \
                   RETURNING deliveries.id, deliveries.message_id, deliveries.endpoint_id, \
                     deliveries.attempts) \
                 SELECT u.id, u.message_id, u.endpoint_id, u.attempts, m.event_type, m.payload \
                 FROM u JOIN messages m ON m.id = u.message_id ORDER BY u.id",
            )
            .bind(token)
            .bind(to_millis(now + lease))
            .bind(now_ms)
            .bind(i64::from(limit))
            .bind(&ordered)
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
            // Fold the reports per endpoint in the order given, then write
            // the endpoints in id order: two reports running at once lock
            // them in the same order and never deadlock. (The deliveries
            // are held by this token: nobody else writes them meanwhile.)
            let mut endpoints: BTreeMap<&str, EndpointReport> = BTreeMap::new();
            for item in finished {
                let report = endpoints
                    .entry(item.endpoint_id.as_str())
                    .or_insert_with(EndpointReport::new);
                if let Some(attempt) = &item.attempt {
                    report.attempt(attempt);
                }
                report.gone |= item.next == Next::Gone;
            }
            let mut tx = self.pool.begin().await?;
            insert_attempts(&mut tx, finished).await?;
            update_deliveries(&mut tx, token, finished, now_ms).await?;
            let cutoff = disable_after
                .map(|after| to_millis(now.checked_sub(after).unwrap_or(std::time::UNIX_EPOCH)));
            let mut outcome = FinishReport::default();
            for (endpoint_id, report) in endpoints {
                let (disabled, recovered) =
                    report_endpoint(&mut tx, endpoint_id, report, now_ms, cutoff).await?;
                if disabled {
                    outcome.disabled.push(endpoint_id.to_owned());
                }
                if let Some(message_id) = recovered {
                    outcome.recovered.push((endpoint_id.to_owned(), message_id));
                }
            }
            tx.commit().await?;
            Ok(outcome)
        }
        .boxed()
    }

    fn release<'a>(&'a self, token: &'a str, now: SystemTime) -> BoxFuture<'a, StoreResult<u64>> {
        async move {
            let done = sqlx::query(
                "UPDATE deliveries SET \
                 state = CASE WHEN attempts = 0 THEN 'pending' ELSE 'failed_retrying' END, \
                 due_at = $2, lease_token = NULL, updated_at = $2 \
                 WHERE lease_token = $1 AND state = 'delivering'",
            )
            .bind(token)
            .bind(to_millis(now))
            .execute(&self.pool)
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
            let mut tx = self.pool.begin().await?;
            require(
                &mut tx,
                "SELECT EXISTS (SELECT 1 FROM messages WHERE id = $1)",
                message_id,
                StoreError::UnknownMessage,
            )
            .await?;
            let done = sqlx::query(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = $2, \
                 lease_token = NULL, updated_at = $2 \
                 WHERE message_id = $1 AND state <> 'delivering'",
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
            let mut tx = self.pool.begin().await?;
            require(
                &mut tx,
                "SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1)",
                endpoint_id,
                StoreError::UnknownEndpoint,
            )
            .await?;
            let done = sqlx::query(
                "UPDATE deliveries SET state = 'pending', attempts = 0, due_at = $3, \
                 lease_token = NULL, updated_at = $3 \
                 WHERE endpoint_id = $1 AND state = 'dead' \
                   AND message_id IN (SELECT id FROM messages WHERE created_at >= $2)",
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
                 WHERE created_at < $1 AND payload IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM deliveries d \
                                   WHERE d.message_id = messages.id AND d.due_at IS NOT NULL)",
            )
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        }
        .boxed()
    }

    fn stats(&self, now: SystemTime) -> BoxFuture<'_, StoreResult<QueueStats>> {
        async move {
            let row = sqlx::query(
                "SELECT \
                   COUNT(*) FILTER (WHERE due_at IS NOT NULL) AS waiting, \
                   COUNT(*) FILTER (WHERE state = 'dead') AS dead, \
                   MIN(due_at) FILTER (WHERE due_at IS NOT NULL AND state <> 'delivering') \
                     AS oldest \
                 FROM deliveries",
            )
            .fetch_one(&self.pool)
            .await?;
            let waiting: i64 = row.try_get("waiting")?;
            let dead: i64 = row.try_get("dead")?;
            let oldest: Option<i64> = row.try_get("oldest")?;
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
            // The ids travel as one array, so a page of endpoints is one
            // statement whatever its size.
            let rows = sqlx::query(
                "SELECT e.id AS endpoint_id, \
                   (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id \
                      AND d.state IN ('pending', 'delivering', 'failed_retrying')) AS pending, \
                   (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id \
                      AND d.state = 'dead') AS dead, \
                   (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id AND a.at >= $2 \
                      AND a.status >= 200 AND a.status < 300) AS succeeded, \
                   (SELECT COUNT(*) FROM attempts a WHERE a.endpoint_id = e.id \
                      AND a.at >= $2) AS attempts \
                 FROM endpoints e WHERE e.id = ANY($1)",
            )
            .bind(endpoint_ids)
            .bind(to_millis(since))
            .fetch_all(&self.pool)
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
                "SELECT e.id AS endpoint_id, (a.at - $2) / $3 AS slot, \
                   COUNT(*) FILTER (WHERE a.status >= 200 AND a.status < 300) AS succeeded, \
                   COUNT(*) FILTER (WHERE a.status < 200 OR a.status >= 300) AS http_error, \
                   COUNT(*) FILTER (WHERE a.id IS NOT NULL AND a.status IS NULL) \
                     AS transport_error \
                 FROM endpoints e LEFT JOIN attempts a ON a.endpoint_id = e.id \
                   AND a.at >= $2 AND a.at < $4 \
                 WHERE e.id = ANY($1) GROUP BY e.id, slot",
            )
            .bind(endpoint_ids)
            .bind(to_millis(buckets.start))
            .bind(width_millis(&buckets))
            .bind(to_millis(buckets.end()))
            .fetch_all(&self.pool)
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
            let mut conn = self.pool.acquire().await?;
            require(
                &mut conn,
                "SELECT EXISTS (SELECT 1 FROM endpoints WHERE id = $1)",
                endpoint_id,
                StoreError::UnknownEndpoint,
            )
            .await?;
            // Deliveries are numbered in publish order (commit order for
            // ordered endpoints): newest first is the highest id first, and
            // a page ends below its cursor's.
            let below = match before {
                None => i64::MAX,
                Some(message_id) => sqlx::query_scalar(
                    "SELECT id FROM deliveries WHERE endpoint_id = $1 AND message_id = $2",
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
                 WHERE d.endpoint_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3",
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

/// Fails with `missing(id)` unless `sql` (`SELECT EXISTS (… WHERE id = $1)`)
/// is true.
async fn require(
    conn: &mut PgConnection,
    sql: &'static str,
    id: &str,
    missing: fn(String) -> StoreError,
) -> StoreResult<()> {
    let found: bool = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if found {
        Ok(())
    } else {
        Err(missing(id.to_owned()))
    }
}

/// Records the attempts of a report, in one statement.
async fn insert_attempts(conn: &mut PgConnection, finished: &[Finished]) -> StoreResult<()> {
    let attempts: Vec<&Attempt> = finished.iter().filter_map(|f| f.attempt.as_ref()).collect();
    if attempts.is_empty() {
        return Ok(());
    }
    let mut status = Vec::with_capacity(attempts.len());
    let mut error = Vec::with_capacity(attempts.len());
    for attempt in &attempts {
        let (s, e) = match &attempt.result {
            AttemptResult::Status(code) => (Some(i64::from(*code)), None),
            AttemptResult::Transport(kind) => (None, Some(kind.as_str())),
        };
        status.push(s);
        error.push(e);
    }
    sqlx::query(
        "INSERT INTO attempts (delivery_id, message_id, endpoint_id, at, status, error, \
         latency_us, excerpt) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], \
           $5::bigint[], $6::text[], $7::bigint[], $8::text[])",
    )
    .bind(attempts.iter().map(|a| a.delivery_id).collect::<Vec<_>>())
    .bind(
        attempts
            .iter()
            .map(|a| a.message_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        attempts
            .iter()
            .map(|a| a.endpoint_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(attempts.iter().map(|a| to_millis(a.at)).collect::<Vec<_>>())
    .bind(status)
    .bind(error)
    .bind(
        attempts
            .iter()
            .map(|a| i64::try_from(a.latency.as_micros()).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(
        attempts
            .iter()
            .map(|a| a.response_excerpt.as_str())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the reported deliveries this token still holds to their next
/// state, in one statement. A delivery reported twice keeps the first report.
async fn update_deliveries(
    conn: &mut PgConnection,
    token: &str,
    finished: &[Finished],
    now_ms: i64,
) -> StoreResult<()> {
    let mut seen = std::collections::HashSet::with_capacity(finished.len());
    let mut ids = Vec::with_capacity(finished.len());
    let mut kinds = Vec::with_capacity(finished.len());
    let mut counted = Vec::with_capacity(finished.len());
    let mut due_at = Vec::with_capacity(finished.len());
    for item in finished.iter().filter(|f| seen.insert(f.delivery_id)) {
        let (kind, due) = match &item.next {
            Next::Succeeded => ("succeeded", None),
            Next::RetryAt(at) => ("failed_retrying", Some(to_millis(*at))),
            Next::Dead | Next::Gone => ("dead", None),
            Next::Postpone(at) => ("postponed", Some(to_millis(*at))),
        };
        ids.push(item.delivery_id);
        kinds.push(kind);
        counted.push(i64::from(item.attempt.is_some()));
        due_at.push(due);
    }
    // A postponement goes back to where it was before the claim: pending
    // if it was never attempted, failed_retrying otherwise.
    sqlx::query(
        "UPDATE deliveries d SET \
           state = CASE WHEN u.kind <> 'postponed' THEN u.kind \
                        WHEN d.attempts = 0 THEN 'pending' ELSE 'failed_retrying' END, \
           attempts = d.attempts + u.counted, due_at = u.due_at, lease_token = NULL, \
           updated_at = $5 \
         FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) \
           AS u(id, kind, counted, due_at) \
         WHERE d.id = u.id AND d.lease_token = $6 AND d.state = 'delivering'",
    )
    .bind(ids)
    .bind(kinds)
    .bind(counted)
    .bind(due_at)
    .bind(now_ms)
    .bind(token)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies one endpoint's part of a `finish`; `true` if this disabled it.
async fn report_endpoint(
    conn: &mut PgConnection,
    endpoint_id: &str,
    report: EndpointReport,
    now_ms: i64,
    cutoff: Option<i64>,
) -> StoreResult<(bool, Option<String>)> {
    // A success ends a failure streak: the endpoint recovered if it was
    // failing before this report, or failed earlier in it.
    let mut recovered = None;
    if let Streak::Restarted(_) = report.streak {
        let was_failing = sqlx::query(
            "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
        )
        .bind(endpoint_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0;
        if was_failing || report.failed_before_success {
            recovered.clone_from(&report.first_success);
        }
    }
    let streak = match report.streak {
        Streak::Untouched => None,
        Streak::Failing(at) => Some((
            "UPDATE endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
            Some(at),
        )),
        Streak::Restarted(None) => Some((
            "UPDATE endpoints SET failing_since = $2 \
             WHERE id = $1 AND failing_since IS NOT NULL",
            None,
        )),
        Streak::Restarted(Some(at)) => Some((
            "UPDATE endpoints SET failing_since = $2 WHERE id = $1",
            Some(at),
        )),
    };
    if let Some((sql, failing_since)) = streak {
        sqlx::query(sql)
            .bind(endpoint_id)
            .bind(failing_since)
            .execute(&mut *conn)
            .await?;
    }
    if report.gone {
        let done = sqlx::query(
            "UPDATE endpoints SET disabled_reason = 'gone', disabled_at = $2, updated_at = $2 \
             WHERE id = $1 AND disabled_reason IS NULL",
        )
        .bind(endpoint_id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            return Ok((true, recovered));
        }
    }
    if let (Some(cutoff), true) = (cutoff, report.any_failure) {
        let done = sqlx::query(
            "UPDATE endpoints SET disabled_reason = 'failing', disabled_at = $2, updated_at = $2 \
             WHERE id = $1 AND disabled_reason IS NULL \
             AND failing_since IS NOT NULL AND failing_since <= $3",
        )
        .bind(endpoint_id)
        .bind(now_ms)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        return Ok((done.rows_affected() > 0, recovered));
    }
    Ok((false, recovered))
}
