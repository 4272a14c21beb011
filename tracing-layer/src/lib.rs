#![doc = include_str!("../README.md")]

pub mod propagate;
pub mod request_id;
#[cfg(feature = "trace")]
pub mod trace;
