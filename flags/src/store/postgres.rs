//! [`PostgresFlagStore`]: flags and their audit log in Postgres, with
//! `LISTEN/NOTIFY` keeping every instance current.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sqlx::Row as _;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions, PgRow};
use tokio::task::JoinHandle;

use super::flag_store::{
    AuditAction, AuditEntry, Edit, Expect, FlagStore, Rows, StoredFlag, StoredSegment, Target,
    Written, definition_of, from_db, plan, segment_id_to_db, to_db,
};
use super::{LiveFlags, StoreError};
use crate::model::{Flag, Segment};
use crate::native;
use crate::time::{Clock, SystemClock, Timestamp};

/// The channel every write notifies (the payload is the flag's key, or
/// `segment:<id>` for a segment).
pub const NOTIFY_CHANNEL: &str = "palisade_flags";

/// How long the listener waits before it tries again after an error.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The embedded migrations, applied by [`PostgresFlagStore::from_pool`].
fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let mut migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "flags".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0001_flags.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "segments".into(),
            MigrationType::Simple,
            include_str!("../../migrations/postgres/0002_segments.sql").into_sql_str(),
            false,
        ),
    ]);
    // Our own bookkeeping table; the migrator holds an advisory lock while
    // it runs, so instances starting together apply each migration once.
    migrator.dangerous_set_table_name("_palisade_flags_migrations");
    migrator
}

/// Flags in Postgres for several instances: the same API and guarantees as
/// [`SqliteFlagStore`](super::SqliteFlagStore), and every instance's
/// [`live`](FlagStore::live) follows writes made by any other.
///
/// Writes take a transaction-scoped advisory lock, so concurrent writers
/// from any instance validate against the set they actually change, and
/// send `NOTIFY palisade_flags` with the key on commit. Segments are stored
/// and announced the same way, so a segment changed on one instance
/// changes its flags' answers on every instance. Each store listens
/// on that channel (a connection of its own) and reloads the whole set on a
/// notice, typically within milliseconds; after a lost connection it
/// reconnects and reloads, so a notice missed meanwhile is not lost either.
///
/// ```no_run
/// # async fn run() -> Result<(), palisade_flags::store::StoreError> {
/// use palisade_flags::model::{Flag, FlagKind};
/// use palisade_flags::store::{Edit, Expect, FlagStore, PostgresFlagStore};
///
/// let store = PostgresFlagStore::connect("postgres://postgres@127.0.0.1/app").await?;
/// store.put(&Flag::new("search-v2", FlagKind::Boolean), Expect::Absent, &Edit::by("ana")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresFlagStore {
    pool: PgPool,
    live: Arc<LiveFlags>,
    clock: Arc<dyn Clock>,
    /// Serialises reloads, so a slower reload never overwrites a newer one.
    reload_lock: Arc<tokio::sync::Mutex<()>>,
    _listener: Arc<Listener>,
}

