//! The [`FlagStore`] trait and what it reads and writes.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::{LiveFlags, StoreError};
use crate::model::{Flag, FlagSet, Segment};
use crate::native::{self, NativeError};
use crate::time::Timestamp;

/// A database of flag definitions with versions and an append-only audit
/// log; every write is validated against the whole set, committed, then
/// served by the store's [`LiveFlags`].
///
/// Object-safe, so a server can hold an `Arc<dyn FlagStore>` chosen at
/// start-up ([`SqliteFlagStore`](super::SqliteFlagStore) or
/// `PostgresFlagStore`).
pub trait FlagStore: Send + Sync + fmt::Debug {
    /// Every flag, by key.
    fn list(&self) -> BoxFuture<'_, Result<Vec<StoredFlag>, StoreError>>;

    /// The flag `key`.
    ///
    /// [`StoreError::NotFound`] when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<StoredFlag, StoreError>>;

    /// Creates or replaces `flag` (by its key) if it is at `expect`; the
    /// result is a new version, audited as `create` or `update`.
    ///
    /// [`StoreError::Conflict`] when the flag is not as expected,
    /// [`StoreError::Invalid`] when the set would not be valid with it.
    fn put<'a>(
        &'a self,
        flag: &'a Flag,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<StoredFlag, StoreError>>;

    /// Deletes flag `key` if it is at `expect`; audited as `delete`.
    ///
    /// [`StoreError::NotFound`], [`StoreError::Conflict`], or
    /// [`StoreError::Invalid`] when other flags depend on it.
    fn delete<'a>(
        &'a self,
        key: &'a str,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The audit log of flag `key`, oldest first (empty for a key never
    /// written).
    fn history<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<AuditEntry>, StoreError>>;

    /// Makes flag `key` what it was at `version` again, as a new version
    /// audited as `revert` (a revert to a version that deleted the flag
    /// deletes it).
    ///
    /// [`StoreError::NotFound`] for an unknown version,
    /// [`StoreError::Invalid`] when the old definition no longer fits the
    /// set.
    fn revert<'a>(
        &'a self,
        key: &'a str,
        version: u64,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<Option<StoredFlag>, StoreError>>;

    /// Every segment, by id.
    fn list_segments(&self) -> BoxFuture<'_, Result<Vec<StoredSegment>, StoreError>>;

    /// Creates or replaces `segment` (by its id) if it is at `expect`; the
    /// result is a new version of the segment, audited as `create` or
    /// `update`, and every flag using it is re-evaluated with it at once.
    ///
    /// [`StoreError::SegmentConflict`] when the segment is not as expected,
    /// [`StoreError::Invalid`] for an id above `i64::MAX` or an unusable
    /// constraint.
    fn put_segment<'a>(
        &'a self,
        segment: &'a Segment,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<StoredSegment, StoreError>>;

    /// Deletes segment `id` if it is at `expect` and no flag uses it;
    /// audited as `delete`.
    ///
    /// [`StoreError::SegmentNotFound`], [`StoreError::SegmentConflict`], or
    /// [`StoreError::SegmentInUse`] naming the flags that still use it.
    fn delete_segment<'a>(
        &'a self,
        id: u64,
        expect: Expect,
        edit: &'a Edit,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The audit log of segment `id`, oldest first; each entry's `key` is
    /// the id in decimal.
    fn segment_history(&self, id: u64) -> BoxFuture<'_, Result<Vec<AuditEntry>, StoreError>>;

    /// The live evaluator this store keeps current.
    fn live(&self) -> &Arc<LiveFlags>;
}

/// A flag as stored: its native JSON definition and version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredFlag {
    /// The key.
    pub key: String,
    /// Its version: 1 when created, one more on every change (a flag
    /// deleted and created again goes on counting).
    pub version: u64,
    /// When this version was written.
    pub updated_at: Timestamp,
    /// The definition in the native format ([`native::flag_to_value`]).
    pub definition: serde_json::Value,
}

impl StoredFlag {
    /// The definition as a [`Flag`].
    ///
    /// # Errors
    ///
    /// [`NativeError`] if the stored JSON is not a valid flag (written by
    /// hand or by a newer version).
    pub fn flag(&self) -> Result<Flag, NativeError> {
        native::flag_from_value(&self.definition)
    }
}

/// A segment as stored: its native JSON definition and version.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredSegment {
    /// The id strategies refer to.
    pub id: u64,
    /// Its version: 1 when created, one more on every change.
    pub version: u64,
    /// When this version was written.
    pub updated_at: Timestamp,
    /// The definition in the native format ([`native::segment_to_value`]).
    pub definition: serde_json::Value,
}

