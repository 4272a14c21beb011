//! The delivery engine over real HTTP on 127.0.0.1, with a real SQLite
//! outbox: signatures, the retry schedule, 410, 429 + Retry-After, and a
//! failing endpoint's breaker not slowing the others.
#![cfg(all(feature = "deliver", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

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
    AttemptResult, DeliveryState, DisabledReason, EventType, NewEndpoint, NewMessage, SqliteStore,
    Store,
};
use palisade_webhooks::{Scheme as _, Secret, StandardWebhooks};

/// A wall clock the test moves by hand, starting at a fixed time.
#[derive(Clone)]
struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000_000)))
    }
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(u64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

/// What the receiver saw, by path: each verified message id, in order.
#[derive(Default)]
struct Seen {
    by_path: Mutex<HashMap<String, Vec<String>>>,
    rejected: AtomicU64,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Seen>,
    secret: Secret,
    clock: ManualClock,
}

async fn receive(
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
    let mut out = HeaderMap::new();
    match path.as_str() {
        "ok" => (StatusCode::OK, out, "thanks"),
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

async fn serve(receiver: Receiver) -> SocketAddr {
    let app = Router::new()
        .route("/{path}", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

struct Setup {
    store: Arc<SqliteStore>,
    engine: Engine,
    clock: ManualClock,
    seen: Arc<Seen>,
    secret: Secret,
    addr: SocketAddr,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn setup(name: &str, schedule: RetrySchedule) -> Setup {
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
    let engine = Engine::builder(store.clone())
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
    async fn endpoint(&self, path: &str) -> String {
        self.engine
            .create_endpoint(NewEndpoint {
                application: "app".into(),
                url: format!("http://{}/{path}", self.addr),
                description: path.into(),
                event_types: None,
                channels: None,
                secret: self.secret.clone(),
                rate_limit: None,
                max_concurrency: None,
                ordered: false,
                headers: vec![("x-tenant".into(), "acme".into())],
            })
            .await
            .unwrap()
            .id
    }

    async fn publish(&self, n: u32) -> String {
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

    fn seen(&self, path: &str) -> Vec<String> {
        self.seen
            .by_path
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits (bounded) until `path` has seen `n` requests.
    async fn wait_for(&self, path: &str, n: usize) {
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
    async fn wait_state(&self, message_id: &str, state: DeliveryState) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_signed_and_verified() {
    let s = setup("all", RetrySchedule::default()).await;
    s.endpoint("ok").await;
    let running = s.engine.start();
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(s.publish(n).await);
    }
    s.wait_for("ok", 200).await;
    let mut seen = s.seen("ok");
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each message exactly once, under its message id");
    assert_eq!(
        s.seen.rejected.load(Ordering::SeqCst),
        0,
        "every signature verified"
    );
    for id in &ids {
        s.wait_state(id, DeliveryState::Succeeded).await;
    }
    let attempts = s.store.attempts(&ids[0]).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].result, AttemptResult::Status(200));
    assert_eq!(attempts[0].response_excerpt, "thanks");
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.released, 0, "nothing was left claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_it_after_exactly_n_plus_one_attempts_on_the_schedule() {
    let schedule = RetrySchedule::new(
        [0, 10, 60, 600, 3600]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
    )
    .jitter(0.0);
    let s = setup("fail3", schedule).await;
    s.endpoint("fail3").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    let t0 = s.clock.now();
    // Each failure schedules the next attempt exactly; nothing is sent
    // before the clock reaches it.
    for (k, wait) in [10, 60, 600].into_iter().enumerate() {
        s.wait_for("fail3", k + 1).await;
        s.wait_state(&id, DeliveryState::FailedRetrying).await;
        let d = s.store.deliveries(&id).await.unwrap().remove(0);
        assert_eq!(d.attempts, u32::try_from(k).unwrap() + 1);
        assert_eq!(
            d.next_attempt_at,
            Some(s.clock.now() + Duration::from_secs(wait))
        );
        s.clock
            .advance(Duration::from_secs(wait) - Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(s.seen("fail3").len(), k + 1, "not a moment early");
        s.clock.advance(Duration::from_millis(1));
    }
    s.wait_state(&id, DeliveryState::Succeeded).await;
    assert_eq!(
        s.seen("fail3"),
        vec![id.clone(); 4],
        "N+1 = 4 attempts, one webhook-id"
    );
    let attempts = s.store.attempts(&id).await.unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| a.result.clone()).collect();
    assert_eq!(
        statuses,
        [500, 500, 500, 204].map(AttemptResult::Status).to_vec()
    );
    let offsets: Vec<_> = attempts
        .iter()
        .map(|a| a.at.duration_since(t0).unwrap().as_secs())
        .collect();
    assert_eq!(offsets, vec![0, 10, 70, 670]);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint() {
    let s = setup("gone", RetrySchedule::default()).await;
    let ep = s.endpoint("gone").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    s.wait_state(&id, DeliveryState::Dead).await;
    let endpoint = s.store.endpoint(&ep).await.unwrap();
    assert_eq!(endpoint.disabled.map(|d| d.0), Some(DisabledReason::Gone));
    // Later messages are not fanned out to it.
    let p = s
        .engine
        .publish(NewMessage {
            application: "app".into(),
            event_type: "order.paid".into(),
            channels: vec![],
            payload: "{}".into(),
            idempotency_key: None,
        })
        .await
        .unwrap();
    assert_eq!(p.deliveries, 0);
    assert_eq!(s.seen("gone").len(), 1);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    let schedule = RetrySchedule::new(vec![
        Duration::ZERO,
        Duration::from_secs(5),
        Duration::from_secs(5),
    ])
    .jitter(0.0);
    let s = setup("busy", schedule).await;
    s.endpoint("busy").await;
    let running = s.engine.start();
    let id = s.publish(1).await;
    s.wait_state(&id, DeliveryState::FailedRetrying).await;
    let d = s.store.deliveries(&id).await.unwrap().remove(0);
    assert_eq!(
        d.next_attempt_at,
        Some(s.clock.now() + Duration::from_secs(120)),
        "Retry-After beats the 5 s schedule"
    );
    s.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(s.seen("busy").len(), 1);
    s.clock.advance(Duration::from_secs(60));
    s.wait_state(&id, DeliveryState::Succeeded).await;
    assert_eq!(s.seen("busy").len(), 2);
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_opens_its_breaker_and_the_others_keep_flowing() {
    let s = setup(
        "breaker",
        RetrySchedule::new(vec![Duration::ZERO; 3]).jitter(0.0),
    )
    .await;
    let down = s.endpoint("down").await;
    s.endpoint("ok").await;
    let running = s.engine.start();
    let mut ids = Vec::new();
    for n in 0..300 {
        ids.push(s.publish(n).await);
    }
    s.wait_for("ok", 300).await;
    // Let the down endpoint's deliveries settle (attempted or postponed).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hits = s.seen("down").len();
    assert!(hits >= 20, "the breaker needs its minimum calls: {hits}");
    assert!(
        hits < 300,
        "the open breaker stopped the hammering: {hits} requests for 300 messages x 3 attempts"
    );
    // Postponed deliveries kept their attempts: none of them is dead for it.
    let mut unspent = 0;
    for id in &ids {
        for d in s.store.deliveries(id).await.unwrap() {
            if d.endpoint_id == down && d.attempts == 0 {
                assert_ne!(d.state, DeliveryState::Dead);
                unspent += 1;
            }
        }
    }
    assert!(
        unspent > 0,
        "deliveries behind the open breaker were postponed, not failed"
    );
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_clear_errors_and_nothing_stored() {
    let s = setup("bad", RetrySchedule::default()).await;
    s.endpoint("ok").await;
    let before = s.store.stats(s.clock.now()).await.unwrap();
    let message = |event: &str, payload: &str| NewMessage {
        application: "app".into(),
        event_type: event.into(),
        channels: vec![],
        payload: payload.to_owned().into(),
        idempotency_key: None,
    };
    let err = s
        .engine
        .publish(message("nope.nope", "{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unknown_event_type");
    let err = s
        .engine
        .publish(message("order.paid", "not json"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_json");
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(1024 * 1024));
    let err = s
        .engine
        .publish(message("order.paid", &big))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "payload_too_large");
    assert!(
        err.to_string().contains("over the limit of 1048576 bytes"),
        "{err}"
    );
    assert_eq!(s.store.stats(s.clock.now()).await.unwrap(), before);

    // Event types with a JSON Schema: bad names and schemas are refused, and
    // payloads are checked at publish without echoing their values.
    let typed = |name: &str, schema: serde_json::Value| EventType {
        name: name.into(),
        description: String::new(),
        schema: Some(schema),
    };
    let err = s
        .engine
        .create_event_type(typed("has space", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_event_type_name");
    let err = s
        .engine
        .create_event_type(typed(
            "bad.schema",
            serde_json::json!({"type": "no-such-type"}),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_schema");
    let schema = serde_json::json!({
        "type": "object",
        "required": ["amount"],
        "properties": {"amount": {"type": "integer", "minimum": 0}}
    });
    s.engine
        .create_event_type(typed("invoice.paid", schema))
        .await
        .unwrap();
    let err = s
        .engine
        .create_event_type(typed("invoice.paid", serde_json::json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "event_type_exists");
    let err = s
        .engine
        .publish(message("invoice.paid", r#"{"amount":"secret-value"}"#))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "schema_mismatch");
    let text = err.to_string();
    assert!(text.contains("at /amount"), "{text}");
    assert!(
        !text.contains("secret-value"),
        "payload values stay out of errors: {text}"
    );
    let err = s
        .engine
        .publish(message("invoice.paid", "{}"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("amount"), "{err}");
    assert_eq!(
        s.store.stats(s.clock.now()).await.unwrap(),
        before,
        "nothing stored"
    );
    let ok = s
        .engine
        .publish(message("invoice.paid", r#"{"amount":5}"#))
        .await
        .unwrap();
    assert!(ok.created);

    let endpoint = |url: &str, headers: Vec<(String, String)>| NewEndpoint {
        application: "app".into(),
        url: url.into(),
        description: String::new(),
        event_types: None,
        channels: None,
        secret: Secret::generate(),
        rate_limit: None,
        max_concurrency: None,
        ordered: false,
        headers,
    };
    for url in [
        "not a url",
        "ftp://example.com/",
        "/relative",
        "http://user:pw@example.com/",
    ] {
        let err = s
            .engine
            .create_endpoint(endpoint(url, vec![]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_url", "{url}");
    }
    let err = s
        .engine
        .create_endpoint(endpoint(
            "https://example.com/",
            vec![("webhook-signature".into(), "x".into())],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "forbidden_header");
    // Without the test's allow-list, loopback and private targets are refused
    // when the endpoint is saved.
    let strict = Engine::builder(s.store.clone()).build().unwrap();
    for url in [
        "http://127.0.0.1:9/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
    ] {
        let err = strict
            .create_endpoint(endpoint(url, vec![]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "invalid_url", "{url}");
    }
    assert_eq!(
        s.store.endpoints(Some("app")).await.unwrap().len(),
        1,
        "only the first endpoint exists"
    );
}
