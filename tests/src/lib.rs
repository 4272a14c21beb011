//! Cross-crate integration tests live in `tests/tests/`; this library only
//! carries the README's examples so that `cargo test` compiles and runs them.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