impl StoredSegment {
    /// The definition as a [`Segment`].
    ///
    /// # Errors
    ///
    /// [`NativeError`] if the stored JSON is not a valid segment.
    pub fn segment(&self) -> Result<Segment, NativeError> {
        native::segment_from_value(&self.definition)
    }
}

/// What a write expects to find, so concurrent editors do not overwrite
/// each other unknowingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// Whatever is there.
    Any,
    /// That the flag does not exist (create only).
    Absent,
    /// That the flag is at this version.
    Version(u64),
}

impl Expect {
    /// Checks the version found (0: none) against the expectation; a
    /// mismatch is `(expected, found)`.
    fn check(self, found: u64) -> Result<(), (u64, u64)> {
        let expected = match self {
            Self::Any => return Ok(()),
            Self::Absent => 0,
            Self::Version(version) => version,
        };
        if expected == found {
            Ok(())
        } else {
            Err((expected, found))
        }
    }
}

/// Who makes a change and why, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub(crate) actor: String,
    pub(crate) reason: Option<String>,
}

impl Edit {
    /// A change by `actor` (a user name, an API key's name, a service).
    #[must_use]
    pub fn by(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            reason: None,
        }
    }

    /// Why the change is made.
    #[must_use]
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// The kind of change an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditAction {
    /// The flag was created.
    Create,
    /// The flag was replaced.
    Update,
    /// The flag was deleted.
    Delete,
    /// The flag was set back to an earlier version.
    Revert,
}

impl AuditAction {
    /// The name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Revert => "revert",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "create" => Self::Create,
            "update" => Self::Update,
            "delete" => Self::Delete,
            "revert" => Self::Revert,
            other => {
                return Err(StoreError::Database(sqlx::Error::Decode(
                    format!("unknown audit action {other:?}").into(),
                )));
            }
        })
    }
}

/// One row of the append-only audit log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Increasing with every entry of the store.
    pub id: i64,
    /// The flag.
    pub key: String,
    /// The version this change made.
    pub version: u64,
    /// Who made it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// What kind of change.
    pub action: AuditAction,
    /// The definition before (none when the flag did not exist).
    pub before: Option<serde_json::Value>,
    /// The definition after (none when the flag was deleted).
    pub after: Option<serde_json::Value>,
    /// Why, when given.
    pub reason: Option<String>,
}

/// The stored definitions, as the stores read them: flags as
/// `(key, version, definition)`, segments as `(id, version, definition)`.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) flags: Vec<(String, u64, serde_json::Value)>,
    pub(crate) segments: Vec<(u64, u64, serde_json::Value)>,
}

impl Rows {
    /// The validated set these rows define.
    pub(crate) fn build_set(&self) -> Result<FlagSet, NativeError> {
        build_set(
            self.flags.iter().map(|(_, _, d)| d),
            self.segments.iter().map(|(_, _, d)| d),
        )
    }
}

/// What a write changes: a flag (by key) or a segment (by id).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Flag(&'a str),
    Segment(u64),
}

impl Target<'_> {
    /// What `NOTIFY` carries: the key, or `segment:<id>`.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn notice(self) -> String {
        match self {
            Self::Flag(key) => key.to_owned(),
            Self::Segment(id) => format!("segment:{id}"),
        }
    }

    fn not_found(self) -> StoreError {
        match self {
            Self::Flag(key) => StoreError::NotFound {
                key: key.to_owned(),
                version: None,
            },
            Self::Segment(segment) => StoreError::SegmentNotFound { segment },
        }
    }

    fn conflict(self, (expected, found): (u64, u64)) -> StoreError {
        match self {
            Self::Flag(key) => StoreError::Conflict {
                key: key.to_owned(),
                expected,
                found,
            },
            Self::Segment(segment) => StoreError::SegmentConflict {
                segment,
                expected,
                found,
            },
        }
    }
}

/// A segment id as the databases keep it (a signed 64-bit column).
pub(crate) fn segment_id_to_db(id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| {
        StoreError::Invalid(NativeError::Segment {
            segment: id,
            error: crate::model::DefinitionError::InvalidValue {
                value: id.to_string(),
                reason: "a stored segment id is at most 9223372036854775807".to_owned(),
            },
        })
    })
}

