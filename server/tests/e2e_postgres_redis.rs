//! The whole platform as it is deployed for scale: two server instances on
//! one Postgres database and one Redis, each with its own webhook delivery
//! engine, built from command-line flags by `serve::compose` (what
//! `palisade serve` runs) and served through the server's own listener on
//! 127.0.0.1.
//!
//! Checked through the public HTTP API of both instances: messages
//! published through either reach a receiver that verifies every signature,
//! none lost or repeated, with both engines doing part of the work; one
//! key's rate limit is shared; a flag changed through one instance changes
//! the other's gated route (Postgres LISTEN/NOTIFY); a breaker forced open
//! answers 503 with Retry-After.
//!
//! Skipped with a visible `SKIPPED` line when Postgres or Redis does not
//! answer; fails instead with `PALISADE_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used)]

#[path = "../../webhooks/tests/services/postgres.rs"]
mod postgres;
#[path = "../../resilience/tests/services/redis.rs"]
mod redis_service;
mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use clap::Parser as _;
use http::{HeaderMap, Method, StatusCode};
use palisade_server::cli::Cli;
use palisade_server::serve::compose;
use palisade_webhooks::deliver::Running;
use palisade_webhooks::layer::WebhookVerifier;
use palisade_webhooks::{Secret, StandardWebhooks};
use serde_json::json;
use sqlx::PgPool;
use support::{TestApp, assert_problem};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// How many messages each instance publishes.
const PER_INSTANCE: usize = 10;
/// The most attempts one engine has in flight (`--webhook-max-in-flight`):
/// small, so one engine cannot take every delivery while the receiver
/// holds them.
const MAX_IN_FLIGHT: u32 = 4;
/// The tier of the key whose shared limit is checked: this many requests,
/// then 429 (on either instance).
const LIMITED: u32 = 4;

/// One server instance and its delivery engine.
struct Instance {
    app: TestApp,
    delivery: Running,
}

/// Starts an instance as `palisade serve` would with these command-line
/// flags (composed by the server's own `compose`, served by its own
/// listener); the first one to start on an empty database creates the admin
/// key, later ones are given its token with `--admin-token`.
async fn start(flags: &[String]) -> Instance {
    let cli =
        Cli::try_parse_from(std::iter::once("palisade").chain(flags.iter().map(String::as_str)))
            .unwrap();
    let args = cli.serve;
    let database = args.database.database().unwrap();
    let composed = compose(&args, &database, args.database.keyring().unwrap())
        .await
        .unwrap();
    let admin = match (&args.api.admin_token, composed.first_admin) {
        (Some(token), _) => token.clone(),
        (None, first) => first.unwrap().reveal(),
    };
    let db = composed.state.auth.as_ref().unwrap().db().clone();
    let delivery = composed.engine.start();
    composed.delivery.set_running(true);
    Instance {
        app: TestApp::serve_state(composed.state, admin, db).await,
        delivery,
    }
}

/// A webhook receiver on 127.0.0.1 that verifies every delivery and holds
/// each answer until [`open`](Receiver::open) is called, so the test can see
/// which engines hold deliveries at once.
#[derive(Clone)]
struct Receiver {
    verifier: Arc<Mutex<Option<WebhookVerifier>>>,
    /// Message ids of the verified deliveries, in arrival order.
    received: Arc<Mutex<Vec<String>>>,
    /// Deliveries whose signature did not verify.
    forged: Arc<Mutex<usize>>,
    /// Deliveries waiting for the gate.
    held: Arc<Mutex<usize>>,
    arrived: Arc<Notify>,
    gate: watch::Sender<bool>,
}

impl Receiver {
    fn new() -> Self {
        Self {
            verifier: Arc::default(),
            received: Arc::default(),
            forged: Arc::default(),
            held: Arc::default(),
            arrived: Arc::default(),
            gate: watch::Sender::new(false),
        }
    }

