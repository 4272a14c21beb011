//! The server's own HTTP, tried as a careless or hostile client would: a
//! connection that sends nothing, a half-sent request at shutdown, more
//! connections than the cap, HTTP/2 with prior knowledge, and a second
//! SIGTERM. In-process tests run on paused tokio time over real TCP on
//! 127.0.0.1, so timeouts are virtual and the bounds are exact.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use palisade_server::listener::{CONNECTIONS_REFUSED, ListenerConfig, serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

/// A server on 127.0.0.1 serving `router`; dropping the sender shuts it down.
async fn start(
    router: Router,
    config: ListenerConfig,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router, config, async {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

fn hello() -> Router {
    Router::new().route("/", get(|| async { "ok" })).route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    )
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Lets the kernel deliver what the test just sent (a connect, a request)
/// before the paused clock may jump: while a blocking task runs, tokio does
/// not auto-advance time. Virtual time stands still, so no test duration
/// depends on it; it only closes the race between loopback I/O and the jump.
async fn settle() {
    #[allow(clippy::disallowed_methods)] // a real pause, on a blocking thread, on purpose
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(20)))
        .await
        .unwrap();
}

/// Reads one response to `GET /` (body `ok`) from a keep-alive connection.
async fn read_ok(stream: &mut TcpStream) -> String {
    settle().await;
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !response.ends_with(b"\r\n\r\nok") {
        let n = timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response")
            .unwrap();
        assert_ne!(n, 0, "closed before the response: {response:?}");
        response.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(response).unwrap()
}

/// Waits (bounded, in virtual time) for the server to close the
/// connection; returns when that happened.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Instant {
    settle().await;
    let mut buf = [0; 1024];
    match timeout(within, stream.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => Instant::now(),
        Ok(Ok(n)) => panic!("expected the connection closed, got {:?}", &buf[..n]),
        Err(_) => panic!("the connection is still open after {within:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let config = ListenerConfig::default()
        .header_read_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(60));
    let (addr, _stop, _server) = start(hello(), config).await;

    let opened = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let closed = closed_by_server(&mut silent, Duration::from_secs(30)).await;
    assert!(closed - opened >= Duration::from_secs(10));

    // A head that never ends is cut the same way.
    let opened = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let closed = closed_by_server(&mut half, Duration::from_secs(30)).await;
    assert!(closed - opened >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_connection_stays_open_until_the_idle_timeout() {
    let config = ListenerConfig::default()
        .header_read_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(60));
    let (addr, _stop, _server) = start(hello(), config).await;

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(GET).await.unwrap();
    read_ok(&mut client).await;
    let idle_since = Instant::now();
    // Still usable well past the header-read timeout…
    tokio::time::sleep(Duration::from_secs(30)).await;
    client.write_all(GET).await.unwrap();
    let response = read_ok(&mut client).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(Instant::now() - idle_since >= Duration::from_secs(30));
    // …and closed once idle for the idle timeout.
    let idle_since = Instant::now();
    let closed = closed_by_server(&mut client, Duration::from_secs(120)).await;
    assert!(closed - idle_since >= Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_head_started_after_an_idle_spell_gets_the_header_read_timeout() {
    let config = ListenerConfig::default()
        .header_read_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(60));
    let (addr, _stop, _server) = start(hello(), config).await;

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(GET).await.unwrap();
    read_ok(&mut client).await;
    // Idle for a while, then a head that never ends: it has the header-read
    // timeout from its first byte, not what was left of the idle timeout.
    tokio::time::sleep(Duration::from_secs(25)).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = closed_by_server(&mut client, Duration::from_secs(20)).await;
    assert!(closed - started >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn h2c_with_prior_knowledge_is_served_with_the_client_address() {
    let (addr, _stop, _server) = start(hello(), ListenerConfig::default()).await;

    let stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(format!("http://{addr}/peer"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        body,
        local.to_string(),
        "ConnectInfo is the client's address"
    );

    // HTTP/1.1 on the same port sees its own address too.
    let mut client = TcpStream::connect(addr).await.unwrap();
    let local = client.local_addr().unwrap();
    client
        .write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(&local.to_string()), "{response}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn connections_over_the_cap_are_closed_at_once_and_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The whole server runs on this thread, so a thread-local recorder sees it.
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let config = ListenerConfig::default().max_connections(NonZeroUsize::new(2).unwrap());
    let (addr, _stop, _server) = start(hello(), config).await;

    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(GET).await.unwrap();
    read_ok(&mut first).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(GET).await.unwrap();
    read_ok(&mut second).await;

    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(GET).await.unwrap();
    // Closed without an answer, long before any timeout.
    closed_by_server(&mut third, Duration::from_secs(1)).await;

    let counted = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == CONNECTIONS_REFUSED)
        .map(|(.., value)| value);
    assert_eq!(counted, Some(DebugValue::Counter(1)));

    // A freed slot is usable again.
    drop(first);
    let mut served = false;
    for _ in 0..50 {
        let mut next = TcpStream::connect(addr).await.unwrap();
        next.write_all(GET).await.unwrap();
        let mut buf = [0; 1024];
        if let Ok(Ok(n)) = timeout(Duration::from_secs(1), next.read(&mut buf)).await
            && buf[..n].starts_with(b"HTTP/1.1 200")
        {
            served = true;
            break;
        }
    }
    assert!(served, "a connection is served again once one closed");
}

/// A router whose `/slow` answers after `delay`, telling `started` when
/// the request arrived.
fn slow(delay: Duration, started: Arc<Notify>) -> Router {
    Router::new().route(
        "/slow",
        get(move || async move {
            started.notify_one();
            tokio::time::sleep(delay).await;
            "ok"
        }),
    )
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_in_flight_requests_finish() {
    let started = Arc::new(Notify::new());
    let config = ListenerConfig::default().shutdown_deadline(Duration::from_secs(10));
    let (addr, stop, server) = start(slow(Duration::from_secs(2), started.clone()), config).await;

    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    started.notified().await;
    drop(stop);
    let response = read_ok(&mut client).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once the request is done")
        .unwrap()
        .unwrap();
    // New connections are refused by the kernel once the listener is gone.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn the_shutdown_deadline_cuts_a_half_sent_request_and_a_slow_one() {
    let started = Arc::new(Notify::new());
    let config = ListenerConfig::default()
        .header_read_timeout(Duration::from_secs(600))
        .shutdown_deadline(Duration::from_secs(3));
    let (addr, stop, server) = start(slow(Duration::from_secs(60), started.clone()), config).await;

    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    started.notified().await;

    let stopping = Instant::now();
    drop(stop);
    timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops at the deadline")
        .unwrap()
        .unwrap();
    let stopped = Instant::now() - stopping;
    assert!(stopped >= Duration::from_secs(3), "waited for the deadline");
    assert!(
        stopped < Duration::from_secs(60),
        "did not wait for the request"
    );
    closed_by_server(&mut half, Duration::from_secs(1)).await;
    closed_by_server(&mut slow, Duration::from_secs(1)).await;
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
#[test]
fn a_second_sigterm_exits_at_once_with_130() {
    let dir = temp_dir("sigterm");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(&dir.0)
        .args([
            "--port",
            "0",
            "--shutdown-deadline",
            "10m",
            "--header-read-timeout",
            "10m",
        ])
        .env_remove("DATABASE_URL")
        .env_remove("PALISADE_ADDR")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |what: &str| loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no line containing {what:?}"));
        if line.contains(what) {
            return line;
        }
    };
    let listening = wait_for("palisade listening");
    let at = listening.find("addr=").unwrap();
    let addr = listening[at + 5..].split_whitespace().next().unwrap();

    // A half-sent request holds the drain open (for the 10 minute deadline).
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    // It holds only once the server has read its first bytes (before, a
    // shutdown just drops it). A full round trip on a second connection,
    // accepted after it, gives the server that time without a sleep.
    let mut probe = std::net::TcpStream::connect(addr).unwrap();
    probe
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut probe, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let kill = |pid: u32| {
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    kill(child.id());
    wait_for("shutting down");
    kill(child.id());

    let pid = child.id();
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let Ok(status) = exited.recv_timeout(Duration::from_secs(60)) else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("still running a minute after the second SIGTERM");
    };
    let status = status.unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
}

fn temp_dir(name: &str) -> TempDir {
    let dir = TempDir(
        std::env::temp_dir().join(format!("palisade-hardening-{name}-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir
}

fn palisade(dir: &TempDir, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    command
        .current_dir(&dir.0)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PALISADE_ADDR")
        .env_remove("PALISADE_PORT")
        .stdin(Stdio::null());
    command
}

#[test]
fn an_address_in_use_fails_with_one_line_naming_it() {
    let dir = temp_dir("in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = palisade(&dir, &["--addr", &addr]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&addr), "names {addr}: {stderr}");
    assert!(stderr.contains("already in use"), "{stderr}");
}

#[test]
fn a_malformed_address_fails_with_one_line() {
    let dir = temp_dir("bad-addr");
    let output = palisade(&dir, &["--addr", "localhost:http"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.contains("localhost:http"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_host_name_with_a_port_is_served() {
    let dir = temp_dir("host-name");
    let mut child = palisade(&dir, &["--addr", "localhost:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("no `palisade listening` line");
        };
        if let Some(at) = line.find("addr=") {
            break line[at + 5..].split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let ip: SocketAddr = addr.parse().unwrap();
    assert!(ip.ip().is_loopback(), "{addr}");
}

#[test]
fn healthcheck_exits_0_for_a_live_server_and_1_otherwise() {
    let dir = temp_dir("healthcheck");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr, _stop, _server) = runtime.block_on(start(
        Router::new().route("/health/live", get(|| async { "live" })),
        ListenerConfig::default(),
    ));
    let live = palisade(&dir, &["healthcheck", "--addr", &addr.to_string()])
        .output()
        .unwrap();
    assert!(live.status.success(), "{live:?}");
    // Bound to every interface: asked on loopback, port from --port.
    let port = addr.port().to_string();
    let any = palisade(&dir, &["healthcheck", "--addr", "0.0.0.0", "--port", &port])
        .output()
        .unwrap();
    assert!(any.status.success(), "{any:?}");

    // A server without the route answers 404: unhealthy.
    let (not_found, _stop, _server) =
        runtime.block_on(start(Router::new(), ListenerConfig::default()));
    let sick = palisade(&dir, &["healthcheck", "--addr", &not_found.to_string()])
        .output()
        .unwrap();
    assert_eq!(sick.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&sick.stderr);
    assert!(stderr.contains("404"), "{stderr}");

    // Nothing listening: unhealthy, one line.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let down = palisade(&dir, &["healthcheck", "--addr", &closed_addr])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&closed_addr), "{stderr}");
}
