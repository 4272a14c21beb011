//! Palisade's own definition format: a [`FlagSet`] as JSON or YAML (feature
//! `yaml`), read with validation and written back out.
//!
//! A document has a format `version` (1), an optional list of `segments`
//! and a list of `flags`. Each flag has a `key` and a `kind` (`boolean`,
//! `percentage`, `variant`, `config` with a `config: {on, off}` section, or
//! `kill_switch`), and optionally `enabled` (default `true`), `killed`,
//! `strategies` (with `constraints`, `segments`, `rollout`, `stickiness`,
//! `group_id`, `variants`), `variants` (with `weight`, `payload`,
//! `overrides`), `variant_stickiness`, `dependencies` and `schedule`
//! (changes at an RFC 3339 time `at`: `enabled`, `killed`, `rollout`, and
//! the `strategy` whose rollout to set). Constraints name a
//! context `field` and an Unleash `operator`; list operators (`IN`,
//! `NOT_IN`, `STR_*`, `IN_CIDR`) read `values`, the others read `value`.
//! Unknown fields are errors, reported with their line and column.
//!
//! ```
//! use palisade_flags::native;
//! use palisade_flags::{Context, Flags};
//!
//! let set = native::from_json(r#"{
//!   "version": 1,
//!   "segments": [{ "id": 1, "name": "staff", "constraints": [
//!     { "field": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"] }
//!   ] }],
//!   "flags": [
//!     { "key": "new-checkout", "kind": "percentage",
//!       "strategies": [{ "name": "half", "rollout": 50, "segments": [1] }] },
//!     { "key": "banner", "kind": "config", "config": { "on": { "text": "Hi" }, "off": null } }
//!   ]
//! }"#)?;
//! let flags = Flags::new(set);
//! let outsider = Context::new().user_id("7").property("email", "me@elsewhere.org");
//! assert!(!flags.evaluate("new-checkout", &outsider).is_enabled());
//!
//! // A typo is an error with its place in the text.
//! let error = native::from_json("{\"flags\": [{\"key\": \"a\", \"kind\": \"boolean\", \"enabeld\": true}]}")
//!     .unwrap_err();
//! assert_eq!(error.location(), Some((1, 52)));
//!
//! // And the set writes back out as the same document.
//! let json = native::to_json(&flags.snapshot());
//! assert!(json.contains("\"new-checkout\""));
//! # Ok::<(), native::NativeError>(())
//! ```

mod decode;
mod document;
mod encode;
mod error;

use std::fmt;
use std::path::Path;

pub use error::NativeError;

pub(crate) use encode::rfc3339;

#[cfg(feature = "live")]
pub(crate) use encode::fingerprint;

use crate::model::{Flag, FlagSet, Segment};

/// The text formats of a definition document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (reading and writing it needs the `yaml` feature).
    Yaml,
}

impl Format {
    /// The format a file name says: `.yaml` / `.yml` are YAML, anything
    /// else is JSON.
    #[must_use]
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        match path.as_ref().extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => {
                Self::Yaml
            }
            _ => Self::Json,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
        })
    }
}

/// Reads and validates a document in `format`.
///
/// # Errors
///
/// [`NativeError::Syntax`] (with line and column) for text that is not a
/// definition document, [`NativeError::Flag`] / [`NativeError::Segment`] for
/// an unusable value, [`NativeError::Definition`] for flags that do not fit
/// together (unknown segment, dependency cycle, …), and a syntax error
/// saying so for YAML without the `yaml` feature.
pub fn parse(text: &str, format: Format) -> Result<FlagSet, NativeError> {
    match format {
        Format::Json => from_json(text),
        Format::Yaml => from_yaml(text),
    }
}

/// Writes `set` as a document in `format`.
///
/// # Errors
///
/// [`NativeError::Encode`] for YAML without the `yaml` feature.
pub fn write(set: &FlagSet, format: Format) -> Result<String, NativeError> {
    match format {
        Format::Json => Ok(to_json(set)),
        Format::Yaml => to_yaml(set),
    }
}

