use tower_layer::Layer;

use crate::PathRules;

use super::{
    DefaultMakeSpan, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, Sampler, Trace,
};

/// Applies [`Trace`] to a service: one span per request with the
/// OpenTelemetry HTTP attributes, continuing the caller's W3C trace.
///
/// See the [module docs](super) for what is recorded, and the hook traits for
/// what can be replaced. Setters consume the layer, tower-http style; the
/// hook setters change its type.
#[derive(Clone, Debug)]
#[must_use]
pub struct TraceLayer<
    M = DefaultMakeSpan,
    OnReq = DefaultOnRequest,
    OnRes = DefaultOnResponse,
    OnFail = DefaultOnFailure,
> {
    pub(super) make_span: M,
    pub(super) on_request: OnReq,
    pub(super) on_response: OnRes,
    pub(super) on_failure: OnFail,
    pub(super) options: Options,
}

/// The layer's plain settings, copied into every service.
#[derive(Clone, Debug)]
pub(super) struct Options {
    pub(super) sampler: Sampler,
    pub(super) trace_response: bool,
    pub(super) paths: PathRules,
}

impl TraceLayer {
    /// The defaults: [`DefaultMakeSpan`] (`INFO`), `DEBUG` events on request
    /// and response, an `ERROR` event on failure, new traces sampled.
    pub fn new() -> Self {
        Self {
            make_span: DefaultMakeSpan::new(),
            on_request: DefaultOnRequest,
            on_response: DefaultOnResponse,
            on_failure: DefaultOnFailure,
            options: Options {
                sampler: Sampler::always_on().parent_based(),
                trace_response: false,
                paths: PathRules::default(),
            },
        }
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<M, OnReq, OnRes, OnFail> TraceLayer<M, OnReq, OnRes, OnFail> {
    /// Whether a trace this server starts (no valid incoming `traceparent`)
    /// is sampled; a continued trace keeps the caller's flag. Shorthand for
    /// [`sampler`](Self::sampler) with `Sampler::always_on().parent_based()`
    /// (the default) or `Sampler::always_off().parent_based()`.
    pub fn sample_new_traces(mut self, sampled: bool) -> Self {
        let root = if sampled {
            Sampler::always_on()
        } else {
            Sampler::always_off()
        };
        self.options.sampler = root.parent_based();
        self
    }

    /// Decides which requests are sampled with `sampler`. The decision
    /// becomes our hop's `sampled` flag (what a `PropagateLayer` sends on and
    /// what `traceresponse` shows); an unsampled request gets no span and its
    /// hooks are not called. Default: `Sampler::always_on().parent_based()`.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.options.sampler = sampler;
        self
    }

    /// Whether responses carry our hop's context in a `traceresponse` header
    /// (`00-{trace-id}-{our span id}-{flags}`, Trace Context Level 2's draft
    /// response header), so a caller can find the server side of its request.
    /// Off by default: it tells callers your trace ids. A `traceresponse` the
    /// inner service set is left alone.
    pub fn trace_response(mut self, on: bool) -> Self {
        self.options.trace_response = on;
        self
    }

    /// Skips or groups requests by path: a skipped request gets no span, no
    /// hooks and no trace context; a grouped one is named and labelled with
    /// its group as `http.route`. See [`PathRules`].
    pub fn paths(mut self, rules: PathRules) -> Self {
        self.options.paths = rules;
        self
    }

    /// Makes spans with `make_span` instead.
    pub fn make_span_with<M2>(self, make_span: M2) -> TraceLayer<M2, OnReq, OnRes, OnFail> {
        TraceLayer {
            make_span,
            on_request: self.on_request,
            on_response: self.on_response,
            on_failure: self.on_failure,
            options: self.options,
        }
    }

    /// Calls `on_request` when a request arrives instead.
    pub fn on_request<OnReq2>(self, on_request: OnReq2) -> TraceLayer<M, OnReq2, OnRes, OnFail> {
        TraceLayer {
            make_span: self.make_span,
            on_request,
            on_response: self.on_response,
            on_failure: self.on_failure,
            options: self.options,
        }
    }

    /// Calls `on_response` when the response head is ready instead.
    pub fn on_response<OnRes2>(self, on_response: OnRes2) -> TraceLayer<M, OnReq, OnRes2, OnFail> {
        TraceLayer {
            make_span: self.make_span,
            on_request: self.on_request,
            on_response,
            on_failure: self.on_failure,
            options: self.options,
        }
    }

    /// Calls `on_failure` on a 5xx, a service error or a body error instead.
    pub fn on_failure<OnFail2>(self, on_failure: OnFail2) -> TraceLayer<M, OnReq, OnRes, OnFail2> {
        TraceLayer {
            make_span: self.make_span,
            on_request: self.on_request,
            on_response: self.on_response,
            on_failure,
            options: self.options,
        }
    }
}

impl<S, M: Clone, OnReq: Clone, OnRes: Clone, OnFail: Clone> Layer<S>
    for TraceLayer<M, OnReq, OnRes, OnFail>
{
    type Service = Trace<S, M, OnReq, OnRes, OnFail>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace {
            inner,
            make_span: self.make_span.clone(),
            on_request: self.on_request.clone(),
            on_response: self.on_response.clone(),
            on_failure: self.on_failure.clone(),
            options: self.options.clone(),
        }
    }
}
