//! [`Problem`]: an RFC 9457 `application/problem+json` response.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// The media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details response: a status, headers, and a JSON body
/// with the members `type`, `title`, `status`, `detail` (when set),
/// `instance` (when set) and the extension member `code` (when set).
///
/// [`error_response`](super::error_response) builds one for every error our
/// layers originate ([`Problem::from_error`]); build your own for your
/// errors so that clients see one error format:
///
/// ```
/// use axum::response::IntoResponse;
/// use http::StatusCode;
/// use palisade_resilience::edge::Problem;
///
/// let problem = Problem::new(StatusCode::NOT_FOUND)
///     .with_code("order_not_found")
///     .with_detail("no order with this id");
/// assert_eq!(problem.title(), "Not Found");
/// assert_eq!(problem.type_uri(), "about:blank");
///
/// let response = problem.into_response();
/// assert_eq!(response.status(), StatusCode::NOT_FOUND);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
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
            headers: HeaderMap::new(),
        }
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

    /// Adds a response header (replacing an earlier value of the same name).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds every header of `headers` (replacing earlier values of the same
    /// names).
    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        // Replaces the values of names already present, keeps multi-valued
        // headers of `headers` whole.
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

    /// The response headers (`Content-Type` is added when the response is
    /// built).
    #[must_use]
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::with_capacity(6);
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
        serde_json::Value::Object(body)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.to_json().to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.extend(self.headers);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
