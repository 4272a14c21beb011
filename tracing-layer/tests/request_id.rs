//! `RequestIdLayer` over in-process services: which ids are kept, which are
//! replaced, where the id ends up, and that readiness is forwarded.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{HeaderName, HeaderValue, Request, Response};
use palisade_tracing_layer::request_id::{
    MAX_REQUEST_ID_LEN, RequestId, RequestIdLayer, RequestIdValue, RngRequestId, X_REQUEST_ID,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tower::{Layer, Service, ServiceExt, service_fn};

type Seen = Arc<Mutex<Vec<(Option<RequestIdValue>, Vec<HeaderValue>)>>>;

/// An inner service that records the id in the request's extensions and the
/// header lines it received, and answers 200 with no headers.
fn recording(
    seen: Seen,
    header: HeaderName,
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible> + Clone {
    service_fn(move |request: Request<()>| {
        let seen = Arc::clone(&seen);
        let header = header.clone();
        async move {
            let lines = request.headers().get_all(&header).iter().cloned().collect();
            let id = request.extensions().get::<RequestIdValue>().cloned();
            seen.lock().unwrap().push((id, lines));
            Ok(Response::new(()))
        }
    })
}

fn is_made_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn request_with(lines: &[&[u8]]) -> Request<()> {
    let mut request = Request::new(());
    for line in lines {
        request
            .headers_mut()
            .append(X_REQUEST_ID, HeaderValue::from_bytes(line).unwrap());
    }
    request
}

/// Runs one request through the default layer; returns the response header
/// lines and what the inner service saw.
async fn run(request: Request<()>) -> (Vec<String>, Option<RequestIdValue>, Vec<HeaderValue>) {
    let seen = Seen::default();
    let service = RequestIdLayer::new().layer(recording(Arc::clone(&seen), X_REQUEST_ID));
    let response = service.oneshot(request).await.unwrap();
    let echoed = response
        .headers()
        .get_all(X_REQUEST_ID)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let ext = response.extensions().get::<RequestIdValue>().cloned();
    let (inner_id, inner_lines) = seen.lock().unwrap().pop().unwrap();
    assert_eq!(
        ext, inner_id,
        "response extension differs from the request's"
    );
    (echoed, inner_id, inner_lines)
}

#[tokio::test]
async fn an_absent_id_is_made_as_32_lowercase_hex_and_echoed() {
    let (echoed, inner_id, inner_lines) = run(Request::new(())).await;
    assert_eq!(echoed.len(), 1);
    assert!(is_made_id(&echoed[0]), "{echoed:?}");
    let inner_id = inner_id.unwrap();
    assert_eq!(inner_id.as_str(), echoed[0]);
    // The inner service also sees it as the header, once.
    assert_eq!(inner_lines, vec![inner_id.to_header_value()]);
}

#[tokio::test]
async fn made_ids_differ_between_requests_and_clones() {
    let layer = RequestIdLayer::new();
    let seen = Seen::default();
    let service = layer.layer(recording(Arc::clone(&seen), X_REQUEST_ID));
    let mut ids = Vec::new();
    for _ in 0..4 {
        let response = service.clone().oneshot(Request::new(())).await.unwrap();
        ids.push(response.headers()[X_REQUEST_ID].clone());
    }
    ids.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn a_valid_id_is_kept_and_echoed() {
    let longest = "a".repeat(MAX_REQUEST_ID_LEN);
    for valid in [
        "abc-123",
        "0af7651916cd43dd8448eb211c80319c",
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "!~\"#$%&'()*+,./:;<=>?@[\\]^_`{|}",
        "x",
        longest.as_str(),
    ] {
        let (echoed, inner_id, inner_lines) = run(request_with(&[valid.as_bytes()])).await;
        assert_eq!(echoed, vec![valid.to_owned()], "{valid}");
        assert_eq!(inner_id.unwrap().as_str(), valid);
        assert_eq!(inner_lines, vec![HeaderValue::from_str(valid).unwrap()]);
    }
}

#[tokio::test]
async fn an_invalid_id_is_replaced_on_request_and_response() {
    let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
    let cases: &[(&str, &[&[u8]])] = &[
        ("empty", &[b""]),
        ("space", &[b"abc 123"]),
        ("leading space", &[b" abc"]),
        ("tab", &[b"abc\t123"]),
        ("non-ascii", &["caf\u{e9}".as_bytes()]),
        ("obs-text byte", &[b"abc\xff"]),
        ("too long", &[too_long.as_bytes()]),
        ("two lines", &[b"abc", b"def"]),
        ("two equal lines", &[b"abc", b"abc"]),
    ];
    for (name, lines) in cases {
        let (echoed, inner_id, inner_lines) = run(request_with(lines)).await;
        assert_eq!(echoed.len(), 1, "{name}");
        assert!(is_made_id(&echoed[0]), "{name}: {echoed:?}");
        let inner_id = inner_id.unwrap();
        assert_eq!(inner_id.as_str(), echoed[0], "{name}");
        assert_eq!(inner_lines, vec![inner_id.to_header_value()], "{name}");
    }
}

#[tokio::test]
async fn a_custom_header_name_is_read_and_written_and_the_default_ignored() {
    let name = HeaderName::from_static("x-correlation-id");
    let seen = Seen::default();
    let service = RequestIdLayer::new()
        .header_name(name.clone())
        .layer(recording(Arc::clone(&seen), name.clone()));

    let request = Request::builder()
        .header("x-correlation-id", "corr-1")
        .header("x-request-id", "other")
        .body(())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-correlation-id"], "corr-1");
    assert!(response.headers().get("x-request-id").is_none());
    assert_eq!(
        seen.lock().unwrap()[0].0.as_ref().unwrap().as_str(),
        "corr-1"
    );

    // Only `x-request-id` present: not ours, so an id is made.
    let request = Request::builder()
        .header("x-request-id", "other")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert!(is_made_id(
        response.headers()["x-correlation-id"].to_str().unwrap()
    ));
}

#[tokio::test]
async fn the_inner_services_own_response_header_is_left_alone() {
    let service = RequestIdLayer::new().layer(service_fn(|request: Request<()>| async move {
        let ours = request.extensions().get::<RequestIdValue>().cloned();
        let mut response = Response::new(ours);
        response
            .headers_mut()
            .insert(X_REQUEST_ID, HeaderValue::from_static("upstream-7"));
        Ok::<_, Infallible>(response)
    }));
    let request = Request::builder()
        .header("x-request-id", "mine")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let lines: Vec<_> = response.headers().get_all(X_REQUEST_ID).iter().collect();
    assert_eq!(lines, vec!["upstream-7"]);
    // The extensions still carry the request's id, which the handler saw.
    assert_eq!(response.body().as_ref().unwrap().as_str(), "mine");
    assert_eq!(
        response
            .extensions()
            .get::<RequestIdValue>()
            .unwrap()
            .as_str(),
        "mine"
    );
}

#[tokio::test]
async fn an_injected_generator_makes_deterministic_ids() {
    async fn ids(layer: RequestIdLayer<RngRequestId<SmallRng>>) -> Vec<String> {
        let service = layer.layer(recording(Seen::default(), X_REQUEST_ID));
        let mut out = Vec::new();
        for _ in 0..3 {
            // Clones share the generator, so they continue one sequence.
            let response = service.clone().oneshot(Request::new(())).await.unwrap();
            out.push(
                response.headers()[X_REQUEST_ID]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        out
    }
    let seeded =
        || RequestIdLayer::new().make_request_id(RngRequestId::new(SmallRng::seed_from_u64(9)));
    let first = ids(seeded()).await;
    assert_eq!(first, ids(seeded()).await);
    assert!(first.iter().all(|id| is_made_id(id)));
    assert_ne!(first[0], first[1]);
    assert_ne!(first[1], first[2]);
    let other =
        ids(RequestIdLayer::new().make_request_id(RngRequestId::new(SmallRng::seed_from_u64(10))))
            .await;
    assert_ne!(first, other);
}

#[tokio::test]
async fn a_closure_generator_is_used_only_when_the_id_is_missing() {
    let mut n = 0;
    let layer = RequestIdLayer::new().make_request_id(move || {
        n += 1;
        RequestIdValue::try_from(format!("gen-{n}")).unwrap()
    });
    // One service instance: a closure's state is cloned with the service.
    let mut service = layer.layer(recording(Seen::default(), X_REQUEST_ID));
    let mut echoed = Vec::new();
    for request in [
        Request::new(()),
        request_with(&[b"kept"]),
        request_with(&[b"bad id"]),
    ] {
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        echoed.push(
            response.headers()[X_REQUEST_ID]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(echoed, ["gen-1", "kept", "gen-2"]);
}

#[tokio::test]
async fn the_layer_is_clone_and_default_and_the_service_unwraps() {
    let layer = RequestIdLayer::default();
    let copy = layer.clone();
    assert_eq!(copy.get_header_name(), &X_REQUEST_ID);
    let inner = recording(Seen::default(), X_REQUEST_ID);
    let service = RequestId::new(inner);
    let _: &_ = service.get_ref();
    let response = service
        .into_inner()
        .oneshot(Request::new(()))
        .await
        .unwrap();
    // The unwrapped service no longer adds an id.
    assert!(response.headers().get(X_REQUEST_ID).is_none());
}

#[tokio::test]
async fn poll_ready_forwards_the_inner_services_readiness() {
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<Request<()>, Response<()>, _>(RequestIdLayer::new());

    handle.allow(0);
    assert!(service.poll_ready().is_pending());

    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let response = service.call(Request::new(()));
    let (request, send) = handle.next_request().await.unwrap();
    let id = request
        .extensions()
        .get::<RequestIdValue>()
        .unwrap()
        .clone();
    send.send_response(Response::new(()));
    let response = response.await.unwrap();
    assert_eq!(response.headers()[X_REQUEST_ID], id.to_header_value());

    // The one permit is used: not ready again until the inner service is.
    assert!(service.poll_ready().is_pending());
}

#[tokio::test]
async fn inner_errors_pass_through_unchanged() {
    let service = RequestIdLayer::new().layer(service_fn(|_: Request<()>| async {
        Err::<Response<()>, _>("backend down")
    }));
    assert_eq!(
        service.oneshot(Request::new(())).await.unwrap_err(),
        "backend down"
    );
}

#[test]
fn request_id_value_validation() {
    assert_eq!(
        "".parse::<RequestIdValue>().unwrap_err().to_string(),
        "invalid request id: empty"
    );
    assert_eq!(
        "a b".parse::<RequestIdValue>().unwrap_err().to_string(),
        "invalid request id: not visible ascii"
    );
    assert_eq!(
        "a".repeat(129)
            .parse::<RequestIdValue>()
            .unwrap_err()
            .reason(),
        "longer than 128 bytes"
    );
    assert!(RequestIdValue::try_from("a".repeat(128)).is_ok());
    assert!(RequestIdValue::try_from("é").is_err());
    assert!(
        RequestIdValue::from_header_value(&HeaderValue::from_bytes(b"a\xff").unwrap()).is_err()
    );
    let id = RequestIdValue::try_from("ok-1").unwrap();
    assert_eq!(id.to_string(), "ok-1");
    assert_eq!(id.as_ref(), "ok-1");
}

fn sound(bytes: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Header bytes biased towards visible ASCII, so that sound ids, near misses
/// (one space, tab or high byte) and arbitrary bytes all occur.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        1 => Just(b' '),
        1 => Just(b'\t'),
        1 => 0x80u8..=0xff,
        1 => any::<u8>(),
    ];
    prop_oneof![
        proptest::collection::vec(0x21u8..=0x7e, 0..160),
        proptest::collection::vec(byte, 0..160),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #[test]
    fn any_header_bytes_are_kept_exactly_when_sound(
        lines in proptest::collection::vec(header_bytes(), 0..3)
    ) {
        let lines: Vec<Vec<u8>> = lines
            .into_iter()
            .filter(|l| HeaderValue::from_bytes(l).is_ok())
            .collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (echoed, inner_id, inner_lines) = runtime.block_on(run(request_with(&refs)));
        prop_assert_eq!(echoed.len(), 1);
        let inner_id = inner_id.unwrap();
        prop_assert_eq!(inner_id.as_str(), echoed[0].as_str());
        prop_assert_eq!(inner_lines, vec![inner_id.to_header_value()]);
        if lines.len() == 1 && sound(&lines[0]) {
            prop_assert_eq!(echoed[0].as_bytes(), lines[0].as_slice());
        } else {
            prop_assert!(is_made_id(&echoed[0]), "{:?} -> {:?}", lines, echoed);
        }
    }

    #[test]
    fn the_value_type_accepts_exactly_the_sound_bytes(bytes in header_bytes()) {
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            prop_assert_eq!(RequestIdValue::from_header_value(&value).is_ok(), sound(&bytes));
        }
    }
}
