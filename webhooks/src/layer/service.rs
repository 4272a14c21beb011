//! [`VerifyWebhook`], the service the layer wraps around a receiver.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower_service::Service;

use super::future::ResponseFuture;
use super::{ResponseBody, WebhookVerifier};

/// Verifies webhook deliveries before they reach `S`; see
/// [`VerifyWebhookLayer`](super::VerifyWebhookLayer).
///
/// `S` receives the request with its body buffered as
/// `http_body_util::Full<Bytes>` (same method, URI, headers and extensions,
/// plus the [`Verified`](crate::Verified) proof in the extensions) and is
/// never called for a rejected delivery.
#[derive(Clone, Debug)]
#[must_use]
pub struct VerifyWebhook<S> {
    inner: S,
    verifier: WebhookVerifier,
}

impl<S> VerifyWebhook<S> {
    /// Wraps `inner` with `verifier`.
    pub fn new(inner: S, verifier: WebhookVerifier) -> Self {
        Self { inner, verifier }
    }

    /// The verifier this service checks with.
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.verifier
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for VerifyWebhook<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The inner service is called only after the body has been read, so
        // the future takes the instance made ready in `poll_ready` and leaves
        // a fresh clone here for the next `poll_ready`.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(request, inner, self.verifier.clone())
    }
}
