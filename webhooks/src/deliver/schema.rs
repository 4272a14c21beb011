//! Event types' JSON Schemas, compiled once and checked at publish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsonschema::Validator;
use tokio::time::Instant;

use super::{EventTypeError, PublishError};
use crate::store::{EventType, Store, StoreError};

/// How long a compiled schema (or the absence of one) is trusted before the
/// event type is read again.
const TTL: Duration = Duration::from_secs(5);

/// At most this many schema errors are reported for one payload.
const MAX_ERRORS: usize = 5;

type Cached = (Option<Arc<Validator>>, Instant);

/// The compiled schemas of the event types seen.
#[derive(Default)]
pub(super) struct Schemas {
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas").finish_non_exhaustive()
    }
}

/// Checks a new event type: its name and, if it has one, its schema.
pub(super) fn check_event_type(event_type: &EventType) -> Result<(), EventTypeError> {
    let name = &event_type.name;
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(EventTypeError::InvalidName(name.clone()));
    }
    if let Some(schema) = &event_type.schema {
        compile(schema).map_err(EventTypeError::InvalidSchema)?;
    }
    Ok(())
}

fn compile(schema: &serde_json::Value) -> Result<Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

impl Schemas {
    /// Checks `payload` (already known to be JSON) against its event type's
    /// schema; an unknown event type is an error.
    pub(super) async fn check(
        &self,
        store: &dyn Store,
        event_type: &str,
        payload: &[u8],
    ) -> Result<(), PublishError> {
        let Some(validator) = self.validator(store, event_type).await? else {
            return Ok(());
        };
        let value: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| PublishError::InvalidJson(e.to_string()))?;
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .take(MAX_ERRORS)
            .map(|e| {
                // Masked: the message names the place and the rule, never
                // the payload's values (they may be personal data).
                let path = e.instance_path().to_string();
                let at = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("at {at}: {}", e.masked())
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PublishError::SchemaMismatch {
                event_type: event_type.to_owned(),
                errors,
            })
        }
    }

    async fn validator(
        &self,
        store: &dyn Store,
        event_type: &str,
    ) -> Result<Option<Arc<Validator>>, PublishError> {
        if let Some((validator, at)) = self.lock().get(event_type)
            && at.elapsed() < TTL
        {
            return Ok(validator.clone());
        }
        let found = store
            .event_type(event_type)
            .await?
            .ok_or_else(|| StoreError::UnknownEventType(event_type.to_owned()))?;
        let validator = match &found.schema {
            Some(schema) => Some(Arc::new(compile(schema).map_err(|why| {
                PublishError::Store(StoreError::Corrupt(format!(
                    "the stored schema of `{event_type}` does not compile: {why}"
                )))
            })?)),
            None => None,
        };
        let mut cache = self.lock();
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < TTL);
        }
        cache.insert(event_type.to_owned(), (validator.clone(), Instant::now()));
        Ok(validator)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
