//! JSON (Config flags) as OpenFeature values.

use open_feature::{StructValue, Value};

/// `json` as an OpenFeature value; `None` for `null`, which OpenFeature
/// has no value for.
pub(super) fn from_json(json: &serde_json::Value) -> Option<Value> {
    Some(match json {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(on) => Value::Bool(*on),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Array(items.iter().map(from_json).collect::<Option<_>>()?)
        }
        serde_json::Value::Object(fields) => Value::Struct(struct_from_json(fields)?),
    })
}

/// A JSON object as a structure; `None` if any member is `null` (kept
/// whole or refused, never partly dropped).
pub(super) fn struct_from_json(
    fields: &serde_json::Map<String, serde_json::Value>,
) -> Option<StructValue> {
    let mut value = StructValue::default();
    for (name, member) in fields {
        value.add_field(name.clone(), from_json(member)?);
    }
    Some(value)
}
