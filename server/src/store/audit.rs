//! The audit log in the server's database.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use sqlx::Row as _;

use super::{DbError, ServerDb, from_millis, on_pool, to_millis};
use crate::audit::{AuditError, AuditStore, Change, Entry};

impl AuditStore for ServerDb {
    fn append<'a>(
        &'a self,
        actor: &'a str,
        at: SystemTime,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), AuditError>> {
        Box::pin(async move {
            let before = change.before.as_ref().map(ToString::to_string);
            let after = change.after.as_ref().map(ToString::to_string);
            on_pool!(self, pool, q => {
                sqlx::query(q(
                    "INSERT INTO audit_log (actor, at, action, target, before, after) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                ))
                .bind(actor)
                .bind(to_millis(at))
                .bind(change.action)
                .bind(&change.target)
                .bind(before)
                .bind(after)
                .execute(pool)
                .await
                .map_err(|e| AuditError(Box::new(DbError::from(e))))?;
            });
            Ok(())
        })
    }

    fn list(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Entry>, AuditError>> {
        Box::pin(async move {
            let before = before.unwrap_or(i64::MAX);
            let limit = i64::from(limit);
            let entries = on_pool!(self, pool, q => {
                let rows = sqlx::query(q(
                    "SELECT id, actor, at, action, target, before, after FROM audit_log \
                     WHERE id < $1 ORDER BY id DESC LIMIT $2",
                ))
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(|e| AuditError(Box::new(DbError::from(e))))?;
                rows.iter()
                    .map(|row| {
                        entry(
                            row.try_get("id")?,
                            row.try_get("actor")?,
                            row.try_get("at")?,
                            row.try_get("action")?,
                            row.try_get("target")?,
                            row.try_get("before")?,
                            row.try_get("after")?,
                        )
                    })
                    .collect::<Result<Vec<_>, DbError>>()
            });
            entries.map_err(|e| AuditError(Box::new(e)))
        })
    }
}

#[allow(clippy::too_many_arguments)] // one argument per column
fn entry(
    id: i64,
    actor: String,
    at: i64,
    action: String,
    target: String,
    before: Option<String>,
    after: Option<String>,
) -> Result<Entry, DbError> {
    let json = |text: Option<String>| {
        text.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| DbError::Corrupt(format!("audit entry {id}: {e}")))
    };
    Ok(Entry {
        id,
        actor,
        at: from_millis(at),
        change: Change {
            action: intern(action),
            target,
            before: json(before)?,
            after: json(after)?,
        },
    })
}

/// The action names read back, as the `&'static str` a [`Change`] holds.
///
/// Actions are the fixed `noun.verb` names the handlers write, a few dozen at
/// most, so each distinct one is leaked once and reused: memory stays bounded
/// by the number of names, not the number of entries read.
fn intern(action: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(name) = names.get(action.as_str()) {
        return name;
    }
    let name: &'static str = Box::leak(action.into_boxed_str());
    names.insert(name);
    name
}
