//! Client-side adaptive throttling, as the Google SRE book's "Handling
//! Overload" describes: when the upstream refuses many requests, refuse some
//! locally, before they cost it anything.
//!
//! Over a sliding window (default 2 minutes) the layer counts `requests`
//! (every call, including those it refused) and `accepts` (calls the
//! upstream answered, as a [`Classify`](crate::classify::Classify) decides;
//! by default every `Ok`). Each call is refused locally with probability
//!
//! ```text
//! max(0, (requests − K·accepts) / (requests + 1))
//! ```
//!
//! with `K` = 2 by default: nothing is refused while the upstream accepts at
//! least half of the requests; beyond that, the share refused grows with the
//! share it refuses, so the load it sees shrinks to about `K` times what it
//! accepts. A refused call fails with [`Throttled`](error::Throttled) (a
//! rejection; `503` at the edge), without calling the inner service. As the
//! window slides past the bad period, the probability returns to 0.
//!
//! [`ThrottleLayer::builder`]`().keyed(extractor)` keeps one window per key
//! (per upstream, with [`AuthorityKey`](crate::key::AuthorityKey)), at most
//! `max_keys` of them. Randomness is injectable
//! ([`random`](ThrottleLayerBuilder::random), [`seed`](ThrottleLayerBuilder::seed)).
//!
//! ```
//! use std::time::Duration;
//! use palisade_resilience::throttle::{ThrottleLayer, error::Throttled};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), palisade_resilience::BoxError> {
//! let layer = ThrottleLayer::builder()
//!     .k(2.0)
//!     .window(Duration::from_secs(120))
//!     .seed(7)
//!     .build()?;
//! let handle = layer.handle();
//! // An upstream that is down: it refuses everything.
//! let svc = layer.layer(service_fn(|()| async { Err::<(), _>("overloaded") }));
//!
//! let mut throttled = 0;
//! for _ in 0..1_000 {
//!     let err = svc.clone().oneshot(()).await.unwrap_err();
//!     throttled += usize::from(err.is::<Throttled>());
//! }
//! // With no accepts, nearly every call is refused locally.
//! assert!(throttled > 900, "{throttled}");
//! assert_eq!(handle.rejected_total(), throttled as u64);
//! assert!(handle.reject_probability() > 0.99);
//!
//! // Two minutes later the window is empty again.
//! tokio::time::advance(Duration::from_secs(120)).await;
//! assert_eq!(handle.reject_probability(), 0.0);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it goes in a stack
//!
//! On the client side, inside the retry (a locally refused attempt should
//! not be retried at once: retry follows the backoff for it) and outside the
//! breaker, the bulkhead and the per-attempt timeout, so that what they
//! refuse or time out counts as not accepted. Unlike a breaker it never
//! refuses everything: some requests keep probing the upstream.

pub mod error;
pub mod future;
mod handle;
mod layer;
mod partition;
mod service;
mod window;

pub use self::handle::ThrottleHandle;
pub use self::layer::{KeyedThrottleLayerBuilder, ThrottleLayer, ThrottleLayerBuilder};
pub use self::partition::{Global, Partition, PerKey};
pub use self::service::Throttle;
pub use self::window::{AcceptWindow, WindowSettings};
