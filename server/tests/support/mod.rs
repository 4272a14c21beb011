//! Shared by the server's API tests: the whole app served on 127.0.0.1:0
//! over a temporary SQLite file, API keys, and problem assertions.
//! Include with `mod support;`.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // test helpers panic on purpose

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use palisade_server::auth::args::ApiArgs;
use palisade_server::auth::{Auth, TierArg};
use palisade_server::database::Database;
use palisade_server::store::ServerDb;
use palisade_server::{AppState, app};
use palisade_webhooks::store::SecretKeyring;
use serde_json::Value;

/// A running server. The temporary directory is removed and the server
/// stopped when this is dropped.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A token with the admin scope (the first-start key).
    pub admin: String,
    /// The server's tables, to check what was (not) written.
    pub db: ServerDb,
    /// The temporary directory of its SQLite database, if it has one.
    dir: Option<PathBuf>,
    client: Client<HttpConnector, Body>,
    server: tokio::task::JoinHandle<()>,
}

/// One answer: status, headers, and the body as JSON (`Null` when empty
/// or not JSON) plus as text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub text: String,
}

impl TestApp {
    /// The app with default settings.
    pub async fn spawn(name: &str) -> Self {
        Self::spawn_with(name, ApiArgs::default()).await
    }

    /// The app with these API settings (tiers, address rules, Redis).
    pub async fn spawn_with(name: &str, args: ApiArgs) -> Self {
        Self::spawn_configured(name, args, |state| state).await
    }

    /// The app with these API settings and whatever `configure` adds to
    /// its state.
    pub async fn spawn_configured(
        name: &str,
        args: ApiArgs,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "palisade-api-{name}-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let database =
            Database::parse(&format!("sqlite://{}", dir.join("p.db").display())).unwrap();
        let (outbox, db) = database
            .open_with_server(SecretKeyring::default())
            .await
            .unwrap();
        let auth: Auth = args.auth(db.clone()).unwrap();
        let first = auth
            .bootstrap_admin(args.admin_token.as_deref())
            .await
            .unwrap();
        // With PALISADE_ADMIN_TOKEN that token is the admin; without, the
        // first start made one.
        let admin = match (&args.admin_token, first) {
            (Some(token), _) => token.clone(),
            (None, first) => first.unwrap().reveal(),
        };
        let state = AppState::new()
            .unwrap()
            .with_database("sqlite", outbox)
            .with_server(auth)
            .with_stack(args.stack());
        Self::serve(configure(state), Some(dir), admin, db).await
    }

    /// Serves `state` (whose database the caller owns) through the server's
    /// own listener, as `palisade serve` does.
    pub async fn serve_state(state: AppState, admin: String, db: ServerDb) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            palisade_server::listener::serve(
                listener,
                app(state),
                palisade_server::listener::ListenerConfig::default(),
                std::future::pending(),
            )
            .await
            .unwrap();
        });
        Self::new(addr, admin, db, None, server)
    }

    async fn serve(state: AppState, dir: Option<PathBuf>, admin: String, db: ServerDb) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self::new(addr, admin, db, dir, server)
    }

    fn new(
        addr: SocketAddr,
        admin: String,
        db: ServerDb,
        dir: Option<PathBuf>,
        server: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            base: format!("http://{addr}"),
            admin,
            db,
            dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
            server,
        }
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        self.send(request).await
    }

    /// Sends any request.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            json,
            text,
        }
    }

    /// `GET path` as the admin.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(&self.admin), None).await
    }

    /// Creates a key with `scope` (and `tier`) as the admin; returns its token.
    pub async fn create_key(&self, scope: &str, tier: Option<&str>) -> String {
        let body = match tier {
            Some(tier) => format!(r#"{{"name":"test {scope}","scope":"{scope}","tier":"{tier}"}}"#),
            None => format!(r#"{{"name":"test {scope}","scope":"{scope}"}}"#),
        };
        let answer = self
            .call(Method::POST, "/api/keys", Some(&self.admin), Some(&body))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// API settings with one extra tier.
pub fn with_tier(name: &str, per_minute: u32) -> ApiArgs {
    ApiArgs {
        rate_tiers: vec![format!("{name}={per_minute}").parse::<TierArg>().unwrap()],
        ..ApiArgs::default()
    }
}

/// Asserts `answer` is an RFC 9457 problem with `status` and `code`.
#[track_caller]
pub fn assert_problem(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(
        answer.headers[http::header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        answer.text
    );
    assert_eq!(answer.json["status"], status.as_u16(), "{}", answer.text);
    assert_eq!(answer.json["code"], code, "{}", answer.text);
    assert!(
        answer.json["type"].as_str().unwrap().ends_with(code),
        "{}",
        answer.text
    );
}

/// What a JSON `tracing` subscriber wrote while installed with
/// [`LogCapture::install`]: on a current-thread test runtime that is every
/// line of the served app, since its tasks run on the test's thread.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Captures this thread's log lines (as JSON) until the guard is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The lines logged under `target`.
    pub fn target(&self, target: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|line| line["target"] == target)
            .collect()
    }

    /// Everything written, as text (to check what must never appear).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
