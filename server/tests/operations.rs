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

#[tokio::test]
async fn health_reports_everything_and_readiness_the_dependencies() {
    let app = TestApp::spawn("ops-health").await;
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(health.json["status"], "healthy");
    let names: Vec<_> = health.json["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"database".to_owned()), "{names:?}");
    assert!(names.contains(&"demo-upstream".to_owned()), "{names:?}");
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    let names: Vec<_> = ready.json["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["database"], "the breaker is not a readiness input");
}

#[tokio::test]
async fn readiness_fails_while_delivery_workers_are_stopped() {
    use palisade_server::routes::health::DeliveryStatus;
    let delivery = DeliveryStatus::default();
    let router = palisade_server::app(
        palisade_server::AppState::new()
            .unwrap()
            .with_delivery(delivery.clone()),
    );
    let ready = |router: Router| async move {
        let response = router
            .oneshot(Request::get("/health/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        (status, body)
    };
    let (status, body) = ready(router.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["components"][0]["name"], "webhook-delivery");
    delivery.set_running(true);
    let (status, body) = ready(router).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_security_events() {
    let app = TestApp::spawn("ops-metrics").await;
    // Install the recorder before the events, then cause one.
    let _ = app.call(Method::GET, "/metrics", None, None).await;
    let refused = app.call(Method::GET, "/api/keys", None, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
    );
    assert!(
        metrics
            .text
            .contains(r#"palisade_security_events_total{kind="auth_failed"}"#),
        "{}",
        metrics.text
    );
    // Histograms with Prometheus names and OpenTelemetry's buckets.
    assert!(
        metrics
            .text
            .contains("http_server_request_duration_seconds_bucket{"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains(r#"le="0.005""#), "{}", metrics.text);
}

#[tokio::test]
async fn version_names_the_build() {
    let app = TestApp::spawn("ops-version").await;
    let version = app.call(Method::GET, "/version", None, None).await;
    assert_eq!(version.status, StatusCode::OK);
    assert_eq!(version.json["name"], "palisade-server");
    assert_eq!(version.json["version"], env!("CARGO_PKG_VERSION"));
    assert!(version.json.get("git_sha").is_some());
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let app = TestApp::spawn("ops-openapi").await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc.json["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc.json["components"]["schemas"]["Problem"].is_object());
    let paths = doc.json["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            documented.push(format!("{} {path}", method.to_uppercase()));
            // The inbound webhook receiver is outside /api, and served only
            // with a secret (tests/inbound_webhooks.rs).
            if !path.starts_with("/api/") {
                continue;
            }
            // Every documented operation is routed: without a key it meets
            // the authentication layer, never a 404 or 405.
            let concrete = path
                .replace("{id}", "0123456789abcdef")
                .replace("{key}", "some-flag")
                .replace("{name}", "demo-upstream");
            let answer = app
                .call(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    None,
                    None,
                )
                .await;
            assert_problem(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
    documented.sort();
    assert_eq!(
        documented,
        [
            "DELETE /api/flags/segments/{id}",
            "DELETE /api/flags/{key}",
            "DELETE /api/keys/{id}",
            "DELETE /api/webhooks/endpoints/{id}",
            "GET /api/audit",
            "GET /api/breakers",
            "GET /api/events",
            "GET /api/flags",
            "GET /api/flags/segments",
            "GET /api/flags/{key}",
            "GET /api/flags/{key}/history",
            "GET /api/keys",
            "GET /api/webhooks/endpoints",
            "GET /api/webhooks/endpoints/{id}",
            "GET /api/webhooks/endpoints/{id}/stats",
            "GET /api/webhooks/event-types",
            "GET /api/webhooks/messages",
            "GET /api/webhooks/messages/{id}",
            "PATCH /api/breakers/{name}",
            "PATCH /api/flags/{key}",
            "PATCH /api/webhooks/endpoints/{id}",
            "POST /api/breakers/{name}/close",
            "POST /api/breakers/{name}/force-open",
            "POST /api/breakers/{name}/reset",
            "POST /api/flags/evaluate",
            "POST /api/flags/import",
            "POST /api/flags/{key}/revert",
            "POST /api/keys",
            "POST /api/webhooks/endpoints",
            "POST /api/webhooks/endpoints/{id}/replay",
            "POST /api/webhooks/endpoints/{id}/rotate",
            "POST /api/webhooks/event-types",
            "POST /api/webhooks/messages",
            "POST /api/webhooks/messages/{id}/replay",
            "POST /demo/webhooks/inbound",
            "PUT /api/flags/segments/{id}",
            "PUT /api/flags/{key}",
        ]
    );
    // And a method the document does not list is not routed.
    let answer = app.call(Method::PUT, "/api/keys", None, None).await;
    assert_problem(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_with_a_strict_policy() {
    let app = TestApp::spawn("ops-dashboard").await;
    for (path, content_type) in [
        ("/dashboard", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/style.css", "text/css"),
    ] {
        let answer = app.call(Method::GET, path, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let served = answer.headers[http::header::CONTENT_TYPE].to_str().unwrap();
        assert!(served.starts_with(content_type), "{path}: {served}");
        let policy = answer.headers[http::header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("default-src 'self'"), "{policy}");
        // Nothing is fetched from anywhere else: no absolute URL at all.
        assert!(!answer.text.contains("http://"), "{path}");
        assert!(!answer.text.contains("https://"), "{path}");
    }
}
