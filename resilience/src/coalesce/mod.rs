//! Coalescing ("single flight"): concurrent calls with the same key share
//! one call of the inner service.
//!
//! When a popular cache entry expires, a thousand requests for it arrive at
//! once; without coalescing each of them reaches the database. A
//! [`CoalesceLayer`] keys every call (with any
//! [`ExtractKey`](crate::key::ExtractKey), or a closure): the first call of
//! a key (the leader) calls the inner service, and the calls with the same
//! key that arrive while it is in flight (followers) wait for it and receive
//! a clone of its response. Once the call ends the key is forgotten: the
//! next call starts a new one (unless the optional cache is on).
//!
//! - **Failure** reaches every waiter: a caller that was alone gets the
//!   inner error itself, waiters of a shared call get
//!   [`CoalescedError`](error::CoalescedError), whose
//!   [`source`](std::error::Error::source) is that error (shared, not
//!   copied). Our rejections are still found through it by
//!   [`rejection::find`](crate::rejection::find).
//! - **Cancellation**: the leader does not own the call. Whoever polls the
//!   flight drives it, and the inner future wakes every waiter, so when the
//!   leader is dropped the followers carry on with the same call. It is
//!   cancelled only when every waiter is gone.
//! - **Bounded waiters**: at most `max_waiters` callers (default 1,024)
//!   wait for one flight; one more fails at once with
//!   [`CoalesceFull`](error::CoalesceFull), a rejection (`503` at the edge).
//! - **Keyless calls** fail with [`MissingKey`](crate::key::MissingKey), as
//!   in every keyed layer, unless
//!   [`pass_keyless`](CoalesceLayerBuilder::pass_keyless) sends them to the
//!   inner service on their own.
//!
//! - **Optional cache**: [`cache`](CoalesceLayerBuilder::cache) keeps each
//!   successful response for a time to live, in a bounded map of keys;
//!   calls for a cached key are answered at once.
//!
//! The response must be `Clone` (wrap a large or non-`Clone` response in an
//! `Arc`); an HTTP response with a streaming body is not, so buffer it first.
//! A follower's `poll_ready` readies the inner service that its call then
//! does not use; the inner service stays ready for the next call.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use palisade_resilience::coalesce::CoalesceLayer;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let calls = Arc::new(AtomicUsize::new(0));
//! let counter = Arc::clone(&calls);
//! let database = service_fn(move |user: u64| {
//!     counter.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         tokio::time::sleep(Duration::from_millis(50)).await;
//!         Ok::<_, std::io::Error>(Arc::new(format!("profile of {user}")))
//!     }
//! });
//! // The key of a call is the user id itself.
//! let svc = CoalesceLayer::new(|user: &u64| Some(*user)).layer(database);
//!
//! let (a, b, c) = tokio::join!(
//!     svc.clone().oneshot(7),
//!     svc.clone().oneshot(7),
//!     svc.clone().oneshot(8),
//! );
//! assert_eq!(*a?, "profile of 7");
//! assert_eq!(*b?, "profile of 7");
//! assert_eq!(*c?, "profile of 8");
//! assert_eq!(calls.load(Ordering::SeqCst), 2); // one per key
//! # Ok(())
//! # }
//! ```
//!
//! # Where it goes in a stack
//!
//! Outside the retry and the breaker (so one flight retries once for all of
//! its waiters), inside the rate limit (each caller still counts).

mod cache;
pub mod error;
mod flight;
pub mod future;
mod layer;
mod service;

pub use self::layer::{CoalesceLayer, CoalesceLayerBuilder};
pub use self::service::Coalesce;
