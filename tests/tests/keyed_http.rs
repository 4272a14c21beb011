//! Every keyed layer (rate limiter, bulkhead, circuit breaker) with every
//! extractor of `palisade_resilience::key`, over real HTTP: an axum app
//! served with `into_make_service_with_connect_info`, and two clients on
//! different loopback addresses (127.0.0.2 and 127.0.0.3) that must get
//! separate quotas, partitions and breakers. A layer that cannot find the
//! key fails loudly instead of pooling every client.
//!
//! Real sockets need real time: every request is bounded, and nothing
//! asserts on how long anything took.
#![allow(missing_docs)]

mod support;

#[path = "../../resilience/tests/services/redis.rs"]
mod redis_service;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Query, Request};
use axum::routing::get;
use http::{HeaderName, StatusCode};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_resilience::bulkhead::BulkheadLayer;
use palisade_resilience::circuit_breaker::{CircuitBreakerLayer, SlidingWindow};
use palisade_resilience::edge;
use palisade_resilience::key::{
    AuthorityKey, ExtractKey, ForwardedIp, HeaderKey, PeerIp, RouteKey,
};
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use serde_json::Value;
use support::{GUARD, fetch, serve};
use tokio::sync::{Notify, mpsc};
use tower::ServiceBuilder;

/// The two clients, each with its own source address and its own identity
/// in every place an extractor may look.
const CLIENTS: [Client_; 2] = [
    Client_ {
        name: "a",
        source: [127, 0, 0, 2],
    },
    Client_ {
        name: "b",
        source: [127, 0, 0, 3],
    },
];

#[derive(Clone, Copy)]
struct Client_ {
    name: &'static str,
    source: [u8; 4],
}

/// What the handler does: answer, fail with 500, or hold until released.
#[derive(serde::Deserialize, Default)]
struct Mode {
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    hold: bool,
}

#[derive(Clone)]
struct Gate {
    started: mpsc::UnboundedSender<()>,
    release: Arc<Notify>,
}

async fn handler(gate: Gate, Query(mode): Query<Mode>) -> (StatusCode, &'static str) {
    if mode.hold {
        let _ = gate.started.send(());
        gate.release.notified().await;
    }
    if mode.fail {
        (StatusCode::INTERNAL_SERVER_ERROR, "down")
    } else {
        (StatusCode::OK, "ok")
    }
}

/// Routes `/a` and `/b` behind `layer` (added with `route_layer`, so the
/// matched route is known) and the edge's error handler.
macro_rules! app {
    ($layer:expr, $gate:expr) => {{
        let gate: Gate = $gate.clone();
        let route = get(move |mode| handler(gate.clone(), mode));
        Router::new()
            .route("/a", route.clone())
            .route("/b", route)
            .route_layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(edge::handle_error))
                    .layer($layer),
            )
    }};
}

struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Answer {
    fn code(&self) -> String {
        let problem: Value = serde_json::from_slice(&self.body).expect("a problem+json body");
        problem["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

/// One client: its own source address, and its name in the `Host`,
/// `X-Forwarded-For`, `x-api-key` and `x-tenant` headers and the path.
#[derive(Clone)]
struct Peer {
    http: Client<HttpConnector, Empty<Bytes>>,
    server: SocketAddr,
    who: Client_,
}

impl Peer {
    fn new(server: SocketAddr, who: Client_) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_local_address(Some(IpAddr::from(who.source)));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Self { http, server, who }
    }

    async fn get(&self, query: &str) -> Answer {
        let n = self.who.source[3];
        self.get_forwarded_for(query, &format!("198.51.100.{n}"))
            .await
    }

    /// [`get`](Self::get) with the `X-Forwarded-For` value given.
    async fn get_forwarded_for(&self, query: &str, forwarded_for: &str) -> Answer {
        let request =
            http::Request::get(format!("http://{}/{}?{query}", self.server, self.who.name))
                .header("host", format!("{}.test", self.who.name))
                .header("x-forwarded-for", forwarded_for)
                .header("x-api-key", format!("key-{}", self.who.name))
                .header("x-tenant", self.who.name)
                .body(Empty::new())
                .expect("a request");
        let (parts, body) = fetch(&self.http, request).await;
        Answer {
            status: parts.status,
            body,
        }
    }
}

fn gate() -> (Gate, mpsc::UnboundedReceiver<()>) {
    let (started, started_rx) = mpsc::unbounded_channel();
    let gate = Gate {
        started,
        release: Arc::new(Notify::new()),
    };
    (gate, started_rx)
}

async fn peers(app: Router) -> [Peer; 2] {
    let server = serve(app, true).await;
    CLIENTS.map(|who| Peer::new(server, who))
}

/// The extractors under test, each of which tells client a from client b.
trait Extractor: ExtractKey<Request<Body>, Key: fmt::Display> + Clone + Send + Sync + 'static {}
impl<E> Extractor for E where
    E: ExtractKey<Request<Body>, Key: fmt::Display> + Clone + Send + Sync + 'static
{
}

async fn limiter_keeps_clients_apart(extractor: impl Extractor, what: &str) {
    let (gate, _) = gate();
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), extractor);
    let [a, b] = peers(app!(layer, gate)).await;

    assert_eq!(a.get("").await.status, StatusCode::OK, "{what}");
    let limited = a.get("").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: {limited:?}"
    );
    assert_eq!(limited.code(), "rate_limited");
    // b has a quota of its own.
    assert_eq!(b.get("").await.status, StatusCode::OK, "{what}");
    assert_eq!(
        b.get("").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}"
    );
}

async fn bulkhead_keeps_clients_apart(extractor: impl Extractor, what: &str) {
    let (gate, mut started) = gate();
    let layer = BulkheadLayer::builder()
        .max_concurrent(NonZeroUsize::MIN)
        .keyed(extractor)
        .build()
        .expect("valid limits");
    let [a, b] = peers(app!(layer, gate)).await;

    // a holds its only permit…
    let holding = tokio::spawn({
        let a = a.clone();
        async move { a.get("hold=true").await }
    });
    tokio::time::timeout(GUARD, started.recv())
        .await
        .expect("the held request reached the handler");
    let full = a.get("").await;
    assert_eq!(
        full.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {full:?}"
    );
    assert_eq!(full.code(), "bulkhead_full");
    // …while b's partition is free.
    assert_eq!(b.get("").await.status, StatusCode::OK, "{what}");

    gate.release.notify_one();
    let held = holding.await.expect("the held request completes");
    assert_eq!(held.status, StatusCode::OK, "{what}");
}

