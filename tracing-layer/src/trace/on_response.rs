//! The hook called when the inner service answers.

use std::time::Duration;

use http::Response;
use tracing::Span;

/// Called once per response, inside the request's span, when the inner
/// service returns the response head. `latency` is the time to the head; the
/// span itself stays open until the body ends.
///
/// Implemented by [`DefaultOnResponse`], `()` (does nothing) and closures
/// `FnOnce(&Response<B>, Duration, &Span)`.
pub trait OnResponse<B> {
    /// The inner service answered with `response` after `latency`.
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span);
}

impl<B> OnResponse<B> for () {
    fn on_response(self, _: &Response<B>, _: Duration, _: &Span) {}
}

impl<B, F> OnResponse<B> for F
where
    F: FnOnce(&Response<B>, Duration, &Span),
{
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        self(response, latency, span);
    }
}

/// A `DEBUG` event `finished processing request` with `latency_ms` and `status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultOnResponse;

impl<B> OnResponse<B> for DefaultOnResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, _: &Span) {
        tracing::debug!(
            latency_ms = latency.as_secs_f64() * 1000.0,
            status = response.status().as_u16(),
            "finished processing request"
        );
    }
}
