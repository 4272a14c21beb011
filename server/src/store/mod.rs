//! The server's own tables — API keys and the audit log — kept in the same
//! database as the webhook outbox, on the outbox's own pool.
//!
//! [`ServerDb`] applies the server's embedded migrations (bookkeeping table
//! `_palisade_server_migrations`, so they never collide with the outbox's
//! `_palisade_webhooks_migrations` or an application's own) and answers the
//! queries of [`keys`] and [`audit`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{PgPool, SqlitePool};

pub mod audit;
pub mod keys;

/// The server's tables in one database. Cheap to clone (a pool handle).
#[derive(Debug, Clone)]
pub enum ServerDb {
    /// A SQLite file: the outbox's one writing connection, so the server's
    /// writes queue behind the outbox's instead of failing with `SQLITE_BUSY`.
    Sqlite(SqlitePool),
    /// A Postgres database.
    Postgres(PgPool),
}

/// A query against the server's tables failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DbError {
    /// The database refused or could not be reached.
    Database(sqlx::Error),
    /// The migrations failed (for example a schema written by a newer version).
    Migrate(sqlx::migrate::MigrateError),
    /// A stored row does not make sense (an unknown scope, bad JSON).
    Corrupt(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "server database: {e}"),
            Self::Migrate(e) => write!(f, "server database migrations: {e}"),
            Self::Corrupt(why) => write!(f, "server database: unreadable row: {why}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            Self::Migrate(e) => Some(e),
            Self::Corrupt(_) => None,
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// Runs the same query code against either pool. Queries are written with
/// Postgres placeholders (`$1`); for SQLite they become `?1` (numbered,
/// so the binding order is the same). `$q("…")` makes the query text.
macro_rules! on_pool {
    ($db:expr, $pool:ident, $q:ident => $body:expr) => {
        match $db {
            $crate::store::ServerDb::Sqlite($pool) => {
                let $q = |sql: &'static str| sqlx::AssertSqlSafe(sql.replace('$', "?"));
                $body
            }
            $crate::store::ServerDb::Postgres($pool) => {
                let $q = |sql: &'static str| sqlx::AssertSqlSafe(sql);
                $body
            }
        }
    };
}
pub(crate) use on_pool;

fn migration(sql: &'static str) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let mut migrator = Migrator::with_migrations(vec![Migration::new(
        1,
        "server".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )]);
    // Our own bookkeeping table: the outbox keeps its migrations in
    // `_palisade_webhooks_migrations` in the same database, and an
    // application may keep its own sqlx migrations there too.
    migrator.dangerous_set_table_name("_palisade_server_migrations");
    migrator
}

impl ServerDb {
    /// Applies the server's migrations to a SQLite pool (the outbox's writer).
    ///
    /// # Errors
    ///
    /// [`DbError::Migrate`] if they fail.
    pub async fn sqlite(pool: SqlitePool) -> Result<Self, DbError> {
        migration(include_str!("../../migrations/sqlite/0001_server.sql"))
            .run(&pool)
            .await
            .map_err(DbError::Migrate)?;
        Ok(Self::Sqlite(pool))
    }

    /// Applies the server's migrations to a Postgres pool (the outbox's).
    /// Instances starting together apply them once (the migrator holds an
    /// advisory lock).
    ///
    /// # Errors
    ///
    /// [`DbError::Migrate`] if they fail.
    pub async fn postgres(pool: PgPool) -> Result<Self, DbError> {
        migration(include_str!("../../migrations/postgres/0001_server.sql"))
            .run(&pool)
            .await
            .map_err(DbError::Migrate)?;
        Ok(Self::Postgres(pool))
    }
}

/// A time as Unix milliseconds, the form every table stores.
pub(crate) fn to_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds back to a time (negative values, never written, as the epoch).
pub(crate) fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}
