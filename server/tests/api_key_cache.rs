//! The cache of verified API keys over real HTTP: a revocation through the
//! API is seen at once, one made behind the server's back only after the
//! cache's TTL, and every lookup is counted as a hit or a miss.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use palisade_server::auth::KEY_CACHE_METRIC;
use palisade_server::auth::args::ApiArgs;
use support::{TestApp, assert_problem};

/// Longer than any test: an entry never expires on its own here.
const LONG_TTL: Duration = Duration::from_secs(3600);

fn with_ttl(ttl: Duration) -> ApiArgs {
    ApiArgs {
        key_cache_ttl: ttl,
        ..ApiArgs::default()
    }
}

/// When the tests revoke keys behind the server's back (metadata only).
fn revocation_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The public id of a `pal_<id>_<secret>` token.
fn id_of(token: &str) -> &str {
    &token[4..20]
}

async fn status_with(app: &TestApp, token: &str) -> StatusCode {
    app.call(Method::GET, "/api/keys", Some(token), None)
        .await
        .status
}

#[tokio::test]
async fn a_key_revoked_through_the_api_is_refused_at_once_though_cached() {
    let app = TestApp::spawn_with("cache-revoke-api", with_ttl(LONG_TTL)).await;
    let token = app.create_key("admin", None).await;
    // Twice: the second answer comes from the cache.
    assert_eq!(status_with(&app, &token).await, StatusCode::OK);
    assert_eq!(status_with(&app, &token).await, StatusCode::OK);

    let path = format!("/api/keys/{}", id_of(&token));
    let revoked = app
        .call(Method::DELETE, &path, Some(&app.admin), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);

    let answer = app.call(Method::GET, "/api/keys", Some(&token), None).await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(answer.json["detail"].as_str().unwrap().contains("revoked"));
}

#[tokio::test]
async fn a_key_revoked_in_the_database_is_refused_once_the_ttl_has_passed() {
    // With a TTL of zero every request reads the database: refused at once.
    let uncached = TestApp::spawn_with("cache-ttl-zero", with_ttl(Duration::ZERO)).await;
    let token = uncached.create_key("admin", None).await;
    assert_eq!(status_with(&uncached, &token).await, StatusCode::OK);
    uncached
        .db
        .revoke_key(id_of(&token), revocation_time())
        .await
        .unwrap();
    assert_eq!(
        status_with(&uncached, &token).await,
        StatusCode::UNAUTHORIZED
    );

    // Revoked behind the server's back (as another instance would), a key
    // read within the TTL is still served from the cache: the documented
    // window. The expiry itself is tested with paused time in the cache's
    // unit tests.
    let cached = TestApp::spawn_with("cache-ttl-long", with_ttl(LONG_TTL)).await;
    let token = cached.create_key("admin", None).await;
    assert_eq!(status_with(&cached, &token).await, StatusCode::OK);
    cached
        .db
        .revoke_key(id_of(&token), revocation_time())
        .await
        .unwrap();
    assert_eq!(status_with(&cached, &token).await, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_when_its_key_is_cached() {
    let app = TestApp::spawn_with("cache-wrong-secret", with_ttl(LONG_TTL)).await;
    assert_eq!(status_with(&app, &app.admin).await, StatusCode::OK);
    let wrong = format!("pal_{}_{}", id_of(&app.admin), "0".repeat(64));
    let answer = app.call(Method::GET, "/api/keys", Some(&wrong), None).await;
    assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(status_with(&app, &app.admin).await, StatusCode::OK);
}

/// The `result` counts of the cache metric.
fn cache_counts(snapshot: metrics_util::debugging::Snapshot) -> (u64, u64) {
    let (mut hits, mut misses) = (0, 0);
    for (key, _, _, value) in snapshot.into_vec() {
        let key = key.key();
        if key.name() != KEY_CACHE_METRIC {
            continue;
        }
        let DebugValue::Counter(n) = value else {
            continue;
        };
        match key
            .labels()
            .find(|l| l.key() == "result")
            .map(|l| l.value())
        {
            Some("hit") => hits += n,
            Some("miss") => misses += n,
            other => panic!("unexpected result label {other:?}"),
        }
    }
    (hits, misses)
}

// The whole server runs on this test's thread, so a thread-local recorder
// sees its metrics and no other test's.
#[tokio::test(flavor = "current_thread")]
async fn hits_and_misses_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _recorder = metrics::set_default_local_recorder(&recorder);

    let app = TestApp::spawn_with("cache-metrics", with_ttl(LONG_TTL)).await;
    for _ in 0..3 {
        assert_eq!(status_with(&app, &app.admin).await, StatusCode::OK);
    }
    // The first request read the key; the two after it did not.
    assert_eq!(cache_counts(snapshotter.snapshot()), (2, 1));

    let unknown = format!("pal_{}_{}", "f".repeat(16), "0".repeat(64));
    assert_eq!(status_with(&app, &unknown).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&app, &unknown).await, StatusCode::UNAUTHORIZED);
    // (A snapshot resets the counters.) An unknown id is never cached:
    // each try is a miss.
    assert_eq!(cache_counts(snapshotter.snapshot()), (0, 2));
}
