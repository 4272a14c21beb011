//! The state one detector shares with its endpoints: the pool, each
//! endpoint's counters, and the ejection rules.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::success_rate;
use crate::classify::Outcome;
use crate::clock::Clock;

/// Validated settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) consecutive_errors: Option<NonZeroU32>,
    pub(crate) success_rate: Option<SuccessRate>,
    pub(crate) interval: Duration,
    pub(crate) base_ejection_time: Duration,
    pub(crate) max_ejection_time: Duration,
    pub(crate) max_ejection_percent: u8,
}

/// Envoy's success-rate settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SuccessRate {
    pub(crate) minimum_hosts: usize,
    pub(crate) request_volume: u64,
    pub(crate) stdev_factor: f64,
}

/// Why an endpoint was ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    ConsecutiveErrors,
    SuccessRate,
}

impl Reason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ConsecutiveErrors => "consecutive_errors",
            Self::SuccessRate => "success_rate",
        }
    }
}

/// `ejected_until` of an endpoint in the pool.
const IN_POOL: u64 = 0;

/// One endpoint: its counters for the current interval and its ejection.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) name: Arc<str>,
    pub(crate) shared: Arc<Shared>,
    consecutive_failures: AtomicU32,
    successes: AtomicU64,
    failures: AtomicU64,
    /// [`IN_POOL`], or the clock reading (nanoseconds) at which the
    /// ejection ends.
    ejected_until: AtomicU64,
    /// Ejections not yet forgiven: the next ejection lasts one base time more.
    times_ejected: AtomicU32,
    /// When the endpoint last returned or was last forgiven an ejection.
    back_since: AtomicU64,
}

impl Host {
    /// When the current ejection ends; `None` while in the pool.
    #[inline]
    pub(crate) fn ejected_until(&self) -> Option<u64> {
        match self.ejected_until.load(Ordering::Acquire) {
            IN_POOL => None,
            until => Some(until),
        }
    }

    /// A call to this endpoint ended with `outcome`.
    #[inline]
    pub(crate) fn record(self: &Arc<Self>, outcome: Outcome) {
        let shared = &self.shared;
        // A call sent before the ejection says nothing new.
        if self.ejected_until().is_none() {
            match outcome {
                Outcome::Success => {
                    self.successes.fetch_add(1, Ordering::Relaxed);
                    if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
                        self.consecutive_failures.store(0, Ordering::Relaxed);
                    }
                }
                Outcome::Failure => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    let run = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
                    if shared
                        .settings
                        .consecutive_errors
                        .is_some_and(|limit| run >= limit.get())
                    {
                        let now = shared.clock.now_nanos();
                        let mut pool = shared.lock();
                        shared.eject(&mut pool, self, Reason::ConsecutiveErrors, now);
                    }
                }
            }
        }
        // Whoever first sees the interval over evaluates the pool.
        let now = shared.clock.now_nanos();
        let due = shared.next_evaluation.load(Ordering::Relaxed);
        if now >= due
            && shared
                .next_evaluation
                .compare_exchange(
                    due,
                    now.saturating_add(nanos(shared.settings.interval)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            shared.evaluate(now);
        }
    }

    /// The ejection that ended at `until` is over: back into the pool.
    pub(crate) fn ejection_over(&self, until: u64) {
        let now = self.shared.clock.now_nanos().max(until);
        let mut pool = self.shared.lock();
        self.shared.sweep(&mut pool, now);
    }

    fn reset_interval(&self) {
        self.successes.store(0, Ordering::Relaxed);
        self.failures.store(0, Ordering::Relaxed);
    }
}

/// The endpoints of the pool; dropped endpoints are pruned when next seen.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    hosts: Vec<Weak<Host>>,
}

