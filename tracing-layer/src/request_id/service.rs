use std::task::{Context, Poll};

use http::{HeaderName, Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::{MakeRequestId, RandomRequestId, RequestIdLayer, RequestIdValue};

/// Gives every request an id: keeps a valid incoming one, makes one otherwise,
/// puts it in the request's extensions and header, and echoes it on the
/// response.
///
/// Built by [`RequestIdLayer`]; see the [module docs](super) for the rules.
#[derive(Clone, Debug)]
pub struct RequestId<S, M = RandomRequestId> {
    inner: S,
    header_name: HeaderName,
    make: M,
}

impl<S> RequestId<S> {
    /// Wraps `inner` with the defaults of [`RequestIdLayer::new`].
    pub fn new(inner: S) -> Self {
        Self::from_parts(inner, super::X_REQUEST_ID, RandomRequestId)
    }

    /// A [`RequestIdLayer`] with the defaults.
    #[must_use]
    pub fn layer() -> RequestIdLayer {
        RequestIdLayer::new()
    }
}

impl<S, M> RequestId<S, M> {
    pub(super) fn from_parts(inner: S, header_name: HeaderName, make: M) -> Self {
        Self {
            inner,
            header_name,
            make,
        }
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

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for RequestId<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: MakeRequestId,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let id = incoming(&request, &self.header_name)
            .unwrap_or_else(|| self.make.make_request_id(&request));
        // Exactly one line, the id, whether it was kept or made: services that
        // forward headers send on what the extensions say.
        request
            .headers_mut()
            .insert(self.header_name.clone(), id.to_header_value());
        request.extensions_mut().insert(id.clone());
        ResponseFuture::new(self.inner.call(request), self.header_name.clone(), id)
    }
}

/// The request's id when it has exactly one valid `name` header line.
fn incoming<B>(request: &Request<B>, name: &HeaderName) -> Option<RequestIdValue> {
    let mut lines = request.headers().get_all(name).iter();
    let first = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    RequestIdValue::from_header_value(first).ok()
}
