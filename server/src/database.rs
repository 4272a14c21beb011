//! Where the server keeps its data: the `--database-url` / `DATABASE_URL`
//! setting, and opening (and migrating) the webhook outbox it names.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_flags::store::{FlagStore, PostgresFlagStore, SqliteFlagStore};
use palisade_webhooks::store::{
    KeyError, PostgresStore, SecretKey, SecretKeyring, SqliteStore, Store, StoreError,
};

use crate::store::{DbError, ServerDb};

/// Everything the server keeps in its database, opened on one pool.
#[derive(Debug)]
pub struct Platform {
    /// The webhook outbox.
    pub outbox: Arc<dyn Store>,
    /// API keys and the audit log.
    pub server: ServerDb,
    /// The feature flags, with their live evaluator.
    pub flags: Arc<dyn FlagStore>,
}

/// The SQLite file used when no database URL is given.
pub const DEFAULT_SQLITE_PATH: &str = "data/palisade.db";

/// Which database the server uses.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// The database: `sqlite://PATH` (relative, or `sqlite:///absolute/path`)
    /// or `postgres://user:password@host/db`. Default: the SQLite file
    /// `./data/palisade.db`, created with its directory on first start. An
    /// empty value (`DATABASE_URL=`) counts as unset.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub url: Option<String>,
    /// Seal webhook endpoint secrets at rest with this key: `ID:BASE64` of
    /// 32 random bytes, e.g. `k1:$(head -c 32 /dev/urandom | base64)`.
    /// Without it they are stored as plain text.
    #[arg(
        long = "secret-key",
        env = "PALISADE_SECRET_KEY",
        value_name = "ID:BASE64",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// A previous --secret-key that still opens secrets during a rotation
    /// (repeatable; the variable is comma-separated). `palisade migrate
    /// --reseal-secrets` rewrites every secret under --secret-key.
    #[arg(
        long = "old-secret-key",
        env = "PALISADE_OLD_SECRET_KEYS",
        value_name = "ID:BASE64",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub old_secret_keys: Vec<String>,
}

impl DatabaseArgs {
    /// The database these arguments name.
    ///
    /// # Errors
    ///
    /// [`DatabaseUrlError`] for a URL the server cannot use; its message
    /// never repeats a password.
    pub fn database(&self) -> Result<Database, DatabaseUrlError> {
        // An empty variable is how many deployment tools "unset" one.
        match self.url.as_deref().filter(|url| !url.is_empty()) {
            None => Ok(Database::Sqlite {
                path: PathBuf::from(DEFAULT_SQLITE_PATH),
                create_dir: true,
            }),
            Some(url) => Database::parse(url),
        }
    }

    /// The keys endpoint secrets are sealed with (none: plain text).
    ///
    /// # Errors
    ///
    /// [`SecretKeyError`] for a key that does not parse, or old keys
    /// without a current one; the message never repeats a key.
    pub fn keyring(&self) -> Result<SecretKeyring, SecretKeyError> {
        let Some(current) = &self.secret_key else {
            if self.old_secret_keys.is_empty() {
                return Ok(SecretKeyring::default());
            }
            return Err(SecretKeyError::OldWithoutCurrent);
        };
        let parse = |flag: &'static str, text: &str| {
            text.parse::<SecretKey>()
                .map_err(|e| SecretKeyError::Invalid(flag, e))
        };
        let mut keyring = SecretKeyring::new(parse("--secret-key", current)?);
        for old in &self.old_secret_keys {
            keyring = keyring.with_old(parse("--old-secret-key", old)?);
        }
        Ok(keyring)
    }
}

/// A `--secret-key` or `--old-secret-key` the server cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// The key does not parse (the flag, and why).
    Invalid(&'static str, KeyError),
    /// `--old-secret-key` without `--secret-key`.
    OldWithoutCurrent,
}

impl fmt::Display for SecretKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(flag, e) => write!(f, "{flag}: {e}"),
            Self::OldWithoutCurrent => {
                f.write_str("--old-secret-key needs --secret-key, the key to seal secrets with")
            }
        }
    }
}

impl std::error::Error for SecretKeyError {}

