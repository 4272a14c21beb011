//! Who is calling the API, and what they may do.

use std::fmt;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use http::StatusCode;
use http::request::Parts;
use palisade_problem::Problem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an API key may do. Ordered: each scope includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read anything.
    Read,
    /// Read, and change flags, endpoints and messages.
    Write,
    /// Everything, including API keys and breakers.
    Admin,
}

impl Scope {
    /// The scope's name as the API spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of an API request, put into the request's
/// extensions by the authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The API key's public id (never its secret).
    pub key_id: String,
    /// What the key may do.
    pub scope: Scope,
    /// The client's address, for the security log; `None` when the server
    /// is served without connection info (an embedder's choice).
    pub client: Option<IpAddr>,
}

impl Caller {
    /// `Ok` when the caller's scope includes `needed`, else a 403
    /// `insufficient_scope` problem.
    ///
    /// # Errors
    ///
    /// The 403 problem, naming the scope needed.
    // A handler returns the problem straight away as its response, so the
    // size of the error on this path is not worth a box.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, needed: Scope) -> Result<(), Problem> {
        if self.scope >= needed {
            return Ok(());
        }
        tracing::warn!(
            target: "security",
            kind = crate::auth::SecurityEvent::ScopeRefused.kind(),
            key_id = %self.key_id,
            client = %self.client.map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
            scope = %self.scope,
            needed = %needed,
            "scope refused"
        );
        crate::auth::SecurityEvent::ScopeRefused.count();
        Err(
            Problem::palisade(StatusCode::FORBIDDEN, "insufficient_scope").with_detail(format!(
                "this API key has the `{}` scope; this needs `{needed}`",
                self.scope
            )),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The authentication layer rejects unauthenticated requests before
        // they reach a handler; reaching here without a caller means the
        // route was mounted outside that layer, which is a server bug.
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            tracing::error!("an /api handler ran without the authentication layer");
            Problem::palisade(StatusCode::UNAUTHORIZED, "unauthenticated")
                .with_detail("this route needs an API key")
        })
    }
}
