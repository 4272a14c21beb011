//! `HealthSource` for the handles of the keyed layers (the keyed breaker and
//! the keyed bulkhead), which are being reworked onto the shared key module.
//! Every other handle implements it beside its own code
//! (`circuit_breaker/handle.rs`, `bulkhead/handle.rs`, `rate_limit/handle.rs`).

#[cfg(feature = "circuit-breaker")]
mod breaker {
    use std::fmt;
    use std::hash::Hash;

    use crate::circuit_breaker::{KeyedCircuitBreakerHandle, Snapshot, status_of, success_rate};
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// One report for all the breakers of a keyed layer.
    ///
    /// The keys are independent upstreams (hosts, routes), and the instance
    /// still serves the others while one is open, so one bad key must not fail
    /// a readiness probe: the status is **healthy** while every key is Closed
    /// or Disabled (or there is no key yet), **degraded** while some key is
    /// HalfOpen, Open or ForcedOpen, and **unhealthy** only when every key is
    /// Open or ForcedOpen. The state says how many keys are not closed
    /// (`"2 of 5 keys not closed"`, or `"closed"`), the rejections are summed
    /// over the keys kept, and the success rate is taken over all their
    /// windows together. Keys evicted from the map take their counts with
    /// them.
    impl<K> HealthSource for KeyedCircuitBreakerHandle<K>
    where
        K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    {
        fn health(&self) -> ComponentHealth {
            let snapshots: Vec<Snapshot> = self
                .handles()
                .into_iter()
                .map(|(_, handle)| handle.snapshot())
                .collect();
            let keys = snapshots.len();
            let not_closed = snapshots
                .iter()
                .filter(|s| status_of(s.state) != Status::Healthy)
                .count();
            let all_open = snapshots
                .iter()
                .all(|s| status_of(s.state) == Status::Unhealthy);
            let status = match not_closed {
                0 => Status::Healthy,
                _ if all_open => Status::Unhealthy,
                _ => Status::Degraded,
            };
            let state = if not_closed == 0 {
                "closed".to_owned()
            } else {
                format!("{not_closed} of {keys} keys not closed")
            };
            let (calls, failures, rejected) = snapshots.iter().fold((0, 0, 0), |acc, s| {
                (acc.0 + s.calls, acc.1 + s.failures, acc.2 + s.rejected)
            });
            let health = ComponentHealth::new("keyed_circuit_breaker", status)
                .with_state(state)
                .with_rejections(rejected);
            match success_rate(calls, failures) {
                Some(rate) => health.with_success_rate(rate),
                None => health,
            }
        }
    }
}

#[cfg(feature = "bulkhead")]
mod bulkhead {
    use crate::bulkhead::KeyedBulkheadHandle;
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// Degraded while some partition has no permit free (one key's calls
    /// queue or are rejected), healthy otherwise; in-flight calls summed over
    /// the partitions, and the rejections of all partitions.
    impl<K: Send + Sync + 'static> HealthSource for KeyedBulkheadHandle<K> {
        fn health(&self) -> ComponentHealth {
            let partitions = self.partitions();
            let full = self.full_partitions();
            let status = if full > 0 {
                Status::Degraded
            } else {
                Status::Healthy
            };
            ComponentHealth::new("keyed_bulkhead", status)
                .with_state(format!("{full} of {partitions} partitions full"))
                .with_in_flight(self.in_flight_total() as u64)
                .with_rejections(self.rejected_total())
        }
    }
}