/// The listening task; stops when the last clone of the store is dropped.
#[derive(Debug)]
struct Listener(JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PostgresFlagStore {
    /// Connects to the database at `url` (a pool of up to 5 connections),
    /// applies the migrations, loads the flags and starts listening.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the database cannot be reached,
    /// [`StoreError::Migrate`] if the migrations fail,
    /// [`StoreError::Invalid`] if the stored flags are not a valid set.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new().max_connections(5).connect(url).await?;
        Self::from_pool(pool).await
    }

    /// As [`connect`](Self::connect), on a pool the application configured.
    /// Needs a tokio runtime (the listener is a task).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        migrator().run(&pool).await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        // Listening before the first load: a write in between is reloaded.
        let set = load_rows(&mut *pool.acquire().await?).await?.build_set()?;
        let live = Arc::new(LiveFlags::new(set));
        let reload_lock = Arc::new(tokio::sync::Mutex::new(()));
        let task = tokio::spawn(listen(
            listener,
            pool.clone(),
            Arc::clone(&live),
            Arc::clone(&reload_lock),
        ));
        Ok(Self {
            pool,
            live,
            clock: Arc::new(SystemClock),
            reload_lock,
            _listener: Arc::new(Listener(task)),
        })
    }

    /// Stamps audit entries and versions with `clock`'s time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    async fn write(
        &self,
        target: Target<'_>,
        after: Option<serde_json::Value>,
        expect: Expect,
        edit: &Edit,
        revert: bool,
    ) -> Result<Written, StoreError> {
        let mut tx = self.pool.begin().await?;
        // One writer at a time across every instance, for this transaction.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('palisade_flags'))")
            .execute(&mut *tx)
            .await?;
        let rows = load_rows(&mut tx).await?;
        let last: Option<i64> = bind_target!(
            sqlx::query_scalar(match target {
                Target::Flag(_) => {
                    "SELECT MAX(version) FROM palisade_flag_audit WHERE flag_key = $1"
                }
                Target::Segment(_) => {
                    "SELECT MAX(version) FROM palisade_flag_segment_audit WHERE segment_id = $1"
                }
            }),
            target
        )
        .fetch_one(&mut *tx)
        .await?;
        let plan = plan(
            &rows,
            target,
            last.map_or(0, from_db),
            after,
            expect,
            revert,
        )?;
        let at = self.clock.now();
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string);
        match &plan.after {
            Some(definition) => {
                bind_target!(
                    sqlx::query(match target {
                        Target::Flag(_) => {
                            "INSERT INTO palisade_flags (key, version, definition, updated_at) \
                             VALUES ($1, $2, $3::jsonb, $4) \
                             ON CONFLICT (key) DO UPDATE SET version = excluded.version, \
                             definition = excluded.definition, updated_at = excluded.updated_at"
                        }
                        Target::Segment(_) => {
                            "INSERT INTO palisade_flag_segments (id, version, definition, updated_at) \
                             VALUES ($1, $2, $3::jsonb, $4) \
                             ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
                             definition = excluded.definition, updated_at = excluded.updated_at"
                        }
                    }),
                    target
                )
                .bind(to_db(plan.version))
                .bind(definition.to_string())
                .bind(at.unix_millis())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                bind_target!(
                    sqlx::query(match target {
                        Target::Flag(_) => "DELETE FROM palisade_flags WHERE key = $1",
                        Target::Segment(_) => "DELETE FROM palisade_flag_segments WHERE id = $1",
                    }),
                    target
                )
                .execute(&mut *tx)
                .await?;
            }
        }
        bind_target!(
            sqlx::query(match target {
                Target::Flag(_) => {
                    "INSERT INTO palisade_flag_audit \
                     (flag_key, version, actor, at, action, before, after, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)"
                }
                Target::Segment(_) => {
                    "INSERT INTO palisade_flag_segment_audit \
                     (segment_id, version, actor, at, action, before, after, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)"
                }
            }),
            target
        )
        .bind(to_db(plan.version))
        .bind(&edit.actor)
        .bind(at.unix_millis())
        .bind(plan.action.as_str())
        .bind(text(&plan.before))
        .bind(text(&plan.after))
        .bind(&edit.reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(target.notice())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Serve our own write at once rather than when our notice returns.
        if let Err(error) = reload(&self.pool, &self.live, &self.reload_lock).await {
            tracing::warn!(%error, "reloading flags after a write failed; the listener will retry");
        }
        Ok(Written {
            version: plan.version,
            after: plan.after,
            at,
        })
    }
}

/// Binds the written flag's key or segment's id (a `?` on a bad id).
macro_rules! bind_target {
    ($query:expr, $target:expr) => {
        match $target {
            Target::Flag(key) => $query.bind(key.to_owned()),
            Target::Segment(id) => $query.bind(segment_id_to_db(id)?),
        }
    };
}
use bind_target;

/// Follows the notify channel until the store is dropped.
async fn listen(
    mut listener: PgListener,
    pool: PgPool,
    live: Arc<LiveFlags>,
    lock: Arc<tokio::sync::Mutex<()>>,
) {
    loop {
        match listener.try_recv().await {
            // A notice, or a lost connection (reconnected by the next
            // `try_recv`) whose notices may be gone: reload either way.
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "flag change listener failed; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
        if let Err(error) = reload(&pool, &live, &lock).await {
            tracing::warn!(%error, "reloading flags after a change notice failed");
        }
    }
}

/// Reads the whole set and serves it (an invalid set is rejected by
/// `LiveFlags`, which keeps the last good one).
async fn reload(
    pool: &PgPool,
    live: &LiveFlags,
    lock: &tokio::sync::Mutex<()>,
) -> Result<(), StoreError> {
    let _serial = lock.lock().await;
    let rows = load_rows(&mut *pool.acquire().await?).await?;
    let _ = live.apply("postgres flag store", rows.build_set());
    Ok(())
}

/// Every stored flag and segment.
async fn load_rows(conn: &mut sqlx::PgConnection) -> Result<Rows, StoreError> {
    let flags = sqlx::query(
        "SELECT key, version, definition::text AS definition FROM palisade_flags ORDER BY key",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(stored_row)
    .collect::<Result<_, _>>()?;
    let segments = sqlx::query(
        "SELECT id, version, definition::text AS definition, updated_at \
         FROM palisade_flag_segments ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let segment = stored_segment(row)?;
        Ok((segment.id, segment.version, segment.definition))
    })
    .collect::<Result<_, StoreError>>()?;
    Ok(Rows { flags, segments })
}

fn stored_segment(row: &PgRow) -> Result<StoredSegment, StoreError> {
    let definition: String = row.try_get("definition")?;
    Ok(StoredSegment {
        id: from_db(row.try_get("id")?),
        version: from_db(row.try_get("version")?),
        updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
        definition: parse_json(&definition)?,
    })
}

fn stored_row(row: &PgRow) -> Result<(String, u64, serde_json::Value), StoreError> {
    let definition: String = row.try_get("definition")?;
    Ok((
        row.try_get("key")?,
        from_db(row.try_get("version")?),
        parse_json(&definition)?,
    ))
}

fn parse_json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
}

