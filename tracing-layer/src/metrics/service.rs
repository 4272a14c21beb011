use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokio::time::Instant;
use tower_service::Service;

use super::cap::SeriesCap;
use super::future::ResponseFuture;
use super::names::{
    CLIENT_ACTIVE, CLIENT_DURATION, CLIENT_REQUEST_BODY_SIZE, CLIENT_RESPONSE_BODY_SIZE, METHOD,
    SCHEME, SERVER_ACTIVE, SERVER_ADDRESS, SERVER_DURATION, SERVER_REQUEST_BODY_SIZE,
    SERVER_RESPONSE_BODY_SIZE,
};
use super::record::{Active, Pending, Side, Target};
use super::request_body::{CountRequestBody, MetricsRequestBody, PassRequestBody};
use super::{MetricsBody, RequestBodyMode};
use crate::PathRules;
use crate::paths::PathAction;
use crate::semconv::{RouteOf, method_name};

/// Measures each request of the inner service; built by
/// [`MetricsLayer`](super::MetricsLayer) (server) or
/// [`ClientMetricsLayer`](super::ClientMetricsLayer) (client).
///
/// `M` says whether the request body is counted ([`CountRequestBody`]: the
/// inner service gets a [`MetricsRequestBody`]) or passed on as it came
/// ([`PassRequestBody`], the default).
#[derive(Clone, Debug)]
#[must_use]
pub struct Metrics<S, M: RequestBodyMode = PassRequestBody> {
    pub(super) inner: S,
    pub(super) side: Side,
    pub(super) cap: Arc<SeriesCap>,
    pub(super) paths: PathRules,
    pub(super) body_sizes: bool,
    pub(super) request_body: PhantomData<M>,
}

impl<S, M: RequestBodyMode> Metrics<S, M> {
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

impl<S, M: RequestBodyMode> Metrics<S, M> {
    /// Starts measuring `request`: counts it as active and returns what its
    /// end will record, or `None` for a path the layer skips.
    fn begin<B>(&self, request: &Request<B>) -> Option<Pending> {
        let start = Instant::now();
        let route = match self.paths.action(request.uri().path()) {
            PathAction::Skip => return None,
            PathAction::Group(label) => RouteOf::Grouped(Arc::clone(label)),
            PathAction::Keep => RouteOf::of(request),
        };
        let method = method_name(request.method());
        let (histogram, active, target) = match self.side {
            Side::Server => {
                let scheme = request.uri().scheme_str().unwrap_or("http");
                let active = self
                    .cap
                    .gauge(SERVER_ACTIVE, &[(METHOD, method), (SCHEME, scheme)]);
                (SERVER_DURATION, active, Target::Route(route))
            }
            Side::Client => {
                let authority = request.uri().authority().cloned();
                let active = match &authority {
                    Some(a) => self.cap.gauge(
                        CLIENT_ACTIVE,
                        &[(METHOD, method), (SERVER_ADDRESS, a.host())],
                    ),
                    None => self.cap.gauge(CLIENT_ACTIVE, &[(METHOD, method)]),
                };
                (CLIENT_DURATION, active, Target::Address(authority))
            }
        };
        active.increment(1.0);
        Some(Pending {
            side: self.side,
            histogram,
            start,
            method,
            target,
            cap: Arc::clone(&self.cap),
            status: None,
            done: false,
            body_size: self.body_sizes.then_some(match self.side {
                Side::Server => SERVER_RESPONSE_BODY_SIZE,
                Side::Client => CLIENT_RESPONSE_BODY_SIZE,
            }),
            body_bytes: 0,
            request_body: None,
            _active: Active(active),
        })
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metrics<S, PassRequestBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match self.begin(&request) {
            Some(pending) => ResponseFuture::new(self.inner.call(request), pending),
            None => ResponseFuture::unmeasured(self.inner.call(request)),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metrics<S, CountRequestBody>
where
    S: Service<Request<MetricsRequestBody<ReqBody>>, Response = Response<ResBody>>,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let Some(mut pending) = self.begin(&request) else {
            let request = request.map(|body| MetricsRequestBody::new(body, None));
            return ResponseFuture::unmeasured(self.inner.call(request));
        };
        // Shared by the body (which adds) and the measurement (which reads
        // once, when the response ends).
        let bytes = Arc::new(AtomicU64::new(0));
        let name = match self.side {
            Side::Server => SERVER_REQUEST_BODY_SIZE,
            Side::Client => CLIENT_REQUEST_BODY_SIZE,
        };
        pending.request_body = Some((name, Arc::clone(&bytes)));
        let request = request.map(|body| MetricsRequestBody::new(body, Some(bytes)));
        ResponseFuture::new(self.inner.call(request), pending)
    }
}