/// Reads and validates a JSON document.
///
/// # Errors
///
/// As [`parse`].
pub fn from_json(text: &str) -> Result<FlagSet, NativeError> {
    let doc: document::DocumentDoc = serde_json::from_str(text).map_err(|e| json_syntax(&e))?;
    decode::set_from_doc(&doc)
}

/// Writes `set` as pretty-printed JSON.
#[must_use]
pub fn to_json(set: &FlagSet) -> String {
    // Serializing plain data with string keys into a String cannot fail.
    serde_json::to_string_pretty(&encode::set_to_doc(set)).unwrap_or_default()
}

/// Reads and validates a YAML document.
///
/// # Errors
///
/// As [`parse`].
#[cfg(feature = "yaml")]
pub fn from_yaml(text: &str) -> Result<FlagSet, NativeError> {
    let doc: document::DocumentDoc = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        NativeError::Syntax {
            format: Format::Yaml,
            line,
            column,
            message: e.to_string(),
        }
    })?;
    decode::set_from_doc(&doc)
}

/// Reads a YAML document: needs the `yaml` feature.
///
/// # Errors
///
/// Always, without the `yaml` feature.
#[cfg(not(feature = "yaml"))]
pub fn from_yaml(_text: &str) -> Result<FlagSet, NativeError> {
    Err(NativeError::Syntax {
        format: Format::Yaml,
        line: 0,
        column: 0,
        message: "YAML support is not compiled in (enable the `yaml` feature)".to_owned(),
    })
}

/// Writes `set` as YAML.
///
/// # Errors
///
/// [`NativeError::Encode`] if the serializer fails (or, without the `yaml`
/// feature, always).
pub fn to_yaml(set: &FlagSet) -> Result<String, NativeError> {
    #[cfg(feature = "yaml")]
    {
        serde_norway::to_string(&encode::set_to_doc(set)).map_err(|e| NativeError::Encode {
            format: Format::Yaml,
            message: e.to_string(),
        })
    }
    #[cfg(not(feature = "yaml"))]
    {
        let _ = set;
        Err(NativeError::Encode {
            format: Format::Yaml,
            message: "YAML support is not compiled in (enable the `yaml` feature)".to_owned(),
        })
    }
}

/// One flag as a JSON value of the native format (what the stores keep per
/// flag).
#[must_use]
pub fn flag_to_value(flag: &Flag) -> serde_json::Value {
    serde_json::to_value(encode::flag_to_doc(flag)).unwrap_or_default()
}

/// One flag from a JSON value of the native format. Its segments and
/// parents are checked when it joins a [`FlagSet`].
///
/// # Errors
///
/// [`NativeError::Syntax`] for a value that is not a flag definition
/// (no line: the value is already parsed), [`NativeError::Flag`] for an
/// unusable value.
pub fn flag_from_value(value: &serde_json::Value) -> Result<Flag, NativeError> {
    let doc: document::FlagDoc =
        serde_json::from_value(value.clone()).map_err(|e| json_syntax(&e))?;
    decode::flag_from_doc(&doc)
}

/// One segment as a JSON value of the native format (what the stores keep
/// per segment).
#[must_use]
pub fn segment_to_value(segment: &Segment) -> serde_json::Value {
    serde_json::to_value(encode::segment_to_doc(segment)).unwrap_or_default()
}

/// One segment from a JSON value of the native format.
///
/// # Errors
///
/// [`NativeError::Syntax`] for a value that is not a segment definition,
/// [`NativeError::Segment`] for an unusable constraint.
pub fn segment_from_value(value: &serde_json::Value) -> Result<Segment, NativeError> {
    let doc: document::SegmentDoc =
        serde_json::from_value(value.clone()).map_err(|e| json_syntax(&e))?;
    decode::segment_from_doc(&doc)
}

/// One flag from JSON text of the native format.
///
/// # Errors
///
/// As [`flag_from_value`], with line and column for a syntax error.
pub fn flag_from_json(text: &str) -> Result<Flag, NativeError> {
    let doc: document::FlagDoc = serde_json::from_str(text).map_err(|e| json_syntax(&e))?;
    decode::flag_from_doc(&doc)
}

fn json_syntax(e: &serde_json::Error) -> NativeError {
    NativeError::Syntax {
        format: Format::Json,
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}