/// An opened outbox, by backend (for what the `Store` trait does not cover).
enum Opened {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// A database the server can open. `Debug` and `Display` never show a
/// password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// One SQLite file (WAL mode).
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Whether its directory is created when missing (only for the
        /// default `./data/`; a typo in an explicit path is an error).
        create_dir: bool,
    },
    /// A Postgres database shared by every instance.
    Postgres {
        /// The connection URL (may hold a password).
        url: String,
    },
}

impl Database {
    /// Parses a database URL: `sqlite://PATH`, `sqlite:PATH`, or
    /// `postgres://…` / `postgresql://…`.
    ///
    /// # Errors
    ///
    /// [`DatabaseUrlError`] for another scheme, an empty path, an in-memory
    /// SQLite database (the outbox must outlive the process) or SQLite URL
    /// parameters.
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(DatabaseUrlError::SqliteNoPath);
            }
            if path == ":memory:" || path.contains("mode=memory") {
                return Err(DatabaseUrlError::SqliteInMemory);
            }
            if path.contains('?') {
                return Err(DatabaseUrlError::SqliteParameters);
            }
            return Ok(Self::Sqlite {
                path: PathBuf::from(path),
                create_dir: false,
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: url.to_owned(),
            });
        }
        Err(DatabaseUrlError::UnknownScheme(scheme_of(url)))
    }

    /// The database's kind, as readiness and logs name it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }

    /// Opens the webhook outbox in this database, applying its migrations,
    /// sealing endpoint secrets with `keyring`.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when the file or server cannot be reached, or the
    /// migrations fail (for example a schema written by a newer version).
    pub async fn open(&self, keyring: SecretKeyring) -> Result<Arc<dyn Store>, OpenError> {
        Ok(match self.open_backend(keyring).await? {
            Opened::Sqlite(store) => Arc::new(store),
            Opened::Postgres(store) => Arc::new(store),
        })
    }

    /// Opens the webhook outbox like [`open`](Self::open), and the
    /// server's own tables (API keys, audit log) on the same pool, applying
    /// both sets of migrations.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), or [`OpenError::Server`] when the server's
    /// migrations fail.
    pub async fn open_with_server(
        &self,
        keyring: SecretKeyring,
    ) -> Result<(Arc<dyn Store>, ServerDb), OpenError> {
        let server_error = |source| OpenError::Server {
            database: self.to_string(),
            source,
        };
        Ok(match self.open_backend(keyring).await? {
            Opened::Sqlite(store) => {
                let server = ServerDb::sqlite(store.writer().clone())
                    .await
                    .map_err(server_error)?;
                (Arc::new(store), server)
            }
            Opened::Postgres(store) => {
                let server = ServerDb::postgres(store.pool().clone())
                    .await
                    .map_err(server_error)?;
                (Arc::new(store), server)
            }
        })
    }

    /// Opens everything the server keeps in its database, on one pool:
    /// the webhook outbox, the server's own tables (API keys, audit log) and
    /// the feature flags, applying the three sets of migrations.
    ///
    /// # Errors
    ///
    /// As [`open_with_server`](Self::open_with_server), or
    /// [`OpenError::Flags`] when the flag store's migrations or first load
    /// fail.
    pub async fn open_platform(&self, keyring: SecretKeyring) -> Result<Platform, OpenError> {
        let server_error = |source| OpenError::Server {
            database: self.to_string(),
            source,
        };
        let flags_error = |source| OpenError::Flags {
            database: self.to_string(),
            source,
        };
        Ok(match self.open_backend(keyring).await? {
            Opened::Sqlite(store) => {
                let server = ServerDb::sqlite(store.writer().clone())
                    .await
                    .map_err(server_error)?;
                // The outbox's one writer connection serves the flags too:
                // flag writes are rare, and SQLite has one writer anyway.
                let pool = store.writer().clone();
                let flags = SqliteFlagStore::from_pools(pool.clone(), pool)
                    .await
                    .map_err(flags_error)?;
                Platform {
                    outbox: Arc::new(store),
                    server,
                    flags: Arc::new(flags),
                }
            }
            Opened::Postgres(store) => {
                let server = ServerDb::postgres(store.pool().clone())
                    .await
                    .map_err(server_error)?;
                let flags = PostgresFlagStore::from_pool(store.pool().clone())
                    .await
                    .map_err(flags_error)?;
                Platform {
                    outbox: Arc::new(store),
                    server,
                    flags: Arc::new(flags),
                }
            }
        })
    }

    /// Opens (and migrates) the outbox, then writes every endpoint secret
    /// again under `keyring`'s current key (plain text without one).
    /// Returns how many secrets were written.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), or a stored secret no key of `keyring`
    /// opens (nothing is changed then).
    pub async fn reseal_secrets(&self, keyring: SecretKeyring) -> Result<u64, OpenError> {
        let resealed = match self.open_backend(keyring).await? {
            Opened::Sqlite(store) => store.reseal_secrets().await,
            Opened::Postgres(store) => store.reseal_secrets().await,
        };
        resealed.map_err(|source| self.store_error(source))
    }

    async fn open_backend(&self, keyring: SecretKeyring) -> Result<Opened, OpenError> {
        match self {
            Self::Sqlite { path, create_dir } => {
                prepare_sqlite_dir(path, *create_dir)?;
                let store = SqliteStore::open(path)
                    .await
                    .map_err(|source| self.store_error(source))?;
                Ok(Opened::Sqlite(store.with_keyring(keyring)))
            }
            Self::Postgres { url } => {
                let store = PostgresStore::connect(url)
                    .await
                    .map_err(|source| self.store_error(source))?;
                Ok(Opened::Postgres(store.with_keyring(keyring)))
            }
        }
    }

    fn store_error(&self, source: StoreError) -> OpenError {
        OpenError::Store {
            database: self.to_string(),
            source,
        }
    }
}

