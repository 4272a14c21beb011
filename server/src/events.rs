//! The server's live events, behind `GET /api/events`: flag changes, breaker
//! transitions and periodic queue stats, fanned out to every subscriber.
//!
//! One watcher task per server (started by the first subscriber) follows
//! the sources and publishes into a bounded broadcast channel:
//!
//! - `flag`: from the flag store's change subscription (`LiveFlags`), with
//!   each changed key's version read back from the store (`null` once
//!   deleted);
//! - `breaker`: a breaker's last transition, as a watcher that reads every
//!   registered breaker each [`BREAKER_POLL`] sees it — transitions faster
//!   than that coalesce into the latest, which is the state a client shows;
//! - `config`: a registered breaker's settings changed (`PATCH
//!   /api/breakers/{name}`), from the breakers' registry subscription,
//!   with the settings before and after;
//! - `stats`: the webhook queue's counts every [`STATS_EVERY`], only while
//!   someone listens.
//!
//! Each subscriber has its own bounded buffer ([`BUFFER`] events): one that
//! falls behind loses the oldest and is sent a `lagged` event saying how
//! many, so it re-reads the API rather than trusting a partial picture.
//! [`Events::close`] (on server shutdown) ends every stream, so open streams
//! never hold up a graceful shutdown.
//!
//! ```
//! use palisade_server::events::{Event, Events};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let events = Events::with_buffer(2);
//! let mut subscriber = events.subscribe();
//! for n in 0..3 {
//!     events.publish(Event::Lagged { missed: n });
//! }
//! // The oldest of three was dropped for this subscriber, and it is told.
//! assert_eq!(subscriber.next().await, Some(Event::Lagged { missed: 1 }));
//! events.close();
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use palisade_flags::store::{Change, FlagStore, StoreError, Subscription};
use palisade_flags::time::Timestamp;
use palisade_resilience::circuit_breaker::LastTransition;
use palisade_resilience::registry::ConfigChanged;
use palisade_webhooks::store::Store;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::api::breakers::{TransitionView, settings_json};
use crate::breakers::Breakers;

/// How many events a subscriber may fall behind before it lags.
pub const BUFFER: usize = 64;
/// How often the watcher reads the breakers' last transitions.
pub const BREAKER_POLL: Duration = Duration::from_millis(250);
/// How often queue stats are sent.
pub const STATS_EVERY: Duration = Duration::from_secs(5);

/// One live event; its SSE `event:` name is [`Event::name`] and its `data:`
/// the JSON of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Event {
    /// A flag was created, changed or deleted.
    Flag {
        /// The flag's key.
        key: String,
        /// Its version now; `None` once it is deleted.
        version: Option<u64>,
    },
    /// A breaker changed state.
    Breaker {
        /// The breaker's name, as `/api/breakers` lists it.
        name: String,
        /// The state it left.
        from: String,
        /// The state it entered.
        to: String,
        /// When, RFC 3339 in UTC.
        at: String,
    },
    /// A registered breaker's settings changed.
    Config {
        /// The breaker's name, as `/api/breakers` lists it.
        name: String,
        /// Its settings before the change, as `/api/breakers` shows them.
        before: serde_json::Value,
        /// Its settings from now on.
        after: serde_json::Value,
    },
    /// The webhook queue's counts.
    Stats {
        /// Deliveries waiting (pending, retrying or in flight).
        waiting: u64,
        /// Dead deliveries.
        dead: u64,
        /// When the oldest due delivery became due, RFC 3339; `None` when
        /// none is due.
        oldest_due_at: Option<String>,
    },
    /// Events were dropped for this subscriber (or for the server's own
    /// flag subscription): re-read the API.
    Lagged {
        /// How many were dropped.
        missed: u64,
    },
}

impl Event {
    /// The SSE event name: `flag`, `breaker`, `config`, `stats` or
    /// `lagged`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Flag { .. } => "flag",
            Self::Breaker { .. } => "breaker",
            Self::Config { .. } => "config",
            Self::Stats { .. } => "stats",
            Self::Lagged { .. } => "lagged",
        }
    }
}

/// The hub every `/api/events` stream reads from; cheap to clone.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    sender: broadcast::Sender<Event>,
    closed: watch::Sender<bool>,
    watcher: OnceLock<()>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("subscribers", &self.inner.sender.receiver_count())
            .field("closed", &*self.inner.closed.borrow())
            .finish_non_exhaustive()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::with_buffer(BUFFER)
    }
}

impl Events {
    /// A hub whose subscribers may each fall `buffer` events behind (at
    /// least 1).
    #[must_use]
    pub fn with_buffer(buffer: usize) -> Self {
        let (sender, _) = broadcast::channel(buffer.max(1));
        let (closed, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                sender,
                closed,
                watcher: OnceLock::new(),
            }),
        }
    }

    /// Sends `event` to every subscriber (none is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.inner.sender.send(event);
    }

    /// A new subscriber, receiving every event published from now on.
    #[must_use]
    pub fn subscribe(&self) -> Subscriber {
        Subscriber {
            receiver: self.inner.sender.subscribe(),
            closed: self.inner.closed.subscribe(),
        }
    }

    /// Ends every stream, now and for later subscribers (server shutdown).
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Starts the watcher of `sources` unless it runs already; needs a tokio
    /// runtime. It stops once the hub is dropped or closed.
    pub fn watch(&self, sources: Sources) {
        self.inner.watcher.get_or_init(|| {
            // Subscribed and read before the first stream answers, so no
            // change after it is missed.
            let flags = sources.flags.as_ref().map(|store| store.live().subscribe());
            let breakers = BreakerWatch::new(&sources.breakers);
            let configs = sources.breakers.registry().subscribe();
            tokio::spawn(watcher(
                Arc::downgrade(&self.inner),
                sources,
                flags,
                breakers,
                Some(configs),
            ));
        });
    }
}

