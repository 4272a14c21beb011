//! [`LiveFlags`]: a [`Flags`] evaluator that sources update while it serves.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use super::change::Subscription;
use crate::Flags;
use crate::model::FlagSet;
use crate::time::{Clock, SystemClock};

/// How many change notices a subscriber may fall behind before it is told
/// it lagged.
const CHANGE_CAPACITY: usize = 256;

/// What [`LiveFlags::apply`] did with an update.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// The update was served from now on; these keys changed (sorted).
    Changed(Arc<[Arc<str>]>),
    /// The update was valid but changed nothing.
    Unchanged,
}

/// A live flag evaluator: [`Flags`] plus everything that keeps it current.
///
/// Every update a source (a watched file, a SQLite or Postgres store)
/// brings is validated before it is swapped in whole, so readers never see
/// half an update. A broken update is rejected: its error is logged, counted
/// (`palisade_flags_reloads_total{outcome="rejected"}`) and kept for
/// [`last_error`](Self::last_error), and the last good snapshot stays in
/// service. Subscribers learn which keys changed.
///
/// Metrics: `palisade_flags_reloads_total{outcome="applied"|"unchanged"|"rejected"}`,
/// `palisade_flags_count` and `palisade_flags_last_reload_timestamp_seconds`
/// (of the last applied update).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use palisade_flags::model::{Flag, FlagKind, FlagSet};
/// use palisade_flags::store::{Change, LiveFlags};
/// use palisade_flags::{Context, native};
///
/// let live = LiveFlags::new(FlagSet::new([Flag::new("a", FlagKind::Boolean)], []).unwrap());
/// let mut changes = live.subscribe();
///
/// // A good update is served and announced.
/// live.apply("example", native::from_json(r#"{"flags": [{"key": "a", "kind": "boolean", "enabled": false}]}"#))
///     .unwrap();
/// assert!(!live.flags().evaluate("a", &Context::new()).is_enabled());
/// assert_eq!(changes.recv().await, Some(Change::Flags(vec!["a".into()].into())));
///
/// // A broken one is rejected; the last good snapshot stays.
/// assert!(live.apply("example", native::from_json("{\"flags\": [")).is_err());
/// assert!(live.last_error().unwrap().contains("JSON error at line 1"));
/// assert!(!live.flags().evaluate("a", &Context::new()).is_enabled());
/// # }
/// ```
pub struct LiveFlags {
    flags: Arc<Flags>,
    changes: broadcast::Sender<Arc<[Arc<str>]>>,
    clock: Arc<dyn Clock>,
    /// Serialises updates, so the keys announced are the difference
    /// between consecutive snapshots.
    update: Mutex<UpdateState>,
}

#[derive(Default)]
struct UpdateState {
    last_error: Option<String>,
}

impl fmt::Debug for LiveFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveFlags")
            .field("flags", &self.flags.snapshot().len())
            .field("subscribers", &self.changes.receiver_count())
            .finish_non_exhaustive()
    }
}

impl LiveFlags {
    /// Serves `initial` until an update arrives.
    #[must_use]
    pub fn new(initial: FlagSet) -> Self {
        Self::from_flags(Flags::new(initial))
    }

    /// Keeps `flags` (configured with its own clock or seed) current.
    #[must_use]
    pub fn from_flags(flags: Flags) -> Self {
        let (changes, _) = broadcast::channel(CHANGE_CAPACITY);
        let live = Self {
            flags: Arc::new(flags),
            changes,
            clock: Arc::new(SystemClock),
            update: Mutex::new(UpdateState::default()),
        };
        metrics::gauge!("palisade_flags_count").set(live.flags.snapshot().len() as f64);
        live
    }

    /// Reads the wall clock for the last-reload metric from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The evaluator, always serving the last good snapshot. Clone the
    /// `Arc` to evaluate from other tasks and threads.
    #[must_use]
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    /// The definitions served now.
    #[must_use]
    pub fn snapshot(&self) -> Arc<FlagSet> {
        self.flags.snapshot()
    }

    /// A subscription to the keys of every later change.
    #[must_use]
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.changes.subscribe(),
        }
    }

    /// The error of the last rejected update, until an update is applied.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.state().last_error.clone()
    }

    /// Applies an update from `source` (a name for logs): a valid set is
    /// swapped in whole and its changed keys announced; an error is logged,
    /// counted and returned, and the current snapshot stays.
    ///
    /// # Errors
    ///
    /// The update's own error, handed back.
    pub fn apply<E: fmt::Display>(
        &self,
        source: &str,
        update: Result<FlagSet, E>,
    ) -> Result<Applied, E> {
        let mut state = self.state();
        let set = match update {
            Ok(set) => set,
            Err(error) => {
                tracing::warn!(source, %error, "flag update rejected; the last good definitions stay in service");
                metrics::counter!("palisade_flags_reloads_total", "outcome" => "rejected")
                    .increment(1);
                state.last_error = Some(error.to_string());
                return Err(error);
            }
        };
        state.last_error = None;
        let changed = changed_keys(&self.flags.snapshot(), &set);
        let count = set.len();
        self.flags.replace(set);
        metrics::gauge!("palisade_flags_count").set(count as f64);
        #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit an f64 exactly
        metrics::gauge!("palisade_flags_last_reload_timestamp_seconds")
            .set(self.clock.now().unix_millis() as f64 / 1000.0);
        if changed.is_empty() {
            metrics::counter!("palisade_flags_reloads_total", "outcome" => "unchanged")
                .increment(1);
            return Ok(Applied::Unchanged);
        }
        metrics::counter!("palisade_flags_reloads_total", "outcome" => "applied").increment(1);
        tracing::info!(
            source,
            flags = count,
            changed = changed.len(),
            "flag definitions updated"
        );
        // No subscriber is not an error: the snapshot is what matters.
        let _ = self.changes.send(changed.clone());
        Ok(Applied::Changed(changed))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, UpdateState> {
        // The state is a last-error string: a panic elsewhere cannot leave
        // it inconsistent.
        self.update.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keys added, removed, or whose definition (or segments) differ.
fn changed_keys(old: &FlagSet, new: &FlagSet) -> Arc<[Arc<str>]> {
    let before: HashMap<&str, serde_json::Value> = old
        .flags()
        .map(|f| (f.key(), crate::native::fingerprint(old, f)))
        .collect();
    let mut changed: BTreeSet<Arc<str>> = BTreeSet::new();
    for flag in new.flags() {
        if before.get(flag.key()) != Some(&crate::native::fingerprint(new, flag)) {
            changed.insert(flag.key.clone());
        }
    }
    for flag in old.flags() {
        if new.get(flag.key()).is_none() {
            changed.insert(flag.key.clone());
        }
    }
    changed.into_iter().collect()
}
