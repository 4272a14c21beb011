use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::{PropagateLayer, TRACEPARENT, TraceContext};
use crate::semconv::{OTHER, method_name};

/// Injects the trace context into outgoing requests, each as a client span of
/// its own; built by [`PropagateLayer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Propagate<S> {
    pub(super) inner: S,
    pub(super) start_new_traces: Option<bool>,
}

impl<S> Propagate<S> {
    /// Wraps `inner` with the defaults of [`PropagateLayer::new`].
    pub fn new(inner: S) -> Self {
        use tower_layer::Layer as _;
        PropagateLayer::new().layer(inner)
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Propagate<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let found = match request.extensions().get::<TraceContext>() {
            Some(context) => Some(context.clone()),
            None => TraceContext::current(),
        };
        // Outside our layers, the current `tracing` span's exported span.
        #[cfg(feature = "otel")]
        let found = found.or_else(crate::otel::current);
        let mut rng = rand::rng();
        // Each call is a client span of its own: a new span id, sent as the
        // callee's parent id, so two calls from one hop never share a parent.
        let (ours, parent) = match (found, self.start_new_traces) {
            (Some(context), _) => {
                let parent = (context.span_id(), context.flags());
                (Some(context.into_child(&mut rng)), Some(parent))
            }
            (None, Some(sampled)) if !request.headers().contains_key(TRACEPARENT) => {
                (Some(TraceContext::new_root(&mut rng, sampled)), None)
            }
            (None, _) => (None, None),
        };
        let span = match ours {
            Some(ours) => {
                // An unsampled trace is sent on, not recorded.
                let span = if ours.flags().is_sampled() {
                    client_span(&request, &ours, parent.map(|(span_id, _)| span_id))
                } else {
                    tracing::Span::none()
                };
                // The exported client span: a child of the context continued,
                // with the id the callee will see as its parent.
                #[cfg(feature = "otel")]
                let ours = crate::otel::start(
                    &span,
                    ours,
                    parent.map(|(span_id, flags)| crate::otel::Parent {
                        span_id,
                        flags,
                        remote: false,
                    }),
                );
                ours.inject(request.headers_mut());
                span
            }
            None => tracing::Span::none(),
        };
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture { inner, span }
    }
}

/// The client span: `otel.name` = the method (OpenTelemetry's client span
/// name without a URL template), `otel.kind` = `client`, the method,
/// `server.address`, `server.port`, `url.full` without userinfo or query (both
/// may hold secrets), and our ids.
fn client_span<B>(
    request: &Request<B>,
    ours: &TraceContext,
    parent: Option<super::SpanId>,
) -> tracing::Span {
    let method = method_name(request.method());
    let uri = request.uri();
    // Field values are evaluated only when a subscriber enables the span.
    tracing::info_span!(
        "HTTP client request",
        "otel.name" = if method == OTHER { "HTTP" } else { method },
        "otel.kind" = "client",
        "otel.status_code" = tracing::field::Empty,
        "http.request.method" = method,
        "http.request.method_original" = (method == OTHER).then(|| request.method().as_str()),
        "server.address" = uri.host(),
        "server.port" = uri.port_u16(),
        "url.full" = url_without_secrets(uri),
        "http.response.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        trace_id = tracing::field::display(ours.trace_id()),
        span_id = tracing::field::display(ours.span_id()),
        parent_span_id = parent.map(tracing::field::display),
    )
}

/// `scheme://host[:port]/path`: no userinfo, no query (both may hold secrets).
fn url_without_secrets(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.host()) {
        (Some(scheme), Some(host)) => match uri.port_u16() {
            Some(port) => format!("{scheme}://{host}:{port}{}", uri.path()),
            None => format!("{scheme}://{host}{}", uri.path()),
        },
        _ => uri.path().to_owned(),
    }
}
