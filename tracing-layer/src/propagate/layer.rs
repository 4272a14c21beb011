use tower_layer::Layer;

use super::Propagate;

/// Applies [`Propagate`] to a client: every outgoing `http::Request` carries
/// the `traceparent` / `tracestate` of the request being served, so the
/// services it calls continue the trace.
///
/// Which context is sent, first found wins:
///
/// 1. a [`TraceContext`](super::TraceContext) in the outgoing request's extensions;
/// 2. [`TraceContext::current`](super::TraceContext::current): the server
///    `TraceLayer`'s hop while a handler runs, or a
///    [`TraceContext::scope`](super::TraceContext::scope);
/// 3. none: a `traceparent` already on the request is left alone; otherwise a
///    new trace is started (sampled), unless [`PropagateLayer::start_new_traces`]
///    turned that off.
///
/// A context found in 1 or 2 replaces any `traceparent` / `tracestate` lines
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
/// assert_eq!(sent.body(), &ours.traceparent().to_string());
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
