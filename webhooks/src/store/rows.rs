//! Rows read back into the model, for what both backends store alike
//! (deliveries, claims, attempts). Each backend keeps its own reading of
//! the JSON columns, which SQLite stores as text and Postgres as JSONB.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Attempt, AttemptBucket, AttemptResult, Buckets, Claimed, Delivery, DeliveryState,
    EndpointAttempts, EndpointStats, RecentMessage, StoreError, StoreResult, from_millis,
    to_millis,
};

pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

/// A non-negative count column.
pub(crate) fn count(column: &str, value: Option<i64>) -> StoreResult<Option<u32>> {
    value
        .map(|v| u32::try_from(v).map_err(|_| corrupt(format!("{column} out of range: {v}"))))
        .transpose()
}

/// The column reads the shared row mappings need, for either backend's row.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
}

macro_rules! columns_for {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, column: &str) -> StoreResult<String> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> StoreResult<i64> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
columns_for!(sqlx::sqlite::SqliteRow);
#[cfg(feature = "postgres")]
columns_for!(sqlx::postgres::PgRow);

pub(crate) fn delivery_from_row(row: &impl Columns) -> StoreResult<Delivery> {
    let state = row.text("state")?;
    Ok(Delivery {
        id: row.int("id")?,
        message_id: row.text("message_id")?,
        endpoint_id: row.text("endpoint_id")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| corrupt(format!("delivery state `{state}`")))?,
        attempts: count("attempts", Some(row.int("attempts")?))?.unwrap_or(0),
        next_attempt_at: row.opt_int("due_at")?.map(from_millis),
        updated_at: from_millis(row.int("updated_at")?),
    })
}

pub(crate) fn claimed_from_row(row: &impl Columns) -> StoreResult<Claimed> {
    Ok(Claimed {
        delivery_id: row.int("id")?,
        message_id: row.text("message_id")?,
        endpoint_id: row.text("endpoint_id")?,
        event_type: row.text("event_type")?,
        payload: row.opt_bytes("payload")?.map(Bytes::from),
        attempts: count("attempts", Some(row.int("attempts")?))?.unwrap_or(0),
    })
}

pub(crate) fn attempt_from_row(row: &impl Columns) -> StoreResult<Attempt> {
    let result = match (row.opt_int("status")?, row.opt_text("error")?) {
        (Some(code), _) => AttemptResult::Status(
            u16::try_from(code).map_err(|_| corrupt(format!("status code {code}")))?,
        ),
        (None, Some(kind)) => AttemptResult::Transport(kind),
        (None, None) => return Err(corrupt("an attempt with neither status nor error")),
    };
    Ok(Attempt {
        delivery_id: row.int("delivery_id")?,
        message_id: row.text("message_id")?,
        endpoint_id: row.text("endpoint_id")?,
        at: from_millis(row.int("at")?),
        result,
        latency: Duration::from_micros(row.int("latency_us")?.unsigned_abs()),
        response_excerpt: row.text("excerpt")?,
    })
}

/// A non-negative `COUNT(*)` column.
fn counted(row: &impl Columns, column: &str) -> StoreResult<u64> {
    let value = row.int(column)?;
    u64::try_from(value).map_err(|_| corrupt(format!("{column} is negative: {value}")))
}

/// A row of the endpoint statistics query: `endpoint_id`, `pending`,
/// `dead`, `succeeded` and `attempts` (all attempts in the window).
pub(crate) fn endpoint_stats_from_row(row: &impl Columns) -> StoreResult<EndpointStats> {
    let succeeded = counted(row, "succeeded")?;
    Ok(EndpointStats {
        endpoint_id: row.text("endpoint_id")?,
        pending: counted(row, "pending")?,
        dead: counted(row, "dead")?,
        succeeded,
        failed: counted(row, "attempts")?.saturating_sub(succeeded),
    })
}

/// Puts the statistics in the order of the ids asked for.
pub(crate) fn in_order_of(ids: &[String], mut stats: Vec<EndpointStats>) -> Vec<EndpointStats> {
    stats.sort_by_key(|s| ids.iter().position(|id| *id == s.endpoint_id));
    stats
}

/// The bucket width in whole milliseconds, as the queries divide by it.
pub(crate) fn width_millis(buckets: &Buckets) -> i64 {
    i64::try_from(buckets.width.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Spreads the grouped rows (`endpoint_id`, `slot`, `succeeded`,
/// `http_error`, `transport_error`; `slot` null for an endpoint without
/// attempts) over every slice of `buckets`, empty ones included, in the
/// order of `ids`.
pub(crate) fn fill_buckets(
    ids: &[String],
    buckets: &Buckets,
    rows: &[impl Columns],
) -> StoreResult<Vec<EndpointAttempts>> {
    let width = width_millis(buckets);
    let start = to_millis(buckets.start);
    let empty: Vec<AttemptBucket> = (0..i64::from(buckets.count.get()))
        .map(|i| AttemptBucket {
            start: from_millis(start.saturating_add(i.saturating_mul(width))),
            succeeded: 0,
            http_error: 0,
            transport_error: 0,
        })
        .collect();
    let mut filled: Vec<EndpointAttempts> = Vec::new();
    for row in rows {
        let endpoint_id = row.text("endpoint_id")?;
        let index = match filled.iter().position(|e| e.endpoint_id == endpoint_id) {
            Some(index) => index,
            None => {
                filled.push(EndpointAttempts {
                    endpoint_id,
                    buckets: empty.clone(),
                });
                filled.len() - 1
            }
        };
        let Some(slot) = row.opt_int("slot")? else {
            continue;
        };
        let bucket = usize::try_from(slot)
            .ok()
            .and_then(|i| filled[index].buckets.get_mut(i))
            .ok_or_else(|| corrupt(format!("attempt bucket {slot} outside the window")))?;
        bucket.succeeded = counted(row, "succeeded")?;
        bucket.http_error = counted(row, "http_error")?;
        bucket.transport_error = counted(row, "transport_error")?;
    }
    filled.sort_by_key(|e| ids.iter().position(|id| *id == e.endpoint_id));
    Ok(filled)
}

/// A delivery row (`d.*`) with its message's `event_type` and
/// `published_at`.
pub(crate) fn recent_message_from_row(row: &impl Columns) -> StoreResult<RecentMessage> {
    Ok(RecentMessage {
        message_id: row.text("message_id")?,
        event_type: row.text("event_type")?,
        created_at: from_millis(row.int("published_at")?),
        delivery: delivery_from_row(row)?,
    })
}
