//! `POST /demo/webhooks/inbound`: the receiving side of webhooks, so the
//! server shows `palisade-webhooks`' verification as well as its delivery.
//!
//! The route exists only when the server has a secret to verify with
//! (`--inbound-webhook-secret` / `PALISADE_INBOUND_WEBHOOK_SECRET`, a
//! `whsec_…` Standard Webhooks secret); without one it is not mounted and
//! answers the ordinary 404 `not_found`, so an unconfigured server reveals
//! nothing about it.
//!
//! ```text
//! SECRET=$(palisade webhook secret)
//! palisade --inbound-webhook-secret "$SECRET" &
//! BODY='{"type":"ping"}'; NOW=$(date +%s)
//! SIG=$(printf '%s' "$BODY" | palisade webhook sign --secret "$SECRET" --id msg_1 --timestamp "$NOW")
//! curl -i http://127.0.0.1:8080/demo/webhooks/inbound -d "$BODY" \
//!      -H 'webhook-id: msg_1' -H "webhook-timestamp: $NOW" -H "webhook-signature: $SIG"   # 204
//! ```
//!
//! A verified delivery is answered 204 No Content. A delivery whose headers,
//! timestamp or signature do not verify is answered with the verifier's own
//! problem+json (401 for a missing, wrong or expired signature, 400 for
//! malformed headers) and is a security event: one line under the
//! `security` target with the client's address (never the secret or the
//! signature) and one count in
//! `palisade_security_events_total{kind="webhook_signature"}`. A verified
//! message id sent again within the timestamp tolerance is a replay: 409
//! `replayed`, counted as `kind="webhook_replayed"`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest as _, Request, State};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use http::StatusCode;
use palisade_webhooks::extract::Verified;
use palisade_webhooks::layer::{Rejection, WebhookVerifier};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::SecurityEvent;

/// The receiver and its OpenAPI description; its state is the verifier.
pub(crate) fn router() -> OpenApiRouter<WebhookVerifier> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// Receives one webhook signed with the server's inbound secret.
#[utoipa::path(
    post,
    path = "/demo/webhooks/inbound",
    tag = "demo",
    description = "Present only when the server runs with `--inbound-webhook-secret` \
        (else 404 `not_found`). Verifies a Standard Webhooks delivery; a failed \
        verification is counted in `palisade_security_events_total{kind=\"webhook_signature\"}`, \
        a replay in `kind=\"webhook_replayed\"`.",
    params(
        ("webhook-id" = String, Header, description = "The message id"),
        ("webhook-timestamp" = i64, Header, description = "Unix seconds, within 5 minutes of now"),
        ("webhook-signature" = String, Header, description = "`v1,<base64 HMAC-SHA256>`, space-separated"),
    ),
    request_body(content = Vec<u8>, description = "Any body; the signature covers its exact bytes", content_type = "application/octet-stream"),
    responses(
        (status = 204, description = "Verified"),
        (status = 400, description = "`missing_header` (id or timestamp), `malformed_header`, `invalid_timestamp`", content_type = "application/problem+json"),
        (status = 401, description = "`missing_header` (signature), `invalid_signature`, `no_signature`, `timestamp_too_old`, `timestamp_too_new`", content_type = "application/problem+json"),
        (status = 409, description = "`replayed`: this message id was already accepted", content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", content_type = "application/problem+json"),
    )
)]
pub(crate) async fn receive(State(verifier): State<WebhookVerifier>, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match Verified::<Bytes>::from_request(request, &verifier).await {
        Ok(Verified { body, webhook }) => {
            tracing::info!(
                id = webhook.id.as_deref().unwrap_or("-"),
                bytes = body.len(),
                "inbound webhook verified"
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(rejection) => {
            // Only what the signature or replay check refused is a security
            // event; a body too large or cut short is the sender's or the
            // network's.
            let event = match &rejection {
                Rejection::Verify(_) => Some(SecurityEvent::WebhookSignature),
                Rejection::Replayed { .. } => Some(SecurityEvent::WebhookReplayed),
                _ => None,
            };
            if let Some(event) = event {
                event.emit(
                    None,
                    client,
                    &format!("inbound webhook refused: {}", rejection.code()),
                );
            }
            axum::response::IntoResponse::into_response(rejection)
        }
    }
}
