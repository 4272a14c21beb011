//! Extracting the trace context from request headers and injecting it into them.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::baggage::{BAGGAGE, Baggage};
use super::error::{InvalidTraceParent, InvalidTraceState};
use super::ids::{SpanId, TraceFlags, TraceId, encode_lower_hex};
use super::traceparent::TraceParent;
use super::tracestate::{TraceState, trim_ows};

/// The `traceparent` header name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The trace context of one hop: the `traceparent` fields plus the `tracestate` list.
///
/// ```
/// use http::HeaderMap;
/// use palisade_tracing_layer::propagate::{Extracted, TraceContext};
/// use rand::{SeedableRng, rngs::SmallRng};
///
/// let mut incoming = HeaderMap::new();
/// incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".parse()?);
/// incoming.insert("tracestate", "congo=t61rcWkgMzE".parse()?);
///
/// let mut rng = SmallRng::seed_from_u64(7);
/// let ours = TraceContext::extract(&incoming).into_hop(&mut rng);
/// assert_eq!(ours.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_ne!(ours.span_id().to_string(), "00f067aa0ba902b7"); // a new span id for our hop
/// assert!(ours.flags().is_sampled() && ours.flags().is_random_trace_id());
///
/// let mut outgoing = HeaderMap::new();
/// ours.inject(&mut outgoing);
/// assert_eq!(outgoing["tracestate"], "congo=t61rcWkgMzE");
/// assert!(matches!(TraceContext::extract(&outgoing), Extracted::Parent { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: TraceState,
    baggage: Baggage,
}

/// What [`TraceContext::extract`] found in the request headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extracted {
    /// A valid `traceparent`: the caller's context, to continue.
    Parent {
        /// The caller's context (its span id is the caller's hop).
        context: TraceContext,
        /// Why `tracestate` was dropped, if it was invalid. "Failure to parse
        /// `tracestate` MUST NOT affect the parsing of `traceparent`."
        tracestate: Option<InvalidTraceState>,
    },
    /// No `traceparent` header: start a new trace.
    Missing,
    /// An invalid `traceparent` (or several): start a new trace and ignore
    /// `tracestate` ("If the vendor failed to parse `traceparent`, it MUST NOT
    /// attempt to parse `tracestate`").
    Invalid(InvalidTraceParent),
}

impl Extracted {
    /// The caller's context, when there was a valid one.
    #[must_use]
    pub fn parent(&self) -> Option<&TraceContext> {
        match self {
            Self::Parent { context, .. } => Some(context),
            Self::Missing | Self::Invalid(_) => None,
        }
    }

    /// The context for our hop: a [`child`](TraceContext::child) of the
    /// caller's context, or a new root (not sampled) when there was none.
    #[must_use]
    pub fn into_hop(self, rng: &mut impl rand::Rng) -> TraceContext {
        match self {
            Self::Parent { context, .. } => context.into_child(rng),
            Self::Missing | Self::Invalid(_) => TraceContext::new_root(rng, false),
        }
    }
}

