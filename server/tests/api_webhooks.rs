//! `/api/webhooks` over real HTTP on 127.0.0.1: endpoints, messages, their
//! problems and scopes, and a message delivered end to end to a receiver
//! that verifies its signature.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

mod api_hooks_support;
#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;

use std::sync::Arc;
use std::time::Duration;

use api_hooks_support::{Api, Outbox, serve};
use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use palisade_server::AppState;
use palisade_server::api::webhooks::Webhooks;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::deliver::{Engine, RetrySchedule};
use palisade_webhooks::store::{EventType, PostgresStore, Store};
use palisade_webhooks::{Secret, StandardWebhooks, VerifyWebhookLayer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The largest payload the test engine accepts.
const MAX_PAYLOAD: usize = 2048;

struct Setup {
    api: Api,
    state: AppState,
    engine: Engine,
    _database: Database,
}

/// The database a test runs on, kept until the test ends.
enum Database {
    Sqlite(#[allow(dead_code)] Outbox),
    Postgres(#[allow(dead_code)] Box<services::TestDatabase>),
}

/// The server's state over a fresh outbox, with loopback allowed (as
/// `--webhook-allow-net 127.0.0.0/8`) so endpoints can point at a local
/// receiver, and the event types `invoice.paid` (any payload) and
/// `user.created` (payloads need a string `email`).
async fn setup(name: &str) -> Setup {
    let outbox = Outbox::open(name).await;
    let store = outbox.store.clone();
    setup_on(store, Database::Sqlite(outbox)).await
}

/// [`setup`] on `store`.
async fn setup_on(store: Arc<dyn Store>, database: Database) -> Setup {
    let policy = AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap());
    let engine = Engine::builder(store)
        .address_policy(policy.clone())
        .poll_interval(Duration::from_millis(20))
        // One attempt, then dead: the replay tests need dead deliveries.
        .schedule(RetrySchedule::new(Vec::new()))
        .max_payload(MAX_PAYLOAD)
        .build()
        .unwrap();
    engine
        .create_event_type(EventType {
            name: "invoice.paid".into(),
            description: "An invoice was paid".into(),
            schema: None,
        })
        .await
        .unwrap();
    engine
        .create_event_type(EventType {
            name: "user.created".into(),
            description: "A user signed up".into(),
            schema: Some(json!({
                "type": "object",
                "required": ["email"],
                "properties": { "email": { "type": "string" } }
            })),
        })
        .await
        .unwrap();
    let state = AppState::new()
        .unwrap()
        .with_webhooks(Webhooks::new(engine.clone(), policy));
    let api = serve(state.clone()).await;
    Setup {
        api,
        state,
        engine,
        _database: database,
    }
}

async fn create(api: &Api, body: Value) -> Value {
    let answer = api.post("/api/webhooks/endpoints", "write", &body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn an_endpoint_is_created_read_updated_rotated_and_deleted_with_an_audit_trail() {
    let s = setup("lifecycle").await;
    let created = create(
        &s.api,
        json!({
            "url": "http://127.0.0.1:9/hook",
            "description": "billing",
            "event_types": ["invoice.paid"],
            "headers": { "x-team": "billing-token-123" },
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ep_"), "{created}");
    secret.parse::<Secret>().expect("a usable generated secret");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["header_names"], json!(["x-team"]));
    assert_eq!(created["active_secrets"], 1);

    // Read: the secret and header values are never shown again.
    let one = s
        .api
        .get(&format!("/api/webhooks/endpoints/{id}"), "read")
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["url"], "http://127.0.0.1:9/hook");
    assert_eq!(one.body["event_types"], json!(["invoice.paid"]));
    assert_eq!(one.body["breaker"]["breaker_state"], "closed");
    assert_eq!(one.body["breaker"]["success_rate"], Value::Null);
    assert!(one.body.get("secret").is_none(), "{}", one.body);
    assert!(!one.body.to_string().contains("billing-token-123"));
    let list = s.api.get("/api/webhooks/endpoints", "read").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    assert_eq!(list.body["next"], Value::Null);

    // Update: settings, then disable and enable.
    let path = format!("/api/webhooks/endpoints/{id}");
    let updated = s
        .api
        .patch(
            &path,
            "write",
            &json!({ "description": "billing v2", "event_types": null, "rate_limit": 5 }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["description"], "billing v2");
    assert_eq!(updated.body["event_types"], Value::Null);
    assert_eq!(updated.body["rate_limit"], 5);
    let disabled = s
        .api
        .patch(&path, "write", &json!({ "enabled": false }))
        .await;
    assert_eq!(disabled.body["enabled"], false, "{}", disabled.body);
    assert_eq!(disabled.body["disabled_reason"], "manual");
    let enabled = s
        .api
        .patch(&path, "write", &json!({ "enabled": true }))
        .await;
    assert_eq!(enabled.body["enabled"], true, "{}", enabled.body);
    assert_eq!(enabled.body["disabled_reason"], Value::Null);

    // Rotate: a new secret, the old one still signing for the overlap.
    let rotated = s
        .api
        .post(
            &format!("{path}/rotate"),
            "write",
            &json!({ "overlap_seconds": 60 }),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    new_secret.parse::<Secret>().unwrap();
    let one = s.api.get(&path, "read").await;
    assert_eq!(one.body["active_secrets"], 2);

    // Delete.
    let deleted = s.api.delete(&path, "write").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    s.api
        .get(&path, "read")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.api
        .delete(&path, "write")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Every change is audited, by the caller, with no secret in it.
    let entries = s.state.audit.list(None, 100).await.unwrap();
    let actions: Vec<_> = entries.iter().rev().map(|e| e.change.action).collect();
    assert_eq!(
        actions,
        [
            "endpoint.create",
            "endpoint.update",
            "endpoint.update",
            "endpoint.update",
            "endpoint.rotate_secret",
            "endpoint.delete",
        ]
    );
    assert!(entries.iter().all(|e| e.actor == s.api.actor("write")));
    let log = serde_json::to_string(&entries).unwrap();
    for hidden in [&secret, &new_secret, "billing-token-123"] {
        assert!(!log.contains(hidden), "audit log leaks {hidden}");
    }
    let update = &entries[4].change;
    assert_eq!(update.before.as_ref().unwrap()["description"], "billing");
    assert_eq!(update.after.as_ref().unwrap()["description"], "billing v2");
}

#[tokio::test]
async fn a_given_secret_is_used_and_a_bad_one_refused() {
    let s = setup("given-secret").await;
    let secret = Secret::generate().to_string();
    let created = create(
        &s.api,
        json!({ "url": "https://hooks.example.com/in", "secret": secret }),
    )
    .await;
    assert_eq!(created["secret"], secret.as_str());
    s.api
        .post(
            "/api/webhooks/endpoints",
            "write",
            &json!({ "url": "https://hooks.example.com/in", "secret": "whsec_!!!" }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_secret");
}

#[tokio::test]
async fn unsafe_urls_are_refused_naming_the_reason() {
    // Loopback is allowed in this state (`127.0.0.0/8`), as the local
    // receiver needs; everything else stays refused.
    let s = setup("ssrf").await;
    for (url, reason) in [
        ("http://169.254.169.254/latest/meta-data", "blocked_address"),
        ("http://10.0.0.5/hook", "blocked_address"),
        ("http://[::1]/hook", "blocked_address"),
        ("http://2130706433/hook", "ambiguous_numeric_host"),
        ("https://user:pw@hooks.example.com/", "userinfo_in_url"),
        ("ftp://hooks.example.com/", "unsupported_scheme"),
        ("hooks.example.com/in", "missing_scheme"),
    ] {
        let answer = s
            .api
            .post("/api/webhooks/endpoints", "write", &json!({ "url": url }))
            .await;
        answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unsafe_url");
        assert_eq!(answer.body["reason"], reason, "{url}: {}", answer.body);
    }
    // Nothing was stored.
    let list = s.api.get("/api/webhooks/endpoints", "read").await;
    assert_eq!(list.body["items"], json!([]));

    // An update is checked the same way, and leaves the endpoint alone.
    let id = create(&s.api, json!({ "url": "https://hooks.example.com/in" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/webhooks/endpoints/{id}");
    let answer = s
        .api
        .patch(&path, "write", &json!({ "url": "http://169.254.169.254/" }))
        .await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unsafe_url");
    assert_eq!(answer.body["reason"], "blocked_address");
    assert_eq!(
        s.api.get(&path, "read").await.body["url"],
        "https://hooks.example.com/in"
    );
}

#[tokio::test]
async fn scopes_are_enforced() {
    let s = setup("scopes").await;
    let body = json!({ "url": "https://hooks.example.com/in" });
    s.api
        .call(Method::GET, "/api/webhooks/endpoints", None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    s.api
        .post("/api/webhooks/endpoints", "read", &body)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    let id = create(&s.api, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/webhooks/endpoints/{id}");
    s.api
        .patch(&path, "read", &json!({ "enabled": false }))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    s.api
        .post(&format!("{path}/rotate"), "read", &json!({}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    s.api
        .delete(&path, "read")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    s.api
        .post(
            "/api/webhooks/messages",
            "read",
            &json!({ "event_type": "invoice.paid", "payload": {} }),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    // Reading is fine with read, and the refused changes changed nothing.
    let one = s.api.get(&path, "read").await;
    assert_eq!(one.body["enabled"], true);
    assert_eq!(one.body["active_secrets"], 1);
    // Admin includes write.
    assert_eq!(
        s.api.delete(&path, "admin").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn bad_requests_are_problems() {
    let s = setup("bad-requests").await;
    let endpoints = "/api/webhooks/endpoints";
    s.api
        .post(endpoints, "write", &json!({ "description": "no url" }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.api
        .post(
            endpoints,
            "write",
            &json!({ "url": "https://hooks.example.com/", "colour": "red" }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.api
        .post(endpoints, "write", &json!({ "url": 7 }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Over axum's body limit (2 MiB) before any parsing.
    let huge = json!({ "url": "https://hooks.example.com/", "description": "x".repeat(3 << 20) });
    s.api
        .post(endpoints, "write", &huge)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    s.api
        .post(
            endpoints,
            "write",
            &json!({ "url": "https://hooks.example.com/", "rate_limit": 0 }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.api
        .post(
            endpoints,
            "write",
            &json!({ "url": "https://hooks.example.com/", "headers": { "webhook-signature": "x" } }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_header");
    s.api
        .call(
            Method::POST,
            endpoints,
            Some("write"),
            None,
            &[("content-type", "application/json")],
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_json");
    s.api
        .get(&format!("{endpoints}?limit=0"), "read")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    s.api
        .get(&format!("{endpoints}?after=ep_gone"), "read")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    s.api
        .patch(
            &format!("{endpoints}/ep_missing"),
            "write",
            &json!({ "description": "x" }),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.api
        .post(
            &format!("{endpoints}/ep_missing/rotate"),
            "write",
            &json!({}),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.api
        .post(
            &format!("{endpoints}/ep_missing/replay"),
            "write",
            &json!({ "since": 0 }),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let id = create(&s.api, json!({ "url": "https://hooks.example.com/" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.api
        .post(
            &format!("{endpoints}/{id}/rotate"),
            "write",
            &json!({ "overlap_seconds": 100_000_000 }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    s.api
        .get("/api/webhooks/messages/msg_missing", "read")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.api
        .post(
            "/api/webhooks/messages/msg_missing/replay",
            "write",
            &json!({}),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Nothing half-written: only the one valid endpoint exists.
    let list = s.api.get(endpoints, "read").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[test]
fn every_webhook_route_is_in_the_openapi_document_with_its_schemas() {
    let (_, doc) = palisade_server::api::router().split_for_parts();
    let doc: Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    let operation_of = |path: &str, method: &str| {
        let operation = doc["paths"][path][method].clone();
        assert!(operation.is_object(), "{method} {path} missing");
        operation
    };
    for (path, method, request) in [
        ("/webhooks/endpoints", "post", Some("CreateEndpoint")),
        ("/webhooks/endpoints", "get", None),
        ("/webhooks/endpoints/{id}", "get", None),
        ("/webhooks/endpoints/{id}", "patch", Some("UpdateEndpoint")),
        ("/webhooks/endpoints/{id}", "delete", None),
        (
            "/webhooks/endpoints/{id}/rotate",
            "post",
            Some("RotateSecret"),
        ),
        (
            "/webhooks/endpoints/{id}/replay",
            "post",
            Some("ReplayDead"),
        ),
        ("/webhooks/event-types", "post", Some("EventTypeView")),
        ("/webhooks/event-types", "get", None),
        ("/webhooks/messages", "post", Some("PublishMessage")),
        ("/webhooks/messages/{id}", "get", None),
        ("/webhooks/messages/{id}/replay", "post", None),
        ("/webhooks/messages", "get", None),
        ("/webhooks/endpoints/{id}/stats", "get", None),
    ] {
        let operation = operation_of(path, method);
        if let Some(request) = request {
            assert_eq!(
                operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{request}"),
                "{method} {path}"
            );
        }
    }
    for schema in [
        "CreatedEndpoint",
        "EndpointView",
        "EndpointDetail",
        "EndpointBreaker",
        "EndpointPage",
        "RotatedSecret",
        "Replayed",
        "PublishedView",
        "MessageView",
        "DeliveryView",
        "AttemptView",
        "EndpointListItem",
        "DeliveryStats",
        "AttemptSlice",
        "MessagePage",
        "MessageSummary",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    let publish = operation_of("/webhooks/messages", "post");
    assert!(
        publish["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
        "{publish}"
    );
}

#[tokio::test]
async fn endpoints_are_listed_a_page_at_a_time() {
    let s = setup("paging").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = create(
            &s.api,
            json!({ "url": format!("https://hooks{n}.example.com/") }),
        )
        .await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let first = s.api.get("/api/webhooks/endpoints?limit=2", "read").await;
    let page: Vec<_> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(page, ids[..2]);
    let next = first.body["next"].as_str().unwrap();
    let second = s
        .api
        .get(
            &format!("/api/webhooks/endpoints?limit=2&after={next}"),
            "read",
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["id"], ids[2].as_str());
    assert_eq!(second.body["next"], Value::Null);
}

#[tokio::test]
async fn publishing_is_idempotent_and_checked() {
    let s = setup("publish").await;
    create(&s.api, json!({ "url": "https://hooks.example.com/in" })).await;
    let messages = "/api/webhooks/messages";
    let message = json!({ "event_type": "invoice.paid", "payload": { "invoice": 1 } });
    let key = [("idempotency-key", "order-1")];

    let first = s
        .api
        .call(Method::POST, messages, Some("write"), Some(&message), &key)
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(first.body["created"], true);
    assert_eq!(first.body["deliveries"], 1);
    let id = first.body["id"].as_str().unwrap().to_owned();

    let again = s
        .api
        .call(Method::POST, messages, Some("write"), Some(&message), &key)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["created"], false);

    let other = json!({ "event_type": "invoice.paid", "payload": { "invoice": 2 } });
    let conflict = s
        .api
        .call(Method::POST, messages, Some("write"), Some(&other), &key)
        .await;
    conflict.assert_problem(StatusCode::CONFLICT, "idempotency_conflict");
    assert_eq!(conflict.body["message_id"], id.as_str());

    // Without a key, the same message is a new one.
    let unkeyed = s.api.post(messages, "write", &message).await;
    assert_eq!(unkeyed.status, StatusCode::ACCEPTED);
    assert_ne!(unkeyed.body["id"], id.as_str());

    s.api
        .post(
            messages,
            "write",
            &json!({ "event_type": "no.such.type", "payload": {} }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_event_type");
    s.api
        .post(
            messages,
            "write",
            &json!({ "event_type": "user.created", "payload": { "email": 7 } }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "schema_mismatch");
    let big = "x".repeat(MAX_PAYLOAD);
    s.api
        .post(
            messages,
            "write",
            &json!({ "event_type": "invoice.paid", "payload": { "blob": big } }),
        )
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let long_key = "k".repeat(256);
    s.api
        .call(
            Method::POST,
            messages,
            Some("write"),
            Some(&message),
            &[("idempotency-key", long_key.as_str())],
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_idempotency_key");

    let entries = s.state.audit.list(None, 100).await.unwrap();
    let publishes = entries
        .iter()
        .filter(|e| e.change.action == "message.publish")
        .count();
    assert_eq!(publishes, 2, "one per stored message, none for a repeat");
}

#[tokio::test]
async fn a_message_shows_its_deliveries_and_is_replayed() {
    let s = setup("message").await;
    let endpoint = create(&s.api, json!({ "url": "https://hooks.example.com/in" })).await;
    let published = s
        .api
        .post(
            "/api/webhooks/messages",
            "write",
            &json!({ "event_type": "invoice.paid", "channels": ["eu"], "payload": { "n": 1 } }),
        )
        .await;
    let id = published.body["id"].as_str().unwrap();

    // The engine's workers are not running: the delivery waits.
    let message = s
        .api
        .get(&format!("/api/webhooks/messages/{id}"), "read")
        .await;
    assert_eq!(message.status, StatusCode::OK, "{}", message.body);
    assert_eq!(message.body["event_type"], "invoice.paid");
    assert_eq!(message.body["channels"], json!(["eu"]));
    assert_eq!(message.body["payload"], json!({ "n": 1 }));
    let deliveries = message.body["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["endpoint_id"], endpoint["id"]);
    assert_eq!(deliveries[0]["state"], "pending");
    assert_eq!(message.body["attempts"], json!([]));

    let replayed = s
        .api
        .post(
            &format!("/api/webhooks/messages/{id}/replay"),
            "write",
            &json!({}),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["replayed"], 1);

    // No delivery of this endpoint is dead: nothing to replay.
    let dead = s
        .api
        .post(
            &format!(
                "/api/webhooks/endpoints/{}/replay",
                endpoint["id"].as_str().unwrap()
            ),
            "write",
            &json!({ "since": 0 }),
        )
        .await;
    assert_eq!(dead.status, StatusCode::OK, "{}", dead.body);
    assert_eq!(dead.body["replayed"], 0);
}

#[tokio::test]
async fn event_types_are_created_listed_and_checked() {
    let s = setup("event-types").await;
    let path = "/api/webhooks/event-types";
    let order = json!({
        "name": "order.shipped",
        "description": "An order left the warehouse",
        "schema": { "type": "object", "required": ["order"] },
    });
    s.api
        .post(path, "read", &order)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "insufficient_scope");
    let created = s.api.post(path, "write", &order).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body, order);
    s.api
        .post(path, "write", &order)
        .await
        .assert_problem(StatusCode::CONFLICT, "conflict");
    s.api
        .post(path, "write", &json!({ "name": "has space" }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event_type_name");
    s.api
        .post(
            path,
            "write",
            &json!({ "name": "bad.schema", "schema": { "type": 12 } }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_schema");

    let list = s.api.get(path, "read").await;
    let names: Vec<_> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["invoice.paid", "order.shipped", "user.created"]);

    // Its schema applies to what is published.
    let messages = "/api/webhooks/messages";
    let ok = json!({ "event_type": "order.shipped", "payload": { "order": 1 } });
    assert_eq!(
        s.api.post(messages, "write", &ok).await.status,
        StatusCode::ACCEPTED
    );
    s.api
        .post(
            messages,
            "write",
            &json!({ "event_type": "order.shipped", "payload": {} }),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "schema_mismatch");
    let actions: Vec<_> = s
        .state
        .audit
        .list(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.change.action)
        .collect();
    assert_eq!(actions, ["message.publish", "event_type.create"]);
}

#[tokio::test]
async fn webhooks_routes_answer_503_without_an_engine() {
    let api = serve(AppState::new().unwrap()).await;
    api.get("/api/webhooks/endpoints", "read")
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "webhooks_unavailable");
}

/// What the receiver got: the `webhook-id` and the body, after the
/// signature was verified.
type Received = (String, Bytes);

async fn record_delivery(
    axum::extract::State(sender): axum::extract::State<mpsc::UnboundedSender<Received>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    let _ = sender.send((id, body));
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn a_published_message_reaches_a_receiver_that_verifies_it() {
    end_to_end(setup("end-to-end").await).await;
}

#[tokio::test]
async fn a_published_message_reaches_a_receiver_that_verifies_it_on_postgres() {
    let Some(db) = services::fresh_database("api_webhooks_end_to_end_on_postgres").await else {
        return;
    };
    let store = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    end_to_end(setup_on(store, Database::Postgres(Box::new(db))).await).await;
}

/// Creates an endpoint at a receiver that verifies signatures, publishes
/// through the API, and checks the receiver got it and the API says so.
async fn end_to_end(s: Setup) {
    // The receiver's address first: the endpoint points at it, and its
    // verifier needs the secret the API generates.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let created = create(&s.api, json!({ "url": url })).await;
    let endpoint_id = created["id"].as_str().unwrap().to_owned();
    let secret: Secret = created["secret"].as_str().unwrap().parse().unwrap();

    let (sender, mut received) = mpsc::unbounded_channel();
    let receiver = Router::new()
        .route("/hook", post(record_delivery))
        .layer(VerifyWebhookLayer::new(StandardWebhooks::new(secret)))
        .with_state(sender);
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let running = s.engine.start();

    let published = s
        .api
        .post(
            "/api/webhooks/messages",
            "write",
            &json!({ "event_type": "invoice.paid", "payload": { "invoice": "in_42" } }),
        )
        .await;
    assert_eq!(published.status, StatusCode::ACCEPTED, "{}", published.body);
    let message_id = published.body["id"].as_str().unwrap().to_owned();

    let (id, body) = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the receiver got the message within 10 s")
        .unwrap();
    assert_eq!(id, message_id);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({ "invoice": "in_42" })
    );

    // The API shows the delivery succeeded (once the worker has recorded it).
    let path = format!("/api/webhooks/messages/{message_id}");
    let mut message = s.api.get(&path, "read").await.body;
    for _ in 0..100 {
        if message["deliveries"][0]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        message = s.api.get(&path, "read").await.body;
    }
    assert_eq!(message["deliveries"][0]["state"], "succeeded", "{message}");
    assert_eq!(message["attempts"][0]["status"], 204);

    // The endpoint's breaker is listed with the server's breakers.
    let breakers = s.api.get("/api/breakers", "read").await;
    let name = format!("webhook:{endpoint_id}");
    let breaker = breakers.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} in {}", breakers.body));
    assert_eq!(breaker["state"], "closed");
    assert_eq!(breaker["calls"], 1);
    let endpoint = s
        .api
        .get(&format!("/api/webhooks/endpoints/{endpoint_id}"), "read")
        .await;
    assert_eq!(endpoint.body["breaker"]["success_rate"], 100.0);
    assert_eq!(endpoint.body["breaker"]["calls_in_window"], 1);

    running.shutdown(Duration::from_secs(1)).await;
}

/// Polls the message until its first delivery is in `state` (at most 10 s).
async fn wait_for_delivery(api: &Api, message_id: &str, state: &str) -> Value {
    let path = format!("/api/webhooks/messages/{message_id}");
    for _ in 0..200 {
        let message = api.get(&path, "read").await.body;
        if message["deliveries"][0]["state"] == state {
            return message;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{message_id} never became {state}: {}",
        api.get(&path, "read").await.body
    );
}

#[tokio::test]
async fn an_endpoints_dead_deliveries_are_replayed_once_it_recovers() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let s = setup("replay-dead").await;
    let healthy = Arc::new(AtomicBool::new(false));
    let (sender, mut received) = mpsc::unbounded_channel::<String>();
    let answer = {
        let healthy = Arc::clone(&healthy);
        move |headers: HeaderMap| async move {
            if !healthy.load(Ordering::SeqCst) {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            let _ = sender.send(headers["webhook-id"].to_str().unwrap().to_owned());
            StatusCode::NO_CONTENT
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/hook", post(answer)))
            .await
            .unwrap();
    });
    let endpoint = create(&s.api, json!({ "url": url })).await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let running = s.engine.start();

    let published = s
        .api
        .post(
            "/api/webhooks/messages",
            "write",
            &json!({ "event_type": "invoice.paid", "payload": { "n": 1 } }),
        )
        .await;
    let message_id = published.body["id"].as_str().unwrap().to_owned();
    let dead = wait_for_delivery(&s.api, &message_id, "dead").await;
    assert_eq!(dead["attempts"][0]["status"], 500, "{dead}");

    // The endpoint recovers; its dead deliveries since the start are sent again.
    healthy.store(true, Ordering::SeqCst);
    let replayed = s
        .api
        .post(
            &format!("/api/webhooks/endpoints/{endpoint_id}/replay"),
            "write",
            &json!({ "since": 0 }),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(replayed.body["replayed"], 1);
    let id = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the replayed message arrived within 10 s")
        .unwrap();
    assert_eq!(id, message_id);
    let done = wait_for_delivery(&s.api, &message_id, "succeeded").await;
    assert_eq!(done["attempts"].as_array().unwrap().len(), 2, "{done}");
    assert_eq!(done["attempts"][1]["status"], 204);

    let audit = s.state.audit.list(None, 1).await.unwrap();
    assert_eq!(audit[0].change.action, "endpoint.replay_dead");
    assert_eq!(audit[0].change.after.as_ref().unwrap()["replayed"], 1);
    running.shutdown(Duration::from_secs(1)).await;
}

/// The slices' total of one outcome.
fn slice_total(stats: &Value, outcome: &str) -> u64 {
    stats["attempts_last_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[outcome].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn endpoints_show_delivery_stats_and_their_messages_newest_first() {
    let s = setup("endpoint-stats").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let receiver = Router::new()
        .route("/ok", post(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/fail",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        );
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let id_of = |created: Value| created["id"].as_str().unwrap().to_owned();
    let ok = id_of(create(&s.api, json!({ "url": format!("{base}/ok") })).await);
    let failing = id_of(create(&s.api, json!({ "url": format!("{base}/fail") })).await);
    let paused = id_of(create(&s.api, json!({ "url": format!("{base}/ok") })).await);

    let mut messages = Vec::new();
    for n in 0..3 {
        let published = s
            .api
            .post(
                "/api/webhooks/messages",
                "write",
                &json!({ "event_type": "invoice.paid", "payload": { "n": n } }),
            )
            .await;
        assert_eq!(published.body["deliveries"], 3, "{}", published.body);
        messages.push(published.body["id"].as_str().unwrap().to_owned());
    }
    // Disabled before the engine starts: its three deliveries stay pending.
    let disabled = s
        .api
        .patch(
            &format!("/api/webhooks/endpoints/{paused}"),
            "write",
            &json!({ "enabled": false }),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let running = s.engine.start();

    // Every delivery to the two enabled endpoints ends (one attempt each:
    // 204 succeeds, 500 dies).
    let stats_of = |page: &Value, id: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {page}"))["stats"]
            .clone()
    };
    let mut page = Value::Null;
    for _ in 0..200 {
        page = s.api.get("/api/webhooks/endpoints", "read").await.body;
        if stats_of(&page, &ok)["succeeded"] == 3 && stats_of(&page, &failing)["dead"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let good = stats_of(&page, &ok);
    assert_eq!(
        (
            &good["pending"],
            &good["dead"],
            &good["succeeded"],
            &good["failed"]
        ),
        (&json!(0), &json!(0), &json!(3), &json!(0)),
        "{good}"
    );
    assert_eq!(good["success_rate"], 100.0);
    assert_eq!(good["attempts_last_hour"].as_array().unwrap().len(), 12);
    assert_eq!(slice_total(&good, "succeeded"), 3, "{good}");
    let bad = stats_of(&page, &failing);
    assert_eq!(
        (
            &bad["pending"],
            &bad["dead"],
            &bad["succeeded"],
            &bad["failed"]
        ),
        (&json!(0), &json!(3), &json!(0), &json!(3)),
        "{bad}"
    );
    assert_eq!(bad["success_rate"], 0.0);
    assert_eq!(slice_total(&bad, "http_error"), 3, "{bad}");
    assert_eq!(slice_total(&bad, "succeeded"), 0, "{bad}");
    let idle = stats_of(&page, &paused);
    assert_eq!(idle["pending"], 3, "{idle}");
    assert_eq!(idle["success_rate"], Value::Null, "no attempts: no rate");

    // One endpoint's statistics, and a 404 for an unknown one.
    let one = s
        .api
        .get(&format!("/api/webhooks/endpoints/{failing}/stats"), "read")
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body["dead"], 3);
    assert_eq!(slice_total(&one.body, "http_error"), 3);
    s.api
        .get("/api/webhooks/endpoints/ep_nope/stats", "read")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // The failing endpoint's messages, newest first, two at a time.
    let list = format!("/api/webhooks/messages?endpoint_id={failing}&limit=2");
    let first = s.api.get(&list, "read").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first.body), [messages[2].clone(), messages[1].clone()]);
    assert_eq!(first.body["items"][0]["delivery"]["state"], "dead");
    assert_eq!(first.body["items"][0]["delivery"]["attempts"], 1);
    assert_eq!(first.body["items"][0]["event_type"], "invoice.paid");
    assert_eq!(first.body["next"], messages[1].as_str());
    let second = s
        .api
        .get(&format!("{list}&before={}", messages[1]), "read")
        .await;
    assert_eq!(ids(&second.body), [messages[0].clone()]);
    assert_eq!(second.body["next"], Value::Null);
    // A message's attempts are one click further.
    let attempts = s
        .api
        .get(&format!("/api/webhooks/messages/{}", messages[0]), "read")
        .await;
    assert_eq!(attempts.body["attempts"].as_array().unwrap().len(), 2);

    for (path, status, code) in [
        (
            "/api/webhooks/messages",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "/api/webhooks/messages?endpoint_id=ep_nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &format!("/api/webhooks/messages?endpoint_id={failing}&limit=0"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            &format!("/api/webhooks/messages?endpoint_id={failing}&before=msg_nope"),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ] {
        s.api.get(path, "read").await.assert_problem(status, code);
    }
    s.api
        .get(&list, "none")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    running.shutdown(Duration::from_secs(1)).await;
}
