//! A real HTTP receiver on 127.0.0.1 and a sender that posts with hyper-util's
//! legacy client; shared by `layer_http` and `extract_http`.

// Test helpers: a failed set-up should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt as _, Either, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_webhooks::{Secret, Signer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The receivers' clock: every test signs and verifies around this time.
pub(crate) const NOW: i64 = 1_700_000_000;

/// An upper bound on any exchange, so a receiver that waits for bytes that
/// never come fails the test instead of hanging it.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) fn secret(n: u8) -> Secret {
    Secret::from_bytes(&[n; 32]).unwrap()
}

/// Serves `app` on a free port of 127.0.0.1 for the rest of the test.
pub(crate) async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A request body the test feeds chunk by chunk, sent without a length
/// (chunked), and left open until the sender is dropped.
pub(crate) struct Streamed(mpsc::Receiver<Bytes>);

impl Body for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

pub(crate) fn streamed() -> (mpsc::Sender<Bytes>, Streamed) {
    let (tx, rx) = mpsc::channel(16);
    (tx, Streamed(rx))
}

type SendBody = Either<Full<Bytes>, Streamed>;

/// What came back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    /// The problem+json body; asserts the media type and the `status`
    /// member.
    pub(crate) fn problem(&self) -> serde_json::Value {
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "{self:?}"
        );
        let problem: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(problem["status"], self.status.as_u16());
        for member in ["type", "title", "detail", "code"] {
            assert!(problem[member].is_string(), "{member} in {problem}");
        }
        problem
    }

    pub(crate) fn code(&self) -> String {
        self.problem()["code"].as_str().unwrap().to_owned()
    }
}

pub(crate) struct Sender {
    client: Client<HttpConnector, SendBody>,
    url: String,
}

impl Sender {
    pub(crate) fn new(addr: SocketAddr, path: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url: format!("http://{addr}{path}"),
        }
    }

    /// Posts `body` with `headers` and a Content-Length.
    pub(crate) async fn post(&self, headers: &HeaderMap, body: &[u8]) -> Answer {
        let body = Either::Left(Full::new(Bytes::copy_from_slice(body)));
        self.send(headers, body).await
    }

    /// Posts a signed delivery: signed by `signer` as `id` at `timestamp`.
    pub(crate) async fn deliver(
        &self,
        signer: &Signer,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Answer {
        self.post(&signed(signer, id, timestamp, body), body).await
    }

    /// Posts a body the test streams through the returned channel.
    pub(crate) async fn post_streamed(&self, headers: &HeaderMap, body: Streamed) -> Answer {
        self.send(headers, Either::Right(body)).await
    }

    async fn send(&self, headers: &HeaderMap, body: SendBody) -> Answer {
        let mut request = Request::post(&self.url).body(body).unwrap();
        request.headers_mut().extend(headers.clone());
        let exchange = async {
            let response = self.client.request(request).await.unwrap();
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .expect("the receiver did not answer")
    }
}

/// The three Standard Webhooks headers for `body`.
pub(crate) fn signed(signer: &Signer, id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    signer
        .sign(id, timestamp, body)
        .unwrap()
        .apply(&mut headers);
    headers
}
