//! The shared harness of the delivery tests: a signature-verifying axum
//! receiver on 127.0.0.1, a hand-moved wall clock, and an engine over a
//! fresh SQLite outbox.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::deliver::{Engine, RetrySchedule};
use palisade_webhooks::store::{
    DeliveryState, EventType, NewEndpoint, NewMessage, SqliteStore, Store,
};
use palisade_webhooks::{Scheme as _, Secret, StandardWebhooks};

/// A wall clock the test moves by hand, starting at a fixed time.
#[derive(Clone)]
pub(crate) struct ManualClock(pub(crate) Arc<AtomicU64>);

impl ManualClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000_000)))
    }
    pub(crate) fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
    pub(crate) fn advance(&self, by: Duration) {
        self.0
            .fetch_add(u64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

/// What the receiver saw, by path: each verified message id, in order.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) by_path: Mutex<HashMap<String, Vec<String>>>,
    pub(crate) bodies: Mutex<HashMap<String, Vec<String>>>,
    pub(crate) rejected: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) seen: Arc<Seen>,
    pub(crate) secret: Secret,
    pub(crate) clock: ManualClock,
}

pub(crate) async fn receive(
    State(r): State<Receiver>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let now = i64::try_from(r.clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap();
    let verified = StandardWebhooks::new(r.secret.clone()).verify(&headers, &body, now);
    if verified.is_err() {
        r.seen.rejected.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, HeaderMap::new(), "bad signature");
    }
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    let count = {
        let mut seen = r.seen.by_path.lock().unwrap();
        let list = seen.entry(path.clone()).or_default();
        list.push(id);
        list.len()
    };
    r.seen
        .bodies
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default()
        .push(String::from_utf8_lossy(&body).into_owned());
    let mut out = HeaderMap::new();
    if path == "slow20" {
        let now = r.seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        r.seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        r.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    if path == "slow-once" && count == 1 {
        // Long enough for the test to shut the engine down mid-attempt.
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    match path.as_str() {
        "ok" | "ops" | "slow-once" | "slow20" | "limited" => (StatusCode::OK, out, "thanks"),
        "fail3" if count <= 3 => (StatusCode::INTERNAL_SERVER_ERROR, out, "not yet"),
        "fail3" => (StatusCode::NO_CONTENT, out, ""),
        "gone" => (StatusCode::GONE, out, "gone for good"),
        "busy" if count == 1 => {
            out.insert("retry-after", "120".parse().unwrap());
            (StatusCode::TOO_MANY_REQUESTS, out, "slow down")
        }
        "busy" => (StatusCode::OK, out, ""),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, out, "always down"),
    }
}

pub(crate) async fn serve(receiver: Receiver) -> SocketAddr {
    let app = Router::new()
        .route("/{path}", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

pub(crate) struct Setup {
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) engine: Engine,
    pub(crate) clock: ManualClock,
    pub(crate) seen: Arc<Seen>,
    pub(crate) secret: Secret,
    pub(crate) addr: SocketAddr,
    pub(crate) _dir: TempDir,
}

pub(crate) struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) async fn setup(name: &str, schedule: RetrySchedule) -> Setup {
    setup_with(name, schedule, |b| b).await
}

pub(crate) async fn setup_with(
    name: &str,
    schedule: RetrySchedule,
    configure: impl FnOnce(
        palisade_webhooks::deliver::EngineBuilder,
    ) -> palisade_webhooks::deliver::EngineBuilder,
) -> Setup {
    let dir = std::env::temp_dir().join(format!("palisade-deliver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open(dir.join("outbox.db")).await.unwrap());
    let clock = ManualClock::new();
    store
        .create_event_type(
            EventType {
                name: "order.paid".into(),
                description: String::new(),
                schema: None,
            },
            clock.now(),
        )
        .await
        .unwrap();
    let seen = Arc::new(Seen::default());
    let secret = Secret::generate();
    let addr = serve(Receiver {
        seen: seen.clone(),
        secret: secret.clone(),
        clock: clock.clone(),
    })
    .await;
    let engine_clock = clock.clone();
    // The real delivery client: the SSRF-safe connector, with loopback
    // allowed for this test's receiver.
    let policy = AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap());
    let engine = configure(Engine::builder(store.clone()))
        .address_policy(policy)
        .clock(move || engine_clock.now())
        .schedule(schedule)
        .poll_interval(Duration::from_millis(5))
        .attempt_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    Setup {
        store,
        engine,
        clock,
        seen,
        secret,
        addr,
        _dir: TempDir(dir),
    }
}

impl Setup {
    pub(crate) async fn endpoint(&self, path: &str) -> String {
        self.endpoint_in("app", path).await
    }

    pub(crate) async fn endpoint_in(&self, application: &str, path: &str) -> String {
        self.endpoint_with(application, path, None, None).await
    }

    pub(crate) async fn endpoint_with(
        &self,
        application: &str,
        path: &str,
        rate_limit: Option<u32>,
        max_concurrency: Option<u32>,
    ) -> String {
        self.engine
            .create_endpoint(NewEndpoint {
                application: application.into(),
                url: format!("http://{}/{path}", self.addr),
                description: path.into(),
                event_types: None,
                channels: None,
                secret: self.secret.clone(),
                rate_limit,
                max_concurrency,
                ordered: false,
                headers: vec![("x-tenant".into(), "acme".into())],
            })
            .await
            .unwrap()
            .id
    }

    pub(crate) async fn publish(&self, n: u32) -> String {
        self.engine
            .publish(NewMessage {
                application: "app".into(),
                event_type: "order.paid".into(),
                channels: vec![],
                payload: format!(r#"{{"order":{n}}}"#).into(),
                idempotency_key: Some(format!("order-{n}")),
            })
            .await
            .unwrap()
            .message_id
    }

    pub(crate) fn seen(&self, path: &str) -> Vec<String> {
        self.seen
            .by_path
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits (bounded) until `path` has seen `n` requests.
    pub(crate) async fn wait_for(&self, path: &str, n: usize) {
        for _ in 0..2000 {
            if self.seen(path).len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "{path} saw {} requests, expected {n}",
            self.seen(path).len()
        );
    }

    /// Waits (bounded) until the message's only delivery is in `state`.
    pub(crate) async fn wait_state(&self, message_id: &str, state: DeliveryState) {
        for _ in 0..2000 {
            let d = self.store.deliveries(message_id).await.unwrap();
            if d.iter().all(|d| d.state == state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!(
            "{message_id} never reached {state}: {:?}",
            self.store.deliveries(message_id).await
        );
    }
}
