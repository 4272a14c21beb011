//! The Unleash client-API JSON, as it arrives (before conversion).
//!
//! Lists may be missing or `null`; parameter values may be strings or
//! numbers; unknown fields are ignored, as Unleash clients do.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawState {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) features: Vec<RawFeature>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) segments: Vec<RawSegment>,
    #[serde(default)]
    pub(crate) events: Option<Vec<RawEvent>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawFeature {
    pub(crate) name: String,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) enabled: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) strategies: Vec<RawStrategy>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) variants: Vec<RawVariant>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) dependencies: Vec<RawDependency>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawStrategy {
    pub(crate) name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) constraints: Vec<RawConstraint>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) segments: Vec<u64>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) variants: Vec<RawVariant>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawConstraint {
    pub(crate) context_name: String,
    pub(crate) operator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) values: Vec<String>,
    #[serde(default)]
    pub(crate) value: Option<String>,
    #[serde(default)]
    pub(crate) inverted: bool,
    #[serde(default)]
    pub(crate) case_insensitive: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawVariant {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) weight: u32,
    #[serde(default)]
    pub(crate) stickiness: Option<String>,
    #[serde(default)]
    pub(crate) payload: Option<RawPayload>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) overrides: Vec<RawOverride>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawPayload {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) value: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawOverride {
    pub(crate) context_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawDependency {
    pub(crate) feature: String,
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) variants: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawSegment {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) constraints: Vec<RawConstraint>,
}

/// A delta-API event (`/api/client/delta`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(crate) enum RawEvent {
    Hydration {
        #[serde(default, deserialize_with = "nullable")]
        features: Vec<RawFeature>,
        #[serde(default, deserialize_with = "nullable")]
        segments: Vec<RawSegment>,
    },
    FeatureUpdated {
        feature: RawFeature,
    },
    #[serde(rename_all = "camelCase")]
    FeatureRemoved {
        feature_name: String,
    },
    SegmentUpdated {
        segment: RawSegment,
    },
    #[serde(rename_all = "camelCase")]
    SegmentRemoved {
        segment_id: u64,
    },
}

/// `null` reads as the default (an empty list or map).
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
