//! `MetricsLayer` / `ClientMetricsLayer` scraped as Prometheus text: names,
//! units, buckets, labels, durations to the end of the body, bounded series.
//!
//! Each test installs its own recorder for its thread only
//! (`set_default_local_recorder`) and runs on a current-thread runtime with a
//! paused clock, so durations are exact.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use palisade_tracing_layer::HttpRoute;
use palisade_tracing_layer::metrics::{ClientMetricsLayer, DURATION_BUCKETS, MetricsLayer};
use tower::{Layer, ServiceExt, service_fn};

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(Matcher::Prefix("http_".into()), &DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// The lines of `text` for metric `name` (exactly, up to its labels or value).
fn lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .collect()
}

fn routed(path: &str, route: Option<&'static str>) -> Request<()> {
    let mut request = Request::get(path).body(()).unwrap();
    if let Some(route) = route {
        request.extensions_mut().insert(HttpRoute::new(route));
    }
    request
}

fn answer(
    status: StatusCode,
    after: Duration,
) -> impl tower::Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone
{
    service_fn(move |_: Request<()>| async move {
        tokio::time::sleep(after).await;
        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
        *response.status_mut() = status;
        Ok::<_, Infallible>(response)
    })
}

#[tokio::test(start_paused = true)]
async fn server_duration_has_the_otel_name_unit_buckets_and_labels() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().layer(answer(StatusCode::OK, Duration::from_millis(300)));

    let response = service
        .oneshot(routed("/orders/42", Some("/orders/{id}")))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();

    let text = handle.render();
    let name = "http_server_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    assert!(
        text.contains(&format!("# HELP {name} Duration of HTTP server requests.")),
        "{text}"
    );
    let labels =
        r#"http_request_method="GET",http_route="/orders/{id}",http_response_status_code="200""#;
    let buckets: Vec<String> = lines(&text, &format!("{name}_bucket"))
        .into_iter()
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = DURATION_BUCKETS
        .iter()
        .map(|le| {
            let count = u8::from(*le >= 0.3);
            format!("{name}_bucket{{{labels},le=\"{le}\"}} {count}")
        })
        .chain([format!("{name}_bucket{{{labels},le=\"+Inf\"}} 1")])
        .collect();
    assert_eq!(buckets, expected);
    assert_eq!(
        lines(&text, &format!("{name}_sum")),
        [format!("{name}_sum{{{labels}}} 0.3")]
    );
    assert_eq!(
        lines(&text, &format!("{name}_count")),
        [format!("{name}_count{{{labels}}} 1")]
    );
    // The raw path is nowhere.
    assert!(!text.contains("/orders/42"));
}

/// A body whose frames arrive when the test says so.
struct Slow(VecDeque<Bytes>);

impl Body for Slow {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

#[tokio::test(start_paused = true)]
async fn the_duration_ends_with_the_body_and_active_requests_count_until_then() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().layer(service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Slow(VecDeque::from([
            Bytes::from_static(b"a"),
            Bytes::from_static(b"b"),
        ]))))
    }));

    let response = service
        .oneshot(routed("/stream", Some("/stream")))
        .await
        .unwrap();
    let text = handle.render();
    assert!(
        text.contains(
            r#"http_server_active_requests{http_request_method="GET",url_scheme="http"} 1"#
        ),
        "{text}"
    );
    assert!(lines(&text, "http_server_request_duration_seconds_count").is_empty());

    // The head was sent at once; the body takes 2 s.
    let mut body = response.into_body();
    body.frame().await.unwrap().unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    body.frame().await.unwrap().unwrap();
    assert!(body.frame().await.is_none());

    let text = handle.render();
    assert!(
        text.contains(
            r#"http_server_active_requests{http_request_method="GET",url_scheme="http"} 0"#
        ),
        "{text}"
    );
    let labels =
        r#"http_request_method="GET",http_route="/stream",http_response_status_code="200""#;
    assert!(
        text.contains(&format!(
            r#"http_server_request_duration_seconds_bucket{{{labels},le="1"}} 0"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"http_server_request_duration_seconds_bucket{{{labels},le="2.5"}} 1"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_sum{{{labels}}} 2\n"
        )),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_body_records_the_duration_up_to_the_drop() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().layer(service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Slow(VecDeque::from([Bytes::from_static(
            b"a",
        )]))))
    }));
    let response = service
        .oneshot(routed("/stream", Some("/stream")))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_millis(600)).await;
    drop(response);

    let text = handle.render();
    let labels =
        r#"http_request_method="GET",http_route="/stream",http_response_status_code="200""#;
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_sum{{{labels}}} 0.6\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "http_server_active_requests{http_request_method=\"GET\",url_scheme=\"http\"} 0"
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn unmatched_routes_share_one_series_whatever_the_path() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().layer(answer(StatusCode::NOT_FOUND, Duration::ZERO));

    for i in 0..50 {
        let response = service
            .clone()
            .oneshot(routed(&format!("/scan/{i}.php"), None))
            .await
            .unwrap();
        response.into_body().collect().await.unwrap();
    }

    let text = handle.render();
    let counts = lines(&text, "http_server_request_duration_seconds_count");
    assert_eq!(
        counts,
        [
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="_UNMATCHED",http_response_status_code="404"} 50"#
        ]
    );
    assert!(!text.contains("scan"));
    // A 4xx is not a server failure.
    assert!(!text.contains("error_type"));
}

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by peer 10.1.2.3")
    }
}

