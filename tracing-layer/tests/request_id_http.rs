//! `RequestIdLayer` on an axum router over real HTTP on 127.0.0.1.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::time::Duration;

use axum::body::Bytes;
use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_tracing_layer::request_id::{RequestIdLayer, RequestIdValue};
use tokio::net::TcpListener;

/// Bounds every request so a broken layer fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(10);

/// Sends a GET with the given `x-request-id` lines; returns the echoed header
/// lines and the body (the id the handler read from the extensions).
async fn get_with(
    client: &Client<HttpConnector, Empty<Bytes>>,
    url: &str,
    ids: &[&[u8]],
) -> (Vec<Vec<u8>>, Bytes) {
    let mut request = http::Request::get(url);
    for id in ids {
        request = request.header("x-request-id", *id);
    }
    let response = tokio::time::timeout(GUARD, client.request(request.body(Empty::new()).unwrap()))
        .await
        .expect("the request hung")
        .unwrap();
    let echoed = response
        .headers()
        .get_all("x-request-id")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let body = tokio::time::timeout(GUARD, response.into_body().collect())
        .await
        .expect("the body hung")
        .unwrap()
        .to_bytes();
    (echoed, body)
}

#[tokio::test]
async fn ids_are_kept_made_and_echoed_over_http() {
    let app = Router::new()
        .route(
            "/",
            get(|Extension(id): Extension<RequestIdValue>| async move { id.to_string() }),
        )
        .layer(RequestIdLayer::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder(TokioExecutor::new()).build_http();

    // Kept.
    let (echoed, body) = get_with(&client, &url, &[b"order-42"]).await;
    assert_eq!(echoed, vec![b"order-42".to_vec()]);
    assert_eq!(body, "order-42");

    // Replaced: a space, a high byte, two lines, absent. Every made id is new.
    let mut made = Vec::new();
    for ids in [&[&b"order 42"[..]][..], &[b"caf\xe9"], &[b"a", b"b"], &[]] {
        let (echoed, body) = get_with(&client, &url, ids).await;
        assert_eq!(echoed.len(), 1, "{ids:?}");
        assert_eq!(echoed[0], body.to_vec(), "{ids:?}");
        assert_eq!(body.len(), 32, "{ids:?}");
        assert!(
            body.iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        made.push(body);
    }
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 4);
}
