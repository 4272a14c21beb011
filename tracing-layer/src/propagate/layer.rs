use tower_layer::Layer;

use super::Propagate;

/// Applies [`Propagate`] to a client: every outgoing `http::Request` continues
/// the trace of the request being served, so the services it calls join it.
///
/// Each call is a client span of its own: a child of the context found (same
/// trace id, flags and `tracestate`, a new span id, which the callee sees as
/// its parent id), recorded as a `tracing` span `HTTP client request`
/// (`otel.kind` = `client`, `http.request.method`, `server.address`,
/// `server.port`, `url.full` without userinfo or query,
/// `http.response.status_code`, `error.type` for 4xx, 5xx and errors,
/// `trace_id`, `span_id`, `parent_span_id`) that lasts until the response head.
///
/// Which context the call continues, first found wins:
///
/// 1. a [`TraceContext`](super::TraceContext) in the outgoing request's extensions;
/// 2. [`TraceContext::current`](super::TraceContext::current): the server
///    `TraceLayer`'s hop while a handler runs, or a
///    [`TraceContext::scope`](super::TraceContext::scope);
/// 3. none: a `traceparent` already on the request is left alone; otherwise a
///    new trace is started (sampled), unless [`PropagateLayer::start_new_traces`]
///    turned that off.
///
/// A call made from a context found in 1 or 2 replaces any `traceparent` / `tracestate` lines
/// already on the request (a proxy copying the incoming headers must not
/// send the caller's span id as ours).
///
/// ```
/// use http::{Request, Response};
/// use palisade_tracing_layer::propagate::{PropagateLayer, TraceContext};
/// use rand::{SeedableRng, rngs::SmallRng};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let client = ServiceBuilder::new()
///     .layer(PropagateLayer::new())
///     .service(service_fn(|request: Request<()>| async move {
///         // Stands in for a hyper client: answers with the traceparent it got.
///         let sent = request.headers()["traceparent"].to_str().unwrap_or_default().to_owned();
///         Ok::<_, std::convert::Infallible>(Response::new(sent))
///     }));
///
/// let ours = TraceContext::new_root(&mut SmallRng::seed_from_u64(9), true);
/// let sent = ours.clone().scope(client.oneshot(Request::new(()))).await?;
/// // Our trace and flags, the call's own span id.
/// let (trace_id, flags) = (ours.trace_id(), ours.flags());
/// assert!(sent.body().starts_with(&format!("00-{trace_id}-")));
/// assert!(sent.body().ends_with(&format!("-{flags}")));
/// assert!(!sent.body().contains(&ours.span_id().to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct PropagateLayer {
    start_new_traces: Option<bool>,
}

impl PropagateLayer {
    /// Injects the current context; starts a sampled trace when there is none.
    pub const fn new() -> Self {
        Self {
            start_new_traces: Some(true),
        }
    }

    /// Whether a request sent outside any trace (and without its own
    /// `traceparent`) starts a new one; `sampled` sets its flag. `None` sends
    /// such requests unchanged.
    pub const fn start_new_traces(mut self, sampled: Option<bool>) -> Self {
        self.start_new_traces = sampled;
        self
    }
}

impl Default for PropagateLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for PropagateLayer {
    type Service = Propagate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Propagate {
            inner,
            start_new_traces: self.start_new_traces,
        }
    }
}
