//! The id generator that gives exported spans our hop's ids.

use std::cell::Cell;

use opentelemetry::trace::{SpanId as OtelSpanId, TraceId as OtelTraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use crate::propagate::{SpanId, TraceId};

thread_local! {
    /// The ids the span being started right now must get; set by the layers
    /// only for the duration of that start.
    static NEXT_SPAN_ID: Cell<Option<[u8; 8]>> = const { Cell::new(None) };
    static NEXT_TRACE_ID: Cell<Option<[u8; 16]>> = const { Cell::new(None) };
}

/// An OpenTelemetry SDK [`IdGenerator`] that hands the SDK the ids
/// [`TraceLayer`](crate::trace::TraceLayer) and
/// [`PropagateLayer`](crate::propagate::PropagateLayer) chose for the span they
/// are starting, and random ids ([`RandomIdGenerator`]) for every other span.
///
/// Install it on the tracer provider so that an exported span's id is the
/// one in the `span_id` field of your logs, in
/// [`TraceContext::current`](crate::propagate::TraceContext::current), in
/// `traceresponse`, and in the sampling decision already made by the
/// [`Sampler`](crate::trace::Sampler). Without it the layers still export a
/// correct tree (they adopt the SDK's ids for our hop and send those on), but
/// the `trace_id` / `span_id` fields are recorded twice and a new trace's
/// sampling was decided on an id that is then replaced; the first such span
/// logs a warning.
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use palisade_tracing_layer::otel::HopIdGenerator;
///
/// let provider = SdkTracerProvider::builder()
///     .with_id_generator(HopIdGenerator::default())
///     .build();
/// # let _ = provider;
/// ```
#[derive(Clone, Debug, Default)]
pub struct HopIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for HopIdGenerator {
    fn new_trace_id(&self) -> OtelTraceId {
        match NEXT_TRACE_ID.with(Cell::take) {
            Some(bytes) => OtelTraceId::from_bytes(bytes),
            None => self.random.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> OtelSpanId {
        match NEXT_SPAN_ID.with(Cell::take) {
            Some(bytes) => OtelSpanId::from_bytes(bytes),
            None => self.random.new_span_id(),
        }
    }
}

/// Runs `start` (which starts one OpenTelemetry span, synchronously, on this
/// thread) with `trace_id` and `span_id` as the ids a [`HopIdGenerator`]
/// hands out, then forgets them, used or not (a span continuing a trace takes
/// no trace id).
pub(super) fn with_next_ids<R>(trace_id: TraceId, span_id: SpanId, start: impl FnOnce() -> R) -> R {
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            NEXT_SPAN_ID.with(|next| next.set(None));
            NEXT_TRACE_ID.with(|next| next.set(None));
        }
    }
    NEXT_SPAN_ID.with(|next| next.set(Some(span_id.to_bytes())));
    NEXT_TRACE_ID.with(|next| next.set(Some(trace_id.to_bytes())));
    let _forget = Forget;
    start()
}
