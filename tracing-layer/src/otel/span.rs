//! Tying the `tracing` spans of the layers to their exported OpenTelemetry spans.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    SpanContext, TraceContextExt as _, TraceFlags as OtelTraceFlags, TraceState as OtelTraceState,
};
use opentelemetry::{Context, trace};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::ids::with_next_ids;
use crate::propagate::{SpanId, TraceContext, TraceFlags, TraceId, TraceState};

/// Whether the "no `HopIdGenerator`" warning was logged already.
static WARNED: AtomicBool = AtomicBool::new(false);

/// The parent of a span the layers start: the caller's span (remote, from the
/// incoming `traceparent`) or our own hop (local, for a client call). Its
/// trace id and `tracestate` are those of the child it parents.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parent {
    pub(crate) span_id: SpanId,
    pub(crate) flags: TraceFlags,
    pub(crate) remote: bool,
}

/// Makes `span`'s OpenTelemetry span a child of `parent` (a new root without
/// one) and starts it with `ours`' ids, so the exported span is our hop.
/// Returns our hop's context: `ours`, or — when the SDK gave the span other
/// ids (no [`HopIdGenerator`](super::HopIdGenerator) installed) — `ours` with
/// the exported span's ids, so what we send on names a span that exists.
///
/// Does nothing when `span` is disabled or no `tracing-opentelemetry` layer
/// is installed.
pub(crate) fn start(span: &Span, ours: TraceContext, parent: Option<Parent>) -> TraceContext {
    if span.is_disabled() {
        return ours;
    }
    let parent = match parent {
        Some(parent) => Context::new().with_remote_span_context(span_context(
            ours.trace_id(),
            parent.span_id,
            parent.flags,
            ours.tracestate(),
            parent.remote,
        )),
        // A new trace: not a child of whatever `tracing` span is current.
        None => Context::new(),
    };
    if span.set_parent(parent).is_err() {
        // No OpenTelemetry layer in this subscriber: nothing is exported.
        return ours;
    }
    let exported = with_next_ids(ours.trace_id(), ours.span_id(), || span.context());
    let exported = exported.span();
    let exported = exported.span_context();
    if !exported.is_valid()
        || (exported.trace_id().to_bytes() == ours.trace_id().to_bytes()
            && exported.span_id().to_bytes() == ours.span_id().to_bytes())
    {
        return ours;
    }
    let (Some(trace_id), Some(span_id)) = (
        TraceId::from_bytes(exported.trace_id().to_bytes()),
        SpanId::from_bytes(exported.span_id().to_bytes()),
    ) else {
        return ours;
    };
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the OpenTelemetry tracer provider gave our span ids of its own: install \
             palisade_tracing_layer::otel::HopIdGenerator with `with_id_generator` so that \
             logs, sampling and exported spans agree"
        );
    }
    span.record("trace_id", tracing::field::display(trace_id));
    span.record("span_id", tracing::field::display(span_id));
    ours.with_ids(trace_id, span_id)
}

/// The context of the current `tracing` span's OpenTelemetry span, when it
/// has a valid one: what a client call continues when no `TraceLayer` (nor a
/// [`TraceContext::scope`]) set a context.
pub(crate) fn current() -> Option<TraceContext> {
    let cx = Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    Some(TraceContext::new(
        TraceId::from_bytes(sc.trace_id().to_bytes())?,
        SpanId::from_bytes(sc.span_id().to_bytes())?,
        TraceFlags::from_bits(sc.trace_flags().to_u8()),
        TraceState::parse(&sc.trace_state().header()).unwrap_or_default(),
    ))
}

fn span_context(
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    state: &TraceState,
    remote: bool,
) -> SpanContext {
    // OpenTelemetry checks keys by Level 1's grammar; a list it refuses is
    // not carried on the exported parent (ours still carries it on the wire).
    let state = OtelTraceState::from_key_value(state.iter()).unwrap_or_default();
    SpanContext::new(
        trace::TraceId::from_bytes(trace_id.to_bytes()),
        trace::SpanId::from_bytes(span_id.to_bytes()),
        OtelTraceFlags::new(flags.bits()),
        remote,
        state,
    )
}
