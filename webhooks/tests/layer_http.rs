//! `VerifyWebhookLayer` in front of an axum router, over real HTTP on
//! 127.0.0.1: what a sender sees for each kind of delivery.

#![allow(missing_docs)]

#[path = "layer_http/support.rs"]
mod support;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use palisade_webhooks::layer::VerifyWebhookLayer;
use palisade_webhooks::{Secret, Signer, StandardWebhooks, Verified};
use support::{NOW, Sender, secret, serve, signed, streamed};

/// How many deliveries reached the handler.
#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Echoes the body and the proof; answers 500 when asked to, as a receiver
/// whose database is down would.
async fn echo(
    State(calls): State<Calls>,
    Extension(verified): Extension<Verified>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    calls.0.fetch_add(1, Ordering::SeqCst);
    let status = if headers.contains_key("x-fail") {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let proof = [
        ("x-verified-id", verified.id.unwrap_or_default()),
        (
            "x-verified-timestamp",
            verified
                .timestamp
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ),
    ];
    (status, proof, body).into_response()
}

async fn receiver(layer: VerifyWebhookLayer) -> (Sender, Calls) {
    let calls = Calls::default();
    let app = Router::new()
        .route("/hook", post(echo))
        .layer(layer)
        .with_state(calls.clone());
    (Sender::new(serve(app).await, "/hook"), calls)
}

fn standard(secret: Secret) -> VerifyWebhookLayer {
    VerifyWebhookLayer::new(StandardWebhooks::new(secret)).clock(|| NOW)
}

#[tokio::test]
async fn a_valid_delivery_reaches_the_handler_with_its_body_and_proof() {
    let (sender, calls) = receiver(standard(secret(1))).await;
    // Not UTF-8: the signature covers raw bytes.
    let body = b"\xff\x00{\"type\":\"invoice.paid\"}\xfe".repeat(100);

    let answer = sender
        .deliver(&Signer::new(secret(1)), "msg_1", NOW - 10, &body)
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, body);
    assert_eq!(answer.headers["x-verified-id"], "msg_1");
    assert_eq!(
        answer.headers["x-verified-timestamp"],
        (NOW - 10).to_string()
    );
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn the_inner_response_passes_unchanged() {
    let (sender, calls) = receiver(standard(secret(1))).await;
    let mut headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");
    headers.insert("x-fail", HeaderValue::from_static("1"));

    let answer = sender.post(&headers, b"{}").await;

    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body, "{}");
    assert_eq!(answer.headers["x-verified-id"], "msg_1");
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401() {
    let (sender, calls) = receiver(standard(secret(1))).await;

    let forged = sender
        .deliver(&Signer::new(secret(2)), "msg_1", NOW, b"{}")
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.code(), "invalid_signature");

    // The right signature over another body.
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{\"amount\":1}");
    let tampered = sender.post(&headers, b"{\"amount\":1000}").await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    assert_eq!(tampered.code(), "invalid_signature");

    let mut headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");
    headers.remove("webhook-signature");
    let unsigned = sender.post(&headers, b"{}").await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let problem = unsigned.problem();
    assert_eq!(problem["code"], "missing_header");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("webhook-signature"),
        "{problem}"
    );

    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn malformed_headers_are_400() {
    let (sender, calls) = receiver(standard(secret(1))).await;

    let mut headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");
    headers.insert("webhook-timestamp", HeaderValue::from_static("yesterday"));
    let answer = sender.post(&headers, b"{}").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "invalid_timestamp");

    // Bytes that are not visible ASCII (legal on the wire as obs-text).
    for garbage in [&b"\xff\xfe\x80"[..], b"v1,\xc3\xa9", b""] {
        let mut headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");
        headers.insert("webhook-id", HeaderValue::from_bytes(garbage).unwrap());
        let answer = sender.post(&headers, b"{}").await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        assert!(
            ["malformed_header", "missing_header"].contains(&answer.code().as_str()),
            "{answer:?}"
        );
    }
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn stale_and_future_timestamps_are_401() {
    let (sender, calls) = receiver(standard(secret(1))).await;
    let signer = Signer::new(secret(1));

    let stale = sender.deliver(&signer, "msg_1", NOW - 301, b"{}").await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.code(), "timestamp_too_old");

    let future = sender.deliver(&signer, "msg_2", NOW + 301, b"{}").await;
    assert_eq!(future.status, StatusCode::UNAUTHORIZED);
    assert_eq!(future.code(), "timestamp_too_new");

    // The edges of the default ±300 s tolerance are accepted.
    for ts in [NOW - 300, NOW + 300] {
        let answer = sender.deliver(&signer, "msg_3", ts, b"{}").await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_a_content_length() {
    let (sender, calls) = receiver(standard(secret(1)).max_body_bytes(1024)).await;
    let signer = Signer::new(secret(1));

    let body = vec![b'x'; 1025];
    let answer = sender.deliver(&signer, "msg_1", NOW, &body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), "payload_too_large");

    // At the limit exactly, it passes.
    let body = vec![b'x'; 1024];
    let answer = sender.deliver(&signer, "msg_2", NOW, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body.len(), 1024);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn an_announced_length_over_the_limit_is_refused_without_reading() {
    let (sender, calls) = receiver(standard(secret(1)).max_body_bytes(1024)).await;
    let mut headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"");
    headers.insert("content-length", HeaderValue::from_static("10000000"));
    // Not a byte of the announced 10 MB is ever sent: a receiver that read
    // before refusing would never answer.
    let (_keep_open, body) = streamed();

    let answer = sender.post_streamed(&headers, body).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), "payload_too_large");
    assert_eq!(calls.get(), 0);
}