    /// Serves on a free port; returns the URL of the hook.
    async fn serve(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    fn verify_with(&self, secret: Secret) {
        *self.verifier.lock().unwrap() = Some(WebhookVerifier::new(StandardWebhooks::new(secret)));
    }

    fn open(&self) {
        self.gate.send_replace(true);
    }

    fn held(&self) -> usize {
        *self.held.lock().unwrap()
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verifier = receiver.verifier.lock().unwrap().clone().unwrap();
    let Ok(verified) = verifier.verify(&headers, &body) else {
        *receiver.forged.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED;
    };
    *receiver.held.lock().unwrap() += 1;
    receiver.arrived.notify_waiters();
    let mut gate = receiver.gate.subscribe();
    let _ = gate.wait_for(|open| *open).await;
    receiver
        .received
        .lock()
        .unwrap()
        .push(verified.id.unwrap_or_default());
    StatusCode::NO_CONTENT
}

/// Polls `condition` every 50 ms, at most `tries` times.
async fn eventually<F, Fut>(tries: usize, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..tries {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn two_instances_share_delivery_limits_flags_and_breakers_on_postgres_and_redis() {
    let test = "two_instances_share_delivery_limits_flags_and_breakers_on_postgres_and_redis";
    let Some(redis_url) = redis_service::redis_url(test).await else {
        return;
    };
    let Some(pg) = postgres::fresh_database(test).await else {
        return;
    };
    let mut flags: Vec<String> = [
        "--database-url",
        pg.url(),
        "--redis-url",
        &redis_url,
        // A fresh prefix: the limits start empty, whatever ran before.
        "--redis-prefix",
        &format!("palisade:test:{}:", pg.options().get_database().unwrap()),
        "--rate-tier",
        &format!("limited={LIMITED}"),
        "--rate-tier",
        "bulk=1000000",
        "--webhook-allow-net",
        "127.0.0.0/8",
        "--webhook-max-in-flight",
        &MAX_IN_FLIGHT.to_string(),
        "--webhook-batch-size",
        "2",
    ]
    .map(str::to_owned)
    .into();
    let one = start(&flags).await;
    flags.extend(["--admin-token".to_owned(), one.app.admin.clone()]);
    let two = start(&flags).await;
    let (a, b) = (&one.app, &two.app);
    let writer = a.create_key("write", Some("bulk")).await;

    // --- Webhooks: published through both, delivered by both engines. ---
    let receiver = Receiver::new();
    let url = receiver.serve().await;
    let event_type = json!({ "name": "invoice.paid", "description": "An invoice was paid" });
    let answer = a
        .call(
            Method::POST,
            "/api/webhooks/event-types",
            Some(&writer),
            Some(&event_type.to_string()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let endpoint = json!({ "url": url }).to_string();
    let created = b
        .call(
            Method::POST,
            "/api/webhooks/endpoints",
            Some(&writer),
            Some(&endpoint),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    receiver.verify_with(created.json["secret"].as_str().unwrap().parse().unwrap());

    let mut published = BTreeSet::new();
    for n in 0..PER_INSTANCE * 2 {
        let through = if n % 2 == 0 { a } else { b };
        let message = json!({ "event_type": "invoice.paid", "payload": { "n": n } });
        let answer = through
            .call(
                Method::POST,
                "/api/webhooks/messages",
                Some(&writer),
                Some(&message.to_string()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
        published.insert(answer.json["id"].as_str().unwrap().to_owned());
    }

    // Each engine holds at most MAX_IN_FLIGHT deliveries; with the
    // receiver holding every answer, both must have claimed some.
    let both_busy = 2 * MAX_IN_FLIGHT as usize;
    let all_held = eventually(400, || {
        let receiver = receiver.clone();
        async move { receiver.held() >= both_busy }
    })
    .await;
    assert!(all_held, "only {} deliveries arrived", receiver.held());
    let pool = PgPool::connect(pg.url()).await.unwrap();
    // A claim token is `<engine instance>:<claim number>`.
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT split_part(lease_token, ':', 1) FROM deliveries WHERE state = 'delivering'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(holders.len(), 2, "deliveries held by {holders:?}");

    receiver.open();
    let expected = i64::try_from(published.len()).unwrap();
    let all_done = eventually(400, || {
        let pool = pool.clone();
        async move {
            let succeeded: i64 =
                sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE state = 'succeeded'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            succeeded == expected
        }
    })
    .await;
    assert!(all_done, "not every delivery succeeded");
    let received = receiver.received();
    assert_eq!(
        *receiver.forged.lock().unwrap(),
        0,
        "a signature did not verify"
    );
    assert_eq!(
        received.iter().cloned().collect::<BTreeSet<_>>(),
        published,
        "every message arrived"
    );
    // No engine crashed and no lease ran out, so the engine sends each
    // delivery once.
    let mut counts = HashMap::new();
    for id in &received {
        *counts.entry(id).or_insert(0) += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "duplicates: {counts:?}");
    // Either API reports any message as delivered.
    let some = published.iter().next().unwrap();
    let message = a.get(&format!("/api/webhooks/messages/{some}")).await;
    assert_eq!(
        message.json["deliveries"][0]["state"], "succeeded",
        "{}",
        message.text
    );

    // --- One key's rate limit, shared through Redis. ---
    let limited = a.create_key("read", Some("limited")).await;
    for n in 0..LIMITED {
        let through = if n % 2 == 0 { a } else { b };
        let answer = through
            .call(Method::GET, "/api/flags", Some(&limited), None)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {n}: {}",
            answer.text
        );
    }
    for through in [a, b] {
        let answer = through
            .call(Method::GET, "/api/flags", Some(&limited), None)
            .await;
        assert_problem(&answer, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        assert!(answer.headers.contains_key("retry-after"));
    }

    // --- A flag changed through A changes B's gated route. ---
    let flagged = b.call(Method::GET, "/demo/flagged", None, None).await;
    assert_problem(&flagged, StatusCode::NOT_FOUND, "feature_disabled");
    let flag = json!({ "kind": "boolean", "enabled": true }).to_string();
    let answer = a
        .call(
            Method::PUT,
            "/api/flags/demo-flagged",
            Some(&writer),
            Some(&flag),
        )
        .await;
    assert!(answer.status.is_success(), "{}", answer.text);
    let on = eventually(200, || async {
        b.call(Method::GET, "/demo/flagged", None, None)
            .await
            .status
            == StatusCode::OK
    })
    .await;
    assert!(on, "B never saw the flag turned on");
    let off = json!({ "enabled": false }).to_string();
    let answer = a
        .call(
            Method::PATCH,
            "/api/flags/demo-flagged",
            Some(&writer),
            Some(&off),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let off = eventually(200, || async {
        b.call(Method::GET, "/demo/flagged", None, None)
            .await
            .status
            == StatusCode::NOT_FOUND
    })
    .await;
    assert!(off, "B never saw the flag turned off");

    // --- A breaker forced open through the API. ---
    let answer = a
        .call(
            Method::POST,
            "/api/breakers/demo-upstream/force-open",
            Some(&a.admin),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let upstream = a.call(Method::GET, "/demo/upstream", None, None).await;
    assert_problem(&upstream, StatusCode::SERVICE_UNAVAILABLE, "circuit_open");
    assert!(
        upstream.headers.contains_key("retry-after"),
        "{:?}",
        upstream.headers
    );

    for instance in [one, two] {
        instance.delivery.shutdown(Duration::from_secs(1)).await;
    }
    pool.close().await;
}
