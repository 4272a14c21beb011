//! API key rows in the server's database. Only the SHA-256 of a secret is
//! ever stored.

use std::time::SystemTime;

use sqlx::Row as _;

use super::{DbError, ServerDb, from_millis, on_pool, to_millis};
use crate::api::Scope;

/// An API key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The public id (16 hex digits).
    pub id: String,
    /// A human name ("ci", "grafana", …).
    pub name: String,
    /// What the key may do.
    pub scope: Scope,
    /// The rate-limit tier's name.
    pub tier: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was revoked (`None` while valid).
    pub revoked_at: Option<SystemTime>,
}

fn scope_of(text: &str) -> Result<Scope, DbError> {
    match text {
        "read" => Ok(Scope::Read),
        "write" => Ok(Scope::Write),
        "admin" => Ok(Scope::Admin),
        other => Err(DbError::Corrupt(format!("unknown scope `{other}`"))),
    }
}

macro_rules! stored_key {
    ($row:expr) => {{
        let row = $row;
        let scope: String = row.try_get("scope")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        StoredKey {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            scope: scope_of(&scope)?,
            tier: row.try_get("tier")?,
            created_at: from_millis(row.try_get("created_at")?),
            revoked_at: revoked_at.map(from_millis),
        }
    }};
}

impl ServerDb {
    /// Stores a new key with the SHA-256 of its secret. `false` (and nothing
    /// written) when a key with this id exists already.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn insert_key(&self, key: &StoredKey, secret_hash: &[u8]) -> Result<bool, DbError> {
        let done = on_pool!(self, pool, q => {
            sqlx::query(q(
                "INSERT INTO api_keys (id, name, secret_hash, scope, tier, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            ))
            .bind(&key.id)
            .bind(&key.name)
            .bind(secret_hash)
            .bind(key.scope.as_str())
            .bind(&key.tier)
            .bind(to_millis(key.created_at))
            .bind(key.revoked_at.map(to_millis))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// The key `id` and the SHA-256 of its secret, revoked or not.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn key_with_hash(&self, id: &str) -> Result<Option<(StoredKey, Vec<u8>)>, DbError> {
        Ok(on_pool!(self, pool, q => {
            let row = sqlx::query(q(
                "SELECT id, name, scope, tier, created_at, revoked_at, secret_hash \
                 FROM api_keys WHERE id = $1",
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(row) => {
                    let hash: Vec<u8> = row.try_get("secret_hash")?;
                    Some((stored_key!(&row), hash))
                }
            }
        }))
    }

    /// Every key, revoked ones included, oldest first.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn list_keys(&self) -> Result<Vec<StoredKey>, DbError> {
        on_pool!(self, pool, q => {
            let rows = sqlx::query(q(
                "SELECT id, name, scope, tier, created_at, revoked_at FROM api_keys \
                 ORDER BY created_at, id",
            ))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok(stored_key!(row)))
                .collect::<Result<Vec<_>, DbError>>()
        })
    }

    /// Marks the key `id` revoked at `at`. Returns the key as it was
    /// before, or `None` when there is no such key; revoking a revoked key
    /// changes nothing.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn revoke_key(&self, id: &str, at: SystemTime) -> Result<Option<StoredKey>, DbError> {
        let Some((before, _)) = self.key_with_hash(id).await? else {
            return Ok(None);
        };
        on_pool!(self, pool, q => {
            sqlx::query(q(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            ))
            .bind(id)
            .bind(to_millis(at))
            .execute(pool)
            .await?;
        });
        Ok(Some(before))
    }

    /// How many keys exist, revoked ones included.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn key_count(&self) -> Result<i64, DbError> {
        Ok(on_pool!(self, pool, q => {
            sqlx::query(q("SELECT COUNT(*) AS n FROM api_keys"))
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>("n")?
        }))
    }
}
