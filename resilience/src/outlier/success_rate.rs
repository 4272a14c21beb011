//! Envoy's success-rate rule: which endpoints fall below their peers.

/// The success rate (in percent) below which an endpoint is an outlier:
/// `mean − stdev × factor` over the rates of the endpoints with enough calls,
/// or `None` when fewer than `minimum_hosts` of them have enough.
pub(crate) fn threshold(rates: &[f64], minimum_hosts: usize, stdev_factor: f64) -> Option<f64> {
    if rates.is_empty() || rates.len() < minimum_hosts {
        return None;
    }
    // A pool holds far fewer than 2^52 endpoints.
    #[allow(clippy::cast_precision_loss)]
    let count = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / count;
    let variance = rates.iter().map(|rate| (rate - mean).powi(2)).sum::<f64>() / count;
    Some(mean - variance.sqrt() * stdev_factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_endpoint_far_below_its_peers_is_under_the_threshold() {
        // Four endpoints at 100 %, one at 50 %: mean 90, stdev 20.
        let rates = [100.0, 100.0, 100.0, 100.0, 50.0];
        let threshold = threshold(&rates, 5, 1.9).unwrap();
        assert!(
            (threshold - (90.0 - 20.0 * 1.9)).abs() < 1e-9,
            "{threshold}"
        );
        assert!(50.0 < threshold);
        assert!(100.0 > threshold);
    }

    #[test]
    fn equal_rates_make_no_outlier_and_too_few_hosts_no_verdict() {
        let equal = [80.0; 5];
        assert_eq!(threshold(&equal, 5, 1.9), Some(80.0));
        assert_eq!(threshold(&[100.0, 0.0], 5, 1.9), None);
        assert_eq!(threshold(&[], 0, 1.9), None);
    }
}
