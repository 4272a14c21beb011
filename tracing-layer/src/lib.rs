#![doc = include_str!("../README.md")]

#[cfg(feature = "metrics")]
pub mod metrics;
pub mod propagate;
pub mod request_id;
mod semconv;
#[cfg(feature = "trace")]
pub mod trace;

pub use semconv::HttpRoute;
