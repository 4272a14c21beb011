//! The server's own HTTP serving loop: HTTP/1.1 and h2c on one port, with
//! the limits a public listener needs.
//!
//! [`serve`] accepts connections on a [`TcpListener`] and serves an axum
//! [`Router`] on each (HTTP/1.1, or HTTP/2 with prior knowledge), with
//! `ConnectInfo<SocketAddr>` available to handlers. Unlike `axum::serve` it
//!
//! - closes a connection that sends no complete request head within the
//!   header-read timeout (a connection that sends nothing included),
//! - closes a keep-alive connection idle for longer than the idle timeout,
//! - accepts and at once closes connections over the cap, counting them in
//!   `palisade_server_connections_refused_total` (the open ones are the
//!   gauge `palisade_server_connections_open`),
//! - on shutdown stops accepting, lets in-flight requests finish, and closes
//!   whatever is still open when the shutdown deadline passes.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use palisade_server::listener::{ListenerConfig, serve};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let router = Router::new().route("/", get(|| async { "hello" }));
//! let config = ListenerConfig::default().header_read_timeout(Duration::from_secs(5));
//! // Stops at once here; a server passes its shutdown signal instead.
//! serve(listener, router, config, async {}).await?;
//! # Ok(())
//! # }
//! ```

mod activity;
mod bind_addr;
mod service;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::activity::{Activity, TrackedIo, next_check};
pub use self::bind_addr::{BindAddr, BindAddrError};
use self::service::ConnectionService;

/// The counter of connections closed at once because the cap was reached.
pub const CONNECTIONS_REFUSED: &str = "palisade_server_connections_refused_total";
/// The gauge of open connections.
pub const CONNECTIONS_OPEN: &str = "palisade_server_connections_open";

/// The limits of [`serve`]; the defaults are those of `palisade serve`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// How long a client has to send a complete request head, from the
    /// connection's start or from the first byte after an idle spell.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// How many connections may be open at once.
    pub max_connections: NonZeroUsize,
    /// How long a shutdown waits for in-flight requests before closing
    /// their connections.
    pub shutdown_deadline: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

impl ListenerConfig {
    /// Sets [`header_read_timeout`](Self::header_read_timeout).
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn max_connections(mut self, max: NonZeroUsize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets [`shutdown_deadline`](Self::shutdown_deadline).
    #[must_use]
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains:
/// no new connections, in-flight requests finish, idle connections close,
/// and after [`ListenerConfig::shutdown_deadline`] every connection still
/// open is closed.
///
/// # Errors
///
/// None today: failed accepts (for instance out of file descriptors) are
/// logged and retried after a pause, failed connections are logged. The
/// `Result` leaves room for errors that should stop the server.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: ListenerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.get()));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let builder = Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next() => {}
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        accept_failed(&err).await;
                        continue;
                    }
                };
                // Over the cap: accept and close, so the client learns at
                // once instead of waiting in the kernel's backlog.
                let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                    metrics::counter!(CONNECTIONS_REFUSED).increment(1);
                    tracing::warn!(%remote, max = config.max_connections, "connection refused: too many open connections");
                    drop(stream);
                    continue;
                };
                connections.spawn(serve_connection(
                    builder.clone(),
                    stream,
                    remote,
                    router.clone(),
                    config.clone(),
                    graceful.watcher(),
                    OpenConnection::new(permit),
                ));
            }
        }
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(open, deadline = ?config.shutdown_deadline, "draining HTTP connections");
    if tokio::time::timeout(config.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "shutdown deadline passed: closing the connections still open"
        );
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Logs a failed accept; pauses when the failure is not the one
/// connection's (out of file descriptors), so the loop does not spin.
async fn accept_failed(err: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(%err, "accept failed");
    } else {
        tracing::error!(%err, "accept failed; pausing for a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// One connection, from accept to close.
async fn serve_connection(
    builder: Builder<TokioExecutor>,
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    config: ListenerConfig,
    watcher: Watcher,
    _open: OpenConnection,
) {
    let activity = Activity::new();
    let io = TokioIo::new(TrackedIo::new(stream, Arc::clone(&activity)));
    let service = ConnectionService::new(router, remote, Arc::clone(&activity));
    let connection = watcher.watch(builder.serve_connection_with_upgrades(io, service));
    tokio::pin!(connection);
    let (header_read, idle) = (config.header_read_timeout, config.idle_timeout);
    // One timer per connection, re-armed only when it fires (see
    // `activity::next_check`), never on each request.
    let check = tokio::time::sleep_until(next_check(
        Instant::now(),
        activity.deadline(header_read, idle).map(|(at, _)| at),
        header_read,
        idle,
    ));
    tokio::pin!(check);
    loop {
        tokio::select! {
            served = &mut connection => {
                if let Err(err) = served {
                    tracing::debug!(%remote, %err, "connection ended with an error");
                }
                return;
            }
            () = &mut check => {
                let now = Instant::now();
                let deadline = activity.deadline(header_read, idle);
                if let Some((at, why)) = deadline
                    && at <= now
                {
                    // Dropping the connection closes the socket.
                    tracing::debug!(%remote, reason = why.as_str(), "closing connection");
                    return;
                }
                let at = deadline.map(|(at, _)| at);
                check.as_mut().reset(next_check(now, at, header_read, idle));
            }
        }
    }
}

/// An open connection: its slot under the cap, and its place in the gauge.
#[derive(Debug)]
struct OpenConnection {
    _permit: OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
        Self { _permit: permit }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
    }
}
