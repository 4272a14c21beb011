//! Running the registered hooks around one evaluation.

use std::sync::Arc;

use super::{EvaluationFailure, Hook, HookError};
use crate::{Context, Evaluation};

/// The hooks of a `Flags`, in registration order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Hooks(Vec<Arc<dyn Hook>>);

impl Hooks {
    pub(crate) fn push(&mut self, hook: Arc<dyn Hook>) {
        self.0.push(hook);
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `evaluate` with the hooks around it: `before` in order, `after` /
    /// `error` and `finally` in reverse (OpenFeature's order).
    pub(crate) fn around(
        &self,
        flag: &str,
        context: &Context<'_>,
        evaluate: impl FnOnce() -> Evaluation,
        failed: impl Fn() -> Evaluation,
    ) -> Evaluation {
        let before = self
            .0
            .iter()
            .try_for_each(|hook| hook.before(flag, context));
        let evaluation = match before {
            Err(error) => self.fail(flag, context, &error, &failed),
            Ok(()) => {
                let evaluation = evaluate();
                if let Some(code) = evaluation.error_code() {
                    self.error(flag, context, &EvaluationFailure::Evaluation(code));
                    evaluation
                } else {
                    match self
                        .0
                        .iter()
                        .rev()
                        .try_for_each(|hook| hook.after(flag, context, &evaluation))
                    {
                        Ok(()) => evaluation,
                        Err(error) => self.fail(flag, context, &error, &failed),
                    }
                }
            }
        };
        for hook in self.0.iter().rev() {
            hook.finally(flag, context, &evaluation);
        }
        evaluation
    }

    fn fail(
        &self,
        flag: &str,
        context: &Context<'_>,
        error: &HookError,
        failed: &impl Fn() -> Evaluation,
    ) -> Evaluation {
        self.error(flag, context, &EvaluationFailure::Hook(error));
        failed()
    }

    fn error(&self, flag: &str, context: &Context<'_>, failure: &EvaluationFailure<'_>) {
        for hook in self.0.iter().rev() {
            hook.error(flag, context, failure);
        }
    }
}
