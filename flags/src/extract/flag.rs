//! [`Flag<K>`](Flag): evaluate a named flag in a handler.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::gate::{ExtractContext, MissingContext, Scratch};
use crate::{Context, Evaluation, Flags};

/// A type naming a flag, for [`Flag<K>`](Flag); declare one with
/// [`flag_key!`](crate::flag_key).
pub trait FlagKey {
    /// The flag's key.
    const KEY: &'static str;
}

/// What handlers evaluate flags with: the flags and how a request becomes a
/// [`Context`]. Put it in the router's state (`FromRef<S>`); cloning it
/// costs two reference counts.
#[derive(Clone)]
pub struct FlagState {
    flags: Arc<Flags>,
    extract: Arc<dyn ExtractContext + Send + Sync>,
}

impl FlagState {
    /// Evaluates `flags` for an empty context until
    /// [`context`](Self::context) says where the context comes from.
    #[must_use]
    pub fn new(flags: impl Into<Arc<Flags>>) -> Self {
        Self {
            flags: flags.into(),
            extract: Arc::new(()),
        }
    }

    /// Build the context from each request with `extract` (the same
    /// extractors as the gate's).
    #[must_use]
    pub fn context(mut self, extract: impl ExtractContext + Send + Sync + 'static) -> Self {
        self.extract = Arc::new(extract);
        self
    }

    /// The flags.
    #[must_use]
    pub fn flags(&self) -> &Arc<Flags> {
        &self.flags
    }

    /// Evaluates flag `key` for the request with head `request`.
    ///
    /// # Errors
    /// [`MissingContext`] when the context extractor cannot work on this
    /// server (no peer address recorded for [`ClientIp`](crate::gate::ClientIp)).
    pub fn evaluate(&self, key: &str, request: &Parts) -> Result<Evaluation, MissingContext> {
        let scratch = Scratch::new();
        let context = self.extract.extract(request, &scratch, Context::new())?;
        Ok(self.flags.evaluate(key, &context))
    }
}

impl fmt::Debug for FlagState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagState")
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// The evaluation of flag `K` for this request (it dereferences to the
/// [`Evaluation`]): handlers branch on `is_enabled()` or `variant_name()`.
/// Needs a [`FlagState`] reachable from the router's state.
///
/// A missing flag is not a rejection: it evaluates off with
/// [`ErrorCode::FlagNotFound`](crate::ErrorCode::FlagNotFound), so the
/// handler takes its default branch. A context that cannot be built is
/// rejected with 500 problem+json `flag_context_unavailable`.
pub struct Flag<K> {
    /// The evaluation.
    pub evaluation: Evaluation,
    key: PhantomData<fn() -> K>,
}

impl<K> Flag<K> {
    /// The evaluation.
    #[must_use]
    pub fn into_inner(self) -> Evaluation {
        self.evaluation
    }
}

impl<K> Deref for Flag<K> {
    type Target = Evaluation;

    fn deref(&self) -> &Evaluation {
        &self.evaluation
    }
}

impl<K: FlagKey> fmt::Debug for Flag<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flag")
            .field("key", &K::KEY)
            .field("evaluation", &self.evaluation)
            .finish()
    }
}

impl<S, K> FromRequestParts<S> for Flag<K>
where
    S: Send + Sync,
    K: FlagKey,
    FlagState: FromRef<S>,
{
    type Rejection = MissingContext;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let evaluation = FlagState::from_ref(state).evaluate(K::KEY, parts)?;
        Ok(Self {
            evaluation,
            key: PhantomData,
        })
    }
}

impl IntoResponse for MissingContext {
    fn into_response(self) -> Response {
        tracing::error!(
            cause = self.cause(),
            "flag extractor cannot build the evaluation context"
        );
        self.to_problem().into_response()
    }
}
