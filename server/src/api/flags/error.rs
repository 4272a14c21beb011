//! Flag store errors as problem+json answers.

use http::StatusCode;
use palisade_flags::store::StoreError;
use palisade_problem::Problem;

/// The answer for a failed store operation: what the caller can act on
/// (404, 409 with both versions or the flags using a segment, 422 with the definition error), or 503
/// when the database failed (logged, never shown).
pub(super) fn store_problem(error: &StoreError) -> Problem {
    match error {
        StoreError::NotFound { .. } => {
            Problem::palisade(StatusCode::NOT_FOUND, "not_found").with_detail(error.to_string())
        }
        StoreError::Conflict {
            expected, found, ..
        } => Problem::palisade(StatusCode::CONFLICT, "conflict")
            .with_detail(error.to_string())
            .with_extension("expected_version", *expected)
            .with_extension("current_version", *found),
        StoreError::SegmentNotFound { .. } => {
            Problem::palisade(StatusCode::NOT_FOUND, "not_found").with_detail(error.to_string())
        }
        StoreError::SegmentConflict {
            expected, found, ..
        } => Problem::palisade(StatusCode::CONFLICT, "conflict")
            .with_detail(error.to_string())
            .with_extension("expected_version", *expected)
            .with_extension("current_version", *found),
        StoreError::SegmentInUse { flags, .. } => {
            Problem::palisade(StatusCode::CONFLICT, "segment_in_use")
                .with_detail(error.to_string())
                .with_extension("flags", flags.clone())
        }
        StoreError::Invalid(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_flag")
                .with_detail(error.to_string())
        }
        _ => {
            tracing::error!(%error, "the flag store failed");
            Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
                .with_detail("the flag store could not be reached; try again")
        }
    }
}

/// The answer when the server runs without a flag store.
pub(super) fn no_store() -> Problem {
    Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "flags_unavailable")
        .with_detail("this server runs without a flag store")
}
