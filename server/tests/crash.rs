//! The crash test: the real `palisade` binary delivers 10,000 webhooks from
//! an outbox to a receiver in this process, is killed with SIGKILL in the
//! middle, and restarted; in the end the receiver has seen every message
//! (signed, verified) at least once, every delivery has succeeded, and the
//! duplicates are bounded by what the killed process had in flight.
//! Messages are also published while the server delivers, before and after
//! the crash, and the endpoint's secret is sealed at rest (`--secret-key`).
//!
//! It runs with SQLite and with Postgres (a fresh database per run; a
//! visible `SKIPPED:` line when Postgres does not answer, a failure then
//! with `PALISADE_REQUIRE_SERVICES=1`).
//!
//! Time here is real: the child is another process. Every wait is a bounded
//! loop on an observable condition, never an assertion on elapsed time.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]
// The child signs with the real wall clock, so the receiver verifies with it.
#![allow(clippy::disallowed_methods)]

#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use palisade_webhooks::deliver::Engine;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::store::{
    DeliveryState, EventType, NewEndpoint, NewMessage, PostgresStore, SecretKey, SecretKeyring,
    SqliteStore, Store, StoreError,
};
use palisade_webhooks::{Scheme as _, Secret, StandardWebhooks};

/// Messages in the outbox before the server starts.
const BACKLOG: usize = 10_000;
/// Messages published while the server delivers, in batches.
const LIVE: usize = 2_000;
const LIVE_BATCH: usize = 100;
/// Kill the first server once the receiver has seen this many.
const KILL_AT: u64 = 3_000;
/// The server's limits, passed explicitly so the duplicate bound is known.
const MAX_IN_FLIGHT: u64 = 64;
const BATCH_SIZE: u64 = 32;
/// Short, so the killed server's claims come back soon after the restart.
const LEASE: &str = "4s";
const ATTEMPT_TIMEOUT: &str = "2s";

// ---------------------------------------------------------------- receiver

