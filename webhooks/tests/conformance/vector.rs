//! One case of `tests/data/webhook-vectors.json` and the request it describes.

use std::collections::HashMap;

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

/// A case, with the fields the shared conformance README documents.
#[derive(Debug, Deserialize)]
pub(crate) struct Vector {
    pub(crate) name: String,
    pub(crate) scheme: String,
    pub(crate) secret: String,
    pub(crate) id: Option<String>,
    /// A number, a string (possibly not numeric) or null.
    pub(crate) timestamp: Value,
    pub(crate) payload: Option<String>,
    pub payload_base64: Option<String>,
    pub(crate) signature: String,
    pub(crate) valid: bool,
    pub(crate) now: Option<i64>,
    pub(crate) tolerance: Option<u64>,
    #[serde(default)]
    pub(crate) omit_headers: Vec<String>,
    pub(crate) header_prefix: Option<String>,
    #[serde(default)]
    pub(crate) header_names: HashMap<String, String>,
    pub(crate) signing_key: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) hash: Option<String>,
    pub(crate) encoding: Option<String>,
    #[allow(dead_code)] // documented field; we accept lenient cases like any other
    pub(crate) lenient: Option<bool>,
    pub(crate) source: Vec<String>,
    #[allow(dead_code)]
    pub(crate) note: String,
}

impl Vector {
    /// The raw body bytes.
    pub(crate) fn body(&self) -> Vec<u8> {
        match (&self.payload_base64, &self.payload) {
            (Some(b64), _) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("payload_base64 is base64"),
            (None, Some(text)) => text.as_bytes().to_vec(),
            (None, None) => panic!("{}: no payload", self.name),
        }
    }

    /// The timestamp as it travels in a header, if the case has one.
    pub(crate) fn timestamp_text(&self) -> Option<String> {
        match &self.timestamp {
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            other => panic!("{}: unexpected timestamp {other}", self.name),
        }
    }

    /// The timestamp as a number, when it is one.
    pub(crate) fn timestamp_int(&self) -> Option<i64> {
        self.timestamp.as_i64()
    }

    /// The verifier's clock for this case (0 for schemes without timestamps).
    pub(crate) fn now(&self) -> i64 {
        self.now.unwrap_or(0)
    }

    /// Standard Webhooks headers: `{prefix}id`, `{prefix}timestamp`,
    /// `{prefix}signature` (or the names in `header_names`), minus
    /// `omit_headers`.
    pub(crate) fn standard_headers(&self) -> HeaderMap {
        let prefix = self.header_prefix.as_deref().unwrap_or("webhook-");
        let mut headers = HeaderMap::new();
        let fields = [
            ("id", self.id.clone()),
            ("timestamp", self.timestamp_text()),
            ("signature", Some(self.signature.clone())),
        ];
        for (field, value) in fields {
            if self.omit_headers.iter().any(|o| o == field) {
                continue;
            }
            let Some(value) = value else { continue };
            let name = self
                .header_names
                .get(field)
                .cloned()
                .unwrap_or_else(|| format!("{prefix}{field}"));
            insert(&mut headers, &name, &value);
        }
        headers
    }

    /// A request carrying the signature in the one header `name`.
    pub(crate) fn single_header(&self, name: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !self.omit_headers.iter().any(|o| o == "signature") {
            insert(&mut headers, name, &self.signature);
        }
        headers
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    // `from_bytes` lowercases, as every HTTP stack does with incoming names.
    let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
    let value = HeaderValue::from_str(value).expect("valid header value");
    headers.append(name, value);
}
