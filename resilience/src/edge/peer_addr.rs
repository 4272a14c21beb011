//! [`PeerAddrLayer`]: axum's `ConnectInfo<SocketAddr>` as a plain
//! `SocketAddr` extension, for the client-IP rate-limit keys.

use std::net::SocketAddr;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

/// Copies the peer address that axum's `into_make_service_with_connect_info`
/// stores (`ConnectInfo<SocketAddr>`) into a plain `SocketAddr` request
/// extension, which `rate_limit::PeerIp` and `ForwardedIp` read. A request
/// that already has a plain `SocketAddr` keeps it. Like axum's `ConnectInfo`
/// extractor, it falls back to `MockConnectInfo<SocketAddr>` (for tests).
///
/// Place it outside (before, in a `ServiceBuilder`) the rate limiter:
///
/// ```
/// use std::net::SocketAddr;
/// use axum::extract::connect_info::MockConnectInfo;
/// use axum::{Router, routing::get};
/// use palisade_resilience::edge::PeerAddrLayer;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(|axum::Extension(peer): axum::Extension<SocketAddr>| async move {
///         peer.ip().to_string()
///     }))
///     .layer(PeerAddrLayer::new())
///     // In a real server: `app.into_make_service_with_connect_info::<SocketAddr>()`.
///     .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 4711))));
///
/// let response = app.oneshot(http::Request::new(axum::body::Body::empty())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(body, "192.0.2.7");
/// # }
/// ```
#[must_use]
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerAddrLayer {
    _private: (),
}

impl PeerAddrLayer {
    /// The layer.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl<S> Layer<S> for PeerAddrLayer {
    type Service = PeerAddr<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PeerAddr { inner }
    }
}

/// The service of [`PeerAddrLayer`].
#[must_use]
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr<S> {
    inner: S,
}

impl<S> PeerAddr<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the service, returning the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for PeerAddr<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        copy_connect_info(&mut req);
        self.inner.call(req)
    }
}

/// What [`PeerAddrLayer`] does to each request, for your own middleware:
/// inserts the `ConnectInfo<SocketAddr>` address (or, in tests, the
/// `MockConnectInfo<SocketAddr>` one) as a plain `SocketAddr` unless the
/// request already has one.
pub fn copy_connect_info<B>(req: &mut Request<B>) {
    let extensions = req.extensions_mut();
    if extensions.get::<SocketAddr>().is_some() {
        return;
    }
    // As axum's `ConnectInfo` extractor: the real address, else the mock.
    let addr = match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => Some(*addr),
        None => extensions
            .get::<MockConnectInfo<SocketAddr>>()
            .map(|MockConnectInfo(addr)| *addr),
    };
    if let Some(addr) = addr {
        extensions.insert(addr);
    }
}
