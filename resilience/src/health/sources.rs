//! `HealthSource` for the handles of our layers that live outside their own
//! module: the circuit breakers and the keyed bulkhead. (The bulkhead's and
//! the rate limiter's handles implement it beside their own code.)

#[cfg(feature = "circuit-breaker")]
mod breaker {
    use std::fmt;
    use std::hash::Hash;

    use crate::circuit_breaker::{
        CircuitBreakerHandle, KeyedCircuitBreakerHandle, Snapshot, State,
    };
    use crate::health::{ComponentHealth, HealthSource, Status};

    /// Closed and Disabled pass calls; HalfOpen passes only probes; Open and
    /// ForcedOpen reject everything.
    fn status_of(state: State) -> Status {
        match state {
            State::HalfOpen => Status::Degraded,
            State::Open | State::ForcedOpen => Status::Unhealthy,
            // Closed, Disabled, and any state added later until it is placed.
            _ => Status::Healthy,
        }
    }

    /// The window's success rate; unknown (rather than 100 %) when it is empty.
    fn success_rate(calls: u64, failures: u64) -> Option<f64> {
        let window = Snapshot {
            state: State::Closed,
            calls,
            failures,
            slow_calls: 0,
            rejected: 0,
        };
        (calls > 0).then(|| 100.0 - window.failure_rate())
    }

    /// Closed and Disabled are healthy, HalfOpen degraded, Open and
    /// ForcedOpen unhealthy; the state is [`State::as_str`], the rejections
    /// those of the breaker, and the success rate `100 - failure_rate` over
    /// the sliding window (none while the window is empty). The window is
    /// only filled in Closed and emptied when the breaker closes, so an open
    /// breaker reports the rate that opened it.
    impl HealthSource for CircuitBreakerHandle {
        fn health(&self) -> ComponentHealth {
            let snapshot = self.snapshot();
            let health = ComponentHealth::new("circuit_breaker", status_of(snapshot.state))
                .with_state(snapshot.state.as_str())
                .with_rejections(snapshot.rejected);
            match success_rate(snapshot.calls, snapshot.failures) {
                Some(rate) => health.with_success_rate(rate),
                None => health,
            }
        }
    }

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

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn states_map_to_statuses() {
            assert_eq!(status_of(State::Closed), Status::Healthy);
            assert_eq!(status_of(State::Disabled), Status::Healthy);
            assert_eq!(status_of(State::HalfOpen), Status::Degraded);
            assert_eq!(status_of(State::Open), Status::Unhealthy);
            assert_eq!(status_of(State::ForcedOpen), Status::Unhealthy);
        }

        #[test]
        fn success_rate_is_unknown_for_an_empty_window() {
            assert_eq!(success_rate(0, 0), None);
            assert_eq!(success_rate(4, 1), Some(75.0));
            assert_eq!(success_rate(2, 2), Some(0.0));
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
