//! The Redis that tests talk to, shared by every test binary that needs one
//! (include it with `#[path = "services/redis.rs"] mod services;`).
//!
//! The URL is `PALISADE_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
//! When Redis does not answer, a test is skipped with a line written straight
//! to the process's stderr — the test harness captures `println!` and
//! `eprintln!` but not a direct write, so the skip shows in a plain
//! `cargo test` — unless `PALISADE_REQUIRE_SERVICES=1`, which makes it fail.

use std::io::Write;
use std::time::Duration;

/// Where the tests look for Redis unless `PALISADE_TEST_REDIS_URL` says
/// otherwise.
pub(crate) const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// How long a reachability check may take; not a timing assertion.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The URL of the test Redis when it answers `PING`; otherwise `None`, after
/// writing `SKIPPED: <test> needs Redis at <url> …` to stderr.
///
/// # Panics
///
/// When Redis does not answer and `PALISADE_REQUIRE_SERVICES=1`.
pub(crate) async fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("PALISADE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let required = std::env::var("PALISADE_REQUIRE_SERVICES").as_deref() == Ok("1");
    redis_url_or_skip(test, url, required, &mut std::io::stderr()).await
}

/// [`redis_url`] with its environment and its output given.
pub(crate) async fn redis_url_or_skip(
    test: &str,
    url: String,
    required: bool,
    out: &mut impl Write,
) -> Option<String> {
    let problem = match ping(&url).await {
        Ok(()) => return Some(url),
        Err(problem) => problem,
    };
    assert!(
        !required,
        "{test} needs Redis at {url} ({problem}) and PALISADE_REQUIRE_SERVICES=1"
    );
    // One write, so the line is not split by the harness's own output; a
    // failed write to stderr leaves nothing better to report it to.
    let line = format!(
        "SKIPPED: {test} needs Redis at {url} (set PALISADE_REQUIRE_SERVICES=1 to fail instead): {problem}\n"
    );
    let _ = out.write_all(line.as_bytes());
    None
}

/// Connects and sends `PING`, or says why that failed.
async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| format!("not a Redis URL: {e}"))?;
    let mut conn = tokio::time::timeout(CHECK_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The `host:port` of a Redis URL, for tests that talk TCP to the server.
///
/// # Panics
///
/// When `url` is not a TCP Redis URL (a test set-up error).
#[allow(dead_code)] // not every test binary that includes this file needs it
pub(crate) fn tcp_addr(url: &str) -> String {
    use redis::IntoConnectionInfo as _;

    let info = url
        .into_connection_info()
        .unwrap_or_else(|e| panic!("PALISADE_TEST_REDIS_URL={url} is not a Redis URL: {e}"));
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) if host.contains(':') => format!("[{host}]:{port}"),
        redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        other => panic!("PALISADE_TEST_REDIS_URL={url} is not a plain TCP address: {other:?}"),
    }
}
