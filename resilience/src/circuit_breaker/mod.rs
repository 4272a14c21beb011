//! Circuit breaker (work in progress).
