//! Verifying webhook deliveries on the receiving side.
//!
//! [`VerifyWebhookLayer`] wraps any `http::Request` service (an axum
//! `Router`, a hyper service, a `tower::service_fn`). For every request it
//!
//! 1. reads the body up to a limit (1 MiB unless
//!    [`max_body_bytes`](VerifyWebhookLayer::max_body_bytes) says otherwise):
//!    a `Content-Length` above the limit is refused before reading, a body
//!    without one as soon as the limit is passed;
//! 2. verifies the raw bytes with a [`Scheme`](crate::Scheme)
//!    ([`StandardWebhooks`](crate::StandardWebhooks), [`Stripe`](crate::Stripe),
//!    [`GitHub`](crate::GitHub) or your own) at the [`Clock`](crate::Clock)'s time;
//! 3. optionally refuses a `webhook-id` it has already accepted
//!    ([`replay_protection`](VerifyWebhookLayer::replay_protection));
//! 4. calls the inner service with the body intact, as
//!    `http_body_util::Full<Bytes>`, and the [`Verified`](crate::Verified)
//!    proof in the request extensions.
//!
//! A rejected delivery never reaches the inner service. It gets an RFC 9457
//! `application/problem+json` response naming the cause ([`Rejection`]):
//!
//! | Cause | Status | `code` |
//! |---|---|---|
//! | no signature header, no matching or usable signature | 401 | `missing_header`, `invalid_signature`, `no_signature` |
//! | timestamp outside the tolerance | 401 | `timestamp_too_old`, `timestamp_too_new` |
//! | no id or timestamp header, malformed header or timestamp | 400 | `missing_header`, `malformed_header`, `invalid_timestamp` |
//! | body over the limit | 413 | `payload_too_large` |
//! | body could not be read | 400 | `body_unreadable` |
//! | `webhook-id` already received | 409 | `replayed` |
//!
//! The statuses and codes of signature problems are the scheme's
//! ([`VerifyError::status`](crate::VerifyError::status),
//! [`VerifyError::kind`](crate::VerifyError::kind)). With axum, the axum
//! extractor `palisade_webhooks::extract::Verified` (feature `axum`) does the
//! same per handler and answers with the same responses.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt as _, Full};
//! use palisade_webhooks::layer::VerifyWebhookLayer;
//! use palisade_webhooks::{Secret, Signer, StandardWebhooks, Verified};
//! use tower::{ServiceBuilder, ServiceExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
//! let now = 1_700_000_000;
//!
//! let receiver = ServiceBuilder::new()
//!     .layer(VerifyWebhookLayer::new(StandardWebhooks::new(secret.clone())).clock(move || now))
//!     .service_fn(|request: Request<Full<Bytes>>| async move {
//!         let verified = request.extensions().get::<Verified>().cloned();
//!         let id = verified.and_then(|v| v.id).unwrap_or_default();
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(id))))
//!     });
//!
//! // A signed delivery reaches the service, body and all.
//! let body = Bytes::from_static(br#"{"type":"invoice.paid"}"#);
//! let mut request = Request::post("/webhooks").body(Full::new(body.clone()))?;
//! Signer::new(secret).sign("msg_1", now, &body)?.apply(request.headers_mut());
//! let response = receiver.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.into_body().collect().await?.to_bytes(), "msg_1");
//!
//! // A delivery signed with another secret does not.
//! let mut forged = Request::post("/webhooks").body(Full::new(body.clone()))?;
//! Signer::new(Secret::generate()).sign("msg_2", now, &body)?.apply(forged.headers_mut());
//! let response = receiver.oneshot(forged).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! let problem: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
//! assert_eq!(problem["code"], "invalid_signature");
//! # Ok(())
//! # }
//! ```

mod body;
pub mod future;
#[allow(clippy::module_inception)] // the house layout: one file per layer part
mod layer;
mod problem;
mod replay;
mod response_body;
mod service;
#[cfg(test)]
mod tests;
mod verifier;

pub use layer::VerifyWebhookLayer;
pub use problem::{PROBLEM_JSON, PROBLEM_TYPE_PREFIX, Rejection};
pub use response_body::ResponseBody;
pub use service::VerifyWebhook;
pub use verifier::WebhookVerifier;