async fn breaker_keeps_clients_apart(extractor: impl Extractor, what: &str) {
    let (gate, _) = gate();
    let layer = CircuitBreakerLayer::http()
        .sliding_window(SlidingWindow::count(2))
        .minimum_calls(2)
        .wait_duration_in_open(Duration::from_secs(600))
        .keyed(extractor)
        .max_keys(NonZeroUsize::new(16).expect("non-zero"))
        .build()
        .expect("a valid breaker");
    let [a, b] = peers(app!(layer, gate)).await;

    for _ in 0..2 {
        assert_eq!(
            a.get("fail=true").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    let open = a.get("").await;
    assert_eq!(
        open.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {open:?}"
    );
    assert_eq!(open.code(), "circuit_open");
    // b's breaker is closed.
    assert_eq!(b.get("").await.status, StatusCode::OK, "{what}");
}

/// Keys on the `x-tenant` header through a plain closure.
fn tenant(req: &Request<Body>) -> Option<String> {
    Some(req.headers().get("x-tenant")?.to_str().ok()?.to_owned())
}

fn trusted_loopback() -> ForwardedIp {
    ForwardedIp::x_forwarded_for(["127.0.0.0/8".parse().expect("a CIDR")])
}

fn api_key() -> HeaderKey {
    HeaderKey::new(HeaderName::from_static("x-api-key"))
}

macro_rules! every_extractor {
    ($scenario:ident) => {
        $scenario(PeerIp, "PeerIp").await;
        $scenario(trusted_loopback(), "ForwardedIp behind trusted proxies").await;
        $scenario(api_key(), "HeaderKey").await;
        $scenario(AuthorityKey::new(), "AuthorityKey").await;
        $scenario(RouteKey, "RouteKey").await;
        $scenario(tenant as fn(&Request<Body>) -> Option<String>, "a closure").await;
    };
}

#[tokio::test]
async fn every_extractor_gives_each_client_its_own_rate_limit() {
    every_extractor!(limiter_keeps_clients_apart);
}

#[tokio::test]
async fn every_extractor_gives_each_client_its_own_bulkhead_partition() {
    every_extractor!(bulkhead_keeps_clients_apart);
}

#[tokio::test]
async fn every_extractor_gives_each_client_its_own_breaker() {
    every_extractor!(breaker_keeps_clients_apart);
}

#[tokio::test]
async fn forwarded_headers_from_untrusted_peers_are_ignored() {
    // Only 127.0.0.1 is a trusted proxy. Client a forges a new
    // `X-Forwarded-For` value on every request (were it trusted, each would
    // be a fresh key and never limited); both clients then send the same
    // forged value and still get a quota each, keyed by their own addresses.
    let (gate, _) = gate();
    let key = ForwardedIp::x_forwarded_for(["127.0.0.1/32".parse().expect("a CIDR")]);
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), key);
    let [a, b] = peers(app!(layer, gate)).await;
    assert_eq!(
        a.get_forwarded_for("", "203.0.113.1").await.status,
        StatusCode::OK
    );
    for forged in ["203.0.113.2", "203.0.113.3", "198.51.100.9"] {
        let answer = a.get_forwarded_for("", forged).await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{forged}: {answer:?}"
        );
    }
    assert_eq!(
        b.get_forwarded_for("", "198.51.100.9").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_limiter_that_cannot_find_the_key_fails_loudly_not_globally() {
    // Served without connect info: `PeerIp` finds no address for anyone.
    let (gate, _) = gate();
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), PeerIp);
    let server = serve(app!(layer, gate), false).await;
    let [a, b] = CLIENTS.map(|who| Peer::new(server, who));
    for peer in [&a, &b, &a, &b] {
        let answer = peer.get("").await;
        // Never a 429 that one client's traffic caused for another.
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{answer:?}"
        );
        assert_eq!(answer.code(), "key_unavailable");
    }
}

#[tokio::test]
async fn a_request_without_the_keyed_header_is_a_client_error() {
    let (gate, _) = gate();
    let missing = HeaderKey::new(HeaderName::from_static("x-missing"));
    let layer = RateLimitLayer::keyed(Quota::per_minute(NonZeroU32::MIN), missing);
    let [a, _] = peers(app!(layer, gate)).await;
    for _ in 0..2 {
        let answer = a.get("").await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        assert_eq!(answer.code(), "missing_key");
    }
}

#[tokio::test]
async fn the_redis_limiter_gives_each_client_its_own_quota() {
    use std::hash::{BuildHasher, Hasher};

    use palisade_resilience::rate_limit::redis::{RedisRateLimitLayer, lazy_connection};

    let Some(url) =
        redis_service::redis_url("keyed_http::the_redis_limiter_gives_each_client_its_own_quota")
            .await
    else {
        return;
    };
    // A key prefix no other run shares.
    let random = std::hash::RandomState::new().build_hasher().finish();
    let prefix = format!(
        "palisade-test:keyed-http:{}:{random:x}:",
        std::process::id()
    );
    let conn = lazy_connection(&url, Duration::from_secs(2)).expect("a Redis URL");
    let layer = RedisRateLimitLayer::builder(conn, Quota::per_minute(NonZeroU32::MIN), PeerIp)
        .prefix(prefix)
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a valid Redis limiter");
    let (gate, _) = gate();
    let [a, b] = peers(app!(layer, gate)).await;

    assert_eq!(a.get("").await.status, StatusCode::OK);
    let limited = a.get("").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert_eq!(b.get("").await.status, StatusCode::OK);
}
