//! What a connection is doing, so the accept loop can close the ones that
//! hold a socket without using it.
//!
//! A connection is *awaiting a request head* from the moment it is accepted
//! (or from the first byte after an idle spell) until a request reaches the
//! router, *busy* while any response is unfinished, and *idle* in between.
//! Only an awaiting or idle connection has a deadline.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Why a connection was closed by the server before the client closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// No complete request head within the header-read timeout.
    HeaderRead,
    /// No request within the idle keep-alive timeout after the last response.
    Idle,
}

impl Expiry {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::HeaderRead => "header read timeout",
            Self::Idle => "idle timeout",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    AwaitingHead(Instant),
    Busy,
    Idle(Instant),
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    phase: Phase,
}

/// One connection's activity, shared by its I/O, its service and its task.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

impl Activity {
    /// A connection just accepted: it owes a request head.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                phase: Phase::AwaitingHead(Instant::now()),
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields, valid even if a holder panicked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection expires if nothing changes, and why; `None` while
    /// a request is in flight.
    pub(crate) fn deadline(
        &self,
        header_read: Duration,
        idle: Duration,
    ) -> Option<(Instant, Expiry)> {
        match self.lock().phase {
            Phase::AwaitingHead(since) => Some((since + header_read, Expiry::HeaderRead)),
            Phase::Idle(since) => Some((since + idle, Expiry::Idle)),
            Phase::Busy => None,
        }
    }

    /// Resolves after the next change of phase (a change made before the
    /// call is not lost: `Notify` keeps one permit).
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Bytes arrived: on an idle connection they start a request head.
    fn read_bytes(&self) {
        let mut state = self.lock();
        if let Phase::Idle(_) = state.phase {
            state.phase = Phase::AwaitingHead(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A request reached the router; the connection is busy until the
    /// returned guard (held by the response body) is dropped.
    pub(crate) fn begin_request(self: &Arc<Self>) -> RequestGuard {
        {
            let mut state = self.lock();
            state.in_flight += 1;
            state.phase = Phase::Busy;
        }
        self.changed.notify_one();
        RequestGuard {
            activity: Arc::clone(self),
        }
    }
}

/// Keeps its connection busy until dropped (when the response body is done).
#[derive(Debug)]
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut state = self.activity.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.phase = Phase::Idle(Instant::now());
            drop(state);
            self.activity.changed.notify_one();
        }
    }
}

pin_project! {
    /// A socket that reports arriving bytes to its connection's [`Activity`].
    #[derive(Debug)]
    pub(crate) struct TrackedIo<T> {
        #[pin]
        inner: T,
        activity: Arc<Activity>,
    }
}

impl<T> TrackedIo<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead> AsyncRead for TrackedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read_bytes();
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
