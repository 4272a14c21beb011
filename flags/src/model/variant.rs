//! Variants: weighted alternatives with payloads, and overrides that pin a
//! context to one of them.

use std::sync::Arc;

use super::ContextField;

/// One alternative of a variant flag.
#[derive(Debug, Clone)]
pub struct Variant {
    pub(crate) name: Arc<str>,
    pub(crate) weight: u32,
    pub(crate) payload: Option<Payload>,
    pub(crate) overrides: Vec<VariantOverride>,
}

impl Variant {
    /// Variant `name` with `weight` (its share is weight / total weight).
    #[must_use]
    pub fn new(name: impl Into<Arc<str>>, weight: u32) -> Self {
        Self {
            name: name.into(),
            weight,
            payload: None,
            overrides: Vec::new(),
        }
    }

    /// The payload handed out with the variant.
    #[must_use]
    pub fn payload(mut self, payload: Payload) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Pin contexts whose `field` is one of `values` to this variant.
    #[must_use]
    pub fn override_for(
        mut self,
        field: ContextField,
        values: impl IntoIterator<Item = impl Into<Arc<str>>>,
    ) -> Self {
        self.overrides.push(VariantOverride {
            field,
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The weight.
    #[must_use]
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The payload, if any.
    #[must_use]
    pub fn get_payload(&self) -> Option<&Payload> {
        self.payload.as_ref()
    }
}

/// Contexts pinned to a variant whatever their bucket.
#[derive(Debug, Clone)]
pub struct VariantOverride {
    pub(crate) field: ContextField,
    pub(crate) values: Vec<Arc<str>>,
}

/// Data served with a variant: Unleash's `{ "type": …, "value": … }`, the
/// value kept as text; a `json` payload is also parsed once, at load.
#[derive(Debug, Clone)]
pub struct Payload {
    kind: Arc<str>,
    value: Arc<str>,
    json: Option<Arc<serde_json::Value>>,
}

impl Payload {
    /// A payload of type `kind` (`string`, `json`, `csv`, `number`, …).
    /// A `json` payload whose value does not parse keeps only its text.
    #[must_use]
    pub fn new(kind: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        let kind = kind.into();
        let value = value.into();
        let json = (&*kind == "json")
            .then(|| serde_json::from_str(&value).ok().map(Arc::new))
            .flatten();
        Self { kind, value, json }
    }

    /// A `string` payload.
    #[must_use]
    pub fn string(value: impl Into<Arc<str>>) -> Self {
        Self::new("string", value)
    }

    /// The type.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The value as text.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The parsed value of a `json` payload.
    #[must_use]
    pub fn json(&self) -> Option<&Arc<serde_json::Value>> {
        self.json.as_ref()
    }
}
