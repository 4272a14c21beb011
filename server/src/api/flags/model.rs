//! What `/api/flags` reads and writes.

use std::collections::BTreeMap;

use palisade_flags::store::{AuditEntry, StoredFlag, StoredSegment};
use palisade_flags::{Context, Evaluation, Value as Served};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A flag as the API shows it: the summary the dashboard lists, and the
/// whole definition in the native format.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FlagAnswer {
    /// The key.
    pub(crate) key: String,
    /// Its version: 1 when created, one more on every change.
    pub(crate) version: u64,
    /// When this version was written, in milliseconds since the Unix epoch.
    pub(crate) updated_at: i64,
    /// `boolean`, `percentage`, `variant`, `config` or `kill_switch`.
    pub(crate) kind: String,
    /// Whether the flag is on (its rules then decide who gets it).
    pub(crate) enabled: bool,
    /// Whether the kill switch is thrown (off for everyone, whatever the rules).
    pub(crate) killed: bool,
    /// The first strategy's rollout percentage, when it has one.
    pub(crate) rollout: Option<u8>,
    /// The definition in the native format (`docs` of palisade-flags).
    #[schema(value_type = Object)]
    pub(crate) definition: Value,
}

impl From<StoredFlag> for FlagAnswer {
    fn from(stored: StoredFlag) -> Self {
        let definition = stored.definition;
        let field = |name: &str| definition.get(name);
        Self {
            kind: field("kind")
                .and_then(Value::as_str)
                .unwrap_or("boolean")
                .to_owned(),
            // The native format omits the defaults: on, and not killed.
            enabled: field("enabled").and_then(Value::as_bool).unwrap_or(true),
            killed: field("killed").and_then(Value::as_bool).unwrap_or(false),
            rollout: field("strategies")
                .and_then(Value::as_array)
                .and_then(|strategies| strategies.iter().find_map(|s| s.get("rollout")))
                .and_then(Value::as_u64)
                .and_then(|r| u8::try_from(r).ok()),
            key: stored.key,
            version: stored.version,
            updated_at: stored.updated_at.unix_millis(),
            definition,
        }
    }
}

/// Every flag.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FlagList {
    /// By key.
    pub(crate) flags: Vec<FlagAnswer>,
}

/// `PATCH /api/flags/{key}`: the switches an operator flips, without
/// sending the whole definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagPatch {
    /// Turn the flag on or off.
    pub(crate) enabled: Option<bool>,
    /// Throw or reset the kill switch.
    pub(crate) killed: Option<bool>,
    /// Set the rollout percentage of every strategy that has one (0–100).
    pub(crate) rollout: Option<u8>,
    /// Why, for the flag's history.
    pub(crate) reason: Option<String>,
}

/// `POST /api/flags/{key}/revert`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevertRequest {
    /// The version to make current again.
    pub(crate) version: u64,
    /// Why, for the flag's history.
    pub(crate) reason: Option<String>,
}

/// One change in a flag's own history (the versions a revert can go back to).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryEntry {
    /// Increasing with every change of every flag.
    pub(crate) id: i64,
    /// The version this change made.
    pub(crate) version: u64,
    /// Who made it (an API key id).
    pub(crate) actor: String,
    /// When, in milliseconds since the Unix epoch.
    pub(crate) at: i64,
    /// `create`, `update`, `delete` or `revert`.
    pub(crate) action: &'static str,
    /// The definition before (absent when the flag was created).
    #[schema(value_type = Option<Object>)]
    pub(crate) before: Option<Value>,
    /// The definition after (absent when the flag was deleted).
    #[schema(value_type = Option<Object>)]
    pub(crate) after: Option<Value>,
    /// Why, when given.
    pub(crate) reason: Option<String>,
}

impl From<AuditEntry> for HistoryEntry {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id,
            version: entry.version,
            actor: entry.actor,
            at: entry.at.unix_millis(),
            action: entry.action.as_str(),
            before: entry.before,
            after: entry.after,
            reason: entry.reason,
        }
    }
}

/// A flag's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct History {
    /// The changes.
    pub(crate) entries: Vec<HistoryEntry>,
}

