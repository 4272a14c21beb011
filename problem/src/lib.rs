#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::borrow::Cow;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

/// The media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the `type` URIs of Palisade's problems point: followed by the
/// problem's `code` (see [`Problem::palisade`]).
pub const TYPE_BASE: &str = "https://palisade-rs.github.io/problems/";

/// The members RFC 9457 defines plus our `code`: extension members may not
/// use these names.
const RESERVED: [&str; 6] = ["type", "title", "status", "detail", "instance", "code"];

/// An RFC 9457 problem details response: a status, headers, and a JSON body
/// with the members `type`, `title`, `status`, `detail` (when set),
/// `instance` (when set), the extension member `code` (when set) and any
/// other extension members.
///
/// ```
/// use http::StatusCode;
/// use palisade_problem::Problem;
///
/// let problem = Problem::new(StatusCode::NOT_FOUND)
///     .with_code("order_not_found")
///     .with_detail("no order with this id")
///     .with_extension("order", 42);
/// assert_eq!(problem.title(), "Not Found");
/// assert_eq!(problem.type_uri(), "about:blank");
/// assert_eq!(problem.to_json()["order"], 42);
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    type_uri: Cow<'static, str>,
    title: Cow<'static, str>,
    detail: Option<Cow<'static, str>>,
    code: Option<Cow<'static, str>>,
    instance: Option<Cow<'static, str>>,
    extensions: serde_json::Map<String, serde_json::Value>,
    headers: HeaderMap,
}

