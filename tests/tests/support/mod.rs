//! Real HTTP on 127.0.0.1 for the cross-crate tests: a server with the peer
//! address in `ConnectInfo`, and bounded requests.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::TcpListener;

/// Bounds every request so a broken layer fails the test instead of hanging it.
pub(crate) const GUARD: Duration = Duration::from_secs(10);

/// Serves `app` on a free port of 127.0.0.1, recording each connection's
/// peer address in `ConnectInfo<SocketAddr>` when `connect_info` is true.
pub(crate) async fn serve(app: Router, connect_info: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        if connect_info {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        } else {
            axum::serve(listener, app.into_make_service()).await
        }
        .expect("the server runs");
    });
    addr
}

/// Sends `request` and reads the whole response, each step bounded by [`GUARD`].
pub(crate) async fn fetch(
    client: &Client<HttpConnector, Empty<Bytes>>,
    request: http::Request<Empty<Bytes>>,
) -> (http::response::Parts, Bytes) {
    let response = tokio::time::timeout(GUARD, client.request(request))
        .await
        .expect("the request hung")
        .expect("an HTTP response");
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(GUARD, body.collect())
        .await
        .expect("the body hung")
        .expect("a body")
        .to_bytes();
    (parts, body)
}
