//! Extractors for `/api` handlers whose rejections are problem+json.
//!
//! axum's own `Json`, `Query` and `Path` answer a rejected request with a
//! plain-text body. These wrap them and answer with the problem codes of
//! `docs/problems.md` instead, keeping axum's message (which names the field
//! and the reason, never a secret) as the detail.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use palisade_problem::Problem;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// A JSON body (in) or a JSON answer (out).
///
/// Rejections: 415 `unsupported_media_type` without a JSON content type,
/// 400 `invalid_json` for a syntax error, 422 `invalid_body` for a value of
/// the wrong shape (a missing or unknown field, a wrong type), 413
/// `payload_too_large` over the body limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// A query string.
///
/// Rejection: 400 `invalid_query`, naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Path parameters.
///
/// Rejection: 400 `invalid_path`, naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    let (status, code) = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "body_unreadable"),
    };
    Problem::palisade(status, code).with_detail(rejection.body_text())
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    Problem::palisade(StatusCode::BAD_REQUEST, "invalid_query").with_detail(rejection.body_text())
}

fn path_problem(rejection: &PathRejection) -> Problem {
    Problem::palisade(StatusCode::BAD_REQUEST, "invalid_path").with_detail(rejection.body_text())
}

/// A body field that may be absent (leave it), null (clear it) or a value:
/// `#[serde(default, deserialize_with = "nullable")]` on an
/// `Option<Option<T>>`.
///
/// # Errors
///
/// The value's own deserialization error.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}