/// Creates the default directory, or checks an explicit file's directory
/// exists (SQLite's own error would only say "unable to open database file").
fn prepare_sqlite_dir(path: &Path, create: bool) -> Result<(), OpenError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    if create {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            dir: dir.to_owned(),
            source,
        })
    } else {
        Err(OpenError::NoSuchDir(dir.to_owned()))
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path, .. } => write!(f, "sqlite://{}", path.display()),
            Self::Postgres { url } => f.write_str(&redact(url)),
        }
    }
}

/// The URL with any password replaced by `***`, and without its query
/// (which may hold one too).
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    if path.is_empty() {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}/{path}")
    }
}

/// The scheme of a URL, or a placeholder: never the whole value, which may
/// be a secret pasted in the wrong place.
fn scheme_of(url: &str) -> String {
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 32
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            format!("`{scheme}:`")
        }
        _ => "none".to_owned(),
    }
}

/// A database URL the server cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// The URL is empty.
    Empty,
    /// Neither `sqlite:` nor `postgres:`; holds the scheme found.
    UnknownScheme(String),
    /// `sqlite://` without a file.
    SqliteNoPath,
    /// `sqlite::memory:` or `mode=memory`.
    SqliteInMemory,
    /// `sqlite://file?…`.
    SqliteParameters,
}

impl fmt::Display for DatabaseUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database URL: ")?;
        match self {
            Self::Empty => f.write_str("empty; leave it unset for ./data/palisade.db"),
            Self::UnknownScheme(scheme) => write!(
                f,
                "scheme {scheme} is not supported; use sqlite://PATH or postgres://…"
            ),
            Self::SqliteNoPath => f.write_str("sqlite:// needs a file path, e.g. sqlite://data/palisade.db"),
            Self::SqliteInMemory => f.write_str(
                "an in-memory SQLite database would lose the outbox at exit; give a file path",
            ),
            Self::SqliteParameters => f.write_str(
                "SQLite URL parameters are not supported (the server sets WAL mode itself); give a plain path",
            ),
        }
    }
}

impl std::error::Error for DatabaseUrlError {}

