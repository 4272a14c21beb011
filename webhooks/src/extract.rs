//! The axum extractor [`Verified<T>`] (feature `axum`): verifies a webhook in
//! the handler's arguments instead of in a layer.
//!
//! The [`WebhookVerifier`] comes from the router state (anything the verifier
//! is [`FromRef`] of, including the verifier itself), the body is read up to
//! the verifier's limit and verified like [`VerifyWebhookLayer`] does, and a
//! rejected delivery gets the same problem+json response ([`Rejection`]).
//! The body is then turned into `T`: [`Bytes`], [`Vec<u8>`], [`String`],
//! [`Json<T>`] or [`axum::Json<T>`] (both deserialized with `serde_json`
//! and rejected alike, with no content-type check, since the signature
//! already proves who sent it), or any type that implements
//! [`FromVerifiedBody`].
//!
//! With [replay protection](WebhookVerifier::replay_protection), the
//! extractor remembers an id as soon as it is extracted (it cannot see the
//! handler's response); use the layer if a sender's retry of a delivery the
//! handler failed must go through.
//!
//! ```
//! use axum::{Router, routing::post};
//! use palisade_webhooks::extract::{Json, Verified};
//! use palisade_webhooks::layer::WebhookVerifier;
//! use palisade_webhooks::{Secret, StandardWebhooks};
//!
//! #[derive(serde::Deserialize)]
//! struct Event {
//!     r#type: String,
//! }
//!
//! async fn receive(Verified { body: Json(event), webhook }: Verified<Json<Event>>) -> String {
//!     format!("{} {}", webhook.id.unwrap_or_default(), event.r#type)
//! }
//!
//! let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
//! let app: Router = Router::new()
//!     .route("/webhooks", post(receive))
//!     .with_state(WebhookVerifier::new(StandardWebhooks::new(secret)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`VerifyWebhookLayer`]: crate::layer::VerifyWebhookLayer

use axum::extract::{FromRef, FromRequest, Request};
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::layer::{Rejection, WebhookVerifier};

/// A verified webhook: the body as `T` and what the signature proves.
///
/// Rejects with [`Rejection`] (the layer's problem+json responses).
#[derive(Debug, Clone)]
pub struct Verified<T> {
    /// The body, converted after verification.
    pub body: T,
    /// The id and timestamp the signature covers.
    pub webhook: crate::Verified,
}

impl<S, T> FromRequest<S> for Verified<T>
where
    WebhookVerifier: FromRef<S>,
    S: Send + Sync,
    T: FromVerifiedBody,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = request.into_parts();
        let bytes = verifier.read_body(&parts.headers, body).await?;
        let (webhook, replay) = verifier.check(&parts.headers, &bytes)?;
        let body = T::from_verified_body(bytes)?;
        if let Some(replay) = replay {
            replay.keep();
        }
        Ok(Self { body, webhook })
    }
}

/// Converts a verified body into what the handler asked for.
///
/// Implement it to extract other formats (form data, protobuf) as
/// `Verified<YourType>`.
pub trait FromVerifiedBody: Sized {
    /// Converts the raw, verified body.
    ///
    /// # Errors
    ///
    /// The [`Rejection`] to answer with when the body is not in the format.
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection>;
}

impl FromVerifiedBody for Bytes {
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection> {
        Ok(body)
    }
}

impl FromVerifiedBody for Vec<u8> {
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection> {
        Ok(body.into())
    }
}

impl FromVerifiedBody for String {
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection> {
        String::from_utf8(body.into()).map_err(|_| Rejection::InvalidUtf8)
    }
}

/// A JSON body, deserialized with `serde_json` after verification: extract
/// `Verified<Json<T>>`.
///
/// A syntax error is rejected with 400, a body of the wrong shape with 422
/// (as axum's `Json` does), both with the code `invalid_json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromVerifiedBody for Json<T> {
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection> {
        from_json(&body).map(Json)
    }
}

/// axum's own [`Json`](axum::Json), so a handler can extract
/// `Verified<axum::Json<T>>` and answer with the same type. Deserialized and
/// rejected exactly like our [`Json`]: 400 for a syntax error, 422 for the
/// wrong shape, both with the code `invalid_json`, and no content-type check.
///
/// ```
/// use axum::{Router, routing::post};
/// use palisade_webhooks::extract::Verified;
/// use palisade_webhooks::layer::WebhookVerifier;
/// use palisade_webhooks::{Secret, StandardWebhooks};
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Event {
///     r#type: String,
/// }
///
/// // Echoes the verified event back as JSON.
/// async fn receive(Verified { body, .. }: Verified<axum::Json<Event>>) -> axum::Json<Event> {
///     body
/// }
///
/// let secret: Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse()?;
/// let app: Router = Router::new()
///     .route("/webhooks", post(receive))
///     .with_state(WebhookVerifier::new(StandardWebhooks::new(secret)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<T: DeserializeOwned> FromVerifiedBody for axum::Json<T> {
    fn from_verified_body(body: Bytes) -> Result<Self, Rejection> {
        from_json(&body).map(axum::Json)
    }
}

/// Deserializes a verified body: 422 when it is JSON of the wrong shape, 400
/// otherwise (as axum's `Json` answers).
fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Rejection> {
    serde_json::from_slice(body).map_err(|err| {
        let status = match err.classify() {
            serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        Rejection::InvalidJson {
            status,
            detail: err.to_string(),
        }
    })
}