fn audit_row(row: &PgRow) -> Result<AuditEntry, StoreError> {
    let json = |column: &str| -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        text.as_deref().map(parse_json).transpose()
    };
    let action: String = row.try_get("action")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        key: row.try_get("flag_key")?,
        version: from_db(row.try_get("version")?),
        actor: row.try_get("actor")?,
        at: Timestamp::from_unix_millis(row.try_get("at")?),
        action: AuditAction::parse(&action)?,
        before: json("before")?,
        after: json("after")?,
        reason: row.try_get("reason")?,
    })
}

fn stored_flag(row: &PgRow) -> Result<StoredFlag, StoreError> {
    let (key, version, definition) = stored_row(row)?;
    Ok(StoredFlag {
        key,
        version,
        updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
        definition,
    })
}

impl FlagStore for PostgresFlagStore {
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredFlag>, StoreError>> {
        async move {
            sqlx::query(
                "SELECT key, version, definition::text AS definition, updated_at \
                 FROM palisade_flags ORDER BY key",
            )
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stored_flag)
            .collect()
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoredFlag, StoreError>> {
        async move {
            let row = sqlx::query(
                "SELECT key, version, definition::text AS definition, updated_at \
                 FROM palisade_flags WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_owned(),
                version: None,
            })?;
            stored_flag(&row)
        }
        .boxed()
    }

    fn put<'a>(
        &'a self,
        flag: &'a Flag,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<StoredFlag, StoreError>> {
        async move {
            let written = self
                .write(
                    Target::Flag(flag.key()),
                    Some(definition_of(flag)),
                    expect,
                    edit,
                    false,
                )
                .await?;
            written
                .into_flag(flag.key())
                .ok_or_else(|| StoreError::NotFound {
                    key: flag.key().to_owned(),
                    version: None,
                })
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            self.write(Target::Flag(key), None, expect, edit, false)
                .await
                .map(drop)
        }
        .boxed()
    }

    fn history<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<AuditEntry>, StoreError>> {
        async move {
            sqlx::query(
                "SELECT id, flag_key, version, actor, at, action, before::text AS before, \
                 after::text AS after, reason FROM palisade_flag_audit WHERE flag_key = $1 ORDER BY id",
            )
            .bind(key)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(audit_row)
            .collect()
        }
        .boxed()
    }

    fn revert<'a>(
        &'a self,
        key: &'a str,
        version: u64,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<Option<StoredFlag>, StoreError>> {
        async move {
            let after: Option<Option<String>> = sqlx::query_scalar(
                "SELECT after::text FROM palisade_flag_audit WHERE flag_key = $1 AND version = $2",
            )
            .bind(key)
            .bind(to_db(version))
            .fetch_optional(&self.pool)
            .await?;
            let Some(after) = after else {
                return Err(StoreError::NotFound {
                    key: key.to_owned(),
                    version: Some(version),
                });
            };
            let after = after.as_deref().map(parse_json).transpose()?;
            let written = self
                .write(Target::Flag(key), after, Expect::Any, edit, true)
                .await?;
            Ok(written.into_flag(key))
        }
        .boxed()
    }

    fn list_segments(&self) -> BoxFuture<'_, Result<Vec<StoredSegment>, StoreError>> {
        async move {
            sqlx::query(
                "SELECT id, version, definition::text AS definition, updated_at \
                 FROM palisade_flag_segments ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(stored_segment)
            .collect()
        }
        .boxed()
    }

    fn put_segment<'a>(
        &'a self,
        segment: &'a Segment,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<StoredSegment, StoreError>> {
        async move {
            let id = segment.id();
            let written = self
                .write(
                    Target::Segment(id),
                    Some(native::segment_to_value(segment)),
                    expect,
                    edit,
                    false,
                )
                .await?;
            written
                .into_segment(id)
                .ok_or(StoreError::SegmentNotFound { segment: id })
        }
        .boxed()
    }

    fn delete_segment<'a>(
        &'a self,
        id: u64,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            self.write(Target::Segment(id), None, expect, edit, false)
                .await
                .map(drop)
        }
        .boxed()
    }

    fn segment_history(&self, id: u64) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>> {
        async move {
            sqlx::query(
                "SELECT id, segment_id::text AS flag_key, version, actor, at, action, \
                 before::text AS before, after::text AS after, reason \
                 FROM palisade_flag_segment_audit WHERE segment_id = $1 ORDER BY id",
            )
            .bind(segment_id_to_db(id)?)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(audit_row)
            .collect()
        }
        .boxed()
    }

    fn live(&self) -> &Arc<LiveFlags> {
        &self.live
    }
}
