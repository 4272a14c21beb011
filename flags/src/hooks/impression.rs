//! Impression events: which variant a context was served.

use std::fmt;

use super::Hook;
use crate::{Context, Evaluation};

/// One evaluation, as experiment analysis sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Impression<'a> {
    /// The flag's key.
    pub flag: &'a str,
    /// Whether the flag was on.
    pub enabled: bool,
    /// The variant served (`"disabled"` when none).
    pub variant: &'a str,
    /// Who was evaluated: the context's user id, if any.
    pub context_key: Option<&'a str>,
}

/// A hook sending an [`Impression`] of every evaluation to a closure; see
/// [`impressions`].
pub struct Impressions<F>(F);

impl<F> fmt::Debug for Impressions<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Impressions")
    }
}

/// A hook that calls `subscriber` with an [`Impression`] after every
/// evaluation (errors included, as `enabled: false`). The subscriber runs
/// on the evaluating thread: hand the event to a channel or a counter,
/// don't block.
#[must_use]
pub fn impressions<F>(subscriber: F) -> Impressions<F>
where
    F: Fn(&Impression<'_>) + Send + Sync + 'static,
{
    Impressions(subscriber)
}

impl<F> Hook for Impressions<F>
where
    F: Fn(&Impression<'_>) + Send + Sync + 'static,
{
    fn finally(&self, flag: &str, context: &Context<'_>, evaluation: &Evaluation) {
        (self.0)(&Impression {
            flag,
            enabled: evaluation.is_enabled(),
            variant: evaluation.variant_name(),
            context_key: context.get_user_id(),
        });
    }
}
