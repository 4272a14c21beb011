//! An axum app with a rate limit per client IP address, answering
//! `429 Too Many Requests` as RFC 9457 problem+json with `Retry-After`.
//!
//! ```sh
//! cargo run -p palisade-examples --bin axum_rate_limit
//! ```
//!
//! It serves the app on 127.0.0.1 (a free port), calls it from two client
//! addresses (127.0.0.1 and 127.0.0.2, both loopback), prints what each
//! gets, and exits.
#![allow(clippy::print_stdout)] // An example shows what happens by printing it.

use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU32, NonZeroUsize};

use axum::error_handling::HandleErrorLayer;
use axum::extract::ConnectInfo;
use axum::{Router, routing::get};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_resilience::edge;
use palisade_resilience::key::PeerIp;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use palisade_resilience::{BoxError, ServiceBuilderExt};
use tower::ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Three requests a minute per client IP. `PeerIp` reads the address the
    // server recorded for the connection (`ConnectInfo`), so the app must be
    // served with `into_make_service_with_connect_info` — without it every
    // request fails loudly (500 `key_unavailable`) rather than sharing one
    // global limit. `max_keys` bounds the memory the limiter may use.
    let per_ip = RateLimitLayer::http(Quota::per_minute(NonZeroU32::new(3).ok_or("zero")?))
        .keyed(PeerIp)
        .max_keys(NonZeroUsize::new(10_000).ok_or("zero")?)
        .build();

    let app =
        Router::new().route(
            "/hello",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("hello, {}", peer.ip())
            })
            // `HandleErrorLayer` turns the limiter's `RateLimited` error into the
            // 429 problem+json response (`edge::handle_error` maps every error our
            // layers originate). `route_layer` limits this route only.
            .route_layer(
                ServiceBuilder::new()
                    .layer(HandleErrorLayer::new(edge::handle_error))
                    .rate_limit_with(per_ip),
            ),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hello", listener.local_addr()?);
    let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, make_service).await });

    // Four requests from 127.0.0.1: the fourth is over the limit.
    for n in 1..=4 {
        println!("127.0.0.1 #{n}: {}", get_from([127, 0, 0, 1], &url).await?);
    }
    // Another client has a quota of its own. (Linux answers on all of
    // 127.0.0.0/8; on macOS, `sudo ifconfig lo0 alias 127.0.0.2` first.)
    println!("127.0.0.2 #1: {}", get_from([127, 0, 0, 2], &url).await?);
    Ok(())
}

/// Sends `GET url` from the local address `source` and describes the answer.
async fn get_from(source: [u8; 4], url: &str) -> Result<String, BoxError> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(IpAddr::from(source)));
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    let response = client.get(url.parse()?).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    // Allowed answers carry the `RateLimit-*` headers; a 429 adds `Retry-After`.
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    Ok(format!(
        "{} remaining={} retry-after={} content-type={} body={}",
        parts.status,
        header("ratelimit-remaining"),
        header("retry-after"),
        header("content-type"),
        String::from_utf8_lossy(&body),
    ))
}
