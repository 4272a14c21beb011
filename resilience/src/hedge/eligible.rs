//! [`Eligible`]: which requests may be hedged.

/// Decides whether a request may be sent more than once. Implemented by
/// [`AllRequests`] (the default), closures `Fn(&Req) -> bool` and, with the
/// `http` feature, [`IdempotentMethods`].
pub trait Eligible<Req> {
    /// Whether `req` may be hedged.
    fn eligible(&self, req: &Req) -> bool;
}

impl<Req, F: Fn(&Req) -> bool> Eligible<Req> for F {
    #[inline]
    fn eligible(&self, req: &Req) -> bool {
        self(req)
    }
}

/// Every request may be hedged: for idempotent calls only.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllRequests;

impl<Req> Eligible<Req> for AllRequests {
    #[inline]
    fn eligible(&self, _: &Req) -> bool {
        true
    }
}

/// HTTP requests with an idempotent method (GET, HEAD, OPTIONS, TRACE, PUT,
/// DELETE; RFC 9110 §9.2.2) may be hedged; POST and PATCH may not.
///
/// ```
/// use palisade_resilience::hedge::{Eligible, IdempotentMethods};
///
/// let get = http::Request::get("/users/7").body(()).unwrap();
/// let post = http::Request::post("/users").body(()).unwrap();
/// assert!(IdempotentMethods.eligible(&get));
/// assert!(!IdempotentMethods.eligible(&post));
/// ```
#[cfg(feature = "http")]
#[derive(Debug, Clone, Copy, Default)]
pub struct IdempotentMethods;

#[cfg(feature = "http")]
impl<B> Eligible<http::Request<B>> for IdempotentMethods {
    #[inline]
    fn eligible(&self, req: &http::Request<B>) -> bool {
        use http::Method;
        matches!(
            *req.method(),
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        )
    }
}
