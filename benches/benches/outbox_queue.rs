//! Our SQLite outbox next to `apalis-sqlite` 1.0, the queue we evaluated
//! against it (docs/decisions/0003-outbox-queue.md): push `--jobs` jobs one
//! commit each from one producer, then drain them with a no-op handler.
//!
//! - ours: `Store::publish` (message + one delivery, one transaction), then
//!   `claim` batches of `--batch` and `finish` each batch (attempt row +
//!   delivery state, one transaction), no HTTP.
//! - apalis: `TaskSink::push` per job, then a `WorkerBuilder` worker with a
//!   no-op handler and `Config::batch_size(--batch)` until every job is done.
//!
//! Both on a fresh file with WAL and the same `synchronous` (`--sync full` or
//! `normal`). apalis' own `SqliteStorage::setup` would set `synchronous =
//! OFF` on the one connection it runs on; here its migrations run on a pool
//! whose every connection has the same settings as ours.
//!
//! ```sh
//! cargo bench -p palisade-benches --bench outbox_queue -- --jobs 10000 --sync full
//! ```
#![allow(missing_docs)]
#![allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time on purpose
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use apalis_core::backend::TaskSink as _;
use apalis_core::error::BoxDynError;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use apalis_sqlite::{Config, SqliteStorage};
use palisade_benches::process;
use palisade_webhooks::Secret;
use palisade_webhooks::store::{
    Attempt, AttemptResult, Durability, EventType, Finished, NewEndpoint, NewMessage, Next,
    SqliteStore, Store,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

struct Args {
    jobs: u64,
    batch: u32,
    sync: String,
}

impl Args {
    fn parse() -> Self {
        let mut args = Self {
            jobs: 10_000,
            batch: 64,
            sync: "full".into(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--bench" {
                continue;
            }
            let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
            match flag.as_str() {
                "--jobs" => args.jobs = value.parse().unwrap(),
                "--batch" => args.batch = value.parse().unwrap(),
                "--sync" => args.sync = value,
                _ => panic!("unknown flag {flag}"),
            }
        }
        args
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("palisade-oq-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Times and CPU of the two phases.
struct Phases {
    push: Duration,
    push_cpu: Duration,
    drain: Duration,
    drain_cpu: Duration,
}

fn report(name: &str, jobs: u64, p: &Phases) {
    let rate = |d: Duration| jobs as f64 / d.as_secs_f64();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / jobs as f64;
    println!(
        "{name:<28} push {:>7.0}/s ({:>5.0} µs CPU/job)   drain {:>7.0}/s ({:>5.0} µs CPU/job)   \
         push+drain {:>7.0}/s",
        rate(p.push),
        per(p.push_cpu),
        rate(p.drain),
        per(p.drain_cpu),
        rate(p.push + p.drain),
    );
}

async fn ours(args: &Args, durability: Durability) -> Phases {
    let dir = TempDir::new("ours");
    let store = SqliteStore::open_with(dir.0.join("outbox.db"), durability)
        .await
        .unwrap();
    let now = SystemTime::now();
    store
        .create_event_type(
            EventType {
                name: "bench".into(),
                description: String::new(),
                schema: None,
            },
            now,
        )
        .await
        .unwrap();
    store
        .create_endpoint(
            NewEndpoint {
                application: "bench".into(),
                url: "https://example.com/hook".into(),
                description: String::new(),
                event_types: None,
                channels: None,
                secret: Secret::generate(),
                rate_limit: None,
                max_concurrency: None,
                ordered: false,
                headers: vec![],
            },
            now,
        )
        .await
        .unwrap();

    let (cpu, started) = (process::own_cpu_time(), Instant::now());
    for n in 0..args.jobs {
        let published = store
            .publish(
                NewMessage {
                    application: "bench".into(),
                    event_type: "bench".into(),
                    channels: vec![],
                    payload: format!(r#"{{"n":{n}}}"#).into(),
                    idempotency_key: None,
                },
                SystemTime::now(),
            )
            .await
            .unwrap();
        assert_eq!(published.deliveries, 1);
    }
    let (push, push_cpu) = (started.elapsed(), process::own_cpu_time() - cpu);

    let (cpu, started) = (process::own_cpu_time(), Instant::now());
    let mut done = 0;
    let mut claims = 0u64;
    while done < args.jobs {
        claims += 1;
        let token = format!("bench:{claims}");
        let now = SystemTime::now();
        let batch = store
            .claim(&token, now, Duration::from_secs(60), args.batch)
            .await
            .unwrap();
        assert!(!batch.is_empty(), "the queue ran dry at {done}");
        done += batch.len() as u64;
        let finished: Vec<_> = batch
            .into_iter()
            .map(|c| Finished {
                delivery_id: c.delivery_id,
                endpoint_id: c.endpoint_id.clone(),
                attempt: Some(Attempt {
                    delivery_id: c.delivery_id,
                    message_id: c.message_id,
                    endpoint_id: c.endpoint_id,
                    at: now,
                    result: AttemptResult::Status(204),
                    latency: Duration::from_micros(50),
                    response_excerpt: String::new(),
                }),
                next: Next::Succeeded,
            })
            .collect();
        store.finish(&token, &finished, now, None).await.unwrap();
    }
    let (drain, drain_cpu) = (started.elapsed(), process::own_cpu_time() - cpu);
    let stats = store.stats(SystemTime::now()).await.unwrap();
    assert_eq!(stats.waiting, 0);
    Phases {
        push,
        push_cpu,
        drain,
        drain_cpu,
    }
}

static HANDLED: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(0);

async fn no_op(_job: u64, worker: WorkerContext) -> Result<(), BoxDynError> {
    if HANDLED.fetch_add(1, Ordering::SeqCst) + 1 == TARGET.load(Ordering::SeqCst) {
        worker.stop()?;
    }
    Ok(())
}

async fn apalis(args: &Args, synchronous: SqliteSynchronous) -> Phases {
    let dir = TempDir::new("apalis");
    let options = SqliteConnectOptions::new()
        .filename(dir.0.join("jobs.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    SqliteStorage::migrations().run(&pool).await.unwrap();
    let config = Config::default()
        .queue("bench")
        .batch_size(usize::try_from(args.batch).unwrap());
    let mut storage = SqliteStorage::<u64>::new(&pool).with_config(config);

    let (cpu, started) = (process::own_cpu_time(), Instant::now());
    for n in 0..args.jobs {
        storage.push(n).await.unwrap();
    }
    let (push, push_cpu) = (started.elapsed(), process::own_cpu_time() - cpu);

    HANDLED.store(0, Ordering::SeqCst);
    TARGET.store(args.jobs, Ordering::SeqCst);
    let (cpu, started) = (process::own_cpu_time(), Instant::now());
    let worker = WorkerBuilder::new("bench-worker")
        .backend(storage)
        .build(no_op);
    worker.run().await.unwrap();
    let (drain, drain_cpu) = (started.elapsed(), process::own_cpu_time() - cpu);
    assert_eq!(HANDLED.load(Ordering::SeqCst), args.jobs);
    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE status = 'Done'")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!(
        "  (apalis: {done} of {} jobs acknowledged as Done after the worker stopped)",
        args.jobs
    );
    Phases {
        push,
        push_cpu,
        drain,
        drain_cpu,
    }
}

fn main() {
    let args = Args::parse();
    let (durability, synchronous) = match args.sync.as_str() {
        "full" => (Durability::Full, SqliteSynchronous::Full),
        "normal" => (Durability::Normal, SqliteSynchronous::Normal),
        other => panic!("--sync {other}: full or normal"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{} jobs, batch {}, WAL, synchronous={}",
        args.jobs, args.batch, args.sync
    );
    rt.block_on(async {
        let p = ours(&args, durability).await;
        report("palisade SqliteStore", args.jobs, &p);
        let p = apalis(&args, synchronous).await;
        report("apalis-sqlite 1.0", args.jobs, &p);
    });
}
