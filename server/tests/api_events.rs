//! `GET /api/events` over real HTTP on 127.0.0.1: a subscriber sees a flag
//! changed and a breaker forced open through the API, is refused without a
//! key, and its stream ends when the server shuts down.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

mod api_hooks_support;

use std::sync::Arc;
use std::time::Duration;

use api_hooks_support::{Api, Outbox, serve};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_flags::store::{FlagStore, SqliteFlagStore};
use palisade_server::AppState;
use serde_json::{Value, json};

/// How long a test waits for an event before it fails (a bound on a loop,
/// not a measurement).
const PATIENCE: Duration = Duration::from_secs(10);

/// An open event stream and the text read from it so far.
struct Stream {
    body: Incoming,
    buffer: String,
}

impl Stream {
    async fn open(api: &Api, scope: &str) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let request = http::Request::get(format!("http://{}/api/events", api.addr))
            .header("authorization", format!("Bearer {}", api.token(scope)))
            .body(Empty::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{:?}",
            response.headers()
        );
        Self {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The data of the next event named `name` (others are skipped); `None`
    /// if the stream ends first.
    async fn next(&mut self, name: &str) -> Option<Value> {
        tokio::time::timeout(PATIENCE, self.next_unbounded(name))
            .await
            .unwrap_or_else(|_| panic!("no `{name}` event in {PATIENCE:?}: {}", self.buffer))
    }

    async fn next_unbounded(&mut self, name: &str) -> Option<Value> {
        loop {
            while let Some((frame, rest)) = self.buffer.split_once("\n\n") {
                let (frame, rest) = (frame.to_owned(), rest.to_owned());
                self.buffer = rest;
                let event = frame.lines().find_map(|l| l.strip_prefix("event: "));
                let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
                if event == Some(name) {
                    return Some(serde_json::from_str(data.unwrap()).unwrap());
                }
            }
            let frame = self.body.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn with_flags(name: &str) -> (AppState, TempDir) {
    let dir = std::env::temp_dir().join(format!(
        "palisade-server-events-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn FlagStore> =
        Arc::new(SqliteFlagStore::open(dir.join("flags.db")).await.unwrap());
    (AppState::new().unwrap().with_flags(store), TempDir(dir))
}

#[tokio::test]
async fn a_flag_changed_through_the_api_reaches_the_stream_with_its_version() {
    let (state, _dir) = with_flags("flag").await;
    let api = serve(state).await;
    let mut stream = Stream::open(&api, "read").await;

    let flag = json!({ "kind": "boolean", "enabled": true });
    let put = api
        .call(
            Method::PUT,
            "/api/flags/checkout",
            Some("write"),
            Some(&flag),
            &[],
        )
        .await;
    assert!(put.status.is_success(), "{}", put.body);
    assert_eq!(
        stream.next("flag").await.unwrap(),
        json!({ "key": "checkout", "version": 1 })
    );

    let off = json!({ "kind": "boolean", "enabled": false });
    api.call(
        Method::PUT,
        "/api/flags/checkout",
        Some("write"),
        Some(&off),
        &[],
    )
    .await;
    assert_eq!(stream.next("flag").await.unwrap()["version"], 2);

    api.delete("/api/flags/checkout", "write").await;
    assert_eq!(
        stream.next("flag").await.unwrap(),
        json!({ "key": "checkout", "version": null })
    );
}

#[tokio::test]
async fn forcing_a_breaker_open_reaches_every_stream() {
    let api = serve(AppState::new().unwrap()).await;
    let mut first = Stream::open(&api, "read").await;
    let mut second = Stream::open(&api, "admin").await;

    let forced = api
        .post(
            "/api/breakers/demo-upstream/force-open",
            "admin",
            &json!({}),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK);
    for stream in [&mut first, &mut second] {
        let event = stream.next("breaker").await.unwrap();
        assert_eq!(event["name"], "demo-upstream");
        assert_eq!(
            (&event["from"], &event["to"]),
            (&json!("closed"), &json!("forced_open"))
        );
        // The same transition `/api/breakers` shows.
        assert_eq!(event["at"], forced.body["last_transition"]["at"]);
    }

    api.post("/api/breakers/demo-upstream/close", "admin", &json!({}))
        .await;
    assert_eq!(first.next("breaker").await.unwrap()["to"], "closed");
}

#[tokio::test]
async fn a_breaker_reconfigured_through_the_api_reaches_the_stream() {
    let api = serve(AppState::new().unwrap()).await;
    let mut stream = Stream::open(&api, "read").await;
    let changed = api
        .patch(
            "/api/breakers/demo-upstream",
            "admin",
            &json!({"failure_rate_threshold": 20.0}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let event = stream.next("config").await.unwrap();
    assert_eq!(event["name"], "demo-upstream");
    assert_eq!(event["before"]["failure_rate_threshold"], 50.0);
    // The settings `/api/breakers` now shows.
    assert_eq!(event["after"], changed.body["config"]);
}

#[tokio::test]
async fn a_server_with_a_database_sends_its_queue_stats() {
    let outbox = Outbox::open("events-stats").await;
    let state = AppState::new()
        .unwrap()
        .with_database("sqlite", outbox.store.clone());
    let api = serve(state).await;
    let mut stream = Stream::open(&api, "read").await;
    assert_eq!(
        stream.next("stats").await.unwrap(),
        json!({ "waiting": 0, "dead": 0, "oldest_due_at": null })
    );
}

#[tokio::test]
async fn the_stream_needs_a_key() {
    let api = serve(AppState::new().unwrap()).await;
    api.call(Method::GET, "/api/events", None, None, &[])
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn closing_the_events_ends_open_streams() {
    let state = AppState::new().unwrap();
    let api = serve(state.clone()).await;
    let mut stream = Stream::open(&api, "read").await;
    state.events.close();
    // The body ends: a graceful shutdown has nothing to wait for.
    assert_eq!(stream.next("breaker").await, None);
}

#[test]
fn the_stream_is_in_the_openapi_document() {
    let (_, doc) = palisade_server::api::router().split_for_parts();
    let doc: Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    let operation = &doc["paths"]["/events"]["get"];
    assert!(
        operation["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{operation}"
    );
    assert!(operation["responses"]["401"].is_object());
}
