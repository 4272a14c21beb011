//! The atomics of our lock-free state: from `std`, or, in the crate's own
//! unit tests under `--cfg loom`, from [`loom`](https://docs.rs/loom), whose
//! models explore every interleaving of them (as tokio-util's `loom.rs`).
//!
//! Run the models with
//! `RUSTFLAGS="--cfg loom" cargo test -p palisade-resilience --release --lib loom`.

// Each middleware uses some of them.
#[cfg(all(test, loom))]
#[allow(unused_imports)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(all(test, loom)))]
#[allow(unused_imports)]
pub(crate) use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