impl Problem {
    /// A problem with `status`, type `about:blank` and the status's reason
    /// phrase as title (as RFC 9457 asks for `about:blank`).
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            type_uri: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            detail: None,
            code: None,
            instance: None,
            extensions: serde_json::Map::new(),
            headers: HeaderMap::new(),
        }
    }

    /// A problem type of a Palisade crate: `status`, the `code` extension
    /// member, and type [`TYPE_BASE`] followed by `code`
    /// (`https://palisade-rs.github.io/problems/<code>`). Set a title that
    /// summarises the type with [`with_title`](Self::with_title).
    ///
    /// ```
    /// use http::StatusCode;
    /// use palisade_problem::Problem;
    ///
    /// let problem = Problem::palisade(StatusCode::GATEWAY_TIMEOUT, "timeout");
    /// assert_eq!(problem.type_uri(), "https://palisade-rs.github.io/problems/timeout");
    /// assert_eq!(problem.code(), Some("timeout"));
    /// ```
    pub fn palisade(status: StatusCode, code: impl Into<Cow<'static, str>>) -> Self {
        let code = code.into();
        Self::new(status)
            .with_type(format!("{TYPE_BASE}{code}"))
            .with_code(code)
    }

    /// The `type` member: a URI identifying the problem type.
    pub fn with_type(mut self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.type_uri = type_uri.into();
        self
    }

    /// The `title` member: a short summary of the problem type.
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.title = title.into();
        self
    }

    /// The `detail` member: an explanation of this occurrence, for humans.
    /// It is sent to the client: never put internal error text here.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The `code` extension member: a stable, machine-readable identifier
    /// (`snake_case`) clients can match on.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The `instance` member: a URI identifying this occurrence.
    pub fn with_instance(mut self, instance: impl Into<Cow<'static, str>>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// An extension member (RFC 9457 §3.2), replacing an earlier one of the
    /// same name. The names of the standard members and `code` are
    /// reserved: an extension with one of them is ignored, so it can never
    /// change the status or type a client sees.
    ///
    /// ```
    /// use http::StatusCode;
    /// use palisade_problem::Problem;
    ///
    /// let problem = Problem::new(StatusCode::BAD_REQUEST)
    ///     .with_extension("field", "email")
    ///     .with_extension("status", 200);
    /// assert_eq!(problem.to_json()["field"], "email");
    /// assert_eq!(problem.to_json()["status"], 400);
    /// ```
    pub fn with_extension(
        mut self,
        name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        let name = name.into();
        if !RESERVED.contains(&name.as_str()) {
            self.extensions.insert(name, value.into());
        }
        self
    }

    /// Adds a response header (replacing an earlier value of the same name).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds every header of `headers` (replacing earlier values of the same
    /// names, keeping multi-valued headers of `headers` whole).
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The response status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `type` member.
    #[must_use]
    pub fn type_uri(&self) -> &str {
        &self.type_uri
    }

    /// The `title` member.
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The `detail` member, if set.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The `code` extension member, if set.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The `instance` member, if set.
    #[must_use]
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// An extension member other than `code`, if set.
    #[must_use]
    pub fn extension(&self, name: &str) -> Option<&serde_json::Value> {
        self.extensions.get(name)
    }

    /// The response headers (`Content-Type` is added when the response is
    /// built).
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::with_capacity(6 + self.extensions.len());
        body.insert("type".into(), self.type_uri.as_ref().into());
        body.insert("title".into(), self.title.as_ref().into());
        body.insert("status".into(), self.status.as_u16().into());
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), detail.as_ref().into());
        }
        if let Some(instance) = &self.instance {
            body.insert("instance".into(), instance.as_ref().into());
        }
        if let Some(code) = &self.code {
            body.insert("code".into(), code.as_ref().into());
        }
        for (name, value) in &self.extensions {
            body.insert(name.clone(), value.clone());
        }
        serde_json::Value::Object(body)
    }

    /// The response: the status, the headers, `Content-Type:
    /// application/problem+json` and the JSON body, in any body type that
    /// can be made from a `String` (`String`, `http_body_util::Full<Bytes>`,
    /// axum's `Body`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::StatusCode;
    /// use http_body_util::Full;
    /// use palisade_problem::Problem;
    ///
    /// let response = Problem::new(StatusCode::CONFLICT).into_http_response::<Full<Bytes>>();
    /// assert_eq!(response.status(), StatusCode::CONFLICT);
    /// assert_eq!(response.headers()["content-type"], "application/problem+json");
    /// ```
    #[must_use]
    pub fn into_http_response<B: From<String>>(self) -> Response<B> {
        let body = self.to_json().to_string();
        let mut response = Response::new(B::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.extend(self.headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for Problem {
    fn into_response(self) -> axum_core::response::Response {
        self.into_http_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::RETRY_AFTER;

    #[test]
    fn about_blank_has_the_reason_phrase_as_title_and_no_optional_members() {
        let body = Problem::new(StatusCode::SERVICE_UNAVAILABLE).to_json();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
            })
        );
    }

    #[test]
    fn the_response_keeps_headers_and_forces_the_media_type() {
        let response = Problem::palisade(StatusCode::SERVICE_UNAVAILABLE, "circuit_open")
            .with_header(RETRY_AFTER, HeaderValue::from_static("3"))
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/plain"))
            .into_http_response::<String>();
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(response.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(
            body["type"],
            "https://palisade-rs.github.io/problems/circuit_open"
        );
        assert_eq!(body["code"], "circuit_open");
    }

    #[test]
    fn strings_are_escaped() {
        let problem = Problem::new(StatusCode::CONFLICT).with_detail("id \"x\"\n<y>");
        let text = problem.into_http_response::<String>().into_body();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["detail"], "id \"x\"\n<y>");
    }

    #[test]
    fn reserved_names_cannot_be_extensions() {
        let problem = Problem::palisade(StatusCode::BAD_REQUEST, "bad")
            .with_extension("type", "https://evil.example")
            .with_extension("code", "other")
            .with_extension("retry_in", 3);
        let body = problem.to_json();
        assert_eq!(body["type"], "https://palisade-rs.github.io/problems/bad");
        assert_eq!(body["code"], "bad");
        assert_eq!(body["retry_in"], 3);
        assert_eq!(problem.extension("retry_in"), Some(&serde_json::json!(3)));
        assert_eq!(problem.extension("type"), None);
    }

    #[cfg(feature = "axum")]
    #[tokio::test]
    async fn into_response_is_the_same_response() {
        use axum_core::response::IntoResponse;
        use http_body_util::BodyExt;

        let response = Problem::new(StatusCode::NOT_FOUND)
            .with_code("missing")
            .into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "missing");
    }
}
