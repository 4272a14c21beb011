use std::fmt;
use std::task::{Context, Poll};
use tokio::time::Instant;

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Options;
use super::{
    DefaultMakeSpan, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, MakeSpan, OnFailure,
    OnRequest, OnResponse, RequestAttributes, TraceBody, TraceLayer,
};
use crate::paths::PathAction;
use crate::propagate::{Extracted, TraceContext, with_current};
use crate::request_id::RequestIdValue;

/// Traces each request of the inner service; built by [`TraceLayer`].
///
/// See the [module docs](super).
#[derive(Clone, Debug)]
#[must_use]
pub struct Trace<
    S,
    M = DefaultMakeSpan,
    OnReq = DefaultOnRequest,
    OnRes = DefaultOnResponse,
    OnFail = DefaultOnFailure,
> {
    pub(super) inner: S,
    pub(super) make_span: M,
    pub(super) on_request: OnReq,
    pub(super) on_response: OnRes,
    pub(super) on_failure: OnFail,
    pub(super) options: Options,
}

impl<S> Trace<S> {
    /// Wraps `inner` with the defaults of [`TraceLayer::new`].
    pub fn new(inner: S) -> Self {
        use tower_layer::Layer as _;
        TraceLayer::new().layer(inner)
    }

    /// A [`TraceLayer`] with the defaults.
    pub fn layer() -> TraceLayer {
        TraceLayer::new()
    }
}

impl<S, M, OnReq, OnRes, OnFail> Trace<S, M, OnReq, OnRes, OnFail> {
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

impl<S, ReqBody, ResBody, M, OnReq, OnRes, OnFail> Service<Request<ReqBody>>
    for Trace<S, M, OnReq, OnRes, OnFail>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
    ResBody: Body,
    ResBody::Error: fmt::Display,
    M: MakeSpan<ReqBody>,
    OnReq: OnRequest<ReqBody>,
    OnRes: OnResponse<ResBody> + Clone,
    OnFail: OnFailure + Clone,
{
    type Response = Response<TraceBody<ResBody, OnFail>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, OnRes, OnFail>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let group = match self.options.paths.action(request.uri().path()) {
            PathAction::Skip => {
                return ResponseFuture::untraced(self.inner.call(request), start);
            }
            PathAction::Group(label) => Some(&**label),
            PathAction::Keep => None,
        };
        let mut rng = rand::rng();
        let (context, parent) = match TraceContext::extract(request.headers()) {
            Extracted::Parent { context, .. } => {
                let parent = (context.span_id(), context.flags());
                (context.into_child(&mut rng), Some(parent))
            }
            // Missing or invalid: "the vendor creates a new trace-id and parent-id".
            // Baggage is independent of the trace: a new trace keeps it.
            _ => (
                TraceContext::new_root(&mut rng, false)
                    .with_baggage(TraceContext::extract_baggage(request.headers())),
                None,
            ),
        };
        let sampled = self
            .options
            .sampler
            .should_sample(parent.map(|(_, flags)| flags), context.trace_id());
        let flags = context.flags().with_sampled(sampled);
        let context = context.with_flags(flags);
        if !sampled {
            // No span, no hooks: only the context, so the decision travels on.
            request.extensions_mut().insert(context.clone());
            let mut slot = Some(context);
            let inner = with_current(&mut slot, || self.inner.call(request));
            let mut future = ResponseFuture::untraced(inner, start);
            future.context = slot;
            future.trace_response = self.options.trace_response;
            return future;
        }
        let parent_span_id = parent.map(|(span_id, _)| span_id);
        // No subscriber wants the span: skip computing its attributes.
        let span = if self.make_span.enabled() {
            let attributes = RequestAttributes::new(&request, &context, parent_span_id, group);
            self.make_span.make_span(&request, &attributes)
        } else {
            tracing::Span::none()
        };
        // The exported span: the caller's span as its parent, our hop's ids.
        #[cfg(feature = "otel")]
        let context = {
            let incoming = parent.map(|(span_id, flags)| crate::otel::Parent {
                span_id,
                flags,
                remote: true,
            });
            crate::otel::start(&span, context, incoming)
        };
        let request_id = request.extensions().get::<RequestIdValue>();
        if let Some(id) = request_id {
            span.record("request_id", id.as_str());
        }
        let request_id_recorded = request_id.is_some();
        {
            let _entered = span.enter();
            self.on_request.on_request(&request, &span);
        }
        // Handlers read our hop's context from the extensions; outgoing calls
        // through `PropagateLayer` find it as `TraceContext::current()`.
        request.extensions_mut().insert(context.clone());
        let mut slot = Some(context);
        let inner = {
            let _entered = span.enter();
            with_current(&mut slot, || self.inner.call(request))
        };
        ResponseFuture {
            inner,
            span: Some(span),
            context: slot,
            start,
            request_id_recorded,
            trace_response: self.options.trace_response,
            on_response: Some(self.on_response.clone()),
            on_failure: Some(self.on_failure.clone()),
        }
    }
}
