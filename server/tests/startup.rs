//! Starting the real `palisade` binary as a user would: the default SQLite
//! database under `./data/`, `DATABASE_URL`, `palisade migrate`, readiness
//! with the database, graceful exit on SIGTERM, and bad configuration
//! failing with one clear line. Each run happens in a fresh directory.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Every variable the server reads, removed so the host's settings do not leak in.
const SERVER_ENV: &[&str] = &[
    "DATABASE_URL",
    "PALISADE_ADDR",
    "PALISADE_PORT",
    "PALISADE_SHUTDOWN_DEADLINE",
    "PALISADE_WEBHOOK_ALLOW_NET",
    "PALISADE_WEBHOOK_ALLOW_HOST",
    "PALISADE_WEBHOOK_HTTPS_ONLY",
    "PALISADE_WEBHOOK_MAX_IN_FLIGHT",
    "PALISADE_WEBHOOK_BATCH_SIZE",
    "PALISADE_WEBHOOK_ATTEMPT_TIMEOUT",
    "PALISADE_WEBHOOK_LEASE",
    "PALISADE_SECRET_KEY",
    "PALISADE_OLD_SECRET_KEYS",
    "PALISADE_LOG_FORMAT",
    "PALISADE_HEADER_READ_TIMEOUT",
    "PALISADE_IDLE_TIMEOUT",
    "PALISADE_MAX_CONNECTIONS",
    "PALISADE_ADMIN_TOKEN",
    "PALISADE_API_ALLOW",
    "PALISADE_API_DENY",
    "PALISADE_RATE_TIERS",
    "REDIS_URL",
    "PALISADE_REDIS_PREFIX",
    "PALISADE_BODY_LIMIT",
    "PALISADE_REQUEST_TIMEOUT",
    "PALISADE_INBOUND_WEBHOOK_SECRET",
    "PALISADE_KEY_CACHE_TTL",
    "RUST_LOG",
];

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("palisade-startup-{name}-{}", std::process::id()));
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

fn palisade(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command.current_dir(dir).args(args).stdin(Stdio::null());
    for name in SERVER_ENV {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    palisade(dir, args, env).output().unwrap()
}

/// Asserts a start-up failure: the exit code, and exactly one line on stderr
/// starting `error: ` and containing `what`. Returns the line.
fn assert_fails(output: &Output, code: i32, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(what), "expected {what:?} in {stderr}");
    stderr
}

#[test]
fn bad_configuration_fails_at_start_with_one_line() {
    let dir = TempDir::new("bad");
    let d = &dir.0;

    let line = assert_fails(
        &run(d, &["--database-url", "mysql://root:hunter2@db/x"], &[]),
        2,
        "scheme `mysql:` is not supported",
    );
    assert!(!line.contains("hunter2"), "the password leaked: {line}");
    assert_fails(
        &run(d, &["serve"], &[("DATABASE_URL", "sqlite::memory:")]),
        2,
        "in-memory",
    );
    assert_fails(
        &run(d, &["migrate"], &[("DATABASE_URL", "redis://127.0.0.1")]),
        2,
        "scheme `redis:`",
    );
    assert_fails(
        &run(d, &["--webhook-allow-net", "10.0.0.0/33"], &[]),
        2,
        "--webhook-allow-net",
    );
    assert_fails(
        &run(
            d,
            &[],
            &[("PALISADE_WEBHOOK_ALLOW_NET", "10.0.0.0/8,intranet")],
        ),
        2,
        "'intranet'",
    );
    assert_fails(
        &run(d, &["--webhook-allow-host", "a*b.example"], &[]),
        2,
        "--webhook-allow-host",
    );
    assert_fails(
        &run(
            d,
            &["--webhook-lease", "10s", "--webhook-attempt-timeout", "15s"],
            &[],
        ),
        2,
        "--webhook-lease (10s) must be longer than --webhook-attempt-timeout (15s)",
    );
    let line = assert_fails(
        &run(d, &[], &[("PALISADE_ADMIN_TOKEN", "pal_hunter2")]),
        2,
        "PALISADE_ADMIN_TOKEN: not an API token",
    );
    assert!(!line.contains("hunter2"), "the token leaked: {line}");
    assert_fails(
        &run(d, &["--rate-tier", "gold"], &[]),
        2,
        "NAME=REQUESTS_PER_MINUTE",
    );
    assert_fails(
        &run(d, &["--api-deny", "10.0.0.0/33"], &[]),
        2,
        "--api-deny",
    );
    assert_fails(
        &run(d, &["--shutdown-deadline", "10 days"], &[]),
        2,
        "not a duration",
    );
    assert_fails(
        &run(d, &["--webhook-max-in-flight", "0"], &[]),
        2,
        "--webhook-max-in-flight",
    );
    let line = assert_fails(
        &run(d, &[], &[("PALISADE_SECRET_KEY", "k1:hunter2hunter2")]),
        2,
        "--secret-key: invalid secret-encryption key",
    );
    assert!(!line.contains("hunter2"), "the key leaked: {line}");
    let line = assert_fails(
        &run(d, &["migrate", "--old-secret-key", "hunter2"], &[]),
        2,
        "--old-secret-key needs --secret-key",
    );
    assert!(!line.contains("hunter2"), "the key leaked: {line}");
    let line = assert_fails(
        &run(
            d,
            &[],
            &[("PALISADE_INBOUND_WEBHOOK_SECRET", "whsec_hunter2!")],
        ),
        2,
        "--inbound-webhook-secret / PALISADE_INBOUND_WEBHOOK_SECRET is not a Standard Webhooks secret",
    );
    assert!(!line.contains("hunter2"), "the secret leaked: {line}");
    // An explicit SQLite file in a directory that does not exist: the
    // server does not guess, and names the directory.
    assert_fails(
        &run(d, &["--database-url", "sqlite://nowhere/palisade.db"], &[]),
        1,
        "database directory nowhere does not exist",
    );
    // None of these created anything.
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 0);
}

