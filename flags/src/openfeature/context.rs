//! An OpenFeature [`EvaluationContext`] as our [`Context`].

use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
};

use crate::Context;
use crate::time::Timestamp;

/// The text of the fields that are not text already (numbers, booleans):
/// the [`Context`] borrows it.
pub(super) struct Rendered<'a> {
    fields: Vec<(&'a str, String)>,
    times: Vec<Timestamp>,
}

impl<'a> Rendered<'a> {
    /// Renders what needs rendering; a field the evaluator cannot read is
    /// an `INVALID_CONTEXT` error rather than a field silently ignored.
    pub(super) fn new(context: &'a EvaluationContext) -> Result<Self, EvaluationError> {
        let mut fields = Vec::new();
        let mut times = Vec::new();
        for (name, value) in &context.custom_fields {
            match value {
                EvaluationContextFieldValue::String(_) => {}
                EvaluationContextFieldValue::Bool(on) => {
                    fields.push((name.as_str(), on.to_string()))
                }
                EvaluationContextFieldValue::Int(n) => fields.push((name.as_str(), n.to_string())),
                EvaluationContextFieldValue::Float(x) => {
                    fields.push((name.as_str(), x.to_string()))
                }
                EvaluationContextFieldValue::DateTime(at) if name == "currentTime" => {
                    let millis = at.unix_timestamp_nanos() / 1_000_000;
                    let millis = i64::try_from(millis)
                        .map_err(|_| invalid(name, "a date-time out of range"))?;
                    times.push(Timestamp::from_unix_millis(millis));
                }
                EvaluationContextFieldValue::DateTime(_) => {
                    return Err(invalid(name, "a date-time (only currentTime may be one)"));
                }
                EvaluationContextFieldValue::Struct(_) => {
                    return Err(invalid(name, "a structure (constraints compare text)"));
                }
            }
        }
        Ok(Self { fields, times })
    }

    /// The context: custom fields first, then the targeting key as the
    /// user id (so it wins over a `userId` field).
    pub(super) fn context(&'a self, source: &'a EvaluationContext) -> Context<'a> {
        let mut context = Context::new();
        for (name, value) in &source.custom_fields {
            if let EvaluationContextFieldValue::String(text) = value {
                context = set(context, name, text);
            }
        }
        for (name, text) in &self.fields {
            context = set(context, name, text);
        }
        for at in &self.times {
            context = context.current_time(*at);
        }
        if let Some(key) = &source.targeting_key {
            context = context.user_id(key);
        }
        context
    }
}

fn set<'a>(context: Context<'a>, name: &'a str, value: &'a str) -> Context<'a> {
    match name {
        "userId" => context.user_id(value),
        "sessionId" => context.session_id(value),
        "remoteAddress" => context.remote_address(value),
        "environment" => context.environment(value),
        "appName" => context.app_name(value),
        "currentTime" => context.current_time_text(value),
        _ => context.property(name, value),
    }
}

fn invalid(field: &str, what: &str) -> EvaluationError {
    EvaluationError {
        code: EvaluationErrorCode::InvalidContext,
        message: Some(format!("context field `{field}` is {what}")),
    }
}
