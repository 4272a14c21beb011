//! W3C Baggage: the grammar and limits, and baggage carried from a request
//! to the calls it makes.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use palisade_tracing_layer::propagate::{Baggage, PropagateLayer, TraceContext};
use palisade_tracing_layer::trace::TraceLayer;
use proptest::prelude::*;
use tower::{Layer, ServiceExt, service_fn};

/// Input, what we print for it, and its members decoded.
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

#[test]
fn valid_lists_parse_and_print_canonically() {
    let table: &[Case] = &[
        ("key1=value1", "key1=value1", &[("key1", "value1")]),
        (" a = 1 ,\tb=2 ", "a=1,b=2", &[("a", "1"), ("b", "2")]),
        ("a=", "a=", &[("a", "")]),
        ("a=1,,b=2", "a=1,b=2", &[("a", "1"), ("b", "2")]),
        (
            "user=J%C3%BCrgen%20K",
            "user=J%C3%BCrgen%20K",
            &[("user", "Jürgen K")],
        ),
        ("a=1;p1;p2=x", "a=1;p1;p2=x", &[("a", "1")]),
        ("a=1 ; p1 = x", "a=1;p1=x", &[("a", "1")]),
        ("a=%2c", "a=%2C", &[("a", ",")]),
        ("a=b=c", "a=b=c", &[("a", "b=c")]),
    ];
    for (input, printed, members) in table {
        let baggage: Baggage = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(baggage.to_string(), *printed, "{input}");
        assert_eq!(baggage.iter().collect::<Vec<_>>(), *members, "{input}");
    }
}

#[test]
fn invalid_lists_are_refused() {
    for input in [
        "a",         // no `=`
        "=1",        // empty key
        "a b=1",     // key not a token
        "k(=1",      // separator in the key
        "a=x y",     // space in the value
        "a=\"q\"",   // quote in the value
        "a=x\\y",    // backslash in the value
        "a=%zz",     // bad escape
        "a=%4",      // short escape
        "a=%FF",     // not UTF-8 once decoded
        "a=1;p q",   // bad property key
        "a=1;p=x y", // bad property value
    ] {
        assert!(input.parse::<Baggage>().is_err(), "{input} accepted");
    }
}

#[test]
fn the_limits_are_64_members_and_8192_bytes() {
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(members(64).parse::<Baggage>().unwrap().len(), 64);
    assert!(members(65).parse::<Baggage>().is_err());

    let long = |n: usize| format!("k={}", "v".repeat(n - 2));
    assert!(long(8192).parse::<Baggage>().is_ok());
    assert!(long(8193).parse::<Baggage>().is_err());
    // The limit is on the combined header lines.
    let half = format!("a={}", "v".repeat(4200));
    let half2 = format!("b={}", "v".repeat(4200));
    assert!(Baggage::parse_lines([half.as_bytes(), half2.as_bytes()]).is_err());

    let mut baggage = Baggage::new();
    assert!(baggage.insert("k", &"v".repeat(9000)).is_err());
    assert!(baggage.is_empty());
    assert!(baggage.insert("bad key", "v").is_err());
}

#[test]
fn invalid_baggage_is_dropped_and_several_lines_combine() {
    let mut headers = HeaderMap::new();
    headers.append("baggage", "a=1".parse().unwrap());
    headers.append("baggage", "b=2".parse().unwrap());
    assert_eq!(
        TraceContext::extract_baggage(&headers).to_string(),
        "a=1,b=2"
    );
    headers.append("baggage", "c d=3".parse().unwrap());
    assert!(TraceContext::extract_baggage(&headers).is_empty());
}

/// Baggage reaches the calls a handler makes, even when the request starts a new trace.
#[tokio::test]
async fn baggage_flows_from_the_request_to_outgoing_calls() {
    let downstream = PropagateLayer::new().layer(service_fn(|request: Request<()>| async move {
        Ok::<_, Infallible>(Response::new(request.headers().clone()))
    }));
    let server = TraceLayer::new().layer(service_fn(move |_: Request<()>| {
        let call = downstream
            .clone()
            .oneshot(Request::get("http://next/").body(()).unwrap());
        async move {
            let headers: HeaderMap = call.await.unwrap().into_body();
            let baggage = headers
                .get("baggage")
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(baggage))))
        }
    }));
    for traceparent in [
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        None,
    ] {
        let mut request =
            Request::get("/").header("baggage", "tenant=acme, region=eu%2Dwest;ttl=60");
        if let Some(tp) = traceparent {
            request = request.header("traceparent", tp);
        }
        let response = server
            .clone()
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap();
        let sent = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(sent, "tenant=acme,region=eu-west;ttl=60");
    }
}

fn value() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect())
}

proptest! {
    /// Whatever we emit parses back to the same list.
    #[test]
    fn what_we_emit_parses(entries in proptest::collection::vec(("[a-zA-Z0-9_.*-]{1,10}", value()), 0..20)) {
        let mut baggage = Baggage::new();
        for (k, v) in &entries {
            baggage.insert(k, v).unwrap();
        }
        let printed = baggage.to_string();
        let parsed: Baggage = printed.parse().unwrap();
        prop_assert_eq!(parsed, baggage);
    }

    /// Arbitrary header bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Baggage::parse_lines([bytes.as_slice()]);
    }
}
