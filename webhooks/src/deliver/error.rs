//! Why the engine refused a message or an endpoint.

use std::fmt;

use crate::store::StoreError;

/// A message was not published; nothing was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// The payload is larger than the engine's `max_payload`.
    PayloadTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The payload is not JSON.
    InvalidJson(String),
    /// The payload does not satisfy its event type's JSON Schema.
    SchemaMismatch {
        /// The event type.
        event_type: String,
        /// Where and why (at most five), without the payload's values.
        errors: Vec<String>,
    },
    /// The store refused it (unknown event type, idempotency conflict) or
    /// failed.
    Store(StoreError),
}

impl PublishError {
    /// A short, stable name for the error.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidJson(_) => "invalid_json",
            Self::SchemaMismatch { .. } => "schema_mismatch",
            Self::Store(e) => e.kind(),
        }
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadTooLarge { size, limit } => {
                write!(
                    f,
                    "payload of {size} bytes is over the limit of {limit} bytes"
                )
            }
            Self::InvalidJson(why) => write!(f, "payload is not JSON: {why}"),
            Self::SchemaMismatch { event_type, errors } => write!(
                f,
                "payload does not match the schema of `{event_type}`: {}",
                errors.join("; ")
            ),
            Self::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            _ => None,
        }
    }
}

impl From<StoreError> for PublishError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// An endpoint was not saved; nothing was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum EndpointError {
    /// The URL cannot be delivered to (syntax, scheme, or an address the
    /// SSRF rules refuse).
    InvalidUrl(String),
    /// A custom header the engine sets itself or that only makes sense for
    /// one connection.
    ForbiddenHeader(String),
    /// A custom header name or value that is not valid HTTP.
    InvalidHeader(String),
    /// The store refused it or failed.
    Store(StoreError),
}

impl EndpointError {
    /// A short, stable name for the error.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "invalid_url",
            Self::ForbiddenHeader(_) => "forbidden_header",
            Self::InvalidHeader(_) => "invalid_header",
            Self::Store(e) => e.kind(),
        }
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid endpoint URL: {why}"),
            Self::ForbiddenHeader(name) => write!(
                f,
                "header `{name}` cannot be set on an endpoint (the engine sets it, or it is hop-by-hop)"
            ),
            Self::InvalidHeader(name) => write!(f, "header `{name}` is not a valid HTTP header"),
            Self::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            _ => None,
        }
    }
}

impl From<StoreError> for EndpointError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The engine could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The per-endpoint breaker settings are invalid.
    Breaker(palisade_resilience::ConfigError),
    /// The default client found no usable root certificate.
    Tls(std::io::Error),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Breaker(e) => write!(f, "invalid endpoint breaker settings: {e}"),
            Self::Tls(_) => f.write_str("no usable root certificate for the delivery client"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Breaker(e) => Some(e),
            Self::Tls(e) => Some(e),
        }
    }
}

/// An event type was not created; nothing was stored.
#[derive(Debug)]
#[non_exhaustive]
pub enum EventTypeError {
    /// Names are 1 to 128 characters of `[A-Za-z0-9_.-]`.
    InvalidName(String),
    /// The schema is not a valid JSON Schema.
    InvalidSchema(String),
    /// The store refused it (the name exists) or failed.
    Store(StoreError),
}

impl EventTypeError {
    /// A short, stable name for the error.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidName(_) => "invalid_event_type_name",
            Self::InvalidSchema(_) => "invalid_schema",
            Self::Store(e) => e.kind(),
        }
    }
}

impl fmt::Display for EventTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(name) => write!(
                f,
                "invalid event type name `{name}`: use 1 to 128 characters of A-Z a-z 0-9 _ . -"
            ),
            Self::InvalidSchema(why) => write!(f, "invalid JSON Schema: {why}"),
            Self::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EventTypeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            _ => None,
        }
    }
}

impl From<StoreError> for EventTypeError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
