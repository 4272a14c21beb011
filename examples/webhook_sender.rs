//! A webhook sender: the delivery engine on a SQLite outbox, delivering a
//! signed event to a receiver that fails once, then accepts it.
//!
//! ```sh
//! cargo run -p palisade-examples --bin webhook_sender
//! ```
//!
//! It keeps the outbox in a temporary directory (removed at the end), starts
//! a receiver on 127.0.0.1 (a free port), publishes one event, waits until
//! it is delivered, prints every attempt, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::{Extension, State};
use axum::{Router, http::StatusCode, routing::post};
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::deliver::{Engine, RetrySchedule};
use palisade_webhooks::store::{
    DeliveryState, EventType, NewEndpoint, NewMessage, SqliteStore, Store,
};
use palisade_webhooks::{Secret, StandardWebhooks, Verified, VerifyWebhookLayer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let secret = Secret::generate();
    let receiver = start_receiver(&secret).await?;

    // The outbox: one SQLite file, created and migrated on open. Messages are
    // stored here before `publish` returns, so a crash loses none.
    let dir = std::env::temp_dir().join(format!("palisade-webhook-sender-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(dir.join("outbox.db")).await?);

    // Endpoint URLs come from your users, so by default the engine refuses
    // loopback and private addresses (SSRF); this demo allows 127.0.0.0/8.
    // The schedule retries a failed delivery once, after 500 ms (the default
    // retries for about a day: 5 s, 5 min, 30 min, …).
    let engine = Engine::builder(store.clone())
        .address_policy(AddressPolicy::new().allow_net("127.0.0.0/8".parse()?))
        .schedule(RetrySchedule::new(vec![Duration::ZERO, Duration::from_millis(500)]).jitter(0.0))
        .poll_interval(Duration::from_millis(50))
        .build()?;
    // Event types may carry a JSON schema that every payload must match.
    engine
        .create_event_type(EventType {
            name: "invoice.paid".into(),
            description: "An invoice was paid.".into(),
            schema: Some(serde_json::json!({"type": "object", "required": ["invoice"]})),
        })
        .await?;
    engine
        .create_endpoint(NewEndpoint {
            application: "acme".into(),
            url: receiver,
            description: "Acme's billing service".into(),
            event_types: Some(vec!["invoice.paid".into()]),
            channels: None,
            secret,
            rate_limit: Some(50),     // requests per second, at most
            max_concurrency: Some(8), // requests in flight, at most
            ordered: false,
            headers: vec![],
        })
        .await?;

    // Workers claim due deliveries, sign and send them, and record each attempt.
    let running = engine.start();
    let published = engine
        .publish(NewMessage {
            application: "acme".into(),
            event_type: "invoice.paid".into(),
            channels: vec![],
            payload: r#"{"invoice":"in_1"}"#.into(),
            // Publishing again with this key returns the same message.
            idempotency_key: Some("in_1-paid".into()),
        })
        .await?;
    println!(
        "published {} to {} endpoint(s)",
        published.message_id, published.deliveries
    );

    // Wait (at most 30 s) until the delivery has an outcome.
    let mut state = DeliveryState::Pending;
    for _ in 0..300 {
        let deliveries = store.deliveries(&published.message_id).await?;
        state = deliveries.first().ok_or("no delivery was stored")?.state;
        if matches!(state, DeliveryState::Succeeded | DeliveryState::Dead) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (n, attempt) in store
        .attempts(&published.message_id)
        .await?
        .iter()
        .enumerate()
    {
        println!(
            "attempt {}: {:?}, answer {:?}",
            n + 1,
            attempt.result,
            attempt.response_excerpt
        );
    }
    println!("delivery: {}", state.as_str());

    // Stop claiming; attempts in flight get 5 s, the rest are handed back.
    running.shutdown(Duration::from_secs(5)).await;
    drop(engine);
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Serves a receiver that verifies every delivery (`VerifyWebhookLayer`) and
/// fails the first one with a 503; returns its URL.
async fn start_receiver(secret: &Secret) -> Result<String, BoxError> {
    let received = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route("/hooks", post(receive))
        .route_layer(VerifyWebhookLayer::new(StandardWebhooks::new(
            secret.clone(),
        )))
        .with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Only verified deliveries get here; the proof is in the request's extensions.
async fn receive(
    State(received): State<Arc<AtomicU32>>,
    Extension(proof): Extension<Verified>,
    body: String,
) -> (StatusCode, String) {
    let id = proof.id.unwrap_or_default();
    if received.fetch_add(1, Ordering::SeqCst) == 0 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("busy, try {id} later"),
        )
    } else {
        (StatusCode::OK, format!("got {id}: {body}"))
    }
}
