//! The reference server's routes, driven in-process with paused time.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use palisade_server::{AppState, app};
use serde_json::Value;
use tower::ServiceExt;

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, http::HeaderMap, Value) {
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

#[tokio::test(start_paused = true)]
async fn liveness_answers_ok() {
    let router = app(AppState::new().unwrap());
    let (status, _, body) = get(&router, "/health/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test(start_paused = true)]
async fn retries_hide_a_blip() {
    let router = app(AppState::new().unwrap());
    // 50 %: the upstream alternates success and failure. The first call succeeds...
    let (status, _, body) = get(&router, "/demo/upstream?fail_percent=50").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["attempts"], 1);
    // ...so the next one fails once and its retry succeeds.
    let (status, _, body) = get(&router, "/demo/upstream?fail_percent=50").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["upstream_status"], 200);
    assert_eq!(body["attempts"], 2);
    assert_eq!(body["breaker"]["state"], "closed");
    assert_eq!(body["breaker"]["failures_in_window"], 1);
}

#[tokio::test(start_paused = true)]
async fn an_outage_opens_the_breaker_and_readiness_follows() {
    let router = app(AppState::new().unwrap());
    let (status, _, ready) = get(&router, "/health/ready").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "healthy");

    // Each request makes three failing attempts; the breaker judges after 10
    // calls (minimum_calls), so the fourth request is the first to be refused.
    for _ in 0..3 {
        let (status, _, body) = get(&router, "/demo/upstream?fail_percent=100").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["attempts"], 3);
    }
    // The fourth request's first attempt is the 10th call: it opens the
    // breaker, which refuses the retry, and `CircuitOpen` is not retried.
    let (status, _, body) = get(&router, "/demo/upstream?fail_percent=100").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "circuit_open");

    // Now every call is refused at once, even when the upstream would answer.
    let (status, headers, body) = get(&router, "/demo/upstream?fail_percent=0").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "circuit_open");
    assert_eq!(
        headers[http::header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert!(headers.contains_key(http::header::RETRY_AFTER));

    // An open upstream breaker degrades the report, not readiness: the
    // instance itself can still serve everything else.
    let (status, _, ready) = get(&router, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "healthy");
    let (status, _, health) = get(&router, "/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["components"][0]["name"], "demo-upstream");
    assert_eq!(health["components"][0]["state"], "open");

    // After the wait, probes go through and a healthy upstream closes it again.
    tokio::time::advance(std::time::Duration::from_secs(11)).await;
    for _ in 0..3 {
        let (status, _, body) = get(&router, "/demo/upstream?fail_percent=0").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, _, health) = get(&router, "/health").await;
    assert_eq!(health["status"], "healthy");
}

#[tokio::test(start_paused = true)]
async fn a_bad_query_is_a_problem_not_a_panic() {
    let router = app(AppState::new().unwrap());
    let (status, headers, body) = get(&router, "/demo/upstream?fail_percent=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        headers[http::header::CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(body["status"], 400);
}

/// A fresh SQLite outbox in a temporary directory (removed on drop).
struct Outbox {
    dir: std::path::PathBuf,
    store: palisade_webhooks::store::SqliteStore,
}

impl Outbox {
    async fn open(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("palisade-routes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = palisade_webhooks::store::SqliteStore::open(dir.join("outbox.db"))
            .await
            .unwrap();
        Self { dir, store }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let outbox = Outbox::open("ready").await;
    let state = AppState::new()
        .unwrap()
        .with_database("sqlite", std::sync::Arc::new(outbox.store.clone()));
    let router = app(state);
    let (status, _, ready) = get(&router, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["components"][0]["name"], "database");
    assert_eq!(ready["components"][0]["kind"], "sqlite");
    assert_eq!(ready["components"][0]["status"], "healthy");

    // The outbox's queue is gone: readiness fails, naming the database.
    sqlx::query("ALTER TABLE deliveries RENAME TO deliveries_away")
        .execute(outbox.store.writer())
        .await
        .unwrap();
    let (status, _, ready) = get(&router, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["status"], "unhealthy");
    assert_eq!(ready["components"][0]["status"], "unhealthy");
    assert_eq!(ready["components"][0]["error"], "database");

    // And recovers with it.
    sqlx::query("ALTER TABLE deliveries_away RENAME TO deliveries")
        .execute(outbox.store.writer())
        .await
        .unwrap();
    let (status, _, ready) = get(&router, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["components"][0]["status"], "healthy");
}