/// The database could not be opened or migrated.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The default data directory could not be created.
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An explicit SQLite file's directory does not exist.
    NoSuchDir(PathBuf),
    /// The store refused to open or migrate.
    Store {
        /// The database, password redacted.
        database: String,
        /// Why.
        source: StoreError,
    },
    /// The server's own tables could not be migrated.
    Server {
        /// The database, password redacted.
        database: String,
        /// Why.
        source: DbError,
    },
    /// The flag store could not be migrated or loaded.
    Flags {
        /// The database, password redacted.
        database: String,
        /// Why.
        source: palisade_flags::store::StoreError,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir { dir, source } => {
                write!(
                    f,
                    "cannot create the data directory {}: {source}",
                    dir.display()
                )
            }
            Self::NoSuchDir(dir) => write!(
                f,
                "database directory {} does not exist; create it first",
                dir.display()
            ),
            Self::Store { database, source } => {
                write!(f, "cannot open the database {database}: {source}")
            }
            Self::Server { database, source } => {
                write!(f, "cannot open the database {database}: {source}")
            }
            Self::Flags { database, source } => {
                write!(f, "cannot open the flags in {database}: {source}")
            }
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir { source, .. } => Some(source),
            Self::Store { source, .. } => Some(source),
            Self::Server { source, .. } => Some(source),
            Self::Flags { source, .. } => Some(source),
            Self::NoSuchDir(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(secret_key: Option<&str>, old: &[&str]) -> DatabaseArgs {
        DatabaseArgs {
            url: None,
            secret_key: secret_key.map(str::to_owned),
            old_secret_keys: old.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    const KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn secret_keys_make_a_keyring() {
        let keyring = args(None, &[]).keyring().unwrap();
        assert!(keyring.current().is_none());
        let keyring = args(
            Some(KEY),
            &["k0:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="],
        )
        .keyring()
        .unwrap();
        assert_eq!(keyring.current().map(SecretKey::id), Some("k1"));
    }

    #[test]
    fn bad_secret_keys_are_refused_without_echoing_them() {
        let err = args(Some("k1:hunter2hunter2"), &[]).keyring().unwrap_err();
        assert!(err.to_string().starts_with("--secret-key: "), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = args(Some(KEY), &["hunter2"]).keyring().unwrap_err();
        assert!(err.to_string().starts_with("--old-secret-key: "), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            args(None, &[KEY]).keyring().unwrap_err(),
            SecretKeyError::OldWithoutCurrent
        );
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        for (url, path) in [
            ("sqlite://data/x.db", "data/x.db"),
            ("sqlite:///var/lib/palisade/x.db", "/var/lib/palisade/x.db"),
            ("sqlite:x.db", "x.db"),
        ] {
            assert_eq!(
                Database::parse(url),
                Ok(Database::Sqlite {
                    path: PathBuf::from(path),
                    create_dir: false
                }),
                "{url}"
            );
        }
    }

    #[test]
    fn the_default_is_sqlite_under_data_created_on_demand() {
        let db = args(None, &[]).database();
        assert_eq!(
            db,
            Ok(Database::Sqlite {
                path: PathBuf::from("data/palisade.db"),
                create_dir: true
            })
        );
    }

    #[test]
    fn postgres_urls_are_kept_whole_but_shown_without_password() {
        let url = "postgres://app:hunter2@db.internal:5432/palisade?sslmode=require&password=x";
        let db = Database::parse(url).unwrap();
        assert_eq!(
            db,
            Database::Postgres {
                url: url.to_owned()
            }
        );
        assert_eq!(
            db.to_string(),
            "postgres://app:***@db.internal:5432/palisade"
        );
        assert!(!format!("{db:?}").contains("hunter2"));
        assert_eq!(
            Database::parse("postgresql://db/x").unwrap().to_string(),
            "postgresql://db/x"
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_echoing_them() {
        let cases = [
            ("", DatabaseUrlError::Empty),
            (
                "mysql://root:secret@db/x",
                DatabaseUrlError::UnknownScheme("`mysql:`".into()),
            ),
            ("hunter2", DatabaseUrlError::UnknownScheme("none".into())),
            ("sqlite://", DatabaseUrlError::SqliteNoPath),
            ("sqlite::memory:", DatabaseUrlError::SqliteInMemory),
            ("sqlite://x.db?mode=rwc", DatabaseUrlError::SqliteParameters),
        ];
        for (url, expected) in cases {
            let err = Database::parse(url).unwrap_err();
            assert_eq!(err, expected, "{url}");
            let message = err.to_string();
            assert!(
                !message.contains("secret") && !message.contains("hunter2"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
    }
}
