//! What passes between admitting a call and recording its outcome.

use std::sync::Arc;
use std::time::Duration;

use super::state::{Breaker, State, is_disabled, is_half_open};

/// The verdict on a call about to be made. Kept small: it is stored in the
/// service between `poll_ready` and `call`.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Closed or Disabled: `word` is the state word it was admitted under.
    Pass { word: u64 },
    /// One of HalfOpen's probes.
    Probe(Ticket),
    /// Rejected (already counted); the error is built in `call`.
    Rejected {
        state: State,
        retry_after: Option<Duration>,
    },
}

/// Marks a ticket whose outcome has been recorded.
const FINISHED: u64 = u64::MAX;

/// An admitted call that will be recorded: lives in the response future, so
/// a dropped future gives a HalfOpen permit back instead of leaking it (and
/// records nothing). A ticket admitted under a HalfOpen word is a probe; one
/// admitted under a Disabled word records nothing.
#[derive(Debug)]
pub(crate) struct Ticket {
    breaker: Arc<Breaker>,
    word: u64,
    /// When the call started, in ns since the breaker's clock's origin (slow-call
    /// detection only; 0 otherwise).
    start: u64,
}

impl Ticket {
    /// A ticket for a call admitted under `word`; starts the call's clock if
    /// slow calls are detected.
    #[inline]
    pub(crate) fn new(breaker: Arc<Breaker>, word: u64) -> Self {
        let start = if breaker.slow_calls { breaker.now() } else { 0 };
        Self {
            breaker,
            word,
            start,
        }
    }

    /// Restarts the call's clock: a probe's ticket is taken in `poll_ready`,
    /// but its duration counts from `call`.
    #[inline]
    pub(crate) fn restart(&mut self) {
        if self.breaker.slow_calls {
            self.start = self.breaker.now();
        }
    }

    /// Records the call's outcome (once), then, when the result asked for
    /// a break, opens the breaker for `wait` (if it is still in the state
    /// the call was admitted under).
    #[inline]
    pub(crate) fn finish_with(&mut self, failure: bool, wait: Option<std::time::Duration>) {
        let word = self.word;
        self.finish(failure);
        if let Some(wait) = wait
            && word != FINISHED
            && !is_disabled(word)
        {
            self.breaker.break_for(word, wait);
        }
    }

    /// Records the call's outcome (once).
    #[inline]
    pub(crate) fn finish(&mut self, failure: bool) {
        let word = std::mem::replace(&mut self.word, FINISHED);
        if word != FINISHED && !is_disabled(word) {
            self.breaker.complete(word, failure, self.start);
        }
    }
}

impl Drop for Ticket {
    #[inline]
    fn drop(&mut self) {
        if is_half_open(self.word) {
            self.breaker.release_probe(self.word);
        }
    }
}
