//! The stack every route runs under (request id, limits, problems for 404
//! and 405) and the operations routes.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use palisade_server::auth::args::ApiArgs;
use palisade_server::routes::stack::{StackConfig, wrap};
use support::{TestApp, assert_problem};
use tower::ServiceExt as _;

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = TestApp::spawn("ops-404").await;
    assert_problem(&app.get("/nope").await, StatusCode::NOT_FOUND, "not_found");
    assert_problem(
        &app.get("/api/nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let answer = app.call(Method::DELETE, "/health/live", None, None).await;
    assert_problem(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_keeps_a_sound_one() {
    let app = TestApp::spawn("ops-request-id").await;
    let answer = app.get("/health/live").await;
    assert!(!answer.headers["x-request-id"].is_empty());
    let answer = app
        .send(
            Request::get(format!("{}/nope", app.base))
                .header("x-request-id", "req-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.headers["x-request-id"], "req-42");
}

#[tokio::test]
async fn an_oversized_body_is_413_and_writes_nothing() {
    let args = ApiArgs {
        body_limit: 64,
        ..ApiArgs::default()
    };
    let app = TestApp::spawn_with("ops-413", args).await;
    let body = format!(r#"{{"name":"{}","scope":"read"}}"#, "x".repeat(100));
    let answer = app
        .call(Method::POST, "/api/keys", Some(&app.admin), Some(&body))
        .await;
    assert_problem(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.db.key_count().await.unwrap(), 1, "only the admin key");
}

#[tokio::test(start_paused = true)]
async fn a_slow_request_is_answered_504_at_the_timeout() {
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "late"
        }),
    );
    let app = wrap(
        slow,
        StackConfig {
            request_timeout: Duration::from_secs(5),
            ..StackConfig::default()
        },
    );
    let response = app
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["code"], "timeout");
}