/// What the watcher follows.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Every breaker of the server.
    pub breakers: Breakers,
    /// The flag store, if the server has one.
    pub flags: Option<Arc<dyn FlagStore>>,
    /// The webhook store, for queue stats, if the server has one.
    pub queue: Option<Arc<dyn Store>>,
}

/// One stream's view of the hub, from [`Events::subscribe`].
#[derive(Debug)]
pub struct Subscriber {
    receiver: broadcast::Receiver<Event>,
    closed: watch::Receiver<bool>,
}

impl Subscriber {
    /// The next event: [`Event::Lagged`] if this subscriber fell behind,
    /// `None` once the hub is closed or dropped.
    pub async fn next(&mut self) -> Option<Event> {
        if *self.closed.borrow() {
            return None;
        }
        tokio::select! {
            biased;
            _ = self.closed.wait_for(|closed| *closed) => None,
            received = self.receiver.recv() => match received {
                Ok(event) => Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
                Err(broadcast::error::RecvError::Closed) => None,
            },
        }
    }
}

/// Follows the sources until the hub is gone or closed.
async fn watcher(
    hub: Weak<Inner>,
    sources: Sources,
    mut flags: Option<Subscription>,
    mut breakers: BreakerWatch,
    mut configs: Option<broadcast::Receiver<ConfigChanged>>,
) {
    let mut breaker_tick = tokio::time::interval(BREAKER_POLL);
    let mut stats_tick = tokio::time::interval(STATS_EVERY);
    breaker_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(inner) = hub.upgrade() else { return };
        if *inner.closed.borrow() {
            return;
        }
        let events = Events { inner };
        tokio::select! {
            change = next_change(flags.as_mut()) => match change {
                Some(change) => flag_events(&events, sources.flags.as_deref(), change).await,
                // The store is gone: no more flag changes to follow.
                None => flags = None,
            },
            changed = next_config(configs.as_mut()) => match changed {
                Ok(changed) => events.publish(Event::Config {
                    name: changed.name.to_string(),
                    before: settings_json(changed.before),
                    after: settings_json(changed.after),
                }),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    events.publish(Event::Lagged { missed });
                }
                // The registry is gone: no more changes to follow.
                Err(broadcast::error::RecvError::Closed) => configs = None,
            },
            _ = breaker_tick.tick() => {
                for event in breakers.changes(&sources.breakers) {
                    events.publish(event);
                }
            }
            _ = stats_tick.tick() => {
                if events.inner.sender.receiver_count() > 0
                    && let Some(queue) = &sources.queue
                {
                    stats_event(&events, queue.as_ref()).await;
                }
            }
        }
    }
}

async fn next_change(subscription: Option<&mut Subscription>) -> Option<Change> {
    match subscription {
        Some(subscription) => subscription.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_config(
    receiver: Option<&mut broadcast::Receiver<ConfigChanged>>,
) -> Result<ConfigChanged, broadcast::error::RecvError> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// A `flag` event per changed key, with its version read back; a lag of
/// the server's own subscription is passed on as `lagged`.
async fn flag_events(events: &Events, store: Option<&dyn FlagStore>, change: Change) {
    let keys = match change {
        Change::Flags(keys) => keys,
        Change::Lagged { missed } => {
            events.publish(Event::Lagged { missed });
            return;
        }
        // A kind of change added later: clients re-read everything.
        _ => {
            events.publish(Event::Lagged { missed: 0 });
            return;
        }
    };
    let Some(store) = store else { return };
    for key in keys.iter() {
        let version = match store.get(key).await {
            Ok(flag) => Some(flag.version),
            Err(StoreError::NotFound { .. }) => None,
            Err(error) => {
                // The change is still announced; the client reads the flag
                // itself.
                tracing::warn!(%error, key = %key, "events: cannot read the changed flag's version");
                None
            }
        };
        events.publish(Event::Flag {
            key: key.to_string(),
            version,
        });
    }
}

async fn stats_event(events: &Events, queue: &dyn Store) {
    // The queue-lag figure is computed against this instant.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    match tokio::time::timeout(Duration::from_secs(2), queue.stats(now)).await {
        Ok(Ok(stats)) => events.publish(Event::Stats {
            waiting: stats.waiting,
            dead: stats.dead,
            oldest_due_at: stats
                .oldest_due_at
                .map(|at| Timestamp::from_system_time(at).to_string()),
        }),
        Ok(Err(error)) => tracing::warn!(%error, "events: cannot read the queue stats"),
        Err(_) => tracing::warn!("events: the queue stats did not come in time"),
    }
}

/// The last transition seen of every breaker, to tell new ones.
struct BreakerWatch {
    seen: HashMap<String, Option<LastTransition>>,
}

impl BreakerWatch {
    /// Starts from the breakers' present transitions: only later ones are
    /// news.
    fn new(breakers: &Breakers) -> Self {
        let seen = breakers
            .list()
            .into_iter()
            .map(|(name, handle)| (name, handle.last_transition()))
            .collect();
        Self { seen }
    }

    /// A `breaker` event for each breaker whose last transition changed
    /// since the previous call (a breaker that appears with a transition
    /// counts too).
    fn changes(&mut self, breakers: &Breakers) -> Vec<Event> {
        let mut events = Vec::new();
        for (name, handle) in breakers.list() {
            let last = handle.last_transition();
            let Some(transition) = last else { continue };
            if self.seen.get(&name) == Some(&last) {
                continue;
            }
            let view = TransitionView::from(transition);
            events.push(Event::Breaker {
                name: name.clone(),
                from: view.from,
                to: view.to,
                at: view.at,
            });
            self.seen.insert(name, last);
        }
        events
    }
}