#[tokio::test]
async fn a_chunked_body_is_refused_as_soon_as_it_passes_the_limit() {
    let (sender, calls) = receiver(standard(secret(1)).max_body_bytes(1024)).await;
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"");
    let (tx, body) = streamed();
    // 1200 bytes, then the body stays open: a receiver that buffered to the
    // end before checking would never answer.
    tx.send(Bytes::from(vec![b'x'; 600])).await.unwrap();
    tx.send(Bytes::from(vec![b'x'; 600])).await.unwrap();

    let answer = sender.post_streamed(&headers, body).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), "payload_too_large");
    assert_eq!(calls.get(), 0);
    drop(tx);
}

#[tokio::test]
async fn a_chunked_body_within_the_limit_arrives_whole() {
    let (sender, calls) = receiver(standard(secret(1)).max_body_bytes(1024)).await;
    let body = [vec![b'a'; 500], vec![b'b'; 500]].concat();
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, &body);
    let (tx, streamed_body) = streamed();
    tx.send(Bytes::copy_from_slice(&body[..500])).await.unwrap();
    tx.send(Bytes::copy_from_slice(&body[500..])).await.unwrap();
    drop(tx);

    let answer = sender.post_streamed(&headers, streamed_body).await;

    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, body);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn a_replayed_delivery_is_409() {
    let layer = standard(secret(1)).replay_protection(NonZeroUsize::new(100).unwrap());
    let (sender, calls) = receiver(layer).await;
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");

    let first = sender.post(&headers, b"{}").await;
    assert_eq!(first.status, StatusCode::OK);

    let replay = sender.post(&headers, b"{}").await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    let problem = replay.problem();
    assert_eq!(problem["code"], "replayed");
    assert!(problem["detail"].as_str().unwrap().contains("msg_1"));

    // Another id is another message.
    let other = sender
        .deliver(&Signer::new(secret(1)), "msg_2", NOW, b"{}")
        .await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_retry_of_a_failed_delivery_is_not_a_replay() {
    let layer = standard(secret(1)).replay_protection(NonZeroUsize::new(100).unwrap());
    let (sender, calls) = receiver(layer).await;
    let headers = signed(&Signer::new(secret(1)), "msg_1", NOW, b"{}");
    let mut failing = headers.clone();
    failing.insert("x-fail", HeaderValue::from_static("1"));

    assert_eq!(
        sender.post(&failing, b"{}").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // The sender retries with the same id.
    assert_eq!(sender.post(&headers, b"{}").await.status, StatusCode::OK);
    assert_eq!(
        sender.post(&headers, b"{}").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn a_rotating_sender_is_accepted_by_a_receiver_with_only_the_new_secret() {
    let (old, new) = (secret(1), secret(2));
    let (sender, calls) = receiver(standard(new.clone())).await;
    let rotating = Signer::with_secrets(vec![old.clone(), new]).unwrap();

    let answer = sender.deliver(&rotating, "msg_1", NOW, b"{}").await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    // Once the sender has dropped the new secret, nothing gets through.
    let answer = sender.deliver(&Signer::new(old), "msg_2", NOW, b"{}").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn a_receiver_with_both_secrets_accepts_either() {
    let (old, new) = (secret(1), secret(2));
    let scheme = StandardWebhooks::with_secrets(vec![old.clone(), new.clone()]).unwrap();
    let (sender, calls) = receiver(VerifyWebhookLayer::new(scheme).clock(|| NOW)).await;

    for (id, signer) in [("by-old", Signer::new(old)), ("by-new", Signer::new(new))] {
        let answer = sender.deliver(&signer, id, NOW, b"{}").await;
        assert_eq!(answer.status, StatusCode::OK, "{id}: {answer:?}");
        assert_eq!(answer.headers["x-verified-id"], id);
    }
    let answer = sender
        .deliver(&Signer::new(secret(3)), "by-other", NOW, b"{}")
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(calls.get(), 2);
}
