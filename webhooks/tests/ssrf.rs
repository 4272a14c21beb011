//! The SSRF-safe connector over real sockets on 127.0.0.1: refused
//! destinations fail with `BlockedAddress` before any connection is made,
//! allowed ones work, DNS rebinding is caught, redirects are not followed.
//! Names are resolved from fixed tables: no real DNS.

#![cfg(feature = "deliver")]
#![allow(missing_docs, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Empty};
use palisade_webhooks::deliver::connect::{
    AddressPolicy, BlockedAddress, ConnectFailed, Dial, Dialing, HttpsRequired, Ipv6Embedding,
    MAX_ADDRESSES_TRIED, RangeKind, Resolve, Resolving, SafeConnector, StaticResolver, TcpDialer,
    WebhookClient, classify, find_cause, refused_ranges, rustls,
};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// A receiver on 127.0.0.1 that counts the connections it accepts.
struct Receiver {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    redirect_target_hits: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let redirect_target_hits = Arc::new(AtomicUsize::new(0));
    let hits = Arc::clone(&redirect_target_hits);
    let location = format!("http://127.0.0.1:{}/target", addr.port());
    let app = Router::new()
        .route("/", get(|| async { "delivered" }))
        .route(
            "/redirect",
            get(move || async move { (StatusCode::FOUND, [("location", location)], "moved") }),
        )
        .route(
            "/target",
            get(move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "followed"
            }),
        );
    let listener = listener.tap_io(move |_io| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        addr,
        accepted,
        redirect_target_hits,
    }
}

/// Plain TCP, recording every address it is asked to connect to.
#[derive(Clone, Default)]
struct RecordingDialer {
    dialed: Arc<Mutex<Vec<SocketAddr>>>,
}

impl RecordingDialer {
    fn dialed(&self) -> Vec<SocketAddr> {
        self.dialed.lock().unwrap().clone()
    }
}

impl Dial for RecordingDialer {
    fn dial(&self, addr: SocketAddr) -> Dialing {
        self.dialed.lock().unwrap().push(addr);
        TcpDialer::default().dial(addr)
    }
}

/// TLS with no trusted roots: these tests never complete a TLS handshake.
fn tls() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(rustls::crypto::ring::default_provider().into())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

fn client<R: Resolve>(
    policy: AddressPolicy,
    resolver: R,
    dialer: &RecordingDialer,
) -> WebhookClient<Empty<Bytes>, R, RecordingDialer> {
    SafeConnector::new(policy)
        .with_resolver(resolver)
        .with_dialer(dialer.clone())
        .into_client(tls())
}

fn loopback_allowed() -> AddressPolicy {
    AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap())
}

async fn get_body<R: Resolve>(
    client: &WebhookClient<Empty<Bytes>, R, RecordingDialer>,
    uri: &str,
) -> (StatusCode, Bytes) {
    let response = client.get(uri.parse().unwrap()).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn blocked(err: &hyper_util::client::legacy::Error) -> &BlockedAddress {
    find_cause::<BlockedAddress>(err)
        .unwrap_or_else(|| panic!("expected BlockedAddress in the error chain, got {err:?}"))
}

#[tokio::test]
async fn loopback_is_refused_without_a_connection_and_allowed_when_listed() {
    let receiver = receiver().await;
    let port = receiver.addr.port();
    let resolver = StaticResolver::new()
        .with("hooks.test", ["127.0.0.1".parse().unwrap()])
        .with("v6.hooks.test", ["::ffff:127.0.0.1".parse().unwrap()]);
    let dialer = RecordingDialer::default();
    let default_policy = client(AddressPolicy::new(), resolver.clone(), &dialer);

    for uri in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://hooks.test:{port}/"),
        format!("http://v6.hooks.test:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("https://hooks.test:{port}/"),
    ] {
        let err = default_policy.get(uri.parse().unwrap()).await.unwrap_err();
        let blocked = blocked(&err);
        assert_eq!(blocked.kind(), RangeKind::Loopback, "{uri}");
        assert!(err.is_connect(), "{uri}");
    }
    assert!(dialer.dialed().is_empty());

    // With loopback allowed, the same name is delivered to.
    let allowed = client(loopback_allowed(), resolver, &dialer);
    let (status, body) = get_body(&allowed, &format!("http://hooks.test:{port}/")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"delivered"[..]));
    assert_eq!(dialer.dialed(), [receiver.addr]);
    // Accepts are in connect order: had a refused request connected, the
    // listener would have accepted it before this one.
    assert_eq!(receiver.accepted.load(Ordering::SeqCst), 1);
}

