//! Why a webhook was rejected.

use std::fmt;

use http::StatusCode;

/// A webhook failed verification.
///
/// [`status`](Self::status) gives the HTTP answer (400 for requests that are
/// not well-formed, 401 for requests that are not authentic) and
/// [`kind`](Self::kind) a stable snake_case code for problem bodies, logs and
/// metrics.
///
/// ```
/// use palisade_webhooks::VerifyError;
///
/// let err = VerifyError::TimestampTooOld { age_secs: 301 };
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.kind(), "timestamp_too_old");
/// assert_eq!(err.to_string(), "timestamp is too old (301s ago)");
///
/// assert_eq!(VerifyError::MissingHeader("webhook-id").status(), 400);
/// assert_eq!(VerifyError::MissingHeader("webhook-signature").status(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs is absent (or empty). The name is the one
    /// the scheme looked for, lowercase.
    MissingHeader(&'static str),
    /// A header is present but cannot be read (not visible ASCII, or not in
    /// the scheme's format).
    MalformedHeader {
        /// The header's name.
        header: String,
        /// What is wrong with it, in lowercase words.
        reason: &'static str,
    },
    /// The timestamp is not a non-negative integer number of seconds.
    InvalidTimestamp,
    /// The timestamp is further in the past than the tolerance allows.
    TimestampTooOld {
        /// How old the timestamp is, in seconds.
        age_secs: i64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    TimestampTooNew {
        /// How far ahead of the verifier's clock it is, in seconds.
        ahead_secs: i64,
    },
    /// Signatures for this scheme were present and none matched.
    InvalidSignature,
    /// The signature header is present but holds no signature this verifier
    /// can check (e.g. only `v2,…` entries, or only `v1a` without a public
    /// key configured).
    NoSignature,
}

impl VerifyError {
    /// The HTTP status a receiver should answer with: 400 Bad Request for a
    /// malformed request (missing or unreadable id/timestamp headers, a
    /// timestamp that is not a number), 401 Unauthorized when authenticity is
    /// not proven (no or wrong signature, a stale or future timestamp).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            // A request without its signature is unauthenticated rather than
            // malformed; without an id or timestamp it is not a webhook.
            Self::MissingHeader(name) if name.contains("signature") => StatusCode::UNAUTHORIZED,
            Self::MissingHeader(_) | Self::MalformedHeader { .. } | Self::InvalidTimestamp => {
                StatusCode::BAD_REQUEST
            }
            Self::TimestampTooOld { .. }
            | Self::TimestampTooNew { .. }
            | Self::InvalidSignature
            | Self::NoSignature => StatusCode::UNAUTHORIZED,
        }
    }

    /// A stable snake_case code: `missing_header`, `malformed_header`,
    /// `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new`,
    /// `invalid_signature` or `no_signature`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader { .. } => "malformed_header",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampTooNew { .. } => "timestamp_too_new",
            Self::InvalidSignature => "invalid_signature",
            Self::NoSignature => "no_signature",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header `{name}`"),
            Self::MalformedHeader { header, reason } => {
                write!(f, "malformed header `{header}`: {reason}")
            }
            Self::InvalidTimestamp => f.write_str("timestamp is not a non-negative integer"),
            Self::TimestampTooOld { age_secs } => {
                write!(f, "timestamp is too old ({age_secs}s ago)")
            }
            Self::TimestampTooNew { ahead_secs } => {
                write!(f, "timestamp is too far ahead ({ahead_secs}s)")
            }
            Self::InvalidSignature => f.write_str("no signature matched"),
            Self::NoSignature => f.write_str("no signature this verifier can check"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// A verifier could not be built from the keys it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyConfigError {
    /// No secret or public key was given.
    NoKeys,
}

impl fmt::Display for KeyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoKeys => f.write_str("at least one secret or public key is required"),
        }
    }
}

impl std::error::Error for KeyConfigError {}