impl TraceContext {
    /// A context from its parts.
    #[must_use]
    pub const fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        state: TraceState,
    ) -> Self {
        Self {
            trace_id,
            span_id,
            flags,
            state,
            baggage: Baggage::new(),
        }
    }

    /// A new trace: random trace and span ids, the random-trace-id flag set
    /// (Level 2, "Random Trace ID Flag": every byte of the trace id comes from
    /// `rng`), the sampled flag as given, and an empty `tracestate`.
    #[must_use]
    pub fn new_root(rng: &mut impl rand::Rng, sampled: bool) -> Self {
        let flags = TraceFlags::RANDOM_TRACE_ID.with_sampled(sampled);
        Self::new(
            TraceId::random(rng),
            SpanId::random(rng),
            flags,
            TraceState::new(),
        )
    }

    /// Reads `traceparent` and `tracestate` from request headers.
    ///
    /// Header names match in any case (the `http` crate lowercases them).
    /// HTTP's optional whitespace (SP and HTAB) around each field value is
    /// removed first, as an HTTP parser does (RFC 9110, section 5.5); anything
    /// else is parsed strictly. Several `traceparent` lines are invalid: the
    /// field is not a list, so "combining" them cannot yield one valid value.
    /// Several `tracestate` lines are combined in order.
    #[must_use]
    pub fn extract(headers: &HeaderMap) -> Extracted {
        let mut lines = headers.get_all(TRACEPARENT).iter();
        let Some(first) = lines.next() else {
            return Extracted::Missing;
        };
        if lines.next().is_some() {
            return Extracted::Invalid(InvalidTraceParent::new("more than one traceparent header"));
        }
        let parent = // RFC 9110, section 5.5: "a field value does not include leading or trailing whitespace".
        match TraceParent::parse_bytes(trim_ows(first.as_bytes())) {
            Ok(parent) => parent,
            Err(e) => return Extracted::Invalid(e),
        };
        let lines = headers
            .get_all(TRACESTATE)
            .iter()
            .map(HeaderValue::as_bytes);
        let (state, tracestate) = match TraceState::parse_lines(lines) {
            Ok(state) => (state, None),
            Err(e) => (TraceState::new(), Some(e)),
        };
        let mut context = Self::new(parent.trace_id(), parent.parent_id(), parent.flags(), state);
        context.baggage = Self::extract_baggage(headers);
        Extracted::Parent {
            context,
            tracestate,
        }
    }

    /// The `baggage` header lines of `headers`, combined; an invalid list
    /// (grammar or limits) is dropped whole.
    #[must_use]
    pub fn extract_baggage(headers: &HeaderMap) -> Baggage {
        Baggage::parse_lines(headers.get_all(BAGGAGE).iter().map(HeaderValue::as_bytes))
            .unwrap_or_default()
    }

    /// This context carrying `baggage` (W3C Baggage, sent by [`inject`](Self::inject)).
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    /// The W3C Baggage this context carries.
    #[must_use]
    pub const fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// The context for the next hop: a new span id, the same trace id, flags
    /// and `tracestate`.
    ///
    /// Level 2 keeps the random-trace-id flag of a continued trace unchanged,
    /// and the sampled flag may only change together with the parent id (use
    /// [`TraceContext::with_flags`] on the child).
    #[must_use]
    pub fn child(&self, rng: &mut impl rand::Rng) -> Self {
        Self {
            span_id: SpanId::random(rng),
            ..self.clone()
        }
    }

    /// [`child`](Self::child), consuming this context: `tracestate` and
    /// baggage move instead of being copied.
    #[must_use]
    pub fn into_child(mut self, rng: &mut impl rand::Rng) -> Self {
        self.span_id = SpanId::random(rng);
        self
    }

    /// This context with other flags.
    #[must_use]
    pub fn with_flags(mut self, flags: TraceFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Writes `traceparent` (version `00`) and, when not empty, `tracestate`
    /// and `baggage`, replacing any values already there.
    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.insert(TRACEPARENT, self.traceparent_value());
        headers.remove(TRACESTATE);
        if !self.state.is_empty() {
            // A parsed or inserted list holds only visible ASCII and spaces,
            // which a header value always accepts.
            if let Ok(value) = HeaderValue::from_str(&self.state.to_string()) {
                headers.insert(TRACESTATE, value);
            }
        }
        headers.remove(BAGGAGE);
        if !self.baggage.is_empty()
            && let Ok(value) = HeaderValue::from_str(&self.baggage.to_string())
        {
            headers.insert(BAGGAGE, value);
        }
    }

    fn traceparent_value(&self) -> HeaderValue {
        // `00-{32 hex}-{16 hex}-{2 hex}` straight into a stack buffer: no
        // `String`, no formatting machinery, on every outgoing call.
        let mut buf = [b'-'; 55];
        buf[..2].copy_from_slice(b"00");
        encode_lower_hex(&mut buf[3..35], &self.trace_id.to_bytes());
        encode_lower_hex(&mut buf[36..52], &self.span_id.to_bytes());
        encode_lower_hex(&mut buf[53..55], &[self.flags.bits()]);
        // Only lowercase hex digits and dashes were written.
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// This context with other ids (the exported OpenTelemetry span's, when
    /// the SDK chose its own).
    #[cfg(feature = "otel")]
    pub(crate) fn with_ids(mut self, trace_id: TraceId, span_id: SpanId) -> Self {
        self.trace_id = trace_id;
        self.span_id = span_id;
        self
    }

    /// The trace id.
    #[must_use]
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id of this hop (sent as `parent-id` by [`TraceContext::inject`]).
    #[must_use]
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The flags.
    #[must_use]
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// The `traceparent` value this context sends.
    #[must_use]
    pub const fn traceparent(&self) -> TraceParent {
        TraceParent::new(self.trace_id, self.span_id, self.flags)
    }

    /// The `tracestate` list.
    #[must_use]
    pub const fn tracestate(&self) -> &TraceState {
        &self.state
    }

    /// The `tracestate` list, to add or update our own entry.
    pub fn tracestate_mut(&mut self) -> &mut TraceState {
        &mut self.state
    }
}
