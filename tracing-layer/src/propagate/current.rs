//! The trace context of the request being served, for outgoing calls to continue.
//!
//! Where it lives: a thread-local slot that a [`Scoped`] future (and the
//! server `TraceLayer`'s response future) fills for the duration of each
//! `poll` and restores afterwards — the semantics of a tokio task-local,
//! without a tokio dependency, and with no clone or allocation per poll (the
//! context is swapped in and out, not copied; only [`TraceContext::current`]
//! clones, once per outgoing call).
//!
//! Why not the `tracing` span's extensions: those exist only under a
//! `tracing-subscriber` `Registry` and only for spans a filter enabled, and
//! trace propagation must not stop because no subscriber is installed or a log
//! level was raised. The trace and span ids are recorded on the span as
//! fields too, so logs still correlate.
//!
//! The limit of a task-local holds: a task spawned from a handler does not
//! inherit the context. Carry it across with
//! [`TraceContext::current`] and [`TraceContext::scope`].

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::TraceContext;

thread_local! {
    static CURRENT: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

/// Runs `f` with `slot`'s context as the current one, then puts everything back.
///
/// Nested scopes nest: the outer context waits in `slot` while `f` runs and
/// returns to the thread-local afterwards, even if `f` panics.
pub(crate) fn with_current<R>(slot: &mut Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a>(&'a mut Option<TraceContext>);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            swap(self.0);
        }
    }
    fn swap(slot: &mut Option<TraceContext>) {
        // `try_with` fails only while the thread is being torn down; the slot
        // then keeps its value, which is all that can be done.
        let _ = CURRENT.try_with(|current| {
            if let Ok(mut current) = current.try_borrow_mut() {
                mem::swap(&mut *current, slot);
            }
        });
    }
    swap(slot);
    let _restore = Restore(slot);
    f()
}

impl TraceContext {
    /// The context of the request being served on this task: the one the
    /// server `TraceLayer` made for our hop, or the one a [`TraceContext::scope`]
    /// set. `None` outside both.
    ///
    /// ```
    /// use palisade_tracing_layer::propagate::TraceContext;
    /// use rand::{SeedableRng, rngs::SmallRng};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// assert_eq!(TraceContext::current(), None);
    /// let ours = TraceContext::new_root(&mut SmallRng::seed_from_u64(3), true);
    /// let seen = ours.clone().scope(async { TraceContext::current() }).await;
    /// assert_eq!(seen, Some(ours));
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn current() -> Option<Self> {
        // `try_with` fails only while the thread is being torn down.
        CURRENT
            .try_with(|current| current.try_borrow().ok().and_then(|c| c.clone()))
            .ok()
            .flatten()
    }

    /// Runs `future` with this context as [`TraceContext::current`], as a
    /// task-local would: for a task spawned from a handler, or any code that
    /// serves a request outside the server `TraceLayer`.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped {
            inner: future,
            context: Some(self),
        }
    }
}

pin_project! {
    /// A future run with a [`TraceContext`] as the current one; made by
    /// [`TraceContext::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        context: Option<TraceContext>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        with_current(this.context, || inner.poll(cx))
    }
}