/// Builds and validates the set of stored definitions.
pub(crate) fn build_set<'a>(
    flags: impl IntoIterator<Item = &'a serde_json::Value>,
    segments: impl IntoIterator<Item = &'a serde_json::Value>,
) -> Result<FlagSet, NativeError> {
    let flags = flags
        .into_iter()
        .map(native::flag_from_value)
        .collect::<Result<Vec<_>, _>>()?;
    let segments = segments
        .into_iter()
        .map(native::segment_from_value)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FlagSet::new(flags, segments)?)
}

/// Version numbers go in signed 64-bit columns.
pub(crate) fn to_db(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

pub(crate) fn from_db(version: i64) -> u64 {
    u64::try_from(version).unwrap_or(0)
}

/// A validated change, ready to be written.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) version: u64,
    pub(crate) action: AuditAction,
    pub(crate) before: Option<serde_json::Value>,
    pub(crate) after: Option<serde_json::Value>,
    /// The set after the change: SQLite serves it as it commits; Postgres
    /// reloads instead, as other instances may have written since.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) set: FlagSet,
}

/// What a committed write made: the new version, its definition (none
/// when deleted) and when.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) version: u64,
    pub(crate) after: Option<serde_json::Value>,
    pub(crate) at: Timestamp,
}

impl Written {
    pub(crate) fn into_flag(self, key: &str) -> Option<StoredFlag> {
        let (version, updated_at) = (self.version, self.at);
        self.after.map(|definition| StoredFlag {
            key: key.to_owned(),
            version,
            updated_at,
            definition,
        })
    }

    pub(crate) fn into_segment(self, id: u64) -> Option<StoredSegment> {
        let (version, updated_at) = (self.version, self.at);
        self.after.map(|definition| StoredSegment {
            id,
            version,
            updated_at,
            definition,
        })
    }
}

/// Decides what writing `after` (none: deleting) for `target` does, given
/// the stored rows and the last version the audit log gave the target;
/// validates the resulting set.
pub(crate) fn plan(
    rows: &Rows,
    target: Target<'_>,
    last_version: u64,
    after: Option<serde_json::Value>,
    expect: Expect,
    revert: bool,
) -> Result<Plan, StoreError> {
    let current = match target {
        Target::Flag(key) => rows
            .flags
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, version, definition)| (*version, definition)),
        Target::Segment(id) => rows
            .segments
            .iter()
            .find(|(i, _, _)| *i == id)
            .map(|(_, version, definition)| (*version, definition)),
    };
    let found = current.map_or(0, |(version, _)| version);
    expect
        .check(found)
        .map_err(|mismatch| target.conflict(mismatch))?;
    if after.is_none() && current.is_none() {
        return Err(target.not_found());
    }
    let set = match target {
        Target::Flag(key) => build_set(
            rows.flags
                .iter()
                .filter(|(k, _, _)| k != key)
                .map(|(_, _, definition)| definition)
                .chain(after.as_ref()),
            rows.segments.iter().map(|(_, _, d)| d),
        )?,
        Target::Segment(id) => {
            let segments = rows
                .segments
                .iter()
                .filter(|(i, _, _)| *i != id)
                .map(|(_, _, definition)| definition)
                .chain(after.as_ref());
            if after.is_none() {
                refuse_deleting_a_used_segment(rows, id)?;
            }
            build_set(rows.flags.iter().map(|(_, _, d)| d), segments)?
        }
    };
    let action = match (revert, current.is_some(), after.is_some()) {
        (true, _, _) => AuditAction::Revert,
        (false, _, false) => AuditAction::Delete,
        (false, false, true) => AuditAction::Create,
        (false, true, true) => AuditAction::Update,
    };
    Ok(Plan {
        version: last_version.max(found) + 1,
        action,
        before: current.map(|(_, definition)| definition.clone()),
        after,
        set,
    })
}

/// [`StoreError::SegmentInUse`] when a stored flag's strategy names
/// segment `id`.
fn refuse_deleting_a_used_segment(rows: &Rows, id: u64) -> Result<(), StoreError> {
    let flags: Vec<String> = rows
        .flags
        .iter()
        .filter_map(|(key, _, definition)| {
            let flag = native::flag_from_value(definition).ok()?;
            flag.strategies()
                .iter()
                .any(|s| s.segments.contains(&id))
                .then(|| key.clone())
        })
        .collect();
    if flags.is_empty() {
        Ok(())
    } else {
        Err(StoreError::SegmentInUse { segment: id, flags })
    }
}

/// The definition of `flag`, checked to be a flag whose key is `key`.
pub(crate) fn definition_of(flag: &Flag) -> serde_json::Value {
    native::flag_to_value(flag)
}
