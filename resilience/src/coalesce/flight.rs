//! One shared call ("flight") per key, and the registry of flights in the air.
//!
//! Whoever polls a flight drives the inner future, with a waker that wakes
//! every waiter: when the caller that started it (the leader) goes away, the
//! next waiter to be polled carries on, so followers are never stranded.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use foldhash::fast::RandomState;

use super::cache::{Cache, CacheSettings};
use super::error::{CoalesceFull, CoalescedError};
use crate::BoxError;

/// The inner call, boxed once per flight (not per caller).
pub(crate) type InnerFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The flights of one layer, by key. Entries are weak: a flight whose
/// waiters are all gone is dropped, and removes its entry.
pub(crate) struct Registry<K, T> {
    flights: Mutex<FlightMap<K, T>>,
    cache: Option<Cache<K, T>>,
}

type FlightMap<K, T> = HashMap<K, Weak<Flight<K, T>>, RandomState>;

/// How a caller takes part in a flight.
pub(crate) enum Joined<K, T> {
    /// A flight was in the air: wait for it.
    Follower(Arc<Flight<K, T>>, usize),
    /// No flight: start one with this call.
    Leader(Arc<Flight<K, T>>, usize),
}

impl<K, T> Registry<K, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(cache: Option<CacheSettings>) -> Self {
        Self {
            flights: Mutex::new(HashMap::with_hasher(RandomState::default())),
            cache: cache.map(Cache::new),
        }
    }

    /// A fresh cached result for `key`, when the layer caches.
    #[inline]
    pub(crate) fn cached(&self, key: &K) -> Option<T> {
        self.cache.as_ref().and_then(|cache| cache.get(key))
    }

    /// Joins the flight for `key`, or starts one with `start()` (called at
    /// most once, under the registry's lock, so it must only create the
    /// future, not poll it).
    ///
    /// # Errors
    ///
    /// [`CoalesceFull`] when `max_waiters` callers already wait.
    pub(crate) fn join(
        self: &Arc<Self>,
        key: K,
        max_waiters: usize,
        start: impl FnOnce() -> InnerFuture<T>,
    ) -> Result<Joined<K, T>, CoalesceFull> {
        let mut flights = lock(&self.flights);
        if let Some(flight) = flights.get(&key).and_then(Weak::upgrade) {
            // Joins happen under this lock, so the count cannot race past the bound.
            let joined = flight.joined.load(Ordering::Relaxed);
            if joined > max_waiters {
                return Err(CoalesceFull::new(max_waiters));
            }
            flight.joined.store(joined + 1, Ordering::Relaxed);
            return Ok(Joined::Follower(flight, joined));
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(State::Running(start())),
            notify: Arc::new(Notify::default()),
            joined: AtomicUsize::new(1),
            key: key.clone(),
            registry: Arc::downgrade(self) as Weak<dyn Forget<K, T>>,
        });
        flights.insert(key, Arc::downgrade(&flight));
        Ok(Joined::Leader(flight, 0))
    }
}

/// One shared inner call and the callers waiting for it.
pub(crate) struct Flight<K, T> {
    state: Mutex<State<T>>,
    notify: Arc<Notify>,
    /// Callers that joined (leader included); each has its index as waker slot.
    joined: AtomicUsize,
    key: K,
    registry: Weak<dyn Forget<K, T>>,
}

/// What a dropped flight needs of its registry, without the bounds of `K`
/// (a `Drop` impl cannot have bounds its type does not have).
trait Forget<K, T>: Send + Sync {
    /// Removes `key` if its flight is gone.
    fn forget_dead(&self, key: &K);

    /// Removes `key` if it names `flight` (which has its result), so that
    /// later callers start a new flight (or, first, caches `response`); a
    /// newer flight is kept.
    fn forget_finished(&self, key: &K, flight: *const (), response: Option<&T>);
}