#[test]
fn migrate_creates_the_default_database_or_the_named_one() {
    let dir = TempDir::new("migrate");
    let d = &dir.0;
    for _ in 0..2 {
        // Twice: migrating an up-to-date database is a no-op.
        let output = run(d, &["migrate"], &[]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| l.starts_with("migrations applied"))
                .collect::<Vec<_>>(),
            ["migrations applied to sqlite://data/palisade.db"]
        );
        assert!(d.join("data/palisade.db").is_file());
    }
    let output = run(d, &["migrate"], &[("DATABASE_URL", "sqlite://other.db")]);
    assert!(output.status.success(), "{output:?}");
    assert!(d.join("other.db").is_file());
    // The schema is in the file (or its write-ahead log, until checkpointed).
    let schema: Vec<u8> = ["other.db", "other.db-wal"]
        .iter()
        .filter_map(|f| std::fs::read(d.join(f)).ok())
        .flatten()
        .collect();
    let schema = String::from_utf8_lossy(&schema);
    assert!(
        schema.contains("CREATE TABLE deliveries"),
        "no outbox schema"
    );
}

/// A running server, killed if the test fails before it stops it.
struct Server {
    child: Option<Child>,
    addr: String,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = palisade(dir, args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The log line naming the bound address (port 0 picks one).
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let addr = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no `palisade listening` line in {lines:?}"));
            if let Some(at) = line.find("addr=") {
                break line[at + 5..].split_whitespace().next().unwrap().to_owned();
            }
            lines.push(line);
        };
        Self {
            child: Some(child),
            addr,
        }
    }

    fn get(&self, path: &str) -> String {
        self.request("GET", path)
    }

    fn post(&self, path: &str) -> String {
        self.request("POST", path)
    }

    /// Sends `method path` with no body on a fresh connection.
    fn request(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An open `/api/events` stream ends as the shutdown starts: the server
/// exits long before its (one hour) shutdown deadline, and the stream ends
/// cleanly rather than being cut.
#[cfg(unix)]
#[test]
fn an_open_event_stream_does_not_hold_up_shutdown() {
    const TOKEN: &str =
        "pal_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let dir = TempDir::new("events-shutdown");
    let mut server = Server::start_with_env(
        &dir.0,
        &["--port", "0", "--shutdown-deadline", "1h"],
        &[("PALISADE_ADMIN_TOKEN", TOKEN)],
    );
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let mut child = server.child.take().unwrap();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Bounded: a stream holding up the drain would keep it running for the
    // whole hour.
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("text/event-stream"), "{rest}");
    assert!(
        rest.ends_with("0\r\n\r\n"),
        "the chunked body ends cleanly: {rest:?}"
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean exit, got {status}");
}

#[cfg(unix)]
#[test]
fn serve_opens_the_default_database_reports_it_ready_and_stops_on_sigterm() {
    let dir = TempDir::new("serve");
    let server = Server::start(&dir.0, &["--port", "0"]);
    assert!(dir.0.join("data/palisade.db").is_file());
    let ready = server.get("/health/ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(
        ready.contains(r#"{"error":null,"kind":"sqlite","name":"database","status":"healthy"}"#),
        "{ready}"
    );
    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean exit, got {status}");
}

#[cfg(unix)]
#[test]
fn empty_database_redis_and_inbound_secret_values_count_as_unset() {
    let dir = TempDir::new("empty-urls");
    let server = Server::start_with_env(
        &dir.0,
        &["--port", "0"],
        &[
            ("DATABASE_URL", ""),
            ("REDIS_URL", ""),
            ("PALISADE_INBOUND_WEBHOOK_SECRET", ""),
        ],
    );
    // The default SQLite database, and no Redis among the dependencies.
    assert!(dir.0.join("data/palisade.db").is_file());
    let ready = server.get("/health/ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(ready.contains(r#""kind":"sqlite""#), "{ready}");
    assert!(!ready.contains(r#""name":"redis""#), "{ready}");
    let inbound = server.post("/demo/webhooks/inbound");
    assert!(inbound.starts_with("HTTP/1.1 404"), "{inbound}");
    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean exit, got {status}");
    // The same for a command that only opens the database.
    let output = run(&dir.0, &["migrate"], &[("DATABASE_URL", "")]);
    assert!(output.status.success(), "{output:?}");
}

#[cfg(unix)]
#[test]
fn an_inbound_webhook_secret_mounts_the_receiver() {
    let dir = TempDir::new("inbound");
    let server = Server::start_with_env(
        &dir.0,
        &["--port", "0"],
        &[(
            "PALISADE_INBOUND_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )],
    );
    // Served, and refusing an unsigned request as not a webhook.
    let inbound = server.post("/demo/webhooks/inbound");
    assert!(inbound.starts_with("HTTP/1.1 400"), "{inbound}");
    assert!(inbound.contains(r#""code":"missing_header""#), "{inbound}");
    let status = server.terminate();
    assert!(status.success(), "SIGTERM is a clean exit, got {status}");
}

#[test]
fn help_documents_every_flag_and_variable() {
    let dir = TempDir::new("help");
    let output = run(&dir.0, &["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--addr",
        "--port",
        "--shutdown-deadline",
        "--database-url",
        "--webhook-allow-net",
        "--webhook-allow-host",
        "--webhook-https-only",
        "--webhook-max-in-flight",
        "--webhook-batch-size",
        "--webhook-attempt-timeout",
        "--webhook-lease",
        "--secret-key",
        "--old-secret-key",
        "--admin-token",
        "--api-allow",
        "--api-deny",
        "--rate-tier",
        "--redis-url",
        "--redis-prefix",
        "--body-limit",
        "--request-timeout",
        "--inbound-webhook-secret",
        "--key-cache-ttl",
        "migrate",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    for name in SERVER_ENV.iter().filter(|n| **n != "RUST_LOG") {
        assert!(help.contains(name), "{name} missing from --help");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn postgres_is_migrated_served_and_named_when_missing() {
    let test = "postgres_is_migrated_served_and_named_when_missing";
    let Some(db) = services::fresh_database(test).await else {
        return;
    };
    let dir = TempDir::new("postgres");
    let url = db.url();
    let output = run(&dir.0, &["migrate", "--database-url", url], &[]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("migrations applied to postgres://"),
        "{output:?}"
    );

    let server = Server::start(&dir.0, &["--port", "0", "--database-url", url]);
    let ready = server.get("/health/ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(
        ready.contains(r#"{"error":null,"kind":"postgres","name":"database","status":"healthy"}"#),
        "{ready}"
    );
    assert!(server.terminate().success());
    // Nothing was written under ./data/: the URL chose the database.
    assert!(!dir.0.join("data").exists());

    // A database that does not exist: one line naming the cause, exit 1.
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/palisade_no_such_database");
    assert_fails(
        &run(&dir.0, &["serve", "--database-url", &missing], &[]),
        1,
        "does not exist",
    );
}

#[tokio::test]
async fn migrate_reseals_endpoint_secrets_under_a_new_key() {
    use palisade_webhooks::Secret;
    use palisade_webhooks::store::{
        NewEndpoint, SecretKey, SecretKeyring, SqliteStore, Store as _, StoreError,
    };

    let dir = TempDir::new("reseal");
    let path = dir.0.join("outbox.db");
    let url = format!("sqlite://{}", path.display());
    // An endpoint stored before encryption was turned on: plain text.
    let plain = SqliteStore::open(&path).await.unwrap();
    let endpoint = plain
        .create_endpoint(
            NewEndpoint {
                application: "app".into(),
                url: "https://hooks.example/in".into(),
                description: String::new(),
                event_types: None,
                channels: None,
                secret: Secret::generate(),
                rate_limit: None,
                max_concurrency: None,
                ordered: false,
                headers: vec![],
            },
            std::time::SystemTime::UNIX_EPOCH,
        )
        .await
        .unwrap();

    let key = SecretKey::generate("k1").unwrap();
    let output = run(
        &dir.0,
        &["migrate", "--reseal-secrets", "--database-url", &url],
        &[("PALISADE_SECRET_KEY", &key.to_config_string())],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 endpoint secrets sealed with key k1"),
        "{stdout}"
    );
    // Sealed now: without the key the secret no longer opens, with it it does.
    match plain.endpoint(&endpoint.id).await {
        Err(StoreError::Secret(_)) => {}
        other => panic!("the secret is still plain text: {other:?}"),
    }
    let keyed = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(key));
    let opened = keyed.endpoint(&endpoint.id).await.unwrap();
    assert_eq!(opened.secrets.len(), 1);
    assert!(opened.secrets[0].secret == endpoint.secrets[0].secret);
}
