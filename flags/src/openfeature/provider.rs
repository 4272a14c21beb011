//! [`PalisadeProvider`]: the `FeatureProvider` over [`Flags`].

use std::sync::Arc;

use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    FlagMetadata, StructValue, async_trait,
};

use super::context::Rendered;
use super::value::{from_json, struct_from_json};
use crate::{ErrorCode, Evaluation, Flags, Reason, Value};

/// An OpenFeature provider serving Palisade [`Flags`]: every resolution
/// reads the live snapshot, so updates apply at once. See the
/// [module docs](super) for the type mapping and an example.
#[derive(Debug, Clone)]
pub struct PalisadeProvider {
    flags: Arc<Flags>,
    metadata: ProviderMetadata,
}

impl PalisadeProvider {
    /// A provider named `palisade` over `flags`.
    #[must_use]
    pub fn new(flags: impl Into<Arc<Flags>>) -> Self {
        Self {
            flags: flags.into(),
            metadata: ProviderMetadata::new("palisade"),
        }
    }

    /// The flags served.
    #[must_use]
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    fn evaluate(&self, key: &str, context: &EvaluationContext) -> EvaluationResult<Evaluation> {
        let rendered = Rendered::new(context)?;
        let evaluation = self.flags.evaluate(key, &rendered.context(context));
        match evaluation.error_code() {
            Some(code) => Err(EvaluationError {
                code: error_code(code),
                message: Some(format!("flag `{key}`: {code}")),
            }),
            None => Ok(evaluation),
        }
    }

    fn resolve<T>(
        &self,
        key: &str,
        context: &EvaluationContext,
        expected: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let evaluation = self.evaluate(key, context)?;
        let value = convert(evaluation.value()).ok_or_else(|| EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!(
                "flag `{key}` does not hold {expected}: it serves {}",
                kind(evaluation.value())
            )),
        })?;
        Ok(ResolutionDetails {
            value,
            variant: evaluation
                .variant()
                .map(|variant| variant.name().to_owned()),
            reason: Some(reason(evaluation.reason())),
            flag_metadata: Some(
                FlagMetadata::default().with_value("enabled", evaluation.is_enabled()),
            ),
        })
    }
}

#[async_trait]
impl FeatureProvider for PalisadeProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn status(&self) -> ProviderStatus {
        // Definitions are in memory from construction on.
        ProviderStatus::Ready
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a boolean",
            |value| match value {
                Value::Bool(on) => Some(*on),
                Value::Json(json) => json.as_bool(),
                _ => None,
            },
        )
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "an integer",
            |value| match value {
                Value::Json(json) => json.as_i64(),
                _ => None,
            },
        )
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a number",
            |value| match value {
                Value::Json(json) => json.as_f64(),
                _ => None,
            },
        )
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(
            flag_key,
            evaluation_context,
            "a string",
            |value| match value {
                Value::String(name) => Some(name.to_string()),
                Value::Json(json) => json.as_str().map(str::to_owned),
                _ => None,
            },
        )
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        let evaluation = self.evaluate(flag_key, evaluation_context)?;
        if let Value::Json(json) = evaluation.value()
            && let Some(fields) = json.as_object()
        {
            // An object with a `null` member has no OpenFeature form.
            let value = struct_from_json(fields).ok_or_else(|| EvaluationError {
                code: EvaluationErrorCode::ParseError,
                message: Some(format!(
                    "flag `{flag_key}` holds an object with a null member"
                )),
            })?;
            return Ok(ResolutionDetails {
                value,
                variant: evaluation
                    .variant()
                    .map(|variant| variant.name().to_owned()),
                reason: Some(reason(evaluation.reason())),
                flag_metadata: Some(
                    FlagMetadata::default().with_value("enabled", evaluation.is_enabled()),
                ),
            });
        }
        Err(EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!(
                "flag `{flag_key}` does not hold an object: it serves {}",
                kind(evaluation.value())
            )),
        })
    }
}

/// What a value is, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "a boolean",
        Value::String(_) => "a variant name",
        Value::Json(json) => match from_json(json) {
            None => "null",
            Some(open_feature::Value::Bool(_)) => "a JSON boolean",
            Some(open_feature::Value::Int(_)) => "a JSON integer",
            Some(open_feature::Value::Float(_)) => "a JSON number",
            Some(open_feature::Value::String(_)) => "a JSON string",
            Some(open_feature::Value::Array(_)) => "a JSON array",
            Some(open_feature::Value::Struct(_)) => "a JSON object",
        },
    }
}

fn reason(reason: Reason) -> EvaluationReason {
    match reason {
        Reason::Static => EvaluationReason::Static,
        Reason::TargetingMatch => EvaluationReason::TargetingMatch,
        Reason::Split => EvaluationReason::Split,
        Reason::Disabled => EvaluationReason::Disabled,
        Reason::Default => EvaluationReason::Default,
        Reason::Error => EvaluationReason::Error,
    }
}

fn error_code(code: ErrorCode) -> EvaluationErrorCode {
    match code {
        ErrorCode::FlagNotFound => EvaluationErrorCode::FlagNotFound,
        ErrorCode::TypeMismatch => EvaluationErrorCode::TypeMismatch,
        ErrorCode::ParseError => EvaluationErrorCode::ParseError,
        ErrorCode::TargetingKeyMissing => EvaluationErrorCode::TargetingKeyMissing,
        ErrorCode::InvalidContext => EvaluationErrorCode::InvalidContext,
        ErrorCode::ProviderNotReady => EvaluationErrorCode::ProviderNotReady,
        ErrorCode::General => EvaluationErrorCode::General("GENERAL".into()),
    }
}