/// What a detector and all its endpoints share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    pub(crate) settings: Settings,
    pub(crate) clock: Clock,
    pool: Mutex<Pool>,
    /// The clock reading at which the next evaluation is due.
    next_evaluation: AtomicU64,
    pub(crate) ejections: AtomicU64,
    pub(crate) ejected_now: AtomicUsize,
    pub(crate) endpoints: AtomicUsize,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(name: Arc<str>, settings: Settings) -> Arc<Self> {
        let clock = Clock::new();
        Arc::new(Self {
            name,
            settings,
            next_evaluation: AtomicU64::new(
                clock.now_nanos().saturating_add(nanos(settings.interval)),
            ),
            clock,
            pool: Mutex::new(Pool::default()),
            ejections: AtomicU64::new(0),
            ejected_now: AtomicUsize::new(0),
            endpoints: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an endpoint to the pool; `None` names it by its number.
    pub(crate) fn join(self: &Arc<Self>, name: Option<Arc<str>>) -> Arc<Host> {
        let name = name.unwrap_or_else(|| {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            Arc::from(format!("#{id}"))
        });
        let host = Arc::new(Host {
            name,
            shared: Arc::clone(self),
            consecutive_failures: AtomicU32::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            ejected_until: AtomicU64::new(IN_POOL),
            times_ejected: AtomicU32::new(0),
            back_since: AtomicU64::new(self.clock.now_nanos()),
        });
        let mut pool = self.lock();
        pool.hosts.push(Arc::downgrade(&host));
        let now = self.clock.now_nanos();
        self.sweep(&mut pool, now);
        host
    }

    /// The names of the endpoints ejected right now.
    pub(crate) fn ejected_names(&self) -> Vec<String> {
        let now = self.clock.now_nanos();
        let mut pool = self.lock();
        self.sweep(&mut pool, now);
        pool.hosts
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|host| host.ejected_until().is_some())
            .map(|host| host.name.to_string())
            .collect()
    }

    /// Prunes dropped endpoints, returns those whose ejection is over, and
    /// forgives one ejection to endpoints back for a base ejection time.
    /// Returns the live endpoints and how many of them are ejected.
    fn sweep(&self, pool: &mut Pool, now: u64) -> (usize, usize) {
        let base = nanos(self.settings.base_ejection_time);
        let (mut live, mut ejected) = (0, 0);
        pool.hosts.retain(|weak| {
            let Some(host) = weak.upgrade() else {
                return false;
            };
            live += 1;
            match host.ejected_until() {
                Some(until) if until <= now => {
                    host.ejected_until.store(IN_POOL, Ordering::Release);
                    host.back_since.store(now, Ordering::Relaxed);
                    tracing::info!(
                        detector = &*self.name,
                        endpoint = &*host.name,
                        "endpoint returned to the pool"
                    );
                }
                Some(_) => ejected += 1,
                None => {
                    let back_since = host.back_since.load(Ordering::Relaxed);
                    if now.saturating_sub(back_since) >= base
                        && host.times_ejected.load(Ordering::Relaxed) > 0
                    {
                        host.times_ejected.fetch_sub(1, Ordering::Relaxed);
                        host.back_since.store(now, Ordering::Relaxed);
                    }
                }
            }
            true
        });
        self.endpoints.store(live, Ordering::Relaxed);
        self.set_ejected(ejected);
        (live, ejected)
    }

    fn set_ejected(&self, ejected: usize) {
        self.ejected_now.store(ejected, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        {
            // A pool holds far fewer than 2^52 endpoints.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("palisade_outlier_ejected", "name" => self.name.to_string())
                .set(ejected as f64);
        }
    }

    /// Ejects `host` unless it already is or the pool's cap forbids it.
    fn eject(&self, pool: &mut Pool, host: &Host, reason: Reason, now: u64) -> bool {
        if host.ejected_until().is_some() {
            return false;
        }
        let (live, ejected) = self.sweep(pool, now);
        let max_percent = usize::from(self.settings.max_ejection_percent);
        // Never past the cap, and never the last endpoint standing.
        if (ejected + 1) * 100 > max_percent * live || ejected + 1 >= live {
            tracing::debug!(
                detector = &*self.name,
                endpoint = &*host.name,
                reason = reason.as_str(),
                ejected,
                live,
                max_percent,
                "outlier not ejected: the pool is at its maximum ejection percentage"
            );
            return false;
        }
        let times = host.times_ejected.fetch_add(1, Ordering::Relaxed) + 1;
        let duration = self
            .settings
            .base_ejection_time
            .saturating_mul(times)
            .min(self.settings.max_ejection_time);
        host.ejected_until.store(
            now.saturating_add(nanos(duration)).max(1),
            Ordering::Release,
        );
        host.consecutive_failures.store(0, Ordering::Relaxed);
        host.reset_interval();
        self.ejections.fetch_add(1, Ordering::Relaxed);
        self.set_ejected(ejected + 1);
        tracing::warn!(
            detector = &*self.name,
            endpoint = &*host.name,
            reason = reason.as_str(),
            ejected_for_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            times_ejected = times,
            "outlier endpoint ejected"
        );
        #[cfg(feature = "metrics")]
        metrics::counter!(
            "palisade_outlier_ejections_total",
            "name" => self.name.to_string(),
            "reason" => reason.as_str(),
        )
        .increment(1);
        true
    }

    /// The end of an interval: success-rate ejections, then fresh counters.
    fn evaluate(&self, now: u64) {
        let mut pool = self.lock();
        self.sweep(&mut pool, now);
        let hosts: Vec<Arc<Host>> = pool.hosts.iter().filter_map(Weak::upgrade).collect();
        if let Some(rule) = self.settings.success_rate {
            let mut candidates: Vec<(f64, &Arc<Host>)> = hosts
                .iter()
                .filter(|host| host.ejected_until().is_none())
                .filter_map(|host| {
                    let successes = host.successes.load(Ordering::Relaxed);
                    let calls = successes + host.failures.load(Ordering::Relaxed);
                    // Counts stay far below 2^52.
                    #[allow(clippy::cast_precision_loss)]
                    let rate = 100.0 * successes as f64 / calls as f64;
                    (calls >= rule.request_volume).then_some((rate, host))
                })
                .collect();
            let rates: Vec<f64> = candidates.iter().map(|(rate, _)| *rate).collect();
            if let Some(threshold) =
                success_rate::threshold(&rates, rule.minimum_hosts, rule.stdev_factor)
            {
                // The worst first, in case the cap stops the ejections.
                candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (rate, host) in candidates {
                    if rate >= threshold {
                        break;
                    }
                    tracing::debug!(
                        detector = &*self.name,
                        endpoint = &*host.name,
                        success_rate = rate,
                        threshold,
                        "success rate below its peers'"
                    );
                    self.eject(&mut pool, host, Reason::SuccessRate, now);
                }
            }
        }
        for host in &hosts {
            host.reset_interval();
        }
    }
}

/// Nanoseconds of `duration`, saturating.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds from the clock reading `now` to `until`, as a duration.
pub(crate) fn until(now: u64, until: u64) -> Duration {
    Duration::from_nanos(until.saturating_sub(now))
}
