//! [`FlagGateLayer`] (feature `tower`): put a service or route behind a
//! flag.
//!
//! Each request is evaluated for a [`Context`](crate::Context) that an
//! [`ExtractContext`] builds from the request head (a user id header, other
//! headers as properties, the client IP, a closure). When the flag is on the
//! request goes to the service; when it is off (or the flag does not exist)
//! the answer is `404` problem+json with code `feature_disabled`, or a
//! configured response, or a fallback service. The
//! [`Evaluation`](crate::Evaluation) goes into the request's extensions
//! either way, so the handler can read the variant.
//!
//! The gate reads the live snapshot: after [`Flags::replace`](crate::Flags::replace)
//! the next request sees the new definition. Building the context borrows
//! the request and allocates nothing; evaluating a Boolean flag allocates
//! nothing; inserting the evaluation into the extensions is the one
//! allocation.
//!
//! ```
//! use std::sync::Arc;
//! use http::{HeaderName, Request, Response, StatusCode};
//! use palisade_flags::gate::{FlagGateLayer, FromHeader};
//! use palisade_flags::model::{Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Strategy};
//! use palisade_flags::{Evaluation, Flags};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let beta_testers = Strategy::new("beta testers")
//!     .constraint(Constraint::new(ContextField::UserId, Operator::In(vec!["alice".into()])));
//! let flags = Arc::new(Flags::new(FlagSet::new(
//!     [Flag::new("new-search", FlagKind::Boolean).strategy(beta_testers)],
//!     [],
//! )?));
//!
//! let search = service_fn(|request: Request<String>| async move {
//!     let on = request.extensions().get::<Evaluation>().is_some_and(Evaluation::is_enabled);
//!     Ok::<_, std::convert::Infallible>(Response::new(format!("new search: {on}")))
//! });
//! let gated = FlagGateLayer::new(flags.clone(), "new-search")
//!     .context(FromHeader::user_id(HeaderName::from_static("x-user-id")))
//!     .layer(search);
//!
//! let alice = Request::builder().header("x-user-id", "alice").body(String::new())?;
//! let response = gated.clone().oneshot(alice).await?;
//! assert_eq!(response.into_body(), "new search: true");
//!
//! let bob = Request::builder().header("x-user-id", "bob").body(String::new())?;
//! let response = gated.oneshot(bob).await?;
//! assert_eq!(response.status(), StatusCode::NOT_FOUND);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! # Ok(())
//! # }
//! ```

mod disabled;
mod extract;
mod future;
mod layer;
mod service;

pub use self::disabled::{Fallback, NotFound, OnDisabled, RespondWith};
pub use self::extract::{
    ClientIp, ContextFn, ExtractContext, FromHeader, MissingContext, Scratch, context_fn,
};
pub use self::future::ResponseFuture;
pub use self::layer::FlagGateLayer;
pub use self::service::FlagGate;
