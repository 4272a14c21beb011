//! Every jitter mode stays within the AWS blog's bounds.

use std::time::Duration;

use palisade_resilience::retry::{Backoff, Jitter};
use proptest::prelude::*;

/// `min(cap, base * 2^(n-1))`, computed independently of the library.
fn exponential(base: Duration, cap: Duration, n: u32) -> Duration {
    let nanos = base.as_nanos().saturating_mul(1u128 << (n - 1).min(100));
    if nanos >= cap.as_nanos() {
        cap
    } else {
        Duration::from_nanos(u64::try_from(nanos).unwrap())
    }
}

fn schedule() -> impl Strategy<Value = (Duration, Duration, u32, u64)> {
    (1u64..=10_000_000_000, 1u64..=1_000, 1u32..=40, any::<u64>()).prop_map(
        |(base, cap_factor, n, seed)| {
            let base = Duration::from_nanos(base);
            (base, base * u32::try_from(cap_factor).unwrap(), n, seed)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_jitter_is_exactly_exponential((base, cap, n, seed) in schedule()) {
        let backoff = Backoff::exponential(base, cap).jitter(Jitter::None);
        let delay = backoff.delays(seed).nth(n as usize - 1).unwrap();
        prop_assert_eq!(delay, exponential(base, cap, n));
        prop_assert_eq!(backoff.ceiling(n), exponential(base, cap, n));
    }

    #[test]
    fn full_jitter_is_between_zero_and_exp((base, cap, n, seed) in schedule()) {
        let backoff = Backoff::exponential(base, cap).jitter(Jitter::Full);
        for (i, delay) in backoff.delays(seed).take(n as usize).enumerate() {
            let exp = exponential(base, cap, i as u32 + 1);
            prop_assert!(delay <= exp, "retry {}: {:?} > {:?}", i + 1, delay, exp);
        }
    }

    #[test]
    fn equal_jitter_is_between_half_exp_and_exp((base, cap, n, seed) in schedule()) {
        let backoff = Backoff::exponential(base, cap).jitter(Jitter::Equal);
        for (i, delay) in backoff.delays(seed).take(n as usize).enumerate() {
            let exp = exponential(base, cap, i as u32 + 1);
            prop_assert!(exp / 2 <= delay && delay <= exp, "retry {}: {:?} vs {:?}", i + 1, delay, exp);
        }
    }

    #[test]
    fn decorrelated_jitter_is_between_base_and_three_times_the_previous(
        (base, cap, n, seed) in schedule()
    ) {
        let backoff = Backoff::exponential(base, cap).jitter(Jitter::Decorrelated);
        let mut prev = base;
        for (i, delay) in backoff.delays(seed).take(n as usize).enumerate() {
            let high = cap.min(prev * 3);
            prop_assert!(base <= delay && delay <= high, "retry {}: {:?} not in {:?}..={:?}", i + 1, delay, base, high);
            prev = delay;
        }
    }
}

#[test]
fn jitter_spreads_delays_over_the_whole_range() {
    // A generator stuck at one end would pass the bounds above.
    let base = Duration::from_millis(100);
    let backoff = Backoff::exponential(base, base).jitter(Jitter::Full);
    let delays: Vec<_> = backoff.delays(1).take(1000).collect();
    assert!(delays.iter().any(|d| *d < base / 10));
    assert!(delays.iter().any(|d| *d > base * 9 / 10));

    let equal = Backoff::exponential(base, base).jitter(Jitter::Equal);
    let delays: Vec<_> = equal.delays(1).take(1000).collect();
    assert!(delays.iter().any(|d| *d < base * 6 / 10));
    assert!(delays.iter().any(|d| *d > base * 9 / 10));
}
