//! Properties: no input panics; whatever we emit parses back to the same value.

use http::{HeaderMap, HeaderValue};
use palisade_tracing_layer::propagate::{
    Extracted, SpanId, TraceContext, TraceFlags, TraceId, TraceParent, TraceState,
};
use proptest::prelude::*;

fn trace_id() -> impl Strategy<Value = TraceId> {
    any::<[u8; 16]>().prop_filter_map("all zero", TraceId::from_bytes)
}

fn span_id() -> impl Strategy<Value = SpanId> {
    any::<[u8; 8]>().prop_filter_map("all zero", SpanId::from_bytes)
}

fn key() -> impl Strategy<Value = String> {
    // Level 2: `( lcalpha / DIGIT ) 0*255 ( keychar )`, `@` among the keychars.
    prop_oneof![
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[a-z0-9][a-z0-9_*/@-]{250,255}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    // Printable ASCII except ',' and '=', not ending in a space.
    "[ -+\\--<>-~]{0,40}[!-+\\--<>-~]"
}

fn state() -> impl Strategy<Value = TraceState> {
    proptest::collection::vec((key(), value()), 0..40).prop_map(|members| {
        let mut state = TraceState::new();
        for (k, v) in members.iter().rev() {
            let _ = state.insert(k, v);
        }
        state
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(tp in proptest::collection::vec(any::<u8>(), 0..80), ts in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = TraceParent::parse(&String::from_utf8_lossy(&tp));
        let _ = TraceState::parse_lines([ts.as_slice()]);
        let mut map = HeaderMap::new();
        if let (Ok(tp), Ok(ts)) = (HeaderValue::from_bytes(&tp), HeaderValue::from_bytes(&ts)) {
            map.append("traceparent", tp);
            map.append("tracestate", ts);
        }
        let _ = TraceContext::extract(&map);
    }

    #[test]
    fn near_valid_traceparents_never_panic(prefix in "[0-9a-fA-F -]{0,60}", suffix in "[0-9a-f -]{0,10}") {
        let _ = TraceParent::parse(&format!("{prefix}{suffix}"));
    }

    #[test]
    fn emitted_traceparent_parses_back(t in trace_id(), s in span_id(), f in any::<u8>()) {
        let tp = TraceParent::new(t, s, TraceFlags::from_bits(f));
        let text = tp.to_string();
        prop_assert_eq!(text.len(), 55);
        prop_assert_eq!(TraceParent::parse(&text), Ok(tp));
    }

    #[test]
    fn emitted_tracestate_parses_back(state in state()) {
        prop_assert!(state.len() <= 32);
        prop_assert_eq!(TraceState::parse(&state.to_string()), Ok(state));
    }

    #[test]
    fn inject_then_extract_round_trips(t in trace_id(), s in span_id(), f in any::<u8>(), state in state()) {
        let ctx = TraceContext::new(t, s, TraceFlags::from_bits(f), state);
        let mut map = HeaderMap::new();
        ctx.inject(&mut map);
        // The header written without formatting is the `Display` form.
        prop_assert_eq!(map["traceparent"].to_str().unwrap_or_default(), ctx.traceparent().to_string());
        let expected = Extracted::Parent { context: ctx, tracestate: None };
        prop_assert_eq!(TraceContext::extract(&map), expected);
    }
}
