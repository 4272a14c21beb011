//! Which errors a fallback answers: [`Predicate`], [`AllErrors`],
//! [`Rejections`] and [`is_rejection`].

use crate::BoxError;

/// Decides whether an error is answered by the fallback (`true`) or returned
/// to the caller unchanged (`false`).
///
/// Implemented by [`AllErrors`], [`Rejections`] and any
/// `Fn(&BoxError) -> bool`.
pub trait Predicate {
    /// Whether the fallback should answer `error`.
    fn should_fallback(&self, error: &BoxError) -> bool;
}

impl<F> Predicate for F
where
    F: Fn(&BoxError) -> bool,
{
    fn should_fallback(&self, error: &BoxError) -> bool {
        self(error)
    }
}

/// Every error is answered by the fallback (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllErrors;

impl Predicate for AllErrors {
    fn should_fallback(&self, _: &BoxError) -> bool {
        true
    }
}

/// Only rejections by our own layers are answered by the fallback (see
/// [`is_rejection`]); errors of the inner service pass through.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rejections;

impl Predicate for Rejections {
    fn should_fallback(&self, error: &BoxError) -> bool {
        crate::rejection::is_rejection(&**error)
    }
}

/// Whether `error`, or any error in its [`source`](std::error::Error::source)
/// chain, is a rejection originated by one of this crate's layers rather than
/// a failure of the inner service: [`crate::rejection::is_rejection`], kept
/// here so existing imports compile. The list of rejections lives in
/// [`crate::rejection`].
pub use crate::rejection::is_rejection;
