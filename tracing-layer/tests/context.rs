//! `TraceContext::extract`, `child`, `new_root` and `inject` over real header maps.

use http::{HeaderMap, HeaderValue};
use palisade_tracing_layer::propagate::{Extracted, TraceContext, TraceFlags};
use rand::SeedableRng;
use rand::rngs::SmallRng;

const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name: http::HeaderName = name
            .parse()
            .unwrap_or_else(|_| http::HeaderName::from_static("x-bad"));
        let value =
            HeaderValue::from_bytes(value).unwrap_or_else(|_| HeaderValue::from_static("bad"));
        map.append(name, value);
    }
    map
}

fn rng() -> SmallRng {
    SmallRng::seed_from_u64(42)
}

#[test]
fn a_valid_traceparent_is_continued_with_a_new_span_id() {
    let extracted = TraceContext::extract(&headers(&[
        ("traceparent", TP.as_bytes()),
        ("tracestate", b"congo=t61rcWkgMzE"),
    ]));
    let parent = extracted.parent().cloned();
    assert_eq!(
        parent.as_ref().map(|p| p.span_id().to_string()).as_deref(),
        Some("b7ad6b7169203331")
    );
    let ours = extracted.into_hop(&mut rng());
    assert_eq!(ours.trace_id().to_string(), TRACE);
    assert_ne!(ours.span_id().to_string(), "b7ad6b7169203331");
    assert_eq!(ours.flags(), TraceFlags::SAMPLED);
    assert_eq!(ours.tracestate().get("congo"), Some("t61rcWkgMzE"));
}

#[test]
fn header_names_match_in_any_case() {
    // The http crate lowercases names; a peer sending `TraceParent` is still read.
    let extracted = TraceContext::extract(&headers(&[
        ("TraceParent", TP.as_bytes()),
        ("TRACESTATE", b"a=1"),
    ]));
    assert_eq!(
        extracted.parent().map(|p| p.tracestate().get("a")),
        Some(Some("1"))
    );
}

#[test]
fn ows_around_the_field_value_is_ignored_as_http_does() {
    for value in [
        format!(" {TP}"),
        format!("{TP} "),
        format!("\t{TP}\t"),
        format!(" \t{TP} \t"),
    ] {
        let extracted = TraceContext::extract(&headers(&[("traceparent", value.as_bytes())]));
        assert_eq!(
            extracted
                .parent()
                .map(|p| p.trace_id().to_string())
                .as_deref(),
            Some(TRACE),
            "{value:?}"
        );
    }
}

#[test]
fn an_invalid_traceparent_restarts_the_trace_and_drops_tracestate() {
    let bad = TP.to_uppercase();
    let extracted = TraceContext::extract(&headers(&[
        ("traceparent", bad.as_bytes()),
        ("tracestate", b"congo=t61rcWkgMzE"),
    ]));
    let reason = match &extracted {
        Extracted::Invalid(e) => e.reason(),
        _ => "",
    };
    assert_eq!(reason, "trace-id is not 32 lowercase hex digits");
    let ours = extracted.into_hop(&mut rng());
    assert_ne!(ours.trace_id().to_string(), TRACE);
    assert!(ours.tracestate().is_empty());
    assert!(ours.flags().is_random_trace_id());
    assert!(!ours.flags().is_sampled());
}

#[test]
fn duplicate_traceparent_headers_restart_the_trace() {
    let other = "00-11111111111111111111111111111111-2222222222222222-01";
    for pair in [[TP, other], [TP, TP]] {
        let extracted = TraceContext::extract(&headers(&[
            ("traceparent", pair[0].as_bytes()),
            ("traceparent", pair[1].as_bytes()),
        ]));
        assert!(
            matches!(&extracted, Extracted::Invalid(e) if e.reason() == "more than one traceparent header")
        );
        let ours = extracted.into_hop(&mut rng());
        assert_ne!(ours.trace_id().to_string(), TRACE);
        assert_ne!(
            ours.trace_id().to_string(),
            "11111111111111111111111111111111"
        );
    }
}

#[test]
fn a_missing_traceparent_starts_a_new_trace_and_ignores_tracestate() {
    let extracted = TraceContext::extract(&headers(&[("tracestate", b"congo=t61rcWkgMzE")]));
    assert_eq!(extracted, Extracted::Missing);
    let ours = extracted.into_hop(&mut rng());
    assert!(ours.tracestate().is_empty());
    assert_eq!(ours.flags(), TraceFlags::RANDOM_TRACE_ID);
}

#[test]
fn an_invalid_tracestate_is_dropped_but_the_traceparent_kept() {
    let extracted = TraceContext::extract(&headers(&[
        ("traceparent", TP.as_bytes()),
        ("tracestate", b"a=1,a=2"),
    ]));
    match extracted {
        Extracted::Parent {
            context,
            tracestate,
        } => {
            assert_eq!(context.trace_id().to_string(), TRACE);
            assert!(context.tracestate().is_empty());
            assert_eq!(
                tracestate.map(|e| e.to_string()).as_deref(),
                Some("invalid tracestate: duplicate key")
            );
        }
        other => panic!("expected a parent, got {other:?}"),
    }
}

#[test]
fn several_tracestate_lines_are_combined_and_sent_as_one() {
    let map = headers(&[
        ("traceparent", TP.as_bytes()),
        ("tracestate", b"a=1"),
        ("tracestate", b"b=2, c=3"),
    ]);
    let ours = TraceContext::extract(&map).into_hop(&mut rng());
    let mut out = HeaderMap::new();
    ours.inject(&mut out);
    assert_eq!(
        out.get_all("tracestate").iter().collect::<Vec<_>>(),
        ["a=1,b=2,c=3"]
    );
}

#[test]
fn flags_are_preserved_through_a_hop() {
    for flags in ["00", "01", "02", "03"] {
        let tp = format!("00-{TRACE}-b7ad6b7169203331-{flags}");
        let ours =
            TraceContext::extract(&headers(&[("traceparent", tp.as_bytes())])).into_hop(&mut rng());
        let mut out = HeaderMap::new();
        ours.inject(&mut out);
        let sent = out
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            sent.starts_with(&format!("00-{TRACE}-")) && sent.ends_with(&format!("-{flags}")),
            "{sent}"
        );
        assert!(!sent.contains("b7ad6b7169203331"));
    }
}

#[test]
fn inject_replaces_old_headers_and_omits_an_empty_tracestate() {
    let mut out = headers(&[
        ("traceparent", b"stale"),
        ("traceparent", b"stale2"),
        ("tracestate", b"old=1"),
    ]);
    let root = TraceContext::new_root(&mut rng(), true);
    root.inject(&mut out);
    assert_eq!(out.get_all("traceparent").iter().count(), 1);
    assert!(out.get("tracestate").is_none());
    assert_eq!(out.get("traceparent").map(|v| v.as_bytes().len()), Some(55));
    let back = TraceContext::extract(&out);
    assert_eq!(
        back.parent().map(TraceContext::traceparent),
        Some(root.traceparent())
    );
    assert_eq!(root.flags(), TraceFlags::SAMPLED.with_random_trace_id(true));
}

#[test]
fn roots_and_children_from_the_same_seed_are_reproducible_and_distinct() {
    let (a, b) = (
        TraceContext::new_root(&mut rng(), false),
        TraceContext::new_root(&mut rng(), false),
    );
    assert_eq!(a, b);
    let mut r = rng();
    let (c1, c2) = (a.child(&mut r), a.child(&mut r));
    assert_ne!(c1.span_id(), c2.span_id());
    assert_eq!((c1.trace_id(), c1.flags()), (a.trace_id(), a.flags()));
}
