//! Per-endpoint rate and concurrency limits.
//!
//! Each endpoint may set its own rate (requests per second) and
//! concurrency; a worker checks both before it sends. Over either limit the
//! delivery is postponed, not waited for in the worker: a slow endpoint must
//! not hold worker slots that other endpoints' deliveries could use.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::Endpoint;

/// How long a delivery waits when its endpoint is at its concurrency limit.
const BUSY_RETRY: Duration = Duration::from_millis(50);

struct Lane {
    rate: Option<(u32, DefaultDirectRateLimiter)>,
    concurrency: Option<(u32, Arc<Semaphore>)>,
}

/// The limits of every endpoint seen, rebuilt when an endpoint's settings
/// change.
#[derive(Default)]
pub(crate) struct EndpointLimits {
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

/// Permission to send now, held for the duration of the attempt.
pub(crate) struct Admitted {
    _permit: Option<OwnedSemaphorePermit>,
}

impl EndpointLimits {
    /// `Ok` to send now, or `Err(wait)` to postpone by `wait`.
    pub(crate) fn admit(&self, endpoint: &Endpoint) -> Result<Admitted, Duration> {
        if endpoint.rate_limit.is_none() && endpoint.max_concurrency.is_none() {
            // Most endpoints set no limit: nothing to look up or lock.
            return Ok(Admitted { _permit: None });
        }
        let lane = self.lane(endpoint);
        let permit = match &lane.concurrency {
            Some((_, semaphore)) => match Arc::clone(semaphore).try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => return Err(BUSY_RETRY),
            },
            None => None,
        };
        if let Some((_, limiter)) = &lane.rate
            && let Err(not_until) = limiter.check()
        {
            return Err(not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            )));
        }
        Ok(Admitted { _permit: permit })
    }

    /// Forgets endpoints not in `keep` (bounded memory as endpoints come and
    /// go).
    pub(crate) fn retain(&self, keep: &dyn Fn(&str) -> bool) {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| keep(id));
    }

    fn lane(&self, endpoint: &Endpoint) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = lanes.get(&endpoint.id)
            && lane.rate.as_ref().map(|r| r.0) == endpoint.rate_limit
            && lane.concurrency.as_ref().map(|c| c.0) == endpoint.max_concurrency
        {
            return Arc::clone(lane);
        }
        let lane = Arc::new(Lane {
            rate: endpoint
                .rate_limit
                .and_then(NonZeroU32::new)
                .map(|per_second| {
                    (
                        per_second.get(),
                        RateLimiter::direct(Quota::per_second(per_second)),
                    )
                }),
            concurrency: endpoint.max_concurrency.filter(|&n| n > 0).map(|n| {
                let permits = usize::try_from(n).unwrap_or(usize::MAX);
                (n, Arc::new(Semaphore::new(permits)))
            }),
        });
        lanes.insert(endpoint.id.clone(), Arc::clone(&lane));
        lane
    }
}

impl std::fmt::Debug for EndpointLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("EndpointLimits")
            .field("endpoints", &n)
            .finish()
    }
}
