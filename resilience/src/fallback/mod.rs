//! Answering from a fallback when a call fails or is rejected.
//!
//! [`FallbackLayer`] runs the inner call; when it fails with an error that the
//! [`Predicate`] accepts, a [`FallbackHandler`] answers instead (a default
//! value, a cached copy, a secondary backend). Successful calls and errors the
//! predicate declines pass through untouched.
//!
//! ```
//! use palisade_resilience::fallback::FallbackLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let flaky = service_fn(|id: u32| async move {
//!     if id == 0 { Err(std::io::Error::other("upstream down")) } else { Ok(format!("user {id}")) }
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(FallbackLayer::value(|error| format!("anonymous ({error})")))
//!     .service(flaky);
//!
//! assert_eq!(svc.clone().oneshot(7).await.unwrap(), "user 7");
//! assert_eq!(svc.oneshot(0).await.unwrap(), "anonymous (upstream down)");
//! # }
//! ```
//!
//! # Handlers: with or without the request
//!
//! | constructor                         | the fallback gets                  | needs `Req: Clone` |
//! |-------------------------------------|------------------------------------|--------------------|
//! | [`FallbackLayer::value`]            | the error; returns the response    | no                 |
//! | [`FallbackLayer::from_fn`]          | the error; returns a future        | no                 |
//! | [`FallbackLayer::with_request`]     | a clone of the request and the error | yes              |
//! | [`FallbackLayer::service`]          | a clone of the request (a second `Service<Req>`) | yes  |
//!
//! The inner service consumes the request, so a fallback that needs it must
//! clone it *before* the call — on every call, since failure is not known in
//! advance. The error-only handlers cost nothing on success.
//!
//! # Predicates: which errors
//!
//! - [`on_error`](FallbackLayer::on_error) ([`AllErrors`], the default):
//!   every error;
//! - [`on_rejection`](FallbackLayer::on_rejection) ([`Rejections`]): only
//!   rejections by this crate's layers, recognised by [`is_rejection`]
//!   (`CircuitOpen`, `BulkheadFull`, `RateLimited`, `Elapsed`, each with its
//!   feature), so a degraded answer replaces "circuit open", "too busy", "too
//!   many calls" or "too slow", while the inner service's own errors surface;
//! - [`on`](FallbackLayer::on): any `Fn(&BoxError) -> bool`.
//!
//! Place the fallback *outside* the layers whose rejections it answers
//! (`ServiceBuilder::new().layer(fallback).layer(bulkhead)…`). Each fallback
//! emits a `debug` tracing event with the error it replaced.
//!
//! [`BoxError`]: crate::BoxError

pub mod future;
mod handler;
mod layer;
mod predicate;
mod service;

pub use handler::{FallbackHandler, FromFn, ServiceFuture, ToService, Value, WithRequest};
pub use layer::FallbackLayer;
pub use predicate::{AllErrors, Predicate, Rejections, is_rejection};
pub use service::Fallback;
