//! The Postgres that tests talk to, shared by every test binary that needs
//! one (include it with `#[path = "services/postgres.rs"] mod services;`).
//!
//! `PALISADE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) names a database the tests
//! may create databases from; each test gets a fresh `palisade_test_<random>`
//! database, dropped when its [`TestDatabase`] is dropped (even after a
//! failed assertion). When Postgres does not answer, a test is skipped with a
//! line written straight to the process's stderr — the test harness captures
//! `println!` and `eprintln!` but not a direct write, so the skip shows in a
//! plain `cargo test` — unless `PALISADE_REQUIRE_SERVICES=1`, which makes it
//! fail.

use std::io::Write;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _};

/// Where the tests look for Postgres unless `PALISADE_TEST_POSTGRES_URL`
/// says otherwise.
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long a reachability check may take; not a timing assertion.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A database created for one test; dropped (with any connections still
/// open to it) when this value is. No `Debug`: the URL may hold a password.
pub(crate) struct TestDatabase {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl TestDatabase {
    /// The URL of the fresh database.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The connect options of the fresh database, for a pool of one's own.
    #[allow(dead_code)] // not every test binary that includes this file needs it
    pub(crate) fn options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async code (possibly while a test unwinds), so
        // the database is dropped on a thread with its own small runtime.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(problem)) = dropped {
            let line = format!(
                "warning: test database {} was not dropped: {problem}\n",
                self.name
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// A fresh, empty database for `test` when Postgres answers; otherwise
/// `None`, after writing `SKIPPED: <test> needs Postgres at <url> …` to
/// stderr.
///
/// # Panics
///
/// When Postgres does not answer and `PALISADE_REQUIRE_SERVICES=1`, or when
/// it answers but refuses to create a database.
pub(crate) async fn fresh_database(test: &str) -> Option<TestDatabase> {
    let url =
        std::env::var("PALISADE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let required = std::env::var("PALISADE_REQUIRE_SERVICES").as_deref() == Ok("1");
    fresh_database_or_skip(test, url, required, &mut std::io::stderr()).await
}

/// [`fresh_database`] with its environment and its output given.
pub(crate) async fn fresh_database_or_skip(
    test: &str,
    url: String,
    required: bool,
    out: &mut impl Write,
) -> Option<TestDatabase> {
    let (admin, mut conn) = match connect(&url).await {
        Ok(connected) => connected,
        Err(problem) => {
            assert!(
                !required,
                "{test} needs Postgres at {url} ({problem}) and PALISADE_REQUIRE_SERVICES=1"
            );
            // One write, so the line is not split by the harness's own
            // output; a failed write to stderr leaves nothing better to
            // report it to.
            let line = format!(
                "SKIPPED: {test} needs Postgres at {url} (set PALISADE_REQUIRE_SERVICES=1 to fail instead): {problem}\n"
            );
            let _ = out.write_all(line.as_bytes());
            return None;
        }
    };
    let name = format!("palisade_test_{}", random_suffix());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{test}: Postgres at {url} refused CREATE DATABASE: {e}"));
    let _ = conn.close().await;
    let db = admin.clone().database(&name);
    Some(TestDatabase {
        url: db.to_url_lossy().to_string(),
        admin,
        name,
    })
}

/// Connects to the admin database, or says why that failed.
async fn connect(url: &str) -> Result<(PgConnectOptions, PgConnection), String> {
    let options: PgConnectOptions = url
        .parse()
        .map_err(|e| format!("not a Postgres URL: {e}"))?;
    let conn = tokio::time::timeout(CHECK_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok((options, conn))
}

/// 16 hex digits from the OS generator (lowercase: a database name).
fn random_suffix() -> String {
    use rand::TryRng as _;
    let mut bytes = [0u8; 8];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random generator");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