impl<K, T> Forget<K, T> for Registry<K, T>
where
    K: Hash + Eq + Clone + Send + Sync,
    T: Clone + Send + Sync,
{
    fn forget_dead(&self, key: &K) {
        let mut flights = lock(&self.flights);
        if flights.get(key).is_some_and(|f| f.strong_count() == 0) {
            flights.remove(key);
        }
    }

    fn forget_finished(&self, key: &K, flight: *const (), response: Option<&T>) {
        // Cached before the flight is forgotten: a caller arriving in
        // between joins the finished flight, one arriving after finds it.
        if let (Some(cache), Some(response)) = (&self.cache, response) {
            cache.put(key, response);
        }
        let mut flights = lock(&self.flights);
        if flights.get(key).is_some_and(|entry| {
            std::ptr::eq(entry.as_ptr().cast::<()>(), flight) || entry.strong_count() == 0
        }) {
            flights.remove(key);
        }
    }
}

enum State<T> {
    Running(InnerFuture<T>),
    /// The result, for every waiter to clone.
    Done(Result<T, Arc<BoxError>>),
    /// The only waiter took the result.
    Taken,
}

impl<K, T> Flight<K, T>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// Polls the flight on behalf of waiter `slot`: drives the inner call if
    /// it was woken, or returns the result once there is one.
    pub(crate) fn poll(&self, slot: usize, cx: &mut Context<'_>) -> Poll<Result<T, BoxError>> {
        let mut state = lock(&self.state);
        let result = match &mut *state {
            State::Done(Ok(response)) => return Poll::Ready(Ok(response.clone())),
            State::Done(Err(error)) => {
                return Poll::Ready(Err(CoalescedError::new(Arc::clone(error)).into()));
            }
            State::Taken => {
                // Only a waiter that was alone takes the result, and it polls
                // no more; a future polled after completion ends up here.
                return Poll::Ready(Err("the coalesced call was already answered".into()));
            }
            State::Running(future) => {
                // Register first: a wake between the check below and our
                // return then still reaches us.
                self.notify.register(slot, cx.waker());
                if !self.notify.woken.swap(false, Ordering::AcqRel) {
                    return Poll::Pending;
                }
                let waker = Waker::from(Arc::clone(&self.notify));
                match future.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result,
                }
            }
        };
        // Later callers start a new flight; nobody can join this one now.
        if let Some(registry) = self.registry.upgrade() {
            registry.forget_finished(
                &self.key,
                std::ptr::from_ref(self).cast::<()>(),
                result.as_ref().ok(),
            );
        }
        if self.joined.load(Ordering::Relaxed) == 1 {
            *state = State::Taken;
            return Poll::Ready(result);
        }
        let shared = result.map_err(Arc::new);
        let mine = match &shared {
            Ok(response) => Ok(response.clone()),
            Err(error) => Err(CoalescedError::new(Arc::clone(error)).into()),
        };
        *state = State::Done(shared);
        drop(state);
        self.notify.wake_all();
        Poll::Ready(mine)
    }
}

impl<K, T> Drop for Flight<K, T> {
    fn drop(&mut self) {
        // Every waiter went away before the call ended (a finished flight
        // removed itself already): forget the key. The inner call is
        // cancelled with this flight.
        if let Some(registry) = self.registry.upgrade() {
            registry.forget_dead(&self.key);
        }
    }
}

/// The waker handed to the inner future: it wakes every waiter.
struct Notify {
    /// Set when the inner future asked to be polled again.
    woken: AtomicBool,
    wakers: Mutex<Vec<Option<Waker>>>,
}

impl Notify {
    fn register(&self, slot: usize, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        if wakers.len() <= slot {
            wakers.resize(slot + 1, None);
        }
        match &mut wakers[slot] {
            Some(known) if known.will_wake(waker) => {}
            entry => *entry = Some(waker.clone()),
        }
    }

    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *lock(&self.wakers));
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.wake_all();
    }
}

impl Default for Notify {
    fn default() -> Self {
        Self {
            // The first poll drives the new inner future.
            woken: AtomicBool::new(true),
            wakers: Mutex::new(Vec::new()),
        }
    }
}

// The state stays consistent whatever panics while a lock is held (the inner
// future's panic propagates to the poller; the flight is then dropped).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
