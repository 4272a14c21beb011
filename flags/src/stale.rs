//! Stale flags: which flags nobody evaluates any more, and which serve the
//! same answer to everyone, so their code paths can be removed.
//!
//! [`Usage`] is a [`Hook`] counting evaluations per flag and per variant
//! (atomic counters; a read lock to find the flag's entry) and remembering,
//! on an injectable [`Clock`], when each flag was last evaluated and since
//! when it has served one answer only. [`Usage::report`] lists the stale
//! flags of a [`FlagSet`]; kill switches are kept for the long run and never
//! reported.
//!
//! ```
//! use std::time::Duration;
//! use palisade_flags::model::{Flag, FlagKind, FlagSet};
//! use palisade_flags::stale::{Staleness, Usage};
//! use palisade_flags::time::{FixedClock, Timestamp};
//! use palisade_flags::{Context, Flags};
//!
//! let set = FlagSet::new(
//!     [Flag::new("used", FlagKind::Boolean), Flag::new("forgotten", FlagKind::Boolean)],
//!     [],
//! )?;
//! let usage = Usage::new().with_clock(FixedClock(Timestamp::from_unix_millis(0)));
//! let flags = Flags::new(set).with_hook(usage.clone());
//! let _ = flags.evaluate("used", &Context::new());
//!
//! assert_eq!(usage.evaluations("used"), 1);
//! // A day later, with nothing evaluated since: both flags are stale.
//! let later = Timestamp::from_unix_millis(86_400_000);
//! let day = Duration::from_secs(86_400);
//! let report = usage.report(&flags.snapshot(), later, day, day);
//! assert_eq!(report.len(), 2);
//! let at_start = Some(Timestamp::from_unix_millis(0));
//! assert_eq!(report[0].staleness, Staleness::NotEvaluated { last: at_start });
//! assert_eq!(report[1].staleness, Staleness::NotEvaluated { last: None });
//! # Ok::<(), palisade_flags::model::DefinitionError>(())
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::hooks::Hook;
use crate::model::{FlagKind, FlagSet};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::{Context, Evaluation};

/// Counts evaluations per flag and variant; register it with
/// [`Flags::with_hook`](crate::Flags::with_hook) and keep a clone to read
/// it (clones share the counts).
#[derive(Debug, Clone)]
pub struct Usage {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    clock: Arc<dyn Clock>,
    /// When counting started: a flag never evaluated is stale from here.
    started: Timestamp,
    flags: RwLock<HashMap<Arc<str>, Arc<FlagUsage>>>,
}

#[derive(Debug)]
struct FlagUsage {
    evaluations: AtomicU64,
    last_evaluated: AtomicI64,
    /// `(enabled, variant)` of the answer served since `same_since`.
    answer: RwLock<(bool, Arc<str>)>,
    same_since: AtomicI64,
    variants: RwLock<Vec<(bool, Arc<str>, AtomicU64)>>,
}

impl Default for Usage {
    fn default() -> Self {
        Self::new()
    }
}