/// What the receiver saw: how often each verified `webhook-id` arrived.
#[derive(Default)]
struct Seen {
    ids: Mutex<HashMap<String, u32>>,
    total: AtomicU64,
    bad_signatures: AtomicU64,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Seen>,
    secret: Secret,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    if StandardWebhooks::new(r.secret.clone())
        .verify(&headers, &body, now)
        .is_err()
    {
        r.seen.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    *r.seen.ids.lock().unwrap().entry(id).or_default() += 1;
    r.seen.total.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

async fn serve_receiver(receiver: Receiver) -> SocketAddr {
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

// ------------------------------------------------------------------ outbox

type PublishBatch =
    Box<dyn Fn(Vec<NewMessage>) -> Pin<Box<dyn Future<Output = Vec<String>> + Send>> + Send + Sync>;

/// The outbox as the test process sees it: the store, the URL the server
/// opens it with, and a way to publish a batch of messages in one
/// transaction (the outbox pattern's `publish_in`, so 10,000 messages do
/// not take 10,000 commits).
struct Outbox {
    store: Arc<dyn Store>,
    /// The same database opened without the key, to check secrets are
    /// sealed at rest.
    keyless: Arc<dyn Store>,
    url: String,
    publish_batch: PublishBatch,
}

async fn sqlite_outbox(dir: &Path, key: &SecretKey) -> Outbox {
    let path = dir.join("outbox.db");
    let store = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(key.clone()));
    let writer = store.clone();
    Outbox {
        store: Arc::new(store),
        keyless: Arc::new(SqliteStore::open(&path).await.unwrap()),
        url: format!("sqlite://{}", path.display()),
        publish_batch: Box::new(move |messages| {
            let store = writer.clone();
            Box::pin(async move {
                // IMMEDIATE: the server writes from another process, and a
                // deferred transaction that read first cannot take the
                // write lock after it (SQLITE_BUSY at once, no busy wait).
                let mut tx = store.writer().begin_with("BEGIN IMMEDIATE").await.unwrap();
                let mut ids = Vec::with_capacity(messages.len());
                for message in messages {
                    let published = store
                        .publish_in(&mut tx, message, SystemTime::now())
                        .await
                        .unwrap();
                    assert_eq!(published.deliveries, 1);
                    ids.push(published.message_id);
                }
                tx.commit().await.unwrap();
                ids
            })
        }),
    }
}

async fn postgres_outbox(url: &str, key: &SecretKey) -> Outbox {
    let store = PostgresStore::connect(url)
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(key.clone()));
    let writer = store.clone();
    Outbox {
        store: Arc::new(store),
        keyless: Arc::new(PostgresStore::connect(url).await.unwrap()),
        url: url.to_owned(),
        publish_batch: Box::new(move |messages| {
            let store = writer.clone();
            Box::pin(async move {
                let mut tx = store.pool().begin().await.unwrap();
                let mut ids = Vec::with_capacity(messages.len());
                for message in messages {
                    let published = store
                        .publish_in(&mut tx, message, SystemTime::now())
                        .await
                        .unwrap();
                    assert_eq!(published.deliveries, 1);
                    ids.push(published.message_id);
                }
                tx.commit().await.unwrap();
                ids
            })
        }),
    }
}

fn message(n: usize) -> NewMessage {
    NewMessage {
        application: "crash".into(),
        event_type: "order.paid".into(),
        channels: vec![],
        payload: format!(r#"{{"order":{n}}}"#).into(),
        idempotency_key: Some(format!("order-{n}")),
    }
}

// ------------------------------------------------------------------ server

/// The real binary, delivering from `url` with loopback allowed, opening
/// endpoint secrets with `key`.
fn spawn_server(url: &str, key: &SecretKey, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["serve", "--port", "0", "--database-url", url])
        .args(["--webhook-allow-net", "127.0.0.0/8"])
        .args(["--webhook-max-in-flight", &MAX_IN_FLIGHT.to_string()])
        .args(["--webhook-batch-size", &BATCH_SIZE.to_string()])
        .args(["--webhook-lease", LEASE])
        .args(["--webhook-attempt-timeout", ATTEMPT_TIMEOUT])
        .env("RUST_LOG", "warn,palisade_server=info")
        .env("PALISADE_SECRET_KEY", key.to_config_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Asks the server to stop as an orchestrator would (SIGTERM) and expects a
/// clean exit.
fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "the server exited with {exit} after SIGTERM"
    );
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("palisade-crash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

// -------------------------------------------------------------------- test

/// Polls `condition` every 10 ms, up to `limit` times; panics with `what`
/// (and the server logs' location) when it never holds.
async fn wait_until(what: &str, logs: &Path, limit: u32, mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..limit {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened (server logs in {})", logs.display());
}

async fn crash_and_recover(outbox: Outbox, key: &SecretKey, dir: &Path) {
    let seen = Arc::new(Seen::default());
    let secret = Secret::generate();
    let addr = serve_receiver(Receiver {
        seen: seen.clone(),
        secret: secret.clone(),
    })
    .await;
    outbox
        .store
        .create_event_type(
            EventType {
                name: "order.paid".into(),
                description: String::new(),
                schema: None,
            },
            SystemTime::now(),
        )
        .await
        .unwrap();
    // Through the engine, so the URL is checked as the server would.
    let engine = Engine::builder(outbox.store.clone())
        .address_policy(AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap()))
        .build()
        .unwrap();
    let endpoint = engine
        .create_endpoint(NewEndpoint {
            application: "crash".into(),
            url: format!("http://{addr}/hook"),
            description: "the crash test's receiver".into(),
            event_types: None,
            channels: None,
            secret,
            rate_limit: None,
            max_concurrency: None,
            ordered: false,
            headers: vec![],
        })
        .await
        .unwrap();
    // The endpoint's secret is sealed at rest: without the key it does not
    // open (the server, given the key, signs with it: the receiver checks).
    match outbox.keyless.endpoint(&endpoint.id).await {
        Err(StoreError::Secret(_)) => {}
        other => panic!("a secret opened without the key: {other:?}"),
    }

    let outbox = Arc::new(outbox);
    let mut expected: HashSet<String> = HashSet::new();
    for chunk in (0..BACKLOG).collect::<Vec<_>>().chunks(1_000) {
        let ids = (outbox.publish_batch)(chunk.iter().map(|&n| message(n)).collect()).await;
        expected.extend(ids);
    }
    assert_eq!(expected.len(), BACKLOG);

    // Publishing while delivering: a batch each time the receiver has seen
    // another 400, so batches land before the crash, between, and after.
    let publisher = tokio::spawn({
        let (outbox, seen) = (outbox.clone(), seen.clone());
        async move {
            let mut ids = Vec::new();
            for (i, start) in (BACKLOG..BACKLOG + LIVE).step_by(LIVE_BATCH).enumerate() {
                let due = 400 * (u64::try_from(i).unwrap() + 1);
                while seen.total.load(Ordering::SeqCst) < due {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let batch = (start..start + LIVE_BATCH).map(message).collect();
                ids.extend((outbox.publish_batch)(batch).await);
            }
            ids
        }
    });

    let first_log = dir.join("server-1.log");
    let mut first = spawn_server(&outbox.url, key, &first_log);
    wait_until(
        "the receiver seeing 3,000 messages",
        &first_log,
        6_000,
        async || seen.total.load(Ordering::SeqCst) >= KILL_AT,
    )
    .await;
    first.kill().unwrap(); // SIGKILL: no graceful shutdown, claims left leased
    first.wait().unwrap();
    let seen_at_kill = seen.total.load(Ordering::SeqCst);
    let waiting_at_kill = outbox.store.stats(SystemTime::now()).await.unwrap().waiting;
    assert!(
        waiting_at_kill > 0,
        "the server was killed after it had delivered everything"
    );

    let second_log = dir.join("server-2.log");
    let second = spawn_server(&outbox.url, key, &second_log);
    let live_ids = {
        let mut publisher = Some(publisher);
        let mut live_ids = Vec::new();
        wait_until(
            "the live publisher finishing",
            &second_log,
            12_000,
            async || {
                if publisher
                    .as_ref()
                    .is_some_and(tokio::task::JoinHandle::is_finished)
                {
                    live_ids = publisher.take().unwrap().await.unwrap();
                }
                publisher.is_none()
            },
        )
        .await;
        live_ids
    };
    expected.extend(live_ids);
    assert_eq!(expected.len(), BACKLOG + LIVE);
    wait_until(
        "every delivery finishing",
        &second_log,
        12_000,
        async || {
            let stats = outbox.store.stats(SystemTime::now()).await.unwrap();
            stats.waiting == 0 && stats.dead == 0
        },
    )
    .await;
    terminate(second);

    // Every message arrived, verified, under its own id.
    assert_eq!(seen.bad_signatures.load(Ordering::SeqCst), 0);
    let ids = seen.ids.lock().unwrap().clone();
    let missing = expected.iter().filter(|id| !ids.contains_key(*id)).count();
    assert_eq!(missing, 0, "messages never delivered");
    let unknown = ids.keys().filter(|id| !expected.contains(*id)).count();
    assert_eq!(unknown, 0, "ids the outbox never held");
    // Duplicates: only what the killed server had sent but not recorded,
    // which its in-flight limit bounds (an attempt holds its slot until its
    // outcome is written).
    let total = seen.total.load(Ordering::SeqCst);
    let duplicates = total - u64::try_from(ids.len()).unwrap();
    eprintln!(
        "crash test ({}): killed after {seen_at_kill} received ({waiting_at_kill} deliveries waiting); \
         {total} requests for {} messages, {duplicates} duplicates",
        outbox.url.split(':').next().unwrap(),
        ids.len()
    );
    assert!(
        duplicates <= MAX_IN_FLIGHT,
        "{duplicates} duplicates, more than the {MAX_IN_FLIGHT} in flight"
    );
    // And the outbox agrees: every delivery succeeded, none is left.
    for id in &expected {
        let deliveries = outbox.store.deliveries(id).await.unwrap();
        assert_eq!(deliveries.len(), 1, "{id}");
        assert_eq!(deliveries[0].state, DeliveryState::Succeeded, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_server_loses_nothing() {
    let dir = TempDir::new("sqlite");
    let key = SecretKey::generate("crash").unwrap();
    let outbox = sqlite_outbox(&dir.0, &key).await;
    crash_and_recover(outbox, &key, &dir.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_server_loses_nothing() {
    let Some(db) = services::fresh_database("postgres_a_killed_server_loses_nothing").await else {
        return;
    };
    let dir = TempDir::new("postgres");
    let key = SecretKey::generate("crash").unwrap();
    let outbox = postgres_outbox(db.url(), &key).await;
    crash_and_recover(outbox, &key, &dir.0).await;
}
