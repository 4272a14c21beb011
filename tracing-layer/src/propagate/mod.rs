//! W3C Trace Context (Level 2): the `traceparent` and `tracestate` headers.
//!
//! Exactly what the spec (<https://www.w3.org/TR/trace-context-2/>) says, and
//! nothing more lenient:
//!
//! - [`TraceParent`]: version `00` is exactly `00-<32 hex>-<16 hex>-<2 hex>`
//!   in lowercase; all-zero ids and version `ff` are invalid; higher versions
//!   are read by the spec's rules for future versions and sent back as `00`.
//! - [`TraceState`]: at most 32 members, keys and values by the Level 2
//!   grammar, duplicate keys invalid, empty members skipped, several header
//!   lines combined in order, our entry moved to the left when we update it.
//! - [`TraceContext::extract`] / [`TraceContext::inject`]: an invalid or
//!   repeated `traceparent` restarts the trace and drops `tracestate`;
//!   [`TraceContext::child`] gives our hop a new span id; a new root sets the
//!   random-trace-id flag.
//! - [`PropagateLayer`] (feature `propagate`): gives each outgoing
//!   `http::Request` a client span of its own (a child of our hop) and injects
//!   it, so the services we call continue the trace.
//! - [`TraceContext::current`] / [`TraceContext::scope`]: the context of the
//!   request being served, set by the server `TraceLayer`.
//!
//! ```
//! use http::HeaderMap;
//! use palisade_tracing_layer::propagate::{Extracted, TraceContext};
//! use rand::{SeedableRng, rngs::SmallRng};
//!
//! let mut headers = HeaderMap::new();
//! // Uppercase hex: invalid, so a new trace starts and tracestate is ignored.
//! headers.insert("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01".parse()?);
//! headers.insert("tracestate", "congo=t61rcWkgMzE".parse()?);
//! let extracted = TraceContext::extract(&headers);
//! assert!(matches!(extracted, Extracted::Invalid(_)));
//!
//! let ours = extracted.into_hop(&mut SmallRng::seed_from_u64(1));
//! assert!(ours.tracestate().is_empty());
//! assert!(ours.flags().is_random_trace_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod baggage;
mod context;
mod current;
mod error;
#[cfg(feature = "propagate")]
pub mod future;
mod ids;
#[cfg(feature = "propagate")]
mod layer;
#[cfg(feature = "propagate")]
mod service;
mod traceparent;
mod tracestate;

pub use baggage::{BAGGAGE, Baggage, InvalidBaggage, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS};
pub use context::{Extracted, TRACEPARENT, TRACESTATE, TraceContext};
pub use current::Scoped;
#[cfg(feature = "trace")]
pub(crate) use current::with_current;
pub use error::{InvalidTraceParent, InvalidTraceState};
pub use ids::{SpanId, TraceFlags, TraceId};
#[cfg(feature = "propagate")]
pub use layer::PropagateLayer;
#[cfg(feature = "propagate")]
pub use service::Propagate;
pub use traceparent::TraceParent;
pub use tracestate::{MAX_MEMBERS, TraceState};
