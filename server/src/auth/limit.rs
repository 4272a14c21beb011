//! Per-key rate limits by tier: each key names a tier, each tier a number
//! of requests per minute, each key its own bucket in its tier's limiter.
//!
//! The limiters are palisade-resilience's keyed `RateLimitLayer` (in this
//! process) or its `RedisRateLimitLayer` (shared by every instance using the
//! same Redis), each wrapped around a service that does nothing, so a check
//! is one call with the key id and the decision is the limiter's own error.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use palisade_resilience::BoxError;
use palisade_resilience::rate_limit::redis::RedisRateLimitLayer;
use palisade_resilience::rate_limit::{Quota, RateLimitLayer};
use tower::util::BoxCloneSyncService;
use tower::{Layer as _, ServiceExt as _, service_fn};

/// The tier a new key gets when none is asked for.
pub const DEFAULT_TIER: &str = "standard";

/// How long a call to Redis may take before the limiter fails open.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_millis(100);

/// One `--rate-tier NAME=PER_MINUTE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierArg {
    /// The tier's name.
    pub name: String,
    /// Requests per minute.
    pub per_minute: NonZeroU32,
}

impl FromStr for TierArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, count) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected NAME=REQUESTS_PER_MINUTE, e.g. high=120"))?;
        let name = name.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "tier name `{name}`: use letters, digits, `-` and `_`"
            ));
        }
        let per_minute = count
            .trim()
            .parse()
            .map_err(|_| format!("tier `{name}`: `{count}` is not a number of requests above 0"))?;
        Ok(Self {
            name: name.to_owned(),
            per_minute,
        })
    }
}

/// The rate-limit tiers: name → requests per minute. Defaults `low` = 5,
/// `standard` = 60, `high` = 120; `--rate-tier` adds or overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTiers(BTreeMap<String, NonZeroU32>);

impl Default for RateTiers {
    fn default() -> Self {
        Self::with(&[])
    }
}

impl RateTiers {
    /// The defaults with `overrides` applied.
    #[must_use]
    pub fn with(overrides: &[TierArg]) -> Self {
        let mut tiers = BTreeMap::new();
        for (name, n) in [("low", 5), ("standard", 60), ("high", 120)] {
            if let Some(n) = NonZeroU32::new(n) {
                tiers.insert(name.to_owned(), n);
            }
        }
        for tier in overrides {
            tiers.insert(tier.name.clone(), tier.per_minute);
        }
        Self(tiers)
    }

    /// Whether `name` is a tier.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn strictest(&self) -> Option<String> {
        self.0
            .iter()
            .min_by_key(|(_, n)| **n)
            .map(|(name, _)| name.clone())
    }

    /// The tier names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A check: the key id in, `Ok` or the limiter's error out.
type Limiter = BoxCloneSyncService<String, (), BoxError>;

/// One limiter per tier.
#[derive(Clone)]
pub(crate) struct TierLimiters {
    by_tier: BTreeMap<String, Limiter>,
    /// The tier with the fewest requests per minute.
    strictest: Option<String>,
}

impl fmt::Debug for TierLimiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TierLimiters")
            .field("tiers", &self.by_tier.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn pass() -> impl tower::Service<String, Response = (), Error = BoxError, Future: Send> + Clone {
    service_fn(|_: String| std::future::ready(Ok::<(), BoxError>(())))
}

// The extractor sees the limiters' request, which is the owned key id.
#[allow(clippy::ptr_arg)]
fn key_of(id: &String) -> Option<String> {
    Some(id.clone())
}

impl TierLimiters {
    /// Limiters in this process.
    pub(crate) fn local(tiers: &RateTiers) -> Self {
        let by_tier = tiers
            .0
            .iter()
            .map(|(name, &n)| {
                let layer = RateLimitLayer::keyed(Quota::per_minute(n), key_of);
                (name.clone(), Limiter::new(layer.layer(pass())))
            })
            .collect();
        Self {
            by_tier,
            strictest: tiers.strictest(),
        }
    }

    /// Limiters in Redis through `conn`, shared by every instance with the
    /// same `prefix`. While Redis does not answer, calls are admitted (and
    /// counted as backend errors).
    ///
    /// # Errors
    ///
    /// A configuration the limiter refuses.
    pub(crate) fn redis(
        tiers: &RateTiers,
        conn: &redis::aio::ConnectionManager,
        prefix: &str,
    ) -> Result<Self, BoxError> {
        let mut by_tier = BTreeMap::new();
        for (name, &n) in &tiers.0 {
            let layer = RedisRateLimitLayer::builder(conn.clone(), Quota::per_minute(n), key_of)
                .prefix(format!("{prefix}{name}:"))
                .timeout(REDIS_TIMEOUT)
                .build()?;
            by_tier.insert(name.clone(), Limiter::new(layer.layer(pass())));
        }
        Ok(Self {
            by_tier,
            strictest: tiers.strictest(),
        })
    }

    /// Takes one request from `key_id`'s bucket in `tier` (a tier no longer
    /// configured counts in the strictest one, never in none).
    ///
    /// # Errors
    ///
    /// The limiter's error: `RateLimited`, or `BackendUnavailable` from Redis.
    pub(crate) async fn check(&self, tier: &str, key_id: &str) -> Result<(), BoxError> {
        let limiter = self
            .by_tier
            .get(tier)
            .or_else(|| self.by_tier.get(self.strictest.as_deref()?));
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.clone().oneshot(key_id.to_owned()).await
    }
}
