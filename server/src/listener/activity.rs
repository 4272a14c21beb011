//! What a connection is doing, so the accept loop can close the ones that
//! hold a socket without using it.
//!
//! A connection is *awaiting a request head* from the moment it is accepted
//! (or from the first byte after an idle spell) until a request reaches the
//! router, *busy* while any response is unfinished, and *idle* in between.
//! Only an awaiting or idle connection has a deadline.
//!
//! Nothing here wakes the connection's task: a request changes the phase
//! twice and its bytes once, and waking the task (and moving its timer) on
//! each of those cost a measurable share of a small request. The task
//! instead checks the phase on a timer it re-arms itself ([`next_check`]).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
}

impl Activity {
    /// A connection just accepted: it owes a request head.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                phase: Phase::AwaitingHead(Instant::now()),
            }),
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
}

/// The shortest pause between two looks at an [`Activity`], so that a zero
/// timeout does not make a busy connection's task spin. Only a timeout
/// shorter than this is enforced late, by up to this much.
const MIN_CHECK: Duration = Duration::from_millis(100);

/// When the connection's task next looks at its [`Activity`], having looked
/// at `now` and found `deadline` (see [`Activity::deadline`]): at the
/// deadline, but never later than `now + min(header_read, idle)`.
///
/// That bound keeps every deadline exact although no phase change wakes the
/// task: a deadline set after `now` is at least `now + header_read` (bytes
/// after an idle spell) or `now + idle` (a response finished), so the task
/// looks again before it and then sleeps until it.
pub(crate) fn next_check(
    now: Instant,
    deadline: Option<Instant>,
    header_read: Duration,
    idle: Duration,
) -> Instant {
    let latest = now + header_read.min(idle).max(MIN_CHECK);
    deadline.map_or(latest, |at| at.min(latest))
}

impl Activity {
    /// Bytes arrived: on an idle connection they start a request head.
    fn read_bytes(&self) {
        let mut state = self.lock();
        if let Phase::Idle(_) = state.phase {
            state.phase = Phase::AwaitingHead(Instant::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_next_check_is_the_deadline_or_sooner() {
        let now = Instant::now();
        let (ten, sixty) = (Duration::from_secs(10), Duration::from_secs(60));
        // Idle until now + 60 s: looked at again after the shorter timeout,
        // in case a head starts meanwhile.
        assert_eq!(next_check(now, Some(now + sixty), ten, sixty), now + ten);
        // A deadline before that is kept.
        let soon = now + Duration::from_secs(3);
        assert_eq!(next_check(now, Some(soon), ten, sixty), soon);
        // Busy: no deadline, looked at after the shorter timeout.
        assert_eq!(next_check(now, None, ten, sixty), now + ten);
        // A zero timeout does not make a busy connection spin.
        assert_eq!(
            next_check(now, None, Duration::ZERO, sixty),
            now + MIN_CHECK
        );
    }
}