/// The evaluation context, as Unleash names its fields.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ContextRequest {
    /// The user, the default stickiness.
    pub(crate) user_id: Option<String>,
    /// The session, the fallback stickiness.
    pub(crate) session_id: Option<String>,
    /// The client's IP address.
    pub(crate) remote_address: Option<String>,
    /// The environment (`production`, …).
    pub(crate) environment: Option<String>,
    /// The calling application.
    pub(crate) app_name: Option<String>,
    /// The time to evaluate at (RFC 3339); now when absent.
    pub(crate) current_time: Option<String>,
    /// Any other field a constraint reads.
    #[serde(default)]
    pub(crate) properties: BTreeMap<String, String>,
}

impl ContextRequest {
    /// The context borrowing these fields.
    pub(crate) fn context(&self) -> Context<'_> {
        let mut context = Context::new();
        if let Some(v) = &self.user_id {
            context = context.user_id(v);
        }
        if let Some(v) = &self.session_id {
            context = context.session_id(v);
        }
        if let Some(v) = &self.remote_address {
            context = context.remote_address(v);
        }
        if let Some(v) = &self.environment {
            context = context.environment(v);
        }
        if let Some(v) = &self.app_name {
            context = context.app_name(v);
        }
        if let Some(v) = &self.current_time {
            context = context.current_time_text(v);
        }
        for (name, value) in &self.properties {
            context = context.property(name, value);
        }
        context
    }
}

/// `POST /api/flags/evaluate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvaluateRequest {
    /// Who is asking.
    #[serde(default)]
    pub(crate) context: ContextRequest,
    /// The flags to evaluate; every flag when absent.
    pub(crate) keys: Option<Vec<String>>,
}

/// One flag's evaluation, with OpenFeature's reason and error code.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvaluationAnswer {
    /// `true`/`false`, a variant name, or a config value.
    #[schema(value_type = Object)]
    pub(crate) value: Value,
    /// The variant served (`disabled` when none).
    pub(crate) variant: String,
    /// `STATIC`, `TARGETING_MATCH`, `SPLIT`, `DISABLED`, `DEFAULT` or `ERROR`.
    pub(crate) reason: &'static str,
    /// Why the evaluation failed (`FLAG_NOT_FOUND`, …), when it did.
    pub(crate) error_code: Option<&'static str>,
}

impl From<&Evaluation> for EvaluationAnswer {
    fn from(evaluation: &Evaluation) -> Self {
        Self {
            value: match evaluation.value() {
                Served::Bool(on) => Value::Bool(*on),
                Served::String(name) => Value::String(name.to_string()),
                Served::Json(value) => Value::clone(value),
                // A value kind added later: its JSON form is unknown here.
                #[allow(unreachable_patterns)]
                _ => Value::Null,
            },
            variant: evaluation.variant_name().to_owned(),
            reason: evaluation.reason().as_str(),
            error_code: evaluation.error_code().map(|code| code.as_str()),
        }
    }
}

/// The evaluations, by key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Evaluations {
    /// By flag key.
    pub(crate) evaluations: BTreeMap<String, EvaluationAnswer>,
}

/// `POST /api/flags/import`: what was imported.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportAnswer {
    /// The flags written (created or replaced), by key.
    pub(crate) imported: Vec<String>,
    /// The segments written (created or replaced), by id.
    pub(crate) segments: Vec<u64>,
    /// Definitions that evaluate as "never matches", with the reason.
    pub(crate) warnings: Vec<String>,
}

/// A segment as stored.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SegmentAnswer {
    /// The id strategies refer to.
    pub(crate) id: u64,
    /// Its version: 1 when created, one more on every change.
    pub(crate) version: u64,
    /// When this version was written, in milliseconds since the Unix epoch.
    pub(crate) updated_at: i64,
    /// The definition in the native format (`id`, `name`, `constraints`).
    #[schema(value_type = Object)]
    pub(crate) definition: Value,
}

impl From<StoredSegment> for SegmentAnswer {
    fn from(stored: StoredSegment) -> Self {
        Self {
            id: stored.id,
            version: stored.version,
            updated_at: stored.updated_at.unix_millis(),
            definition: stored.definition,
        }
    }
}

/// Every segment.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SegmentList {
    /// By id.
    pub(crate) segments: Vec<SegmentAnswer>,
}
