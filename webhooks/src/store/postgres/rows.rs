//! Rows read back into the model.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

use crate::store::{
    Attempt, AttemptResult, Claimed, Delivery, DeliveryState, DisabledReason, Endpoint,
    EndpointSecret, EventType, Message, SecretKeyring, StoreError, StoreResult, from_millis,
};

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A JSONB column that must hold an array of strings (or be NULL).
fn json_list(row: &PgRow, column: &str) -> StoreResult<Option<Vec<String>>> {
    let value: Option<Json<serde_json::Value>> = row.try_get(column)?;
    value
        .map(|Json(v)| {
            serde_json::from_value(v.clone())
                .map_err(|_| corrupt(format!("{column} is not a JSON list of strings: {v}")))
        })
        .transpose()
}

fn count(column: &str, value: Option<i64>) -> StoreResult<Option<u32>> {
    value
        .map(|v| u32::try_from(v).map_err(|_| corrupt(format!("{column} out of range: {v}"))))
        .transpose()
}

pub(super) fn event_type_from_row(row: &PgRow) -> StoreResult<EventType> {
    let schema: Option<Json<serde_json::Value>> = row.try_get("schema")?;
    Ok(EventType {
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        schema: schema.map(|Json(v)| v),
    })
}

fn secret_from_row(row: &PgRow, keyring: &SecretKeyring) -> StoreResult<(String, EndpointSecret)> {
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
    endpoints: &[PgRow],
    secrets: &[PgRow],
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
            let Json(headers): Json<serde_json::Value> = row.try_get("headers")?;
            let reason: Option<String> = row.try_get("disabled_reason")?;
            let disabled_at: Option<i64> = row.try_get("disabled_at")?;
            let failing_since: Option<i64> = row.try_get("failing_since")?;
            Ok(Endpoint {
                secrets: by_endpoint.remove(&id).unwrap_or_default(),
                application: row.try_get("application")?,
                url: row.try_get("url")?,
                description: row.try_get("description")?,
                event_types: json_list(row, "event_types")?,
                channels: json_list(row, "channels")?,
                rate_limit: count("rate_limit", row.try_get("rate_limit")?)?,
                max_concurrency: count("max_concurrency", row.try_get("max_concurrency")?)?,
                ordered: row.try_get("ordered")?,
                headers: serde_json::from_value(headers)
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

pub(super) fn message_from_row(row: &PgRow) -> StoreResult<Message> {
    let payload: Option<Vec<u8>> = row.try_get("payload")?;
    Ok(Message {
        id: row.try_get("id")?,
        application: row.try_get("application")?,
        event_type: row.try_get("event_type")?,
        channels: json_list(row, "channels")?.unwrap_or_default(),
        payload: payload.map(Bytes::from),
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

pub(super) fn delivery_from_row(row: &PgRow) -> StoreResult<Delivery> {
    let state: String = row.try_get("state")?;
    let due_at: Option<i64> = row.try_get("due_at")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| corrupt(format!("delivery state `{state}`")))?,
        attempts: count("attempts", row.try_get("attempts")?)?.unwrap_or(0),
        next_attempt_at: due_at.map(from_millis),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

pub(super) fn claimed_from_row(row: &PgRow) -> StoreResult<Claimed> {
    let payload: Option<Vec<u8>> = row.try_get("payload")?;
    Ok(Claimed {
        delivery_id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        event_type: row.try_get("event_type")?,
        payload: payload.map(Bytes::from),
        attempts: count("attempts", row.try_get("attempts")?)?.unwrap_or(0),
    })
}

pub(super) fn attempt_from_row(row: &PgRow) -> StoreResult<Attempt> {
    let status: Option<i64> = row.try_get("status")?;
    let error: Option<String> = row.try_get("error")?;
    let result = match (status, error) {
        (Some(code), _) => AttemptResult::Status(
            u16::try_from(code).map_err(|_| corrupt(format!("status code {code}")))?,
        ),
        (None, Some(kind)) => AttemptResult::Transport(kind),
        (None, None) => return Err(corrupt("an attempt with neither status nor error")),
    };
    let latency: i64 = row.try_get("latency_us")?;
    Ok(Attempt {
        delivery_id: row.try_get("delivery_id")?,
        message_id: row.try_get("message_id")?,
        endpoint_id: row.try_get("endpoint_id")?,
        at: from_millis(row.try_get("at")?),
        result,
        latency: Duration::from_micros(latency.unsigned_abs()),
        response_excerpt: row.try_get("excerpt")?,
    })
}
