//! Rows read back into the model.

use std::collections::HashMap;

use bytes::Bytes;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use crate::store::rows::{corrupt, count};
use crate::store::{
    DisabledReason, Endpoint, EndpointSecret, EventType, Message, SecretKeyring, StoreResult,
    from_millis,
};

fn json_list(column: &str, text: Option<String>) -> StoreResult<Option<Vec<String>>> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|_| corrupt(format!("{column} is not a JSON list: {t}")))
    })
    .transpose()
}

pub(super) fn event_type_from_row(row: &SqliteRow) -> StoreResult<EventType> {
    let schema: Option<String> = row.try_get("schema")?;
    Ok(EventType {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        schema: schema
            .map(|s| serde_json::from_str(&s).map_err(|_| corrupt("event type schema")))
            .transpose()?,
    })
}

fn secret_from_row(
    row: &SqliteRow,
    keyring: &SecretKeyring,
) -> StoreResult<(String, EndpointSecret)> {
    let stored: String = row.try_get("secret")?;
    let endpoint_id: String = row.try_get("endpoint_id")?;
    let secret = keyring.open(&stored, &endpoint_id)?;
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    Ok((
        endpoint_id,
        EndpointSecret {
            secret,
            created_at: from_millis(row.try_get("created_at")?),
            expires_at: expires_at.map(from_millis),
        },
    ))
}

/// Builds endpoints from their rows and all their secret rows (newest
/// first).
pub(super) fn endpoint_from_rows(
    endpoints: &[SqliteRow],
    secrets: &[SqliteRow],
    keyring: &SecretKeyring,
) -> StoreResult<Vec<Endpoint>> {
    let mut by_endpoint: HashMap<String, Vec<EndpointSecret>> = HashMap::new();
    for row in secrets {
        let (endpoint_id, secret) = secret_from_row(row, keyring)?;
        by_endpoint.entry(endpoint_id).or_default().push(secret);
    }
    endpoints
        .iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let headers: String = row.try_get("headers")?;
            let reason: Option<String> = row.try_get("disabled_reason")?;
            let disabled_at: Option<i64> = row.try_get("disabled_at")?;
            let failing_since: Option<i64> = row.try_get("failing_since")?;
            Ok(Endpoint {
                secrets: by_endpoint.remove(&id).unwrap_or_default(),
                application: row.try_get("application")?,
                url: row.try_get("url")?,
                description: row.try_get("description")?,
                event_types: json_list("event_types", row.try_get("event_types")?)?,
                channels: json_list("channels", row.try_get("channels")?)?,
                rate_limit: count("rate_limit", row.try_get("rate_limit")?)?,
                max_concurrency: count("max_concurrency", row.try_get("max_concurrency")?)?,
                ordered: row.try_get("ordered")?,
                headers: serde_json::from_str(&headers)
                    .map_err(|_| corrupt(format!("headers of endpoint {id}")))?,
                disabled: reason.map(|r| {
                    (
                        DisabledReason::parse(&r),
                        from_millis(disabled_at.unwrap_or(0)),
                    )
                }),
                failing_since: failing_since.map(from_millis),
                created_at: from_millis(row.try_get("created_at")?),
                id,
            })
        })
        .collect()
}

pub(super) fn message_from_row(row: &SqliteRow) -> StoreResult<Message> {
    let channels: String = row.try_get("channels")?;
    let payload: Option<Vec<u8>> = row.try_get("payload")?;
    Ok(Message {
        id: row.try_get("id")?,
        application: row.try_get("application")?,
        event_type: row.try_get("event_type")?,
        channels: json_list("channels", Some(channels))?.unwrap_or_default(),
        payload: payload.map(Bytes::from),
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}