/// One address from each refused range (first, middle and last of each
/// table entry) and each IPv6 form of the IPv4 ones.
fn refused_samples() -> Vec<IpAddr> {
    let mut samples = Vec::new();
    for range in refused_ranges() {
        samples.push(range.net.network());
        samples.push(range.net.broadcast());
        if let (IpAddr::V4(first), true) = (range.net.network(), range.net.prefix_len() < 32) {
            let v4 = std::net::Ipv4Addr::from(u32::from(first) + 1);
            samples.push(IpAddr::V4(v4));
            for form in [
                Ipv6Embedding::Ipv4Mapped,
                Ipv6Embedding::Ipv4Compatible,
                Ipv6Embedding::SixToFour,
                Ipv6Embedding::Nat64,
                Ipv6Embedding::Nat64LocalUse,
                Ipv6Embedding::Teredo,
            ] {
                samples.push(IpAddr::V6(form.embed(v4)));
            }
        }
    }
    samples
}

#[tokio::test]
async fn names_resolving_to_any_refused_range_are_refused_before_connecting() {
    let samples = refused_samples();
    assert!(samples.len() > 100);
    let mut resolver = StaticResolver::new();
    for (i, addr) in samples.iter().enumerate() {
        resolver = resolver.with(&format!("target-{i}.test"), [*addr]);
    }
    let dialer = RecordingDialer::default();
    let client = client(AddressPolicy::new(), resolver, &dialer);

    for (i, addr) in samples.iter().enumerate() {
        let scheme = if i % 2 == 0 { "http" } else { "https" };
        let uri = format!("{scheme}://target-{i}.test:8080/hook");
        let err = client.get(uri.parse().unwrap()).await.unwrap_err();
        let blocked = blocked(&err);
        assert_eq!(blocked.addr(), *addr);
        assert_eq!(blocked.host(), format!("target-{i}.test"));
        assert_eq!(Some(blocked.reason()), classify(*addr));
        assert!(
            err.source_string().contains("refused to connect"),
            "{err:?}"
        );
    }
    assert!(dialer.dialed().is_empty(), "dialed {:?}", dialer.dialed());
}

trait SourceString {
    fn source_string(&self) -> String;
}

