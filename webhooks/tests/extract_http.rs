//! The `Verified<T>` axum extractor over real HTTP on 127.0.0.1.

#![cfg(feature = "axum")]
#![allow(missing_docs)]

#[path = "layer_http/support.rs"]
mod support;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use palisade_webhooks::extract::{Json, Verified};
use palisade_webhooks::layer::{VerifyWebhookLayer, WebhookVerifier};
use palisade_webhooks::{Signer, StandardWebhooks};
use support::{Answer, NOW, Sender, secret, serve, signed, streamed};

#[derive(Clone)]
struct AppState {
    verifier: WebhookVerifier,
    calls: Arc<AtomicUsize>,
}

impl FromRef<AppState> for WebhookVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

#[derive(Debug, serde::Deserialize)]
struct Event {
    r#type: String,
    amount: u64,
}

async fn raw(
    State(state): State<AppState>,
    webhook: Verified<Bytes>,
) -> ([(&'static str, String); 2], Bytes) {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let proof = [
        ("x-verified-id", webhook.webhook.id.unwrap_or_default()),
        (
            "x-verified-timestamp",
            webhook.webhook.timestamp.unwrap_or_default().to_string(),
        ),
    ];
    (proof, webhook.body)
}

async fn text(State(state): State<AppState>, webhook: Verified<String>) -> String {
    state.calls.fetch_add(1, Ordering::SeqCst);
    webhook.body
}

async fn json(
    State(state): State<AppState>,
    Verified {
        body: Json(event), ..
    }: Verified<Json<Event>>,
) -> String {
    state.calls.fetch_add(1, Ordering::SeqCst);
    format!("{} {}", event.r#type, event.amount)
}

/// The same handler with axum's own `Json`, answering with it too.
async fn axum_json(
    State(state): State<AppState>,
    Verified { body, webhook }: Verified<axum::Json<Event>>,
) -> axum::Json<serde_json::Value> {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let axum::Json(event) = body;
    axum::Json(serde_json::json!({
        "id": webhook.id,
        "summary": format!("{} {}", event.r#type, event.amount),
    }))
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(StandardWebhooks::new(secret(1)))
        .clock(|| NOW)
        .max_body_bytes(1024)
}

/// A receiver with the extractor on `/raw`, `/text` and `/json`.
async fn receiver(verifier: WebhookVerifier) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/raw", post(raw))
        .route("/text", post(text))
        .route("/json", post(json))
        .route("/axum-json", post(axum_json))
        .with_state(AppState {
            verifier,
            calls: Arc::clone(&calls),
        });
    (serve(app).await, calls)
}

#[tokio::test]
async fn bytes_arrive_intact_with_the_proof() {
    let (addr, calls) = receiver(verifier()).await;
    let body = b"\xff\xfe\x00binary".to_vec();

    let answer = Sender::new(addr, "/raw")
        .deliver(&Signer::new(secret(1)), "msg_1", NOW - 5, &body)
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, body);
    assert_eq!(answer.headers["x-verified-id"], "msg_1");
    assert_eq!(
        answer.headers["x-verified-timestamp"],
        (NOW - 5).to_string()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn text_must_be_utf8() {
    let (addr, calls) = receiver(verifier()).await;
    let sender = Sender::new(addr, "/text");
    let signer = Signer::new(secret(1));

    let answer = sender
        .deliver(&signer, "msg_1", NOW, "héllo".as_bytes())
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "héllo");

    let answer = sender.deliver(&signer, "msg_2", NOW, b"\xff").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "invalid_utf8");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn json_is_deserialized_after_verification() {
    let (addr, calls) = receiver(verifier()).await;
    let sender = Sender::new(addr, "/json");
    let signer = Signer::new(secret(1));

    let answer = sender
        .deliver(
            &signer,
            "msg_1",
            NOW,
            br#"{"type":"invoice.paid","amount":42}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "invoice.paid 42");

    let answer = sender.deliver(&signer, "msg_2", NOW, b"{not json").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "invalid_json");

    let answer = sender
        .deliver(&signer, "msg_3", NOW, br#"{"type":"invoice.paid"}"#)
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.code(), "invalid_json");

    // A forged body is refused before it is parsed.
    let answer = sender
        .deliver(&Signer::new(secret(2)), "msg_4", NOW, b"{not json")
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "invalid_signature");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn axum_json_is_extracted_like_our_json() {
    let (addr, calls) = receiver(verifier()).await;
    let ours = Sender::new(addr, "/json");
    let axums = Sender::new(addr, "/axum-json");
    let signer = Signer::new(secret(1));

    // No content-type is sent: the signature, not the header, vouches for it.
    let answer = axums
        .deliver(
            &signer,
            "msg_1",
            NOW,
            br#"{"type":"invoice.paid","amount":42}"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.headers["content-type"], "application/json");
    let reply: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({"id": "msg_1", "summary": "invoice.paid 42"})
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Every bad body gets the answer our `Json` gives, and no handler runs.
    let bad: [(&str, &Signer, &[u8], StatusCode, &str); 3] = [
        (
            "syntax",
            &signer,
            b"{not json",
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "shape",
            &signer,
            br#"{"type":"invoice.paid"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_json",
        ),
        (
            "forged",
            &Signer::new(secret(2)),
            b"{not json",
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
        ),
    ];
    for (n, (case, signer, body, status, code)) in bad.into_iter().enumerate() {
        let headers = signed(signer, &format!("msg_bad_{n}"), NOW, body);
        let by_axum = axums.post(&headers, body).await;
        let by_ours = ours.post(&headers, body).await;
        assert_eq!(by_axum.status, status, "{case}: {by_axum:?}");
        assert_eq!(by_axum.code(), code, "{case}");
        assert_eq!(by_axum.problem(), by_ours.problem(), "{case}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The bad deliveries the extractor and the layer must answer alike.
fn bad_deliveries() -> Vec<(&'static str, HeaderMap, Vec<u8>)> {
    let signer = Signer::new(secret(1));
    let mut cases = vec![
        (
            "forged",
            signed(&Signer::new(secret(2)), "msg_1", NOW, b"{}"),
            b"{}".to_vec(),
        ),
        (
            "stale",
            signed(&signer, "msg_1", NOW - 301, b"{}"),
            b"{}".to_vec(),
        ),
        (
            "future",
            signed(&signer, "msg_1", NOW + 301, b"{}"),
            b"{}".to_vec(),
        ),
        ("unsigned", HeaderMap::new(), b"{}".to_vec()),
        (
            "too large",
            signed(&signer, "msg_1", NOW, b""),
            vec![b'x'; 1025],
        ),
    ];
    let mut headers = signed(&signer, "msg_1", NOW, b"{}");
    headers.insert("webhook-timestamp", HeaderValue::from_static("soon"));
    cases.push(("malformed timestamp", headers, b"{}".to_vec()));
    let mut headers = signed(&signer, "msg_1", NOW, b"{}");
    headers.remove("webhook-signature");
    cases.push(("missing signature", headers, b"{}".to_vec()));
    cases
}

#[tokio::test]
async fn rejections_are_the_layers() {
    let (addr, calls) = receiver(verifier()).await;
    let extractor = Sender::new(addr, "/raw");
    let layered = Router::new()
        .route(
            "/hook",
            post(|Extension(_): Extension<palisade_webhooks::Verified>| async { "ok" }),
        )
        .layer(VerifyWebhookLayer::from_verifier(verifier()));
    let layer = Sender::new(serve(layered).await, "/hook");

    let mut codes = Vec::new();
    for (case, headers, body) in bad_deliveries() {
        let by_extractor: Answer = extractor.post(&headers, &body).await;
        let by_layer: Answer = layer.post(&headers, &body).await;
        assert_eq!(by_extractor.status, by_layer.status, "{case}");
        assert_eq!(by_extractor.problem(), by_layer.problem(), "{case}");
        assert!(by_extractor.status.is_client_error(), "{case}");
        codes.push(by_extractor.code());
    }
    assert_eq!(
        codes,
        [
            "invalid_signature",
            "timestamp_too_old",
            "timestamp_too_new",
            "missing_header",
            "payload_too_large",
            "invalid_timestamp",
            "missing_header"
        ]
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_without_calling_the_handler() {
    let (addr, calls) = receiver(verifier()).await;
    let (tx, body) = streamed();
    tx.send(Bytes::from(vec![b'x'; 1025])).await.unwrap();

    let answer = Sender::new(addr, "/raw")
        .post_streamed(&signed(&Signer::new(secret(1)), "msg_1", NOW, b""), body)
        .await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), "payload_too_large");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    drop(tx);
}

#[tokio::test]
async fn a_replay_is_409() {
    let verifier = verifier().replay_protection(NonZeroUsize::new(10).unwrap());
    let (addr, calls) = receiver(verifier).await;
    let sender = Sender::new(addr, "/raw");
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");

    assert_eq!(sender.post(&headers, b"{}").await.status, StatusCode::OK);
    let replay = sender.post(&headers, b"{}").await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(replay.code(), "replayed");

    // The cache is shared by the routes of one verifier.
    let replay = Sender::new(addr, "/text").post(&headers, b"{}").await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
