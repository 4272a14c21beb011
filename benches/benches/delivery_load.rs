//! The whole webhook delivery pipeline under load, in one process, as a user
//! runs it: a publisher calling `Engine::publish` at a target rate while the
//! engine's workers claim, sign and POST each delivery to an axum receiver on
//! 127.0.0.1 that verifies the signature (the engine's own SSRF-safe client,
//! with loopback allow-listed).
//!
//! Modes (results go to `docs/benchmarks.md`, "Webhook delivery"):
//!
//! - `rate`: publish at each of `--rates` for `--seconds`; per rate, the
//!   deliveries per second, whether the queue stayed flat (sustained),
//!   publish-to-receipt latency p50/p99/max (receive time minus the publish
//!   time the payload carries), and CPU per message.
//! - `backlog`: publish `--pending` messages with no worker running, then
//!   start the engine and drain them: publish-only rate, drain rate, the
//!   SQLite file size and the peak RSS while draining.
//!
//! ```sh
//! cargo bench -p palisade-benches --bench delivery_load -- \
//!     --store sqlite-full --mode rate --rates 1000,2000,3000 --seconds 10
//! cargo bench -p palisade-benches --bench delivery_load -- \
//!     --store sqlite-normal --mode backlog --pending 100000
//! ```
//!
//! Engine knobs: `--batch-size`, `--max-in-flight`, `--poll-ms`; load shape:
//! `--publishers` (concurrent publishing tasks), `--endpoints` (each message
//! fans out to every one of them; rates are messages per second).
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // a load program measures wall-clock time on purpose
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use palisade_benches::process;
use palisade_webhooks::deliver::Engine;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::store::{
    Durability, EventType, NewEndpoint, NewMessage, PostgresStore, SqliteStore, Store,
};
use palisade_webhooks::{Scheme as _, Secret, StandardWebhooks};
use sqlx::Connection as _;

#[derive(Debug, Clone)]
struct Args {
    store: String,
    mode: String,
    rates: Vec<u64>,
    seconds: u64,
    pending: u64,
    publishers: u64,
    endpoints: u64,
    batch_size: u32,
    max_in_flight: usize,
    poll_ms: u64,
}

impl Args {
    fn parse() -> Self {
        let mut args = Self {
            store: "sqlite-full".into(),
            mode: "rate".into(),
            rates: vec![500, 1000, 2000],
            seconds: 10,
            pending: 100_000,
            publishers: 8,
            endpoints: 1,
            batch_size: 64,
            max_in_flight: 256,
            poll_ms: 250,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            // `cargo bench` passes `--bench`; anything else unknown is an error.
            if flag == "--bench" {
                continue;
            }
            let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            let number = || -> u64 { value.parse().unwrap_or_else(|_| panic!("{flag}: {value}")) };
            match flag.as_str() {
                "--store" => args.store.clone_from(&value),
                "--mode" => args.mode.clone_from(&value),
                "--rates" => {
                    args.rates = value
                        .split(',')
                        .map(|r| r.trim().parse().unwrap())
                        .collect();
                }
                "--seconds" => args.seconds = number(),
                "--pending" => args.pending = number(),
                "--publishers" => args.publishers = number().max(1),
                "--endpoints" => args.endpoints = number().max(1),
                "--batch-size" => args.batch_size = u32::try_from(number()).unwrap(),
                "--max-in-flight" => args.max_in_flight = usize::try_from(number()).unwrap(),
                "--poll-ms" => args.poll_ms = number(),
                _ => panic!("unknown flag {flag}"),
            }
        }
        args
    }
}

fn unix_micros() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// What the receiver saw.
struct Received {
    count: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    /// One flag per sequence number, to count duplicates.
    seen: Vec<AtomicBool>,
    /// (sequence, publish-to-receipt in µs), per endpoint delivery.
    latencies: Mutex<Vec<(u64, u64)>>,
}

impl Received {
    fn new(capacity: u64) -> Self {
        Self {
            count: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            seen: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            latencies: Mutex::new(Vec::with_capacity(usize::try_from(capacity).unwrap())),
        }
    }
}

#[derive(Clone)]
struct Receiver {
    scheme: Arc<StandardWebhooks>,
    received: Arc<Received>,
    endpoints: u64,
}