#[tokio::test(start_paused = true)]
async fn failures_carry_a_low_cardinality_error_type() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let layer = MetricsLayer::new();

    let response = layer
        .layer(answer(StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO))
        .oneshot(routed("/pay", Some("/pay")))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();
    let failing = layer.layer(service_fn(|_: Request<()>| async {
        Err::<Response<Full<Bytes>>, _>(Broken)
    }));
    assert!(failing.oneshot(routed("/pay", Some("/pay"))).await.is_err());

    let text = handle.render();
    let counts = lines(&text, "http_server_request_duration_seconds_count");
    assert!(counts.contains(&r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/pay",http_response_status_code="503",error_type="503"} 1"#), "{text}");
    assert!(counts.contains(&r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/pay",error_type="_OTHER"} 1"#), "{text}");
    assert!(!text.contains("10.1.2.3"), "never the error message");
    assert!(
        text.contains(
            r#"http_server_active_requests{http_request_method="GET",url_scheme="http"} 0"#
        )
    );
}

#[tokio::test(start_paused = true)]
async fn label_sets_past_the_cap_go_to_one_overflow_series() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let layer = MetricsLayer::new().max_series(NonZeroUsize::new(3).unwrap());
    let service = layer.layer(answer(StatusCode::OK, Duration::ZERO));

    // The active gauge's (GET, http) set takes one slot; two routes fit.
    for route in ["/a", "/b", "/c", "/d", "/a"] {
        let response = service
            .clone()
            .oneshot(routed(route, Some(route)))
            .await
            .unwrap();
        response.into_body().collect().await.unwrap();
    }

    let text = handle.render();
    let counts = lines(&text, "http_server_request_duration_seconds_count");
    assert_eq!(counts.len(), 3, "{text}");
    assert!(counts.contains(&r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/a",http_response_status_code="200"} 2"#), "{text}");
    assert!(counts.contains(&r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/b",http_response_status_code="200"} 1"#), "{text}");
    assert!(
        counts.contains(
            &r#"http_server_request_duration_seconds_count{otel_metric_overflow="true"} 2"#
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn client_duration_is_labelled_by_server_address_and_4xx_fail() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let client =
        ClientMetricsLayer::new().layer(answer(StatusCode::NOT_FOUND, Duration::from_millis(40)));

    let request = Request::get("http://inventory.internal:8080/items/9")
        .body(())
        .unwrap();
    let response = client.oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let text = handle.render();
    let name = "http_client_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    let labels = r#"http_request_method="GET",server_address="inventory.internal",http_response_status_code="404",error_type="404""#;
    assert!(
        text.contains(&format!(r#"{name}_bucket{{{labels},le="0.025"}} 0"#)),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"{name}_bucket{{{labels},le="0.05"}} 1"#)),
        "{text}"
    );
    assert!(text.contains(r#"http_client_active_requests{http_request_method="GET",server_address="inventory.internal"} 0"#), "{text}");
    assert!(!text.contains("/items/9"));
}

#[tokio::test(start_paused = true)]
async fn response_body_sizes_are_counted_as_the_body_streams_when_asked() {
    let recorder = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(
            Matcher::Full("http_server_response_body_size".into()),
            &[4.0, 16.0, 1024.0],
        )
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    // The body is 5 bytes in two frames; the header claims 1000.
    let lying = service_fn(|_: Request<()>| async {
        let mut response = Response::new(Slow(VecDeque::from([
            Bytes::from_static(b"abc"),
            Bytes::from_static(b"de"),
        ])));
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, "1000".parse().unwrap());
        Ok::<_, Infallible>(response)
    });

    let off = MetricsLayer::new().layer(lying);
    let response = off.oneshot(routed("/f", Some("/f"))).await.unwrap();
    response.into_body().collect().await.unwrap();
    assert!(!handle.render().contains("body_size"));

    let on = MetricsLayer::new().body_sizes(true).layer(lying);
    let response = on.clone().oneshot(routed("/f", Some("/f"))).await.unwrap();
    response.into_body().collect().await.unwrap();
    // A body dropped after its first frame counts what was sent.
    let response = on.oneshot(routed("/f", Some("/f"))).await.unwrap();
    let mut body = response.into_body();
    body.frame().await.unwrap().unwrap();
    drop(body);

    let text = handle.render();
    let name = "http_server_response_body_size_bytes";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    assert!(
        text.contains(&format!(
            "# HELP {name} Size of HTTP server response bodies."
        )),
        "{text}"
    );
    let labels = r#"http_request_method="GET",http_route="/f",http_response_status_code="200""#;
    assert_eq!(
        lines(&text, &format!("{name}_bucket")),
        [
            format!("{name}_bucket{{{labels},le=\"4\"}} 1"),
            format!("{name}_bucket{{{labels},le=\"16\"}} 2"),
            format!("{name}_bucket{{{labels},le=\"1024\"}} 2"),
            format!("{name}_bucket{{{labels},le=\"+Inf\"}} 2"),
        ],
        "{text}"
    );
    assert_eq!(
        lines(&text, &format!("{name}_sum")),
        [format!("{name}_sum{{{labels}}} 8")]
    );
}

#[tokio::test(start_paused = true)]
async fn client_response_body_sizes_are_counted_too() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = ClientMetricsLayer::new()
        .body_sizes(true)
        .layer(answer(StatusCode::OK, Duration::ZERO));
    let request = Request::get("http://api.example/x").body(()).unwrap();
    let response = service.oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();
    let text = handle.render();
    assert!(
        text.contains(r#"http_client_response_body_size_bytes_sum{http_request_method="GET",server_address="api.example",http_response_status_code="200"} 2"#),
        "{text}"
    );
}

/// Reads the whole request body, answers its length.
fn reading() -> impl tower::Service<
    Request<palisade_tracing_layer::metrics::MetricsRequestBody<Slow>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
> + Clone {
    service_fn(
        |request: Request<palisade_tracing_layer::metrics::MetricsRequestBody<Slow>>| async move {
            let body = request.into_body().collect().await.unwrap().to_bytes();
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                body.len().to_string(),
            ))))
        },
    )
}

fn with_body(uri: &str, frames: &[&'static [u8]], content_length: &str) -> Request<Slow> {
    let frames = frames.iter().map(|f| Bytes::from_static(f)).collect();
    let mut request = Request::post(uri)
        .header(http::header::CONTENT_LENGTH, content_length)
        .body(Slow(frames))
        .unwrap();
    request.extensions_mut().insert(HttpRoute::new("/upload"));
    request
}

#[tokio::test(start_paused = true)]
async fn request_body_sizes_are_counted_as_the_service_reads_the_body() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().request_body_sizes().layer(reading());

    // 7 bytes in three frames; the header claims 1000 and is not trusted.
    let request = with_body("/upload", &[b"abc", b"d", b"efg"], "1000");
    let response = service.clone().oneshot(request).await.unwrap();
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "7"
    );
    // An empty body is a sample of 0.
    let request = with_body("/upload", &[], "0");
    let response = service.oneshot(request).await.unwrap();
    response.into_body().collect().await.unwrap();

    let text = handle.render();
    let name = "http_server_request_body_size_bytes";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    assert!(
        text.contains(&format!(
            "# HELP {name} Size of HTTP server request bodies."
        )),
        "{text}"
    );
    let labels =
        r#"http_request_method="POST",http_route="/upload",http_response_status_code="200""#;
    assert_eq!(
        lines(&text, &format!("{name}_sum")),
        [format!("{name}_sum{{{labels}}} 7")],
        "{text}"
    );
    assert_eq!(
        lines(&text, &format!("{name}_count")),
        [format!("{name}_count{{{labels}}} 2")]
    );
    // The response side is not measured unless asked for.
    assert!(!text.contains("response_body_size"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn request_body_sizes_carry_the_failure_labels_and_count_only_what_was_read() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    // Reads one frame of the body, then fails with a 503.
    let partial = service_fn(
        |request: Request<palisade_tracing_layer::metrics::MetricsRequestBody<Slow>>| async move {
            let mut body = request.into_body();
            body.frame().await.unwrap().unwrap();
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, Infallible>(response)
        },
    );
    let service = MetricsLayer::new().request_body_sizes().layer(partial);
    let response = service
        .oneshot(with_body("/upload", &[b"abcd", b"efgh"], "8"))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();

    let text = handle.render();
    assert!(
        text.contains(r#"http_server_request_body_size_bytes_sum{http_request_method="POST",http_route="/upload",http_response_status_code="503",error_type="503"} 4"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn client_request_body_sizes_are_counted_too() {
    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let client = ClientMetricsLayer::new()
        .request_body_sizes()
        .layer(reading());
    let response = client
        .oneshot(with_body(
            "http://api.example/upload",
            &[b"hello", b"!"],
            "6",
        ))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();

    let text = handle.render();
    assert!(
        text.contains(r#"http_client_request_body_size_bytes_sum{http_request_method="POST",server_address="api.example",http_response_status_code="200"} 6"#),
        "{text}"
    );
}

#[cfg(feature = "axum")]
#[tokio::test(start_paused = true)]
async fn request_body_sizes_work_under_an_axum_router() {
    use axum::routing::post;

    let (recorder, handle) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let app: axum::Router = axum::Router::new()
        .route(
            "/orders",
            post(|body: String| async move { body.len().to_string() }),
        )
        .layer(MetricsLayer::new().request_body_sizes());

    let request = Request::post("/orders")
        .body(axum::body::Body::from("hello"))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "5"
    );

    let text = handle.render();
    assert!(
        text.contains(r#"http_server_request_body_size_bytes_sum{http_request_method="POST",http_route="/orders",http_response_status_code="200"} 5"#),
        "{text}"
    );
}
