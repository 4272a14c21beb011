//! A webhook receiver: an axum route that accepts only deliveries signed by
//! the sender it shares a secret with (Standard Webhooks), once each.
//!
//! ```sh
//! cargo run -p palisade-examples --bin webhook_receiver
//! ```
//!
//! It serves the receiver on 127.0.0.1 (a free port), plays the sender —
//! one genuine delivery, a replay, a forgery, a tampered body and an
//! unsigned request — prints each answer, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::num::NonZeroUsize;

use axum::{Router, routing::post};
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_webhooks::extract::{Json, Verified};
use palisade_webhooks::layer::WebhookVerifier;
use palisade_webhooks::{Clock, Secret, Signer, StandardWebhooks, SystemClock};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The event the sender posts; parsed only after the signature is verified.
#[derive(serde::Deserialize)]
struct Event {
    r#type: String,
}

/// Runs only for verified deliveries: `Verified` checked the raw bytes
/// against the signature before `Json` parsed them.
async fn receive(
    Verified {
        body: Json(event),
        webhook,
    }: Verified<Json<Event>>,
) -> String {
    let id = webhook.id.unwrap_or_default();
    format!("received {} ({id})", event.r#type)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // In production the secret (`whsec_…`) comes from your configuration,
    // as the sender gave it to you; here we make one and play both sides.
    let secret = Secret::generate();
    let stored: String = secret.to_string();

    // The verifier lives in the router state; the `Verified` extractor finds
    // it there. Timestamps more than 5 minutes off are refused, and with
    // replay protection a `webhook-id` seen before answers 409.
    // (`VerifyWebhookLayer::new(scheme)` does the same as a tower layer.)
    let verifier = WebhookVerifier::new(StandardWebhooks::new(stored.parse()?))
        .replay_protection(NonZeroUsize::new(10_000).ok_or("zero")?);
    let app = Router::new()
        .route("/webhooks", post(receive))
        .with_state(verifier);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The sender signs `{id}.{timestamp}.{body}` and sends three headers.
    let body = Bytes::from_static(br#"{"type":"invoice.paid","invoice":"in_1"}"#);
    let now = SystemClock.now_unix();
    let mut signed = HeaderMap::new();
    Signer::new(secret)
        .sign("msg_1", now, &body)?
        .apply(&mut signed);

    println!(
        "genuine:  {}",
        post_to(&url, signed.clone(), body.clone()).await?
    );
    println!(
        "replayed: {}",
        post_to(&url, signed.clone(), body.clone()).await?
    );

    let mut forged = HeaderMap::new();
    Signer::new(Secret::generate())
        .sign("msg_2", now, &body)?
        .apply(&mut forged);
    println!("forged:   {}", post_to(&url, forged, body).await?);

    let tampered = Bytes::from_static(br#"{"type":"invoice.paid","invoice":"in_666"}"#);
    println!("tampered: {}", post_to(&url, signed, tampered).await?);

    let unsigned = Bytes::from_static(br#"{"type":"invoice.paid"}"#);
    println!(
        "unsigned: {}",
        post_to(&url, HeaderMap::new(), unsigned).await?
    );
    Ok(())
}

/// Posts `body` with `headers` and describes the answer: the status and the
/// body (a problem+json `code` for a rejection).
async fn post_to(url: &str, headers: HeaderMap, body: Bytes) -> Result<String, BoxError> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::post(url).body(Full::new(body))?;
    request.headers_mut().extend(headers);
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let text = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(problem) => format!("{} ({})", problem["code"], problem["detail"]),
        Err(_) => String::from_utf8_lossy(&body).into_owned(),
    };
    Ok(format!("{status} {text}"))
}
