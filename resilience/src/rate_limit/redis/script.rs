//! The GCRA script and one decision made with it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::layer::Shared;
use crate::BoxError;
use crate::rate_limit::error::RateLimited;
use crate::rate_limit::headers::RateLimitInfo;

pub(super) const GCRA_LUA: &str = include_str!("gcra.lua");

pub(super) type Decision = Result<Result<RateLimitInfo, RateLimited>, BoxError>;
/// Boxed because redis' script invocation is an unnameable `async fn`; the
/// allocation is small next to the network round trip it waits for.
pub(super) type DecisionFuture = Pin<Box<dyn Future<Output = Decision> + Send>>;

impl<E: Send + Sync + 'static, W: Send + Sync + 'static> Shared<E, W> {
    /// Takes `weight` (1..=burst) cells from `key`'s bucket.
    pub(super) fn decide(self: &Arc<Self>, key: Vec<u8>, weight: u32) -> DecisionFuture {
        let shared = Arc::clone(self);
        Box::pin(async move {
            let decision = shared.ask(key, weight).await;
            // Counted here, where the shared state already is, so the
            // response future needs no handle of its own.
            match &decision {
                Ok(Ok(_)) => {
                    shared.stats.record_backend_ok();
                    shared.stats.record_allowed();
                }
                Ok(Err(_)) => {
                    shared.stats.record_backend_ok();
                    shared.stats.record_limited();
                }
                Err(_) => shared.stats.record_backend_error(),
            }
            decision
        })
    }

    /// One round trip: the script's answer, or why there is none.
    async fn ask(&self, key: Vec<u8>, weight: u32) -> Decision {
        let mut conn = self.conn.clone();
        let burst = self.quota.burst_size();
        let mut invocation = self.script.key(key);
        invocation.arg(self.interval_us).arg(burst).arg(weight);
        let reply: Vec<i64> =
            tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn))
                .await
                .map_err(|_| -> BoxError { "redis did not answer in time".into() })??;
        let [allowed, remaining, wait_us, reset_us] = reply[..] else {
            return Err(format!("unexpected reply from the rate limit script: {reply:?}").into());
        };
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        if allowed == 1 {
            Ok(Ok(RateLimitInfo {
                limit: burst,
                remaining: u32::try_from(remaining).unwrap_or(0).min(burst),
                reset: micros(reset_us),
            }))
        } else {
            Ok(Err(RateLimited::new(
                micros(wait_us),
                burst,
                micros(reset_us),
            )))
        }
    }
}
