//! Which requests get a span: the sampling decision, as OpenTelemetry's
//! `AlwaysOn`, `AlwaysOff`, `TraceIdRatioBased` and `ParentBased` samplers make it.

use std::fmt;

use crate::propagate::{TraceFlags, TraceId};

/// Decides whether a request is sampled: a sampled request gets a span; an
/// unsampled one gets none (it costs little more than the trace context),
/// and either way the decision travels on as the `sampled` flag of the
/// `traceparent` our hop sends, so the services we call agree.
///
/// The default of [`TraceLayer`](super::TraceLayer) is
/// `Sampler::always_on().parent_based()`: follow the caller's flag, sample
/// the traces we start.
///
/// ```
/// use palisade_tracing_layer::trace::{Sampler, TraceLayer};
///
/// // Keep 10 % of the traces this service starts; follow callers otherwise.
/// let sampler = Sampler::ratio(0.1)?.parent_based();
/// let layer = TraceLayer::new().sampler(sampler);
/// # let _ = layer;
/// # Ok::<(), palisade_tracing_layer::trace::InvalidRatio>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampler {
    root: Root,
    parent_based: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    AlwaysOn,
    AlwaysOff,
    /// Sampled when the trace id's last 8 bytes, shifted right by one, are
    /// below this bound (OpenTelemetry's `TraceIdRatioBased`).
    Ratio(u64),
}

/// A sampling ratio outside `0.0 ..= 1.0` (or NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InvalidRatio(f64);

impl fmt::Display for InvalidRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sampling ratio {} is not within 0.0 ..= 1.0", self.0)
    }
}

impl std::error::Error for InvalidRatio {}

impl Sampler {
    /// Samples every request (whatever the caller decided, unless
    /// [`parent_based`](Self::parent_based)).
    #[must_use]
    pub const fn always_on() -> Self {
        Self {
            root: Root::AlwaysOn,
            parent_based: false,
        }
    }

    /// Samples no request.
    #[must_use]
    pub const fn always_off() -> Self {
        Self {
            root: Root::AlwaysOff,
            parent_based: false,
        }
    }

    /// Samples a share `ratio` of traces, decided by the trace id alone as
    /// OpenTelemetry's `TraceIdRatioBased` decides it, so every service with
    /// the same ratio makes the same decision for the same trace.
    ///
    /// # Errors
    ///
    /// [`InvalidRatio`] when `ratio` is NaN or outside `0.0 ..= 1.0`.
    pub fn ratio(ratio: f64) -> Result<Self, InvalidRatio> {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(InvalidRatio(ratio));
        }
        // As opentelemetry-sdk: the bound over the 63 bits compared.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "ratio is within 0..=1, so the product is within 0..=2^63"
        )]
        let bound = (ratio * (1_u64 << 63) as f64) as u64;
        Ok(Self {
            root: Root::Ratio(bound),
            parent_based: false,
        })
    }

    /// Follows the caller's `sampled` flag when the request continues a
    /// trace; decides as `self` only for the traces we start.
    #[must_use]
    pub const fn parent_based(mut self) -> Self {
        self.parent_based = true;
        self
    }

    /// The decision for a request of trace `trace_id`; `parent` is the
    /// caller's flags when the request continued a valid trace.
    #[must_use]
    pub fn should_sample(&self, parent: Option<TraceFlags>, trace_id: TraceId) -> bool {
        if self.parent_based
            && let Some(parent) = parent
        {
            return parent.is_sampled();
        }
        match self.root {
            Root::AlwaysOn => true,
            Root::AlwaysOff => false,
            Root::Ratio(bound) => {
                let bytes = trace_id.to_bytes();
                let mut low = [0_u8; 8];
                low.copy_from_slice(bytes.get(8..).unwrap_or(&[0; 8]));
                (u64::from_be_bytes(low) >> 1) < bound
            }
        }
    }
}

impl Default for Sampler {
    /// `Sampler::always_on().parent_based()`.
    fn default() -> Self {
        Self::always_on().parent_based()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        let mut bytes = [0_u8; 16];
        bytes[0] = 1;
        bytes[8..].copy_from_slice(&low.to_be_bytes());
        TraceId::from_bytes(bytes).unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn ratio_compares_the_low_63_bits_of_the_trace_id() {
        let half = Sampler::ratio(0.5).unwrap_or_default();
        // (x >> 1) < 2^62  <=>  x < 2^63
        assert!(half.should_sample(None, id((1 << 63) - 1)));
        assert!(!half.should_sample(None, id(1 << 63)));
        let all = Sampler::ratio(1.0).unwrap_or_default();
        assert!(all.should_sample(None, id(u64::MAX)));
        let none = Sampler::ratio(0.0).unwrap_or_default();
        assert!(!none.should_sample(None, id(0)));
        assert!(Sampler::ratio(1.5).is_err());
        assert!(Sampler::ratio(f64::NAN).is_err());
    }

    #[test]
    fn parent_based_follows_the_caller_and_plain_ignores_it() {
        let sampled = Some(TraceFlags::empty().with_sampled(true));
        let unsampled = Some(TraceFlags::empty());
        let follow = Sampler::always_off().parent_based();
        assert!(follow.should_sample(sampled, id(0)));
        assert!(!follow.should_sample(unsampled, id(0)));
        assert!(!follow.should_sample(None, id(0)));
        assert!(Sampler::always_on().should_sample(unsampled, id(0)));
        assert!(!Sampler::always_off().should_sample(sampled, id(0)));
    }
}