impl SourceString for hyper_util::client::legacy::Error {
    fn source_string(&self) -> String {
        std::error::Error::source(self)
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn only_allowed_addresses_of_a_name_are_dialed_in_order() {
    let receiver = receiver().await;
    let port = receiver.addr.port();
    // 169.254.169.254 and 10.0.0.1 are refused and skipped; 127.0.0.2 is
    // allowed but nothing listens there; 127.0.0.1 answers.
    let resolver = StaticResolver::new().with(
        "mixed.test",
        ["169.254.169.254", "127.0.0.2", "10.0.0.1", "127.0.0.1"].map(|a| a.parse().unwrap()),
    );
    let dialer = RecordingDialer::default();
    let client = client(loopback_allowed(), resolver, &dialer);
    let (status, _) = get_body(&client, &format!("http://mixed.test:{port}/")).await;
    assert_eq!(status, StatusCode::OK);
    let expected: Vec<SocketAddr> =
        vec![format!("127.0.0.2:{port}").parse().unwrap(), receiver.addr];
    assert_eq!(dialer.dialed(), expected);
}

/// First a harmless address, then loopback: the second connection is vetted
/// again and refused.
struct RebindingResolver {
    calls: AtomicUsize,
}

impl Resolve for RebindingResolver {
    fn resolve(&self, _host: &str) -> Resolving {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let addr: IpAddr = if call == 0 { "127.0.0.1" } else { "127.0.0.2" }
            .parse()
            .unwrap();
        Box::pin(async move { Ok(vec![addr]) })
    }
}

#[tokio::test]
async fn dns_rebinding_is_caught_on_the_next_connection() {
    let receiver = receiver().await;
    let port = receiver.addr.port();
    // 127.0.0.1 stands in for a public address; the rest of loopback is refused.
    let policy = AddressPolicy::new().allow_net("127.0.0.1/32".parse().unwrap());
    let dialer = RecordingDialer::default();
    let resolver = Arc::new(RebindingResolver {
        calls: AtomicUsize::new(0),
    });
    let client = client(policy, ArcResolver(Arc::clone(&resolver)), &dialer);

    // `connection: close` so the next request needs a new connection.
    let first = Request::get(format!("http://rebind.test:{port}/"))
        .header("connection", "close")
        .body(Empty::new())
        .unwrap();
    assert_eq!(
        client.request(first).await.unwrap().status(),
        StatusCode::OK
    );

    let err = client
        .get(format!("http://rebind.test:{port}/").parse().unwrap())
        .await
        .unwrap_err();
    let blocked = blocked(&err);
    assert_eq!(blocked.addr(), "127.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(blocked.kind(), RangeKind::Loopback);
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 2);
    assert_eq!(dialer.dialed(), [receiver.addr]);
}

struct ArcResolver(Arc<RebindingResolver>);

impl Resolve for ArcResolver {
    fn resolve(&self, host: &str) -> Resolving {
        self.0.resolve(host)
    }
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let receiver = receiver().await;
    let port = receiver.addr.port();
    let dialer = RecordingDialer::default();
    let client = client(loopback_allowed(), StaticResolver::new(), &dialer);
    let response = client
        .get(format!("http://127.0.0.1:{port}/redirect").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        format!("http://127.0.0.1:{port}/target").as_str()
    );
    assert_eq!(receiver.redirect_target_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn https_only_refuses_http_urls_before_resolving() {
    let receiver = receiver().await;
    let port = receiver.addr.port();
    let dialer = RecordingDialer::default();
    let resolver = Arc::new(RebindingResolver {
        calls: AtomicUsize::new(0),
    });
    let client = client(
        loopback_allowed().https_only(true),
        ArcResolver(Arc::clone(&resolver)),
        &dialer,
    );
    for uri in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://hooks.test:{port}/"),
    ] {
        let err = client.get(uri.parse().unwrap()).await.unwrap_err();
        assert!(find_cause::<HttpsRequired>(&err).is_some(), "{err:?}");
    }
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 0);
    assert!(dialer.dialed().is_empty());

    // https is attempted (the TLS handshake with a plain HTTP server fails).
    let err = client
        .get(format!("https://127.0.0.1:{port}/").parse().unwrap())
        .await
        .unwrap_err();
    assert!(find_cause::<HttpsRequired>(&err).is_none());
    assert_eq!(dialer.dialed(), [receiver.addr]);
}

#[tokio::test]
async fn the_system_resolver_is_vetted_too() {
    // `localhost` (from /etc/hosts) and the decimal form of 127.0.0.1
    // (parsed by getaddrinfo) resolve without any DNS query.
    let receiver = receiver().await;
    let port = receiver.addr.port();
    let dialer = RecordingDialer::default();
    let client = SafeConnector::new(AddressPolicy::new())
        .with_dialer(dialer.clone())
        .into_client::<Empty<Bytes>>(tls());
    for host in ["localhost", "2130706433"] {
        let err = client
            .get(format!("http://{host}:{port}/").parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(blocked(&err).kind(), RangeKind::Loopback, "{host}");
    }
    assert!(dialer.dialed().is_empty());
    assert_eq!(receiver.accepted.load(Ordering::SeqCst), 0);
}

/// Never connects.
struct Unreachable;

impl Dial for Unreachable {
    fn dial(&self, _addr: SocketAddr) -> Dialing {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn each_connect_attempt_is_bounded_by_the_timeout() {
    // Six allowed addresses, none answering: only the first four are tried.
    let resolver = StaticResolver::new().with(
        "slow.test",
        [
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.5",
            "127.0.0.6",
            "127.0.0.7",
            "127.0.0.8",
        ]
        .map(|a| a.parse().unwrap()),
    );
    let connector = SafeConnector::new(loopback_allowed())
        .with_resolver(resolver)
        .with_dialer(Unreachable)
        .connect_timeout(Duration::from_secs(2));
    let started = tokio::time::Instant::now();
    let err = connector
        .oneshot(Uri::from_static("http://slow.test:9/"))
        .await
        .unwrap_err();
    let failed = err.downcast_ref::<ConnectFailed>().unwrap();
    assert!(failed.timed_out());
    assert_eq!(failed.attempts().len(), MAX_ADDRESSES_TRIED);
    assert_eq!(started.elapsed(), Duration::from_secs(8));
    assert_eq!(
        err.to_string(),
        "could not connect to slow.test (4 address(es) tried; last 127.0.0.6:9: connect timed out after 2s)"
    );
}

/// Never answers.
struct SilentResolver;

impl Resolve for SilentResolver {
    fn resolve(&self, _host: &str) -> Resolving {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn resolution_is_bounded_by_the_connect_timeout() {
    use palisade_webhooks::deliver::connect::ResolveFailed;
    let connector = SafeConnector::new(AddressPolicy::new())
        .with_resolver(SilentResolver)
        .connect_timeout(Duration::from_secs(3));
    let started = tokio::time::Instant::now();
    let err = connector
        .oneshot(Uri::from_static("https://slow-dns.test/"))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<ResolveFailed>().is_some(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(
        err.to_string(),
        "could not resolve slow-dns.test: resolve timed out after 3s"
    );
}

#[tokio::test]
async fn resolution_failures_and_bad_targets_are_typed() {
    use palisade_webhooks::deliver::connect::{InvalidTarget, ResolveFailed};
    let connector = SafeConnector::new(AddressPolicy::new())
        .with_resolver(StaticResolver::new().with("empty.test", []));
    for (uri, host) in [
        ("http://unknown.test/", "unknown.test"),
        ("http://empty.test/", "empty.test"),
    ] {
        let err = connector
            .clone()
            .oneshot(Uri::from_static(uri))
            .await
            .unwrap_err();
        assert_eq!(err.downcast_ref::<ResolveFailed>().unwrap().host(), host);
    }
    for uri in ["ftp://hooks.test/", "/relative"] {
        let err = connector
            .clone()
            .oneshot(Uri::from_static(uri))
            .await
            .unwrap_err();
        assert!(
            err.downcast_ref::<InvalidTarget>().is_some(),
            "{uri}: {err}"
        );
    }
}