impl Usage {
    /// Counting from now on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::from_clock(Arc::new(SystemClock))
    }

    /// Read times from `clock` (counting starts at its current time).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        Self::from_clock(Arc::new(clock))
    }

    fn from_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                started: clock.now(),
                clock,
                flags: RwLock::default(),
            }),
        }
    }

    /// How many times flag `key` was evaluated.
    #[must_use]
    pub fn evaluations(&self, key: &str) -> u64 {
        self.entry(key)
            .map_or(0, |usage| usage.evaluations.load(Ordering::Relaxed))
    }

    /// How many evaluations of flag `key` served `variant` (`"disabled"`
    /// for no variant) while on (`enabled`) or off.
    #[must_use]
    pub fn served(&self, key: &str, enabled: bool, variant: &str) -> u64 {
        self.entry(key).map_or(0, |usage| {
            read(&usage.variants)
                .iter()
                .find(|(on, name, _)| *on == enabled && &**name == variant)
                .map_or(0, |(_, _, count)| count.load(Ordering::Relaxed))
        })
    }

    /// The stale flags of `set` at `now`: those not evaluated for
    /// `not_evaluated_for` (or never, while counting has run that long),
    /// and those that served one answer (on/off and variant) for
    /// `one_answer_for`. Kill switches are never reported.
    #[must_use]
    pub fn report(
        &self,
        set: &FlagSet,
        now: Timestamp,
        not_evaluated_for: Duration,
        one_answer_for: Duration,
    ) -> Vec<StaleFlag> {
        let before = |age: Duration| {
            let millis = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            now.unix_millis().saturating_sub(millis)
        };
        let (idle_cutoff, same_cutoff) = (before(not_evaluated_for), before(one_answer_for));
        let mut stale = Vec::new();
        for flag in set.flags() {
            if matches!(flag.kind(), FlagKind::KillSwitch) {
                continue;
            }
            let staleness = match self.entry(flag.key()) {
                None if self.shared.started.unix_millis() <= idle_cutoff => {
                    Some(Staleness::NotEvaluated { last: None })
                }
                None => None,
                Some(usage) => {
                    let last = usage.last_evaluated.load(Ordering::Relaxed);
                    let since = usage.same_since.load(Ordering::Relaxed);
                    if last <= idle_cutoff {
                        Some(Staleness::NotEvaluated {
                            last: Some(Timestamp::from_unix_millis(last)),
                        })
                    } else if since <= same_cutoff {
                        let (enabled, variant) = read(&usage.answer).clone();
                        Some(Staleness::OneAnswer {
                            enabled,
                            variant,
                            since: Timestamp::from_unix_millis(since),
                        })
                    } else {
                        None
                    }
                }
            };
            if let Some(staleness) = staleness {
                stale.push(StaleFlag {
                    key: flag.key().into(),
                    staleness,
                });
            }
        }
        stale
    }

    fn entry(&self, key: &str) -> Option<Arc<FlagUsage>> {
        read(&self.shared.flags).get(key).cloned()
    }

    fn record(&self, key: &str, evaluation: &Evaluation) {
        let now = self.shared.clock.now().unix_millis();
        let usage = match self.entry(key) {
            Some(usage) => usage,
            None => {
                let mut flags = write(&self.shared.flags);
                flags
                    .entry(key.into())
                    .or_insert_with(|| {
                        Arc::new(FlagUsage {
                            evaluations: AtomicU64::new(0),
                            last_evaluated: AtomicI64::new(now),
                            answer: RwLock::new((
                                evaluation.is_enabled(),
                                evaluation.variant_name().into(),
                            )),
                            same_since: AtomicI64::new(now),
                            variants: RwLock::default(),
                        })
                    })
                    .clone()
            }
        };
        usage.evaluations.fetch_add(1, Ordering::Relaxed);
        usage.last_evaluated.fetch_max(now, Ordering::Relaxed);
        let (enabled, variant) = (evaluation.is_enabled(), evaluation.variant_name());
        let same = {
            let answer = read(&usage.answer);
            answer.0 == enabled && &*answer.1 == variant
        };
        if !same {
            *write(&usage.answer) = (enabled, variant.into());
            usage.same_since.store(now, Ordering::Relaxed);
        }
        let counted = read(&usage.variants)
            .iter()
            .find(|(on, name, _)| *on == enabled && &**name == variant)
            .map(|(_, _, count)| count.fetch_add(1, Ordering::Relaxed))
            .is_some();
        if !counted {
            let mut variants = write(&usage.variants);
            match variants
                .iter()
                .find(|(on, name, _)| *on == enabled && &**name == variant)
            {
                Some((_, _, count)) => {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                None => variants.push((enabled, variant.into(), AtomicU64::new(1))),
            }
        }
    }
}

impl Hook for Usage {
    fn finally(&self, flag: &str, _: &Context<'_>, evaluation: &Evaluation) {
        // Only flags that exist: unknown keys would grow the map without
        // bound and are not flags to clean up.
        if evaluation.error_code().is_none() {
            self.record(flag, evaluation);
        }
    }
}

/// A flag [`Usage::report`] found stale.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaleFlag {
    /// The flag's key.
    pub key: Arc<str>,
    /// Why it is stale.
    pub staleness: Staleness,
}

/// Why a flag is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Staleness {
    /// Not evaluated since `last` (`None`: never, since counting started).
    NotEvaluated {
        /// The last evaluation.
        last: Option<Timestamp>,
    },
    /// Every evaluation since `since` served the same answer.
    OneAnswer {
        /// On or off.
        enabled: bool,
        /// The variant (`"disabled"` for none).
        variant: Arc<str>,
        /// Since when.
        since: Timestamp,
    },
}

/// Counters stay usable after a panic elsewhere: they hold no invariant a
/// panic could break.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
