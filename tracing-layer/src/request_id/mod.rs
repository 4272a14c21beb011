//! Request ids: keep the caller's `x-request-id` when it is sound, make one
//! when it is not, and hand it to everything that follows.
//!
//! [`RequestIdLayer`] wraps a service of `http::Request<B>` to
//! `http::Response<B>`. For each request:
//!
//! - **Kept** when the request has exactly one `x-request-id` header line of
//!   1 to [`MAX_REQUEST_ID_LEN`] (128) bytes, all visible ASCII (`0x21`–`0x7E`).
//! - **Made** otherwise — absent, empty, too long, a space, a control
//!   character, anything outside ASCII, or several header lines — by a
//!   [`MakeRequestId`]: by default [`RandomRequestId`], 32 lowercase hex digits
//!   (128 random bits from the OS-seeded thread-local generator).
//! - The request then carries the id as its single header line and as a
//!   [`RequestIdValue`] in its extensions, for handlers and inner layers.
//! - The response gets the id as a header — **unless the inner service set
//!   that header itself**, which is then left alone — and as a
//!   [`RequestIdValue`] in its extensions (always the id the request carried),
//!   for outer layers.
//!
//! The header name is configurable ([`RequestIdLayer::header_name`]); the
//! layer adds no errors of its own and forwards `poll_ready` to the inner
//! service.
//!
//! The id is not yet recorded on a `tracing` span: this crate has no `tracing`
//! dependency until its `TraceLayer` lands, which will read the
//! [`RequestIdValue`] from the request's extensions.
//!
//! ```
//! use http::{Request, Response};
//! use palisade_tracing_layer::request_id::{RequestIdLayer, RequestIdValue};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let service = ServiceBuilder::new()
//!     .layer(RequestIdLayer::new())
//!     .service(service_fn(|request: Request<()>| async move {
//!         // Handlers read the id from the extensions.
//!         let id = request.extensions().get::<RequestIdValue>().cloned();
//!         let body = id.map(|id| id.to_string()).unwrap_or_default();
//!         Ok::<_, std::convert::Infallible>(Response::new(body))
//!     }));
//!
//! // A sound incoming id is kept and echoed.
//! let request = Request::builder().header("x-request-id", "abc-123").body(())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.headers()["x-request-id"], "abc-123");
//! assert_eq!(response.body(), "abc-123");
//!
//! // An unsound one (a space) is replaced by 32 lowercase hex digits.
//! let request = Request::builder().header("x-request-id", "abc 123").body(())?;
//! let response = service.oneshot(request).await?;
//! let made = response.headers()["x-request-id"].to_str()?;
//! assert_eq!(made.len(), 32);
//! assert!(made.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
//! assert_eq!(response.body(), made);
//! # Ok(())
//! # }
//! ```

pub mod future;
mod id;
mod layer;
mod make;
mod service;

use http::HeaderName;

pub use id::{InvalidRequestId, MAX_REQUEST_ID_LEN, RequestIdValue};
pub use layer::RequestIdLayer;
pub use make::{MakeRequestId, RandomRequestId, RngRequestId};
pub use service::RequestId;

/// The default header, `x-request-id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