/// Verifies the signature, then records the message's publish-to-receipt
/// time from the `t` (µs since the epoch, taken just before `publish`) in
/// its payload.
async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = unix_micros();
    let now_secs = i64::try_from(now / 1_000_000).unwrap();
    if r.scheme.verify(&headers, &body, now_secs).is_err() {
        r.received.rejected.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let seq = payload["seq"].as_u64().unwrap();
    let published = payload["t"].as_u64().unwrap();
    // With several endpoints each message arrives once per endpoint.
    let slot = seq * r.endpoints
        + headers["x-endpoint"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
    if r.received.seen[usize::try_from(slot).unwrap()].swap(true, Ordering::Relaxed) {
        r.received.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    r.received.count.fetch_add(1, Ordering::Relaxed);
    r.received
        .latencies
        .lock()
        .unwrap()
        .push((seq, now.saturating_sub(published)));
    StatusCode::NO_CONTENT
}

async fn serve(receiver: Receiver) -> SocketAddr {
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A fresh outbox, engine and receiver.
struct Pipeline {
    engine: Engine,
    received: Arc<Received>,
    dir: PathBuf,
    /// The fresh Postgres database of this run, dropped by `cleanup`.
    database: Option<String>,
}

impl Pipeline {
    async fn cleanup(self) {
        if let Some(database) = &self.database {
            let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
    }
}

/// The Postgres server to measure against (the tests' variable and default).
fn postgres_url() -> String {
    std::env::var("PALISADE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database for one run and returns its URL and name (our
/// own process id and run name: nothing to escape).
async fn fresh_database(name: &str) -> (String, String) {
    let base = postgres_url();
    let database = format!("palisade_load_{}_{name}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    (format!("{server}/{database}"), database)
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn pipeline(args: &Args, capacity: u64, name: &str) -> Pipeline {
    let dir = std::env::temp_dir().join(format!("palisade-load-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (store, database): (Arc<dyn Store>, _) = match args.store.as_str() {
        "sqlite-full" | "sqlite-normal" => {
            let durability = if args.store == "sqlite-full" {
                Durability::Full
            } else {
                Durability::Normal
            };
            let store = SqliteStore::open_with(dir.join("outbox.db"), durability)
                .await
                .unwrap();
            (Arc::new(store), None)
        }
        "postgres" => {
            let (url, database) = fresh_database(name).await;
            (
                Arc::new(PostgresStore::connect(&url).await.unwrap()),
                Some(database),
            )
        }
        other => panic!("--store {other}: sqlite-full, sqlite-normal or postgres"),
    };
    let secret = Secret::generate();
    let received = Arc::new(Received::new(capacity * args.endpoints));
    let addr = serve(Receiver {
        scheme: Arc::new(StandardWebhooks::new(secret.clone())),
        received: Arc::clone(&received),
        endpoints: args.endpoints,
    })
    .await;
    let engine = Engine::builder(store)
        .address_policy(AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap()))
        .batch_size(args.batch_size)
        .max_in_flight(args.max_in_flight)
        .poll_interval(Duration::from_millis(args.poll_ms))
        .build()
        .unwrap();
    engine
        .store()
        .create_event_type(
            EventType {
                name: "load.tick".into(),
                description: String::new(),
                schema: None,
            },
            SystemTime::now(),
        )
        .await
        .unwrap();
    for n in 0..args.endpoints {
        engine
            .create_endpoint(NewEndpoint {
                application: "load".into(),
                url: format!("http://{addr}/hook"),
                description: String::new(),
                event_types: None,
                channels: None,
                secret: secret.clone(),
                rate_limit: None,
                max_concurrency: None,
                ordered: false,
                headers: vec![("x-endpoint".into(), n.to_string())],
            })
            .await
            .unwrap();
    }
    Pipeline {
        engine,
        received,
        dir,
        database,
    }
}

fn message(seq: u64) -> NewMessage {
    NewMessage {
        application: "load".into(),
        event_type: "load.tick".into(),
        channels: vec![],
        payload: format!(
            r#"{{"seq":{seq},"t":{},"data":"{}"}}"#,
            unix_micros(),
            "x".repeat(200)
        )
        .into(),
        idempotency_key: None,
    }
}

/// Publishes `total` messages from `publishers` tasks, message `i` due at
/// `start + i / rate` (as fast as possible with `rate == 0`); a publisher
/// that falls behind publishes at once, so the achieved rate shows it.
async fn publish_paced(
    engine: &Engine,
    total: u64,
    rate: u64,
    publishers: u64,
    published: &Arc<AtomicU64>,
) {
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for first in 0..publishers {
        let engine = engine.clone();
        let published = Arc::clone(published);
        tasks.spawn(async move {
            let mut seq = first;
            while seq < total {
                if let Some(micros) = (seq * 1_000_000).checked_div(rate) {
                    tokio::time::sleep_until(start + Duration::from_micros(micros)).await;
                }
                engine.publish(message(seq)).await.unwrap();
                published.fetch_add(1, Ordering::Relaxed);
                seq += publishers;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank] as f64 / 1000.0
}

/// The `postgres` server processes' CPU time, counted only when the store
/// is Postgres (other users of the same server would be counted too: run
/// the Postgres measurements on a server nothing else uses).
fn postgres_cpu(args: &Args) -> Duration {
    if args.store == "postgres" {
        process::cpu_time_of("postgres")
    } else {
        Duration::ZERO
    }
}

fn millis_per(cpu: Duration, messages: u64) -> f64 {
    cpu.as_secs_f64() * 1000.0 / messages.max(1) as f64
}

/// Waits (bounded) until the receiver has `target` deliveries.
async fn wait_for(received: &Received, target: u64, limit: Duration) -> bool {
    let give_up = Instant::now() + limit;
    while received.count.load(Ordering::Relaxed) < target {
        if Instant::now() > give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

async fn run_rate(args: &Args, rate: u64) {
    let total = rate * args.seconds;
    let expected = total * args.endpoints;
    let p = pipeline(args, total, &format!("rate{rate}")).await;
    let running = p.engine.start();
    let published = Arc::new(AtomicU64::new(0));

    // Sample the backlog (published × endpoints − received) once a second.
    let backlog = Arc::new(Mutex::new(Vec::<u64>::new()));
    let sampler = {
        let backlog = Arc::clone(&backlog);
        let published = Arc::clone(&published);
        let received = Arc::clone(&p.received);
        let endpoints = args.endpoints;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let out = published.load(Ordering::Relaxed) * endpoints;
                let waiting = out.saturating_sub(received.count.load(Ordering::Relaxed));
                backlog.lock().unwrap().push(waiting);
            }
        })
    };

    let cpu_before = process::own_cpu_time();
    let pg_before = postgres_cpu(args);
    let started = Instant::now();
    publish_paced(&p.engine, total, rate, args.publishers, &published).await;
    let publish_time = started.elapsed();
    let received_at_end = p.received.count.load(Ordering::Relaxed);
    let drained = wait_for(&p.received, expected, Duration::from_secs(60)).await;
    let all_time = started.elapsed();
    let cpu = process::own_cpu_time() - cpu_before;
    let pg = postgres_cpu(args).saturating_sub(pg_before);
    sampler.abort();
    let report = running.shutdown(Duration::from_secs(5)).await;

    let received = p.received.count.load(Ordering::Relaxed);
    let backlog = backlog.lock().unwrap().clone();
    // Latency of messages published after the first second (warm-up).
    let mut lat: Vec<u64> = p
        .received
        .latencies
        .lock()
        .unwrap()
        .iter()
        .filter(|(seq, _)| *seq >= rate)
        .map(|(_, l)| *l)
        .collect();
    lat.sort_unstable();
    let publish_rate = total as f64 / publish_time.as_secs_f64();
    let delivered_rate = received_at_end as f64 / publish_time.as_secs_f64();
    let tail = backlog.iter().rev().take(3).max().copied().unwrap_or(0);
    // Sustained: the publisher kept its pace and the queue stayed within
    // half a second of traffic at the end of the run.
    let sustained = publish_rate >= 0.97 * rate as f64
        && tail <= (rate * args.endpoints / 2).max(50)
        && drained;
    println!(
        "store={} rate={rate}/s seconds={} publishers={} endpoints={} batch={} in_flight={} poll_ms={}",
        args.store,
        args.seconds,
        args.publishers,
        args.endpoints,
        args.batch_size,
        args.max_in_flight,
        args.poll_ms
    );
    println!(
        "  published {total} at {publish_rate:.0}/s; delivered {received_at_end} during publishing \
         ({delivered_rate:.0}/s), {received}/{expected} in {:.1} s; drained={drained} \
         duplicates={} rejected={}",
        all_time.as_secs_f64(),
        p.received.duplicates.load(Ordering::Relaxed),
        p.received.rejected.load(Ordering::Relaxed),
    );
    println!("  backlog per second: {backlog:?}");
    println!(
        "  latency publish->receipt (after 1 s warm-up, n={}): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        lat.len(),
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        percentile(&lat, 100.0),
    );
    println!(
        "  cpu: process {:.3} ms/msg ({:.2} s){}; rss now {} MiB",
        millis_per(cpu, received),
        cpu.as_secs_f64(),
        if pg > Duration::ZERO {
            format!(", postgres {:.3} ms/msg", millis_per(pg, received))
        } else {
            String::new()
        },
        process::rss_kib() / 1024,
    );
    println!(
        "  shutdown: {report:?}\n  => {}",
        if sustained {
            "SUSTAINED"
        } else {
            "NOT sustained"
        }
    );
    p.cleanup().await;
}

/// The bytes the outbox takes on disk: the SQLite files, or the Postgres
/// database.
async fn outbox_size(p: &Pipeline) -> u64 {
    if let Some(database) = &p.database {
        let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
        let size: i64 = sqlx::query_scalar("SELECT pg_database_size($1)")
            .bind(database)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        return u64::try_from(size).unwrap();
    }
    ["outbox.db", "outbox.db-wal", "outbox.db-shm"]
        .iter()
        .filter_map(|f| std::fs::metadata(p.dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

async fn run_backlog(args: &Args) {
    let total = args.pending;
    let expected = total * args.endpoints;
    let p = pipeline(args, total, "backlog").await;
    let published = Arc::new(AtomicU64::new(0));
    let rss_start = process::rss_kib();
    let started = Instant::now();
    publish_paced(&p.engine, total, 0, args.publishers, &published).await;
    let publish_time = started.elapsed();
    let rss_published = process::rss_kib();
    let size = outbox_size(&p).await;
    let stats = p.engine.store().stats(SystemTime::now()).await.unwrap();
    let reset = process::reset_peak_rss();

    let cpu_before = process::own_cpu_time();
    let pg_before = postgres_cpu(args);
    let started = Instant::now();
    let running = p.engine.start();
    let drained = wait_for(&p.received, expected, Duration::from_secs(600)).await;
    let drain_time = started.elapsed();
    let cpu = process::own_cpu_time() - cpu_before;
    let pg = postgres_cpu(args).saturating_sub(pg_before);
    let peak = process::peak_rss_kib();
    let _ = running.shutdown(Duration::from_secs(5)).await;
    let received = p.received.count.load(Ordering::Relaxed);
    println!(
        "store={} backlog={total} endpoints={} publishers={} batch={} in_flight={} poll_ms={}",
        args.store,
        args.endpoints,
        args.publishers,
        args.batch_size,
        args.max_in_flight,
        args.poll_ms
    );
    println!(
        "  publish only: {total} in {:.1} s = {:.0}/s; queue waiting={}; outbox on disk {:.1} MiB",
        publish_time.as_secs_f64(),
        total as f64 / publish_time.as_secs_f64(),
        stats.waiting,
        size as f64 / (1024.0 * 1024.0),
    );
    println!(
        "  rss: at start {} MiB, with {} pending {} MiB; peak while draining {} MiB (peak reset: {reset})",
        rss_start / 1024,
        stats.waiting,
        rss_published / 1024,
        peak / 1024,
    );
    println!(
        "  drain: {received}/{expected} in {:.1} s = {:.0}/s drained={drained} duplicates={} rejected={}",
        drain_time.as_secs_f64(),
        received as f64 / drain_time.as_secs_f64(),
        p.received.duplicates.load(Ordering::Relaxed),
        p.received.rejected.load(Ordering::Relaxed),
    );
    println!(
        "  cpu while draining: {:.3} ms/msg{}",
        millis_per(cpu, received),
        if pg > Duration::ZERO {
            format!(", postgres {:.3} ms/msg", millis_per(pg, received))
        } else {
            String::new()
        },
    );
    p.cleanup().await;
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        match args.mode.as_str() {
            "rate" => {
                for &rate in &args.rates {
                    run_rate(&args, rate).await;
                }
            }
            "backlog" => run_backlog(&args).await,
            other => panic!("--mode {other}: rate or backlog"),
        }
    });
}
