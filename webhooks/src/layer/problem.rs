//! Why a webhook was turned away, as an RFC 9457 `application/problem+json`
//! response. The layer and the axum extractor both answer through
//! [`Rejection::into_response`], so a sender sees the same bodies whichever
//! one a receiver uses.

use std::fmt;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use palisade_problem::Problem;

use crate::verify::VerifyError;

/// The media type of the rejection bodies (RFC 9457).
pub use palisade_problem::PROBLEM_JSON;

/// Prefix of every problem `type`: the one scheme of the Palisade crates,
/// `https://palisade-rs.github.io/problems/` (`palisade_problem::TYPE_BASE`),
/// followed by the `code`, so `type` is as stable as `code`.
pub const PROBLEM_TYPE_PREFIX: &str = palisade_problem::TYPE_BASE;

/// Why a webhook delivery was rejected.
///
/// Every cause has an HTTP [`status`](Self::status), a stable snake_case
/// [`code`](Self::code) (for signature problems it is
/// [`VerifyError::kind`]) and a human-readable [`detail`](Self::detail);
/// [`into_response`](Self::into_response) turns it into the problem+json
/// response the layer and the extractor send.
///
/// ```
/// use http::StatusCode;
/// use palisade_webhooks::VerifyError;
/// use palisade_webhooks::layer::Rejection;
///
/// let rejection = Rejection::Verify(VerifyError::InvalidSignature);
/// assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(rejection.code(), "invalid_signature");
///
/// let response = rejection.into_response();
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The signature headers were missing, malformed, stale or did not match
    /// (400 or 401, as [`VerifyError::status`] says).
    Verify(VerifyError),
    /// The body is larger than the configured limit (413).
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read, for example because the sender broke the
    /// connection half-way (400).
    BodyUnreadable,
    /// A delivery with this `webhook-id` was already accepted, or is being
    /// handled right now, inside the replay window (409).
    Replayed {
        /// The repeated id.
        id: String,
    },
    /// The extractor was asked for text and the verified body is not UTF-8
    /// (400).
    InvalidUtf8,
    /// The extractor was asked for JSON and the verified body does not
    /// deserialize (400 for a syntax error, 422 for the wrong shape).
    InvalidJson {
        /// 400 or 422.
        status: StatusCode,
        /// What serde reported.
        detail: String,
    },
}

impl Rejection {
    /// The HTTP status of the response.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Verify(err) => err.status(),
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyUnreadable | Self::InvalidUtf8 => StatusCode::BAD_REQUEST,
            Self::Replayed { .. } => StatusCode::CONFLICT,
            Self::InvalidJson { status, .. } => *status,
        }
    }

    /// A stable snake_case identifier of the cause, sent as the `code` member
    /// of the problem body: [`VerifyError::kind`] for signature problems, else
    /// `payload_too_large`, `body_unreadable`, `replayed`, `invalid_utf8` or
    /// `invalid_json`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Verify(err) => err.kind(),
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyUnreadable => "body_unreadable",
            Self::Replayed { .. } => "replayed",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson { .. } => "invalid_json",
        }
    }

    /// A short summary of the cause that does not change between
    /// occurrences (the `title` member).
    #[must_use]
    pub fn title(&self) -> &'static str {
        match self {
            Self::Verify(err) => verify_title(err),
            Self::PayloadTooLarge { .. } => "Webhook payload too large",
            Self::BodyUnreadable => "Webhook body could not be read",
            Self::Replayed { .. } => "Webhook already received",
            Self::InvalidUtf8 => "Webhook body is not UTF-8",
            Self::InvalidJson { .. } => "Webhook body is not the expected JSON",
        }
    }

    /// What went wrong with this delivery (the `detail` member). Never
    /// contains a secret or a signature.
    #[must_use]
    pub fn detail(&self) -> String {
        self.to_string()
    }

    /// The problem `type` URI: [`PROBLEM_TYPE_PREFIX`] followed by the
    /// [`code`](Self::code).
    #[must_use]
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.code())
    }

    /// The problem details of this rejection (the shared
    /// [`palisade_problem::Problem`] type, also used by
    /// `palisade-resilience`'s HTTP edge), with the members `type`, `title`,
    /// `status`, `detail` and `code`.
    ///
    /// ```
    /// use palisade_webhooks::layer::Rejection;
    ///
    /// let problem = Rejection::BodyUnreadable.to_problem();
    /// assert_eq!(problem.type_uri(), "https://palisade-rs.github.io/problems/body_unreadable");
    /// ```
    pub fn to_problem(&self) -> Problem {
        Problem::palisade(self.status(), self.code())
            .with_title(self.title())
            .with_detail(self.detail())
    }

    /// The `application/problem+json` response for this rejection: the body
    /// of [`to_problem`](Self::to_problem).
    #[must_use]
    pub fn into_response(self) -> Response<Full<Bytes>> {
        self.to_problem().into_http_response()
    }
}

fn verify_title(err: &VerifyError) -> &'static str {
    match err {
        VerifyError::MissingHeader(..) => "Missing webhook header",
        VerifyError::MalformedHeader { .. } => "Malformed webhook header",
        VerifyError::InvalidTimestamp => "Invalid webhook timestamp",
        VerifyError::TimestampTooOld { .. } => "Webhook timestamp too old",
        VerifyError::TimestampTooNew { .. } => "Webhook timestamp in the future",
        VerifyError::InvalidSignature => "Invalid webhook signature",
        VerifyError::NoSignature => "No usable webhook signature",
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verify(err) => write!(f, "{err}"),
            Self::PayloadTooLarge { limit } => {
                write!(f, "the body is larger than the limit of {limit} bytes")
            }
            Self::BodyUnreadable => f.write_str("the body could not be read"),
            Self::Replayed { id } => {
                write!(f, "a delivery with webhook id {id:?} was already received")
            }
            Self::InvalidUtf8 => f.write_str("the body is not valid UTF-8"),
            Self::InvalidJson { detail, .. } => write!(f, "the body is not valid JSON: {detail}"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Verify(err) => Some(err),
            _ => None,
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(err: VerifyError) -> Self {
        Self::Verify(err)
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Rejection {
    fn into_response(self) -> axum::response::Response {
        Rejection::into_response(self).map(axum::body::Body::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body_json(rejection: Rejection) -> (StatusCode, serde_json::Value) {
        let response = rejection.into_response();
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn problem_body_has_every_member() {
        let (status, body) = body_json(Rejection::PayloadTooLarge { limit: 10 }).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["status"], 413);
        assert_eq!(body["code"], "payload_too_large");
        assert_eq!(body["title"], "Webhook payload too large");
        assert_eq!(
            body["type"],
            "https://palisade-rs.github.io/problems/payload_too_large"
        );
        assert_eq!(
            body["detail"],
            "the body is larger than the limit of 10 bytes"
        );
    }

    #[tokio::test]
    async fn replayed_id_is_escaped_in_json() {
        let (status, body) = body_json(Rejection::Replayed {
            id: "msg\"\n<x>".to_owned(),
        })
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "replayed");
        assert!(body["detail"].as_str().unwrap().contains("msg\\\"\\n<x>"));
    }

    #[test]
    fn verify_errors_keep_their_status_and_kind() {
        let err = VerifyError::InvalidTimestamp;
        let rejection = Rejection::from(err.clone());
        assert_eq!(rejection.status(), err.status());
        assert_eq!(rejection.code(), err.kind());
        assert_eq!(rejection.detail(), err.to_string());
    }
}
