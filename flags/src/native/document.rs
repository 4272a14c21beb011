//! The native definition format as serde types: what a JSON or YAML file
//! holds, before validation. Unknown fields are rejected so that a typo is
//! an error with its line and column rather than a silently ignored setting.

use serde::{Deserialize, Serialize};

/// The format version this crate writes and reads.
pub(crate) const VERSION: u64 = 1;

/// A whole definition file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentDoc {
    #[serde(default = "version")]
    pub(crate) version: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) segments: Vec<SegmentDoc>,
    #[serde(default)]
    pub(crate) flags: Vec<FlagDoc>,
}

fn version() -> u64 {
    VERSION
}

/// One flag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagDoc {
    pub(crate) key: String,
    pub(crate) kind: KindDoc,
    /// The values of a `config` flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) config: Option<ConfigDoc>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) killed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) strategies: Vec<StrategyDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) variants: Vec<VariantDoc>,
    #[serde(default, skip_serializing_if = "is_default_stickiness")]
    pub(crate) variant_stickiness: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) dependencies: Vec<DependencyDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) schedule: Vec<ScheduleDoc>,
}

/// A change that takes effect `at` an RFC 3339 time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleDoc {
    pub(crate) at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) killed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rollout: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) strategy: Option<String>,
}

/// The kinds of flag.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KindDoc {
    Boolean,
    Percentage,
    Variant,
    Config,
    KillSwitch,
}

/// What a `config` flag serves when on and when off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigDoc {
    pub(crate) on: serde_json::Value,
    #[serde(default)]
    pub(crate) off: serde_json::Value,
}

/// One strategy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct StrategyDoc {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) constraints: Vec<ConstraintDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) segments: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rollout: Option<u8>,
    #[serde(default, skip_serializing_if = "is_default_stickiness")]
    pub(crate) stickiness: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) variants: Vec<VariantDoc>,
}

/// One constraint. List operators read `values`; the others read `value`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConstraintDoc {
    pub(crate) field: String,
    pub(crate) operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<ScalarDoc>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) inverted: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) case_insensitive: bool,
}

/// A single constraint value: numbers may be written as numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum ScalarDoc {
    Number(f64),
    Text(String),
}

/// One segment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct SegmentDoc {
    pub(crate) id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) constraints: Vec<ConstraintDoc>,
}

/// One variant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct VariantDoc {
    pub(crate) name: String,
    pub(crate) weight: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payload: Option<PayloadDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) overrides: Vec<OverrideDoc>,
}

/// A variant's payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayloadDoc {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: String,
}

/// Contexts pinned to a variant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverrideDoc {
    pub(crate) field: String,
    pub(crate) values: Vec<String>,
}

/// A dependency on another flag: `enabled: true` (optionally in
/// `variants`), `enabled: false`, or `unsatisfiable` with a reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DependencyDoc {
    pub(crate) flag: String,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) variants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unsatisfiable: Option<String>,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_true(value: &bool) -> bool {
    *value
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_false(value: &bool) -> bool {
    !*value
}

fn is_default_stickiness(value: &str) -> bool {
    value.is_empty() || value == "default"
}
