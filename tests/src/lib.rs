//! Cross-crate integration tests live in `tests/tests/`; this library only
//! carries the README's examples so that `cargo test` compiles and runs them.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// `palisade-resilience`'s README (the crate's page on crates.io): its example
/// compiles and its assertions hold.
#[cfg(doctest)]
#[doc = include_str!("../../resilience/README.md")]
struct ResilienceReadmeDoctests;
