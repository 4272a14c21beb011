//! [`ScheduleTask`]: applies flags' scheduled changes at their time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::LiveFlags;
use crate::time::{Clock, Timestamp};

/// How long the scheduler waits before it tries a change again after a
/// failed write (or one whose result it has not seen yet).
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The longest the scheduler sleeps before it reads the clock again, so a
/// wall clock that jumps does not make it miss a change by long.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The task that applies every flag's [scheduled
/// changes](crate::model::ScheduledChange): each at its time, once, and on
/// start every change whose time has already passed. Stops when dropped.
///
/// [`ScheduleTask::live`] changes a [`LiveFlags`] directly (a file or an
/// in-memory set; logged with the source `schedule`);
/// [`ScheduleTask::store`] writes each change through a
/// [`FlagStore`](super::FlagStore) as a new version audited with the actor
/// `schedule`, so it survives a restart and, on Postgres, every instance
/// sees it; when several instances run a scheduler, the first write wins
/// and the others' writes conflict harmlessly.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), palisade_flags::native::NativeError> {
/// use std::sync::Arc;
/// use palisade_flags::store::{LiveFlags, ScheduleTask};
/// use palisade_flags::time::{FixedClock, Timestamp};
/// use palisade_flags::{native, Context};
///
/// // A kill switch pulled at a time already past when the scheduler starts.
/// let set = native::from_json(r#"{"flags": [{
///   "key": "legacy-export", "kind": "kill_switch",
///   "schedule": [{ "at": "2030-01-01T00:00:00Z", "killed": true }]
/// }]}"#)?;
/// let live = Arc::new(LiveFlags::new(set));
/// let mut changes = live.subscribe();
/// let now = FixedClock("2030-01-02T00:00:00Z".parse().unwrap());
/// let _task = ScheduleTask::live(Arc::clone(&live), now);
/// changes.recv().await;
/// assert!(!live.flags().evaluate("legacy-export", &Context::new()).is_enabled());
/// assert!(live.snapshot().get("legacy-export").unwrap().schedule().is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ScheduleTask {
    task: JoinHandle<()>,
}

impl Drop for ScheduleTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A boxed future: the scheduler's writes are rare and off the hot path.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where due changes are written.
trait ApplyDue: Send + Sync + 'static {
    /// Applies every change due at `now`.
    fn apply_due(&self, now: Timestamp) -> BoxFuture<'_, Result<(), String>>;
}

/// Straight into the live snapshot.
struct IntoLive(Arc<LiveFlags>);

impl ApplyDue for IntoLive {
    fn apply_due(&self, now: Timestamp) -> BoxFuture<'_, Result<(), String>> {
        let result = match self.0.snapshot().apply_due(now) {
            None => Ok(()),
            Some((set, keys)) => {
                for key in &keys {
                    tracing::info!(flag = %key, actor = "schedule", "scheduled flag change applied");
                }
                self.0
                    .apply("schedule", Ok::<_, crate::model::DefinitionError>(set))
                    .map(drop)
                    .map_err(|error| error.to_string())
            }
        };
        Box::pin(std::future::ready(result))
    }
}

impl ScheduleTask {
    /// Applies the scheduled changes of `live`'s flags to `live` itself,
    /// reading the time from `clock`.
    ///
    /// # Panics
    /// Outside a tokio runtime (the scheduler is a task).
    #[must_use]
    pub fn live(live: Arc<LiveFlags>, clock: impl Clock) -> Self {
        let apply = IntoLive(Arc::clone(&live));
        Self::spawn(live, Arc::new(clock), apply)
    }

    fn spawn(live: Arc<LiveFlags>, clock: Arc<dyn Clock>, apply: impl ApplyDue) -> Self {
        Self {
            task: tokio::spawn(run(live, clock, apply)),
        }
    }
}

/// Sleeps until the next change is due (or the flags change), applies what
/// is due, and so on until the task is aborted (its `ScheduleTask` dropped).
async fn run(live: Arc<LiveFlags>, clock: Arc<dyn Clock>, apply: impl ApplyDue) {
    let mut changes = live.subscribe();
    loop {
        let now = clock.now();
        let next = live.snapshot().next_scheduled();
        let wait = match next {
            Some(at) if at <= now => {
                if let Err(error) = apply.apply_due(now).await {
                    tracing::warn!(%error, "applying a scheduled flag change failed; retrying");
                }
                let still_due = live.snapshot().next_scheduled().is_some_and(|at| at <= now);
                if !still_due {
                    continue;
                }
                // Failed, or written by another instance and not yet seen.
                RETRY_DELAY
            }
            Some(at) => {
                let millis =
                    u64::try_from(at.unix_millis().saturating_sub(now.unix_millis())).unwrap_or(0);
                Duration::from_millis(millis).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            change = changes.recv() => {
                if change.is_none() {
                    return;
                }
            }
        }
    }
}

#[cfg(feature = "db")]
mod through_store {
    use std::sync::Arc;

    use futures_util::FutureExt as _;

    use super::{ApplyDue, BoxFuture, ScheduleTask};
    use crate::store::{Edit, Expect, FlagStore, StoreError};
    use crate::time::{Clock, Timestamp};

    /// As new versions written through a store.
    struct ThroughStore(Arc<dyn FlagStore>);

    impl ApplyDue for ThroughStore {
        fn apply_due(&self, now: Timestamp) -> BoxFuture<'_, Result<(), String>> {
            async move {
                let due: Vec<String> = self
                    .0
                    .live()
                    .snapshot()
                    .flags()
                    .filter(|f| f.schedule().iter().any(|c| c.time() <= now))
                    .map(|f| f.key().to_owned())
                    .collect();
                for key in due {
                    apply_one(&*self.0, &key, now)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            .boxed()
        }
    }

    /// Applies flag `key`'s due changes to its stored definition, expecting
    /// the version read, so a concurrent edit (or another instance's
    /// scheduler) wins instead of being overwritten.
    async fn apply_one(store: &dyn FlagStore, key: &str, now: Timestamp) -> Result<(), StoreError> {
        let stored = match store.get(key).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        let flag = stored.flag()?;
        let Some(after) = flag.apply_due(now) else {
            return Ok(());
        };
        let times: Vec<String> = flag
            .schedule()
            .iter()
            .filter(|c| c.time() <= now)
            .map(|c| crate::native::rfc3339(c.time()))
            .collect();
        let edit = Edit::by("schedule").because(format!("scheduled for {}", times.join(", ")));
        match store
            .put(&after, Expect::Version(stored.version), &edit)
            .await
        {
            Ok(_) => {
                tracing::info!(
                    flag = key,
                    actor = "schedule",
                    "scheduled flag change applied"
                );
                Ok(())
            }
            // Someone changed it first; the next round reads what they wrote.
            Err(StoreError::Conflict { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    impl ScheduleTask {
        /// Applies the scheduled changes of `store`'s flags as new versions
        /// written through it (audited with the actor `schedule`), reading
        /// the time from `clock`.
        ///
        /// # Panics
        /// Outside a tokio runtime (the scheduler is a task).
        #[must_use]
        pub fn store(store: Arc<dyn FlagStore>, clock: impl Clock) -> Self {
            let live = Arc::clone(store.live());
            Self::spawn(live, Arc::new(clock), ThroughStore(store))
        }
    }
}
