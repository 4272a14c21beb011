//! Rows read back into the model, for what both backends store alike
//! (deliveries, claims, attempts). Each backend keeps its own reading of
//! the JSON columns, which SQLite stores as text and Postgres as JSONB.

use std::time::Duration;

use bytes::Bytes;

use super::{
    Attempt, AttemptResult, Claimed, Delivery, DeliveryState, StoreError, StoreResult, from_millis,
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
