//! What the `/api/webhooks`, `/api/breakers` and `/api/flags` tests share:
//! the whole app served over real HTTP on 127.0.0.1 behind its real API key
//! authentication, a small JSON client that calls as a `read`, `write` or
//! `admin` key, and a throw-away SQLite outbox.
//!
//! The API keys and their tables live in a database of their own in a
//! temporary directory; the audit log stays the in-memory one of the state
//! the test passes in, so a test reads what was recorded from that state.
#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_server::api::Scope;
use palisade_server::auth::TierArg;
use palisade_server::auth::args::ApiArgs;
use palisade_server::database::Database;
use palisade_server::{AppState, app};
use palisade_webhooks::store::{SecretKeyring, SqliteStore, Store};
use serde_json::Value;
use tokio::net::TcpListener;

/// A tier no test reaches, so rate limits never interfere.
const TEST_TIER: &str = "test=1000000";

/// Serves `palisade_server::app(state)` on a free port of 127.0.0.1, with
/// one API key per scope.
pub(crate) async fn serve(state: AppState) -> Api {
    let dir = std::env::temp_dir().join(format!(
        "palisade-api-keys-{}-{}",
        std::process::id(),
        unique()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = Database::parse(&format!("sqlite://{}", dir.join("keys.db").display())).unwrap();
    let (_, db) = database
        .open_with_server(SecretKeyring::default())
        .await
        .unwrap();
    let args = ApiArgs {
        rate_tiers: vec![TEST_TIER.parse::<TierArg>().unwrap()],
        ..ApiArgs::default()
    };
    let auth = args.auth(db).unwrap();
    // Keys made directly in the key store: nothing reaches the audit log
    // the test will read.
    let mut keys = HashMap::new();
    for (name, scope) in [
        ("read", Scope::Read),
        ("write", Scope::Write),
        ("admin", Scope::Admin),
    ] {
        let (key, token) = auth
            .create_key(format!("test {name}"), scope, "test".into())
            .await
            .unwrap();
        keys.insert(name.to_owned(), (key.id, token.reveal()));
    }
    let audit = state.audit.clone();
    let mut state = state.with_server(auth);
    state.audit = audit;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Api {
        addr,
        client: Client::builder(TokioExecutor::new()).build_http(),
        keys,
        _dir: TempDir(dir),
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A JSON client of one served app.
pub(crate) struct Api {
    pub(crate) addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    /// By scope: the key's id and its token.
    keys: HashMap<String, (String, String)>,
    _dir: TempDir,
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
    /// The id of the key that calls as `scope`: the actor its changes are
    /// audited under.
    pub(crate) fn actor(&self, scope: &str) -> &str {
        &self.keys[scope].0
    }

    /// The bearer token of the key that calls as `scope`.
    pub(crate) fn token(&self, scope: &str) -> &str {
        &self.keys[scope].1
    }

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
        if let Some((_, token)) = scope.and_then(|scope| self.keys.get(scope)) {
            request = request.header("authorization", format!("Bearer {token}"));
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
