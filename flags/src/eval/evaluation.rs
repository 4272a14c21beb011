//! The result of evaluating a flag, in OpenFeature's vocabulary.

use std::fmt;
use std::sync::Arc;

use crate::model::{Payload, Variant};

/// What a flag resolved to for one context.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub(crate) value: Value,
    pub(crate) enabled: bool,
    pub(crate) variant: Option<Arc<Variant>>,
    pub(crate) reason: Reason,
    pub(crate) error: Option<ErrorCode>,
}

impl Evaluation {
    /// The value served: a boolean for Boolean, Percentage and Kill switch
    /// flags, the variant name (`"disabled"` when none) for Variant flags,
    /// JSON for Config flags; `false` for a flag that was not found.
    #[must_use]
    #[inline]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Whether the flag is on for this context (Unleash's `isEnabled`).
    #[must_use]
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The variant served, if any.
    #[must_use]
    #[inline]
    pub fn variant(&self) -> Option<&Variant> {
        self.variant.as_deref()
    }

    /// The variant's name, or `"disabled"` when none is served (Unleash's
    /// name for "no variant").
    #[must_use]
    #[inline]
    pub fn variant_name(&self) -> &str {
        self.variant.as_deref().map_or(NO_VARIANT, Variant::name)
    }

    /// The served variant's payload, if any.
    #[must_use]
    #[inline]
    pub fn payload(&self) -> Option<&Payload> {
        self.variant.as_deref().and_then(Variant::get_payload)
    }

    /// Why the value was served.
    #[must_use]
    #[inline]
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// What went wrong, when [`reason`](Self::reason) is [`Reason::Error`].
    #[must_use]
    #[inline]
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.error
    }

    /// The value as a boolean.
    ///
    /// # Errors
    /// The evaluation's own error code, or [`ErrorCode::TypeMismatch`] when
    /// the value is not a boolean.
    pub fn as_bool(&self) -> Result<bool, ErrorCode> {
        if let Some(error) = self.error {
            return Err(error);
        }
        match self.value {
            Value::Bool(on) => Ok(on),
            _ => Err(ErrorCode::TypeMismatch),
        }
    }
}

/// The variant name Unleash reports when no variant is served.
pub(crate) const NO_VARIANT: &str = "disabled";

/// A served value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// On or off.
    Bool(bool),
    /// A variant name.
    String(Arc<str>),
    /// A configuration value.
    Json(Arc<serde_json::Value>),
}

/// Why a value was served (OpenFeature's resolution reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The flag has no rules: the same value for everyone.
    Static,
    /// A rule (constraint, segment or override) chose the value.
    TargetingMatch,
    /// A percentage rollout or weighted variant split chose the value.
    Split,
    /// The flag is off or its kill switch is pulled.
    Disabled,
    /// No rule matched (or a dependency was not met): the off value.
    Default,
    /// The flag could not be evaluated; see the error code.
    Error,
}

impl Reason {
    /// The OpenFeature name (`"TARGETING_MATCH"`).
    #[must_use]
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "STATIC",
            Self::TargetingMatch => "TARGETING_MATCH",
            Self::Split => "SPLIT",
            Self::Disabled => "DISABLED",
            Self::Default => "DEFAULT",
            Self::Error => "ERROR",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an evaluation failed (OpenFeature's error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No flag has that key.
    FlagNotFound,
    /// The flag's value is not of the type asked for.
    TypeMismatch,
    /// A definition could not be parsed.
    ParseError,
    /// The context lacks the key bucketing needs.
    TargetingKeyMissing,
    /// The context is not usable.
    InvalidContext,
    /// No flag definitions are loaded yet.
    ProviderNotReady,
    /// Anything else.
    General,
}

impl ErrorCode {
    /// The OpenFeature name (`"FLAG_NOT_FOUND"`).
    #[must_use]
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FlagNotFound => "FLAG_NOT_FOUND",
            Self::TypeMismatch => "TYPE_MISMATCH",
            Self::ParseError => "PARSE_ERROR",
            Self::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            Self::InvalidContext => "INVALID_CONTEXT",
            Self::ProviderNotReady => "PROVIDER_NOT_READY",
            Self::General => "GENERAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ErrorCode {}
