//! The hook called when a request arrives.

use http::Request;
use tracing::Span;

/// Called once per request, inside its span, before the inner service sees it.
///
/// Implemented by [`DefaultOnRequest`], `()` (does nothing) and closures
/// `FnMut(&Request<B>, &Span)`.
pub trait OnRequest<B> {
    /// `request` has arrived; `span` is its span.
    fn on_request(&mut self, request: &Request<B>, span: &Span);
}

impl<B> OnRequest<B> for () {
    fn on_request(&mut self, _: &Request<B>, _: &Span) {}
}

impl<B, F> OnRequest<B> for F
where
    F: FnMut(&Request<B>, &Span),
{
    fn on_request(&mut self, request: &Request<B>, span: &Span) {
        self(request, span);
    }
}

/// A `DEBUG` event `started processing request`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultOnRequest;

impl<B> OnRequest<B> for DefaultOnRequest {
    fn on_request(&mut self, _: &Request<B>, _: &Span) {
        tracing::debug!("started processing request");
    }
}
