//! [`SqliteFlagStore`]: flags and their audit log in one SQLite file.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::flag_store::{
    AuditAction, AuditEntry, Edit, Expect, FlagStore, Rows, StoredFlag, StoredSegment, Target,
    Written, definition_of, from_db, plan, segment_id_to_db, to_db,
};
use super::{LiveFlags, StoreError};
use crate::model::{Flag, Segment};
use crate::native;
use crate::time::{Clock, SystemClock, Timestamp};

/// The embedded migrations, applied by [`SqliteFlagStore::from_pools`].
fn migrator() -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let mut migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "flags".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0001_flags.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "segments".into(),
            MigrationType::Simple,
            include_str!("../../migrations/sqlite/0002_segments.sql").into_sql_str(),
            false,
        ),
    ]);
    // Our own bookkeeping table, so the flags can share a database file
    // with the webhook outbox and the application's own migrations.
    migrator.dangerous_set_table_name("_palisade_flags_migrations");
    migrator
}

/// Flags in a SQLite file (WAL), each stored as its native JSON with a
/// version, and an append-only audit log of every change.
///
/// Writes go through one writing connection (so they queue in Rust instead
/// of retrying on `SQLITE_BUSY`), reads through a pool of their own. Every
/// write validates the whole resulting set (unknown parents, cycles, bad
/// values), commits the definition and its audit row together, then swaps
/// the new set into [`live`](FlagStore::live).
///
/// Segments are stored the same way (`put_segment`, `delete_segment`,
/// `segment_history`): a flag naming a segment that is not stored is
/// refused as [`StoreError::Invalid`], and a segment still in use cannot be
/// deleted ([`StoreError::SegmentInUse`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use palisade_flags::model::{Flag, FlagKind};
/// use palisade_flags::store::{AuditAction, Edit, Expect, FlagStore, SqliteFlagStore};
/// use palisade_flags::Context;
///
/// let dir = std::env::temp_dir().join(format!("palisade-flags-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store = SqliteFlagStore::open(dir.join("flags.db")).await?;
///
/// let flag = Flag::new("dark-mode", FlagKind::Boolean);
/// let stored = store.put(&flag, Expect::Absent, &Edit::by("ana").because("launch")).await?;
/// assert_eq!(stored.version, 1);
/// assert!(store.live().flags().evaluate("dark-mode", &Context::new()).is_enabled());
///
/// store.put(&flag.enabled(false), Expect::Version(1), &Edit::by("bo")).await?;
/// assert!(!store.live().flags().evaluate("dark-mode", &Context::new()).is_enabled());
///
/// store.revert("dark-mode", 1, &Edit::by("ana").because("too early")).await?;
/// let history = store.history("dark-mode").await?;
/// assert_eq!(history.len(), 3);
/// assert_eq!(history[2].action, AuditAction::Revert);
/// assert!(store.live().flags().evaluate("dark-mode", &Context::new()).is_enabled());
/// # drop(store); std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteFlagStore {
    writer: SqlitePool,
    reader: SqlitePool,
    live: Arc<LiveFlags>,
    clock: Arc<dyn Clock>,
    /// Held from the write's transaction until its snapshot is served, so
    /// snapshots are applied in commit order.
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteFlagStore {
    /// Opens (creating it if needed) the database at `path` and applies the
    /// migrations. The directory must exist.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the file cannot be opened,
    /// [`StoreError::Migrate`] if the migrations fail,
    /// [`StoreError::Invalid`] if the stored flags are not a valid set.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
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
        Self::from_pools(writer, reader).await
    }

    /// A store on pools of one's own (the webhook outbox's, for one
    /// database file): `writer` should have exactly one connection. Applies
    /// the migrations on `writer`.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub async fn from_pools(writer: SqlitePool, reader: SqlitePool) -> Result<Self, StoreError> {
        migrator().run(&writer).await?;
        let mut store = Self {
            writer,
            reader,
            live: Arc::new(LiveFlags::new(crate::model::FlagSet::default())),
            clock: Arc::new(SystemClock),
            write_lock: Arc::default(),
        };
        let set = load_rows(&mut *store.reader.acquire().await?)
            .await?
            .build_set()?;
        store.live = Arc::new(LiveFlags::new(set));
        Ok(store)
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
        let _serial = self.write_lock.lock().await;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let rows = load_rows(&mut tx).await?;
        let last: Option<i64> = bind_target!(
            sqlx::query_scalar(match target {
                Target::Flag(_) => "SELECT MAX(version) FROM flag_audit WHERE flag_key = ?1",
                Target::Segment(_) => {
                    "SELECT MAX(version) FROM flag_segment_audit WHERE segment_id = ?1"
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
                            "INSERT INTO flags (key, version, definition, updated_at) \
                             VALUES (?1, ?2, ?3, ?4) \
                             ON CONFLICT (key) DO UPDATE SET version = excluded.version, \
                             definition = excluded.definition, updated_at = excluded.updated_at"
                        }
                        Target::Segment(_) => {
                            "INSERT INTO flag_segments (id, version, definition, updated_at) \
                             VALUES (?1, ?2, ?3, ?4) \
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
                        Target::Flag(_) => "DELETE FROM flags WHERE key = ?1",
                        Target::Segment(_) => "DELETE FROM flag_segments WHERE id = ?1",
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
                    "INSERT INTO flag_audit \
                     (flag_key, version, actor, at, action, before, after, reason) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                }
                Target::Segment(_) => {
                    "INSERT INTO flag_segment_audit \
                     (segment_id, version, actor, at, action, before, after, reason) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
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
        tx.commit().await?;
        let _ = self
            .live
            .apply("sqlite flag store", Ok::<_, Infallible>(plan.set));
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

/// Every stored flag and segment.
async fn load_rows(conn: &mut sqlx::SqliteConnection) -> Result<Rows, StoreError> {
    let flags = sqlx::query("SELECT key, version, definition FROM flags ORDER BY key")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(stored_row)
        .collect::<Result<_, _>>()?;
    let segments = sqlx::query("SELECT id, version, definition FROM flag_segments ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let definition: String = row.try_get("definition")?;
            Ok((
                from_db(row.try_get("id")?),
                from_db(row.try_get("version")?),
                parse_json(&definition)?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Rows { flags, segments })
}

fn stored_row(
    row: &sqlx::sqlite::SqliteRow,
) -> Result<(String, u64, serde_json::Value), StoreError> {
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

fn audit_row(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
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

impl FlagStore for SqliteFlagStore {
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredFlag>, StoreError>> {
        async move {
            let rows =
                sqlx::query("SELECT key, version, definition, updated_at FROM flags ORDER BY key")
                    .fetch_all(&self.reader)
                    .await?;
            rows.iter()
                .map(|row| {
                    let (key, version, definition) = stored_row(row)?;
                    Ok(StoredFlag {
                        key,
                        version,
                        updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
                        definition,
                    })
                })
                .collect()
        }
        .boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoredFlag, StoreError>> {
        async move {
            let row = sqlx::query(
                "SELECT key, version, definition, updated_at FROM flags WHERE key = ?1",
            )
            .bind(key)
            .fetch_optional(&self.reader)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_owned(),
                version: None,
            })?;
            let (key, version, definition) = stored_row(&row)?;
            Ok(StoredFlag {
                key,
                version,
                updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
                definition,
            })
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
            let rows = sqlx::query(
                "SELECT id, flag_key, version, actor, at, action, before, after, reason \
                 FROM flag_audit WHERE flag_key = ?1 ORDER BY id",
            )
            .bind(key)
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(audit_row).collect()
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
                "SELECT after FROM flag_audit WHERE flag_key = ?1 AND version = ?2",
            )
            .bind(key)
            .bind(to_db(version))
            .fetch_optional(&self.reader)
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
            let rows = sqlx::query(
                "SELECT id, version, definition, updated_at FROM flag_segments ORDER BY id",
            )
            .fetch_all(&self.reader)
            .await?;
            rows.iter()
                .map(|row| {
                    let definition: String = row.try_get("definition")?;
                    Ok(StoredSegment {
                        id: from_db(row.try_get("id")?),
                        version: from_db(row.try_get("version")?),
                        updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
                        definition: parse_json(&definition)?,
                    })
                })
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
            let rows = sqlx::query(
                "SELECT id, CAST(segment_id AS TEXT) AS flag_key, version, actor, at, action, \
                 before, after, reason FROM flag_segment_audit WHERE segment_id = ?1 ORDER BY id",
            )
            .bind(segment_id_to_db(id)?)
            .fetch_all(&self.reader)
            .await?;
            rows.iter().map(audit_row).collect()
        }
        .boxed()
    }

    fn live(&self) -> &Arc<LiveFlags> {
        &self.live
    }
}
