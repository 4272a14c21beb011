//! The server tracing layers' cost per request, peers side by side.
//!
//! One request is: build an `http::Request` carrying a valid `traceparent`,
//! `ready().await` + `call().await` it through the stack, then read the
//! response body to its end (so every span closes and every duration is
//! recorded). The handler is the same trivial one for every contender: it
//! makes one in-memory "downstream call" to a ready service and answers
//! `200` with a small body. In the `palisade_full` contender that downstream
//! call goes through `PropagateLayer` (a client span and `traceparent`
//! injected); for the others it is the bare service.
//!
//! Contenders, each without a subscriber and with a `tracing-subscriber` fmt
//! subscriber writing every span and event (`DEBUG`) to `io::sink`:
//!
//! - `no_layer`: the handler alone;
//! - `tower_http`: tower-http's `TraceLayer::new_for_http()`;
//! - `palisade`: our `TraceLayer` alone;
//! - `palisade_full`: our `TraceLayer` + `MetricsLayer` (into a Prometheus
//!   recorder) + `PropagateLayer` on the downstream call.
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // benches measure wall-clock time on purpose

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use palisade_benches::{ALLOCATION_CALLS, current_thread, report_allocations};
use palisade_tracing_layer::metrics::{DURATION_BUCKETS, MetricsLayer};
use palisade_tracing_layer::propagate::PropagateLayer;
use palisade_tracing_layer::trace::TraceLayer;
use tokio::runtime::Runtime;
use tower::{Layer, Service, ServiceExt, service_fn};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The handler: one in-memory downstream call through `client`, then `200`.
fn handler<C>(
    client: C,
) -> impl Service<Request<Empty<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone
where
    C: Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>, Error = Infallible>
        + Clone,
{
    service_fn(move |_request: Request<Empty<Bytes>>| {
        let client = client.clone();
        async move {
            let downstream = Request::get("http://inventory.internal/items").body(Empty::new());
            if let Ok(downstream) = downstream {
                let _ = black_box(client.oneshot(downstream).await);
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    })
}

/// The downstream service: always ready, answers at once.
fn downstream()
-> impl Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>, Error = Infallible> + Clone
{
    service_fn(|_: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Empty::new()))
    })
}

/// `iters` requests through `svc`, each read to the end of its body.
async fn drive_http<S, B>(svc: &mut S, iters: u64) -> Duration
where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>>,
    B: http_body::Body,
{
    let start = Instant::now();
    for _ in 0..iters {
        let request = Request::get("/items/42")
            .header("host", "shop.example")
            .header("traceparent", TRACEPARENT)
            .body(Empty::new());
        let Ok(request) = request else { continue };
        if let Ok(ready) = svc.ready().await
            && let Ok(response) = ready.call(request).await
        {
            let _ = black_box(response.into_body().collect().await.is_ok());
        }
    }
    start.elapsed()
}

fn bench_http<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    rt: &Runtime,
    id: &str,
    mut svc: S,
) where
    S: Service<Request<Empty<Bytes>>, Response = Response<B>>,
    B: http_body::Body,
{
    rt.block_on(drive_http(&mut svc, 16));
    let info = allocation_counter::measure(|| {
        rt.block_on(drive_http(&mut svc, ALLOCATION_CALLS));
    });
    #[allow(clippy::cast_precision_loss)] // counts are far below 2^52
    let per_call = info.count_total as f64 / ALLOCATION_CALLS as f64;
    report_allocations(group_name, id, per_call);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| rt.block_on(drive_http(&mut svc, iters)));
    });
}

fn contenders(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, rt: &Runtime) {
    bench_http(group, name, rt, "no_layer", handler(downstream()));
    let tower_http = tower_http::trace::TraceLayer::new_for_http();
    bench_http(
        group,
        name,
        rt,
        "tower_http",
        tower_http.layer(handler(downstream())),
    );
    bench_http(
        group,
        name,
        rt,
        "palisade",
        TraceLayer::new().layer(handler(downstream())),
    );

    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Prefix("http_".into()),
            &DURATION_BUCKETS,
        )
        .map(metrics_exporter_prometheus::PrometheusBuilder::build_recorder);
    let Ok(recorder) = recorder else { return };
    let _local = metrics::set_default_local_recorder(&recorder);
    let full = tower::ServiceBuilder::new()
        .layer(TraceLayer::new())
        .layer(MetricsLayer::new())
        .service(handler(PropagateLayer::new().layer(downstream())));
    bench_http(group, name, rt, "palisade_full", full);
    // The scrape works and holds our series (so the recorder really recorded).
    let text = recorder.handle().render();
    assert!(text.contains("http_server_request_duration"), "{text}");
}

fn no_subscriber(c: &mut Criterion) {
    const GROUP: &str = "trace_no_subscriber";
    let rt = current_thread();
    let mut group = c.benchmark_group(GROUP);
    contenders(&mut group, GROUP, &rt);
    group.finish();
}

fn sink_subscriber(c: &mut Criterion) {
    const GROUP: &str = "trace_sink_subscriber";
    let rt = current_thread();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let mut group = c.benchmark_group(GROUP);
    contenders(&mut group, GROUP, &rt);
    group.finish();
}

criterion_group!(benches, no_subscriber, sink_subscriber);
criterion_main!(benches);
