//! Store and engine errors as problem+json, in one place, so every
//! `/api/webhooks` route answers the same failure with the same problem.

use http::StatusCode;
use palisade_problem::Problem;
use palisade_webhooks::deliver::connect::EndpointUrlError;
use palisade_webhooks::deliver::{EndpointError, PublishError};
use palisade_webhooks::store::StoreError;

/// A store failure: 404 `not_found` for an unknown endpoint or message, 409
/// for a reused idempotency key, 422 for an unknown event type, 503
/// `database_unavailable` when the database cannot answer, 500 otherwise.
pub(super) fn store_problem(err: &StoreError) -> Problem {
    match err {
        StoreError::UnknownEndpoint(_) | StoreError::UnknownMessage(_) => {
            Problem::palisade(StatusCode::NOT_FOUND, "not_found").with_detail(err.to_string())
        }
        StoreError::IdempotencyConflict { message_id, .. } => {
            Problem::palisade(StatusCode::CONFLICT, "idempotency_conflict")
                .with_detail(err.to_string())
                .with_extension("message_id", message_id.clone())
        }
        StoreError::EventTypeExists(_) => {
            Problem::palisade(StatusCode::CONFLICT, "conflict").with_detail(err.to_string())
        }
        StoreError::UnknownEventType(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "unknown_event_type")
                .with_detail(err.to_string())
        }
        StoreError::Database(source) => {
            tracing::error!(error = %source, "webhook store failed");
            Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
                .with_detail("the database did not answer; try again later")
        }
        other => {
            // A corrupt row, a secret sealed with a key this server lacks:
            // operator problems, logged in full, not shown to the caller.
            tracing::error!(error = %other, kind = other.kind(), "webhook store failed");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_code("internal")
        }
    }
}

/// An endpoint URL the address policy refuses: 422 `unsafe_url`, with the
/// reason's code in `reason`.
pub(super) fn unsafe_url(err: &EndpointUrlError) -> Problem {
    Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "unsafe_url")
        .with_detail(err.to_string())
        .with_extension("reason", err.code())
}

/// The engine refused an endpoint.
pub(super) fn endpoint_problem(err: &EndpointError) -> Problem {
    match err {
        EndpointError::InvalidUrl(why) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "unsafe_url")
                .with_detail(why.clone())
        }
        EndpointError::ForbiddenHeader(_) | EndpointError::InvalidHeader(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_header")
                .with_detail(err.to_string())
        }
        EndpointError::Store(e) => store_problem(e),
        other => {
            tracing::error!(error = %other, "endpoint refused for an unknown reason");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_code("internal")
        }
    }
}

/// The engine refused a message.
pub(super) fn publish_problem(err: &PublishError) -> Problem {
    match err {
        PublishError::PayloadTooLarge { limit, .. } => {
            Problem::palisade(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
                .with_detail(err.to_string())
                .with_extension("limit", *limit)
        }
        PublishError::InvalidJson(_) => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload")
                .with_detail(err.to_string())
        }
        PublishError::SchemaMismatch { errors, .. } => {
            Problem::palisade(StatusCode::UNPROCESSABLE_ENTITY, "schema_mismatch")
                .with_detail(err.to_string())
                .with_extension("errors", errors.clone())
        }
        PublishError::Store(e) => store_problem(e),
        other => {
            tracing::error!(error = %other, "message refused for an unknown reason");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_code("internal")
        }
    }
}
