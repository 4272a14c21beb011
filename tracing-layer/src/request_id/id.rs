//! The request id value and the rules it must follow.

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;

/// The longest request id kept, in bytes. A longer incoming id is replaced.
///
/// 128 bytes holds every common format (a UUID is 36, a ULID 26, a W3C trace id
/// 32, a `cf-ray` about 20) with room to spare, while stopping a client from
/// making every log line and span carry kilobytes of its choosing.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request id: 1 to [`MAX_REQUEST_ID_LEN`] bytes of visible ASCII
/// (`0x21`–`0x7E`: no spaces, no control characters, nothing outside ASCII).
///
/// [`RequestId`](super::RequestId) puts one into the request's and the
/// response's extensions, so handlers and later layers can read it:
///
/// ```
/// use palisade_tracing_layer::request_id::RequestIdValue;
///
/// let id: RequestIdValue = "3f1c-42".parse()?;
/// assert_eq!(id.as_str(), "3f1c-42");
/// assert!("has space".parse::<RequestIdValue>().is_err());
/// # Ok::<(), palisade_tracing_layer::request_id::InvalidRequestId>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestIdValue(HeaderValue);

impl RequestIdValue {
    /// Checks a header value against the rules above.
    ///
    /// # Errors
    ///
    /// [`InvalidRequestId`] when the value is empty, longer than
    /// [`MAX_REQUEST_ID_LEN`] or has a byte outside `0x21`–`0x7E`.
    pub fn from_header_value(value: &HeaderValue) -> Result<Self, InvalidRequestId> {
        check(value.as_bytes())?;
        Ok(Self(value.clone()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Checked to be visible ASCII at construction, so `to_str` cannot fail.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value (a cheap clone).
    #[must_use]
    pub fn to_header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// Whether `bytes` is a valid request id.
fn check(bytes: &[u8]) -> Result<(), InvalidRequestId> {
    if bytes.is_empty() {
        return Err(InvalidRequestId::new("empty"));
    }
    if bytes.len() > MAX_REQUEST_ID_LEN {
        return Err(InvalidRequestId::new("longer than 128 bytes"));
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(InvalidRequestId::new("not visible ascii"));
    }
    Ok(())
}

impl FromStr for RequestIdValue {
    type Err = InvalidRequestId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check(s.as_bytes())?;
        // Visible ASCII is always a valid header value.
        HeaderValue::from_str(s)
            .map(Self)
            .map_err(|_| InvalidRequestId::new("not visible ascii"))
    }
}

impl TryFrom<&str> for RequestIdValue {
    type Error = InvalidRequestId;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<String> for RequestIdValue {
    type Error = InvalidRequestId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        check(s.as_bytes())?;
        HeaderValue::try_from(s)
            .map(Self)
            .map_err(|_| InvalidRequestId::new("not visible ascii"))
    }
}

impl fmt::Display for RequestIdValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for RequestIdValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A request id was rejected.
///
/// `Display` says why, in lowercase (`invalid request id: not visible ascii`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRequestId {
    reason: &'static str,
}

impl InvalidRequestId {
    const fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// The reason, without the `invalid request id: ` prefix.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid request id: {}", self.reason)
    }
}

impl std::error::Error for InvalidRequestId {}

impl RequestIdValue {
    /// 32 lowercase hex digits of `n`.
    pub(super) fn hex(n: u128) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 32];
        for (i, b) in buf.iter_mut().enumerate() {
            let shift = 4 * (31 - i);
            *b = DIGITS[((n >> shift) & 0xf) as usize];
        }
        // Hex digits are always a valid header value.
        Self(
            HeaderValue::from_bytes(&buf)
                .unwrap_or_else(|_| HeaderValue::from_static("00000000000000000000000000000000")),
        )
    }
}
