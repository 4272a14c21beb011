//! `PathRules`: skipped paths get no span and no metrics; grouped paths share
//! one route label in span names and metric series.

#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use palisade_tracing_layer::metrics::{DURATION_BUCKETS, MetricsLayer};
use palisade_tracing_layer::propagate::TraceContext;
use palisade_tracing_layer::trace::TraceLayer;
use palisade_tracing_layer::{HttpRoute, PathRules};
use support::capture::Capture;
use tower::{Layer, ServiceExt, service_fn};

fn rules() -> PathRules {
    PathRules::builder()
        .skip("/health/*")
        .skip("/metrics")
        .group("/assets/*", "/assets/*")
        .build()
        .unwrap()
}

/// Answers with whether the handler saw a trace context.
fn service()
-> impl tower::Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| async {
        let traced = TraceContext::current().is_some();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(traced.to_string()))))
    })
}

async fn call<S, B>(service: S, path: &str) -> String
where
    S: tower::Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body<Error = Infallible>,
{
    let mut request = Request::get(path).body(()).unwrap();
    // A router's route, which a group overrides.
    request.extensions_mut().insert(HttpRoute::new("/{*rest}"));
    let response = service.oneshot(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

async fn call_traced(path: &str) -> String {
    call(TraceLayer::new().paths(rules()).layer(service()), path).await
}

#[tokio::test]
async fn skipped_paths_get_no_span_and_no_context() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    assert_eq!(call_traced("/health/ready").await, "false");
    assert_eq!(call_traced("/health").await, "false");
    assert_eq!(call_traced("/metrics").await, "false");
    assert!(capture.spans().is_empty(), "{:#?}", capture.spans());

    // A path that only looks like a skipped one is traced.
    assert_eq!(call_traced("/healthz").await, "true");
    let span = capture.only();
    assert_eq!(span.name, "HTTP request");
    assert_eq!(span.field("otel.name"), Some("GET /{*rest}"));
}

#[tokio::test]
async fn grouped_paths_share_one_span_name() {
    let (capture, subscriber) = Capture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    assert_eq!(call_traced("/assets/app.js").await, "true");
    assert_eq!(call_traced("/assets/img/logo.png").await, "true");
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    for span in spans {
        assert_eq!(span.field("otel.name"), Some("GET /assets/*"));
        assert_eq!(span.field("http.route"), Some("/assets/*"));
        assert!(span.closed);
    }
}

#[tokio::test(start_paused = true)]
async fn skipped_paths_are_not_measured_and_groups_share_a_series() {
    let recorder = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(Matcher::Prefix("http_".into()), &DURATION_BUCKETS)
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let service = MetricsLayer::new().paths(rules()).layer(service());

    for path in [
        "/health/live",
        "/metrics",
        "/assets/a.css",
        "/assets/b/c.js",
        "/orders",
    ] {
        call(service.clone(), path).await;
    }

    let text = handle.render();
    // The exporter renders label sets in no fixed order.
    let mut counts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count"))
        .collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        [
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/assets/*",http_response_status_code="200"} 2"#,
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/{*rest}",http_response_status_code="200"} 1"#,
        ],
        "{text}"
    );
    // Skipped requests never counted as active either.
    assert!(
        text.contains(
            r#"http_server_active_requests{http_request_method="GET",url_scheme="http"} 0"#
        ),
        "{text}"
    );
}

#[test]
fn invalid_patterns_are_refused_with_the_pattern() {
    let error = PathRules::builder()
        .skip("/metrics")
        .skip("health/*")
        .build()
        .unwrap_err();
    assert_eq!(error.pattern(), "health/*");
    assert!(error.to_string().contains("must start with `/`"));
}
