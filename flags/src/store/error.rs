//! Why a flag store operation failed.

use std::fmt;

use crate::native::NativeError;

/// What a [`FlagStore`](super::FlagStore) operation can fail with.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// No flag with this key (or no such version in its history).
    NotFound {
        /// The key.
        key: String,
        /// The version asked for, for a revert.
        version: Option<u64>,
    },
    /// The flag is not at the version the write expected (someone else
    /// changed it first), or already exists when it was to be created.
    Conflict {
        /// The key.
        key: String,
        /// The version the write expected (0: that it did not exist).
        expected: u64,
        /// The version found (0: it does not exist).
        found: u64,
    },
    /// The change would leave an invalid set of flags (an unknown segment
    /// or parent, a dependency cycle, a bad value, or a version that cannot
    /// be reverted to); nothing was written.
    Invalid(NativeError),
    /// No segment with this id.
    SegmentNotFound {
        /// The id.
        segment: u64,
    },
    /// The segment is not at the version the write expected, or already
    /// exists when it was to be created.
    SegmentConflict {
        /// The id.
        segment: u64,
        /// The version the write expected (0: that it did not exist).
        expected: u64,
        /// The version found (0: it does not exist).
        found: u64,
    },
    /// The segment cannot be deleted: these flags still use it.
    SegmentInUse {
        /// The id.
        segment: u64,
        /// The flags whose strategies name it (sorted).
        flags: Vec<String>,
    },
    /// The database failed.
    Database(sqlx::Error),
    /// The migrations failed (for example a schema written by a newer
    /// version).
    Migrate(sqlx::migrate::MigrateError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { key, version: None } => write!(f, "flag {key:?} not found"),
            Self::NotFound {
                key,
                version: Some(version),
            } => write!(f, "flag {key:?} has no version {version}"),
            Self::Conflict {
                key,
                expected: 0,
                found,
            } => write!(f, "flag {key:?} already exists (at version {found})"),
            Self::Conflict {
                key,
                expected,
                found: 0,
            } => write!(
                f,
                "flag {key:?} was expected at version {expected} but does not exist"
            ),
            Self::Conflict {
                key,
                expected,
                found,
            } => write!(
                f,
                "flag {key:?} was expected at version {expected} but is at version {found}"
            ),
            Self::SegmentNotFound { segment } => write!(f, "segment {segment} not found"),
            Self::SegmentConflict {
                segment,
                expected,
                found,
            } => match (expected, found) {
                (0, _) => write!(f, "segment {segment} already exists (at version {found})"),
                (_, 0) => write!(
                    f,
                    "segment {segment} was expected at version {expected} but does not exist"
                ),
                _ => write!(
                    f,
                    "segment {segment} was expected at version {expected} but is at version {found}"
                ),
            },
            Self::SegmentInUse { segment, flags } => write!(
                f,
                "segment {segment} is still used by flag{} {}",
                if flags.len() == 1 { "" } else { "s" },
                flags
                    .iter()
                    .map(|flag| format!("{flag:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Invalid(error) => write!(f, "invalid flag definition: {error}"),
            Self::Database(error) => write!(f, "flag store database error: {error}"),
            Self::Migrate(error) => write!(f, "flag store migration failed: {error}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(error) => Some(error),
            Self::Database(error) => Some(error),
            Self::Migrate(error) => Some(error),
            Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::SegmentNotFound { .. }
            | Self::SegmentConflict { .. }
            | Self::SegmentInUse { .. } => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(error)
    }
}

impl From<NativeError> for StoreError {
    fn from(error: NativeError) -> Self {
        Self::Invalid(error)
    }
}
