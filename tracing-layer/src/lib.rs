#![doc = include_str!("../README.md")]

#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
#[cfg(any(feature = "trace", feature = "metrics"))]
mod paths;
pub mod propagate;
pub mod request_id;
mod semconv;
#[cfg(feature = "trace")]
pub mod trace;

#[cfg(any(feature = "trace", feature = "metrics"))]
pub use paths::{InvalidPathPattern, PathRules, PathRulesBuilder};
pub use semconv::HttpRoute;
