//! The per-connection service hyper calls: hands each request to the router
//! with the client's address as `ConnectInfo<SocketAddr>`, and keeps the
//! connection busy until the response body is finished.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use pin_project_lite::pin_project;
use tower::ServiceExt as _;
use tower::util::Oneshot;

use super::activity::{Activity, RequestGuard};

/// Serves one connection's requests with the router.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionService {
    router: Router,
    remote: SocketAddr,
    activity: Arc<Activity>,
}

impl ConnectionService {
    pub(crate) fn new(router: Router, remote: SocketAddr, activity: Arc<Activity>) -> Self {
        Self {
            router,
            remote,
            activity,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin_request();
        let mut request = request.map(Body::new);
        // What axum's `into_make_service_with_connect_info` would insert.
        request.extensions_mut().insert(ConnectInfo(self.remote));
        ResponseFuture {
            inner: self.router.clone().oneshot(request),
            guard: Some(guard),
        }
    }
}

pin_project! {
    /// The router's response, its body holding the connection's busy guard.
    pub(crate) struct ResponseFuture {
        #[pin]
        inner: Oneshot<Router, Request<Body>>,
        guard: Option<RequestGuard>,
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(
            response.map(|body| Body::new(GuardedBody { inner: body, guard }))
        ))
    }
}

pin_project! {
    /// A response body that releases its request guard when dropped, that
    /// is once hyper has written it (or given up on it).
    struct GuardedBody {
        #[pin]
        inner: Body,
        guard: Option<RequestGuard>,
    }
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
