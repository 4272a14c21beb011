//! What the `/api/webhooks` and `/api/breakers` tests share: the `/api`
//! routes served over real HTTP on 127.0.0.1 behind a test-only caller
//! layer, a small JSON client, and a throw-away SQLite outbox.
//!
//! The caller layer stands in for the API key authentication: it turns an
//! `x-test-scope: read|write|admin` header into a [`Caller`], and leaves
//! the request without one when the header is absent.
#![allow(dead_code)] // each test file uses part of it

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_server::AppState;
use palisade_server::api::{Caller, Scope};
use palisade_webhooks::store::{SqliteStore, Store};
use serde_json::Value;
use tokio::net::TcpListener;

/// Inserts the caller named by `x-test-scope`.
async fn test_caller(mut req: Request, next: Next) -> Response {
    let scope = match req.headers().get("x-test-scope").map(|v| v.as_bytes()) {
        Some(b"read") => Some(Scope::Read),
        Some(b"write") => Some(Scope::Write),
        Some(b"admin") => Some(Scope::Admin),
        _ => None,
    };
    if let Some(scope) = scope {
        req.extensions_mut().insert(Caller {
            key_id: "test".to_owned(),
            scope,
        });
    }
    next.run(req).await
}

/// Serves the whole app plus `/api` (as the server mounts it) on a free
/// port of 127.0.0.1.
pub(crate) async fn serve(state: AppState) -> Api {
    let (api, _openapi) = palisade_server::api::router().split_for_parts();
    let router = palisade_server::app(state.clone()).merge(
        Router::new()
            .nest("/api", api)
            .layer(middleware::from_fn(test_caller))
            .with_state(state),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Api {
        addr,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

/// A JSON client of one served app.
pub(crate) struct Api {
    pub(crate) addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub(crate) fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.body);
    }
}

impl Api {
    /// Sends `method path` as `scope` (none: unauthenticated) with an
    /// optional JSON body and extra headers.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        scope: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(scope) = scope {
            request = request.header("x-test-scope", scope);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Full::new(Bytes::from(serde_json::to_vec(json).unwrap()))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self
            .client
            .request(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, path: &str, scope: &str) -> Answer {
        self.call(Method::GET, path, Some(scope), None, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, scope: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(scope), Some(body), &[])
            .await
    }

    pub(crate) async fn patch(&self, path: &str, scope: &str, body: &Value) -> Answer {
        self.call(Method::PATCH, path, Some(scope), Some(body), &[])
            .await
    }

    pub(crate) async fn delete(&self, path: &str, scope: &str) -> Answer {
        self.call(Method::DELETE, path, Some(scope), None, &[])
            .await
    }
}

/// A fresh SQLite outbox in a temporary directory (removed on drop).
pub(crate) struct Outbox {
    dir: PathBuf,
    pub(crate) store: Arc<dyn Store>,
}

impl Outbox {
    pub(crate) async fn open(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("palisade-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(dir.join("outbox.db")).await.unwrap();
        Self {
            dir,
            store: Arc::new(store),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
