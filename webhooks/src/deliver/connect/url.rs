//! Checking an endpoint URL when the endpoint is created.

use std::fmt;
use std::net::IpAddr;

use http::Uri;

use super::policy::{AddressPolicy, normalize_host};
use super::ranges::Refusal;

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointUrlError {
    /// Not a URL at all (the parser's message).
    Malformed(String),
    /// A relative URL: no `http://` or `https://`.
    MissingScheme,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme(String),
    /// No host, or an empty one.
    MissingHost,
    /// `user:password@` in the URL: credentials belong in headers or the
    /// signature, not in a URL that ends up in logs.
    UserInfo,
    /// A fragment (`#…`), which is never sent.
    Fragment,
    /// `http://` while the policy is https-only.
    HttpsRequired,
    /// `localhost` or a name below `.localhost`, which always means this machine.
    Localhost,
    /// A host made only of numbers that is not a dotted-quad IPv4 address
    /// (`2130706433`, `127.1`, `0x7f.0.0.1`, `0177.0.0.1`): no DNS name looks
    /// like that, and resolvers read it as an IP address in a legacy form.
    AmbiguousNumericHost,
    /// The host is an IP literal in a refused range.
    BlockedAddress {
        /// The address in the URL.
        addr: IpAddr,
        /// Which range it is in.
        reason: Refusal,
    },
}

impl EndpointUrlError {
    /// A stable lowercase code for API responses.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_url",
            Self::MissingScheme => "missing_scheme",
            Self::UnsupportedScheme(_) => "unsupported_scheme",
            Self::MissingHost => "missing_host",
            Self::UserInfo => "userinfo_in_url",
            Self::Fragment => "fragment_in_url",
            Self::HttpsRequired => "https_required",
            Self::Localhost => "localhost",
            Self::AmbiguousNumericHost => "ambiguous_numeric_host",
            Self::BlockedAddress { .. } => "blocked_address",
        }
    }
}

impl fmt::Display for EndpointUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(detail) => write!(f, "the endpoint URL is malformed: {detail}"),
            Self::MissingScheme => {
                f.write_str("the endpoint URL must start with http:// or https://")
            }
            Self::UnsupportedScheme(scheme) => {
                write!(f, "the endpoint URL scheme {scheme:?} is not http or https")
            }
            Self::MissingHost => f.write_str("the endpoint URL has no host"),
            Self::UserInfo => {
                f.write_str("the endpoint URL must not contain a user name or password")
            }
            Self::Fragment => f.write_str("the endpoint URL must not contain a fragment (#)"),
            Self::HttpsRequired => f.write_str("the endpoint URL must use https"),
            Self::Localhost => f.write_str("the endpoint URL points at localhost"),
            Self::AmbiguousNumericHost => f.write_str(
                "the endpoint URL host is a number but not a dotted-quad IPv4 address; write the address in full",
            ),
            Self::BlockedAddress { addr, reason } => {
                write!(
                    f,
                    "the endpoint URL points at {addr}, which is refused: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for EndpointUrlError {}

impl AddressPolicy {
    /// Checks a webhook endpoint URL when it is configured: `http` or
    /// `https` (only `https` when [`https_only`](Self::https_only)), a host,
    /// no user info, no fragment; a port is fine. An IP literal host is
    /// checked against the policy at once, as is `localhost`; a name is
    /// resolved and its addresses checked at every connection.
    ///
    /// ```
    /// use palisade_webhooks::deliver::connect::{AddressPolicy, EndpointUrlError, RangeKind};
    ///
    /// let policy = AddressPolicy::new();
    /// let uri = policy.validate_endpoint_url("https://hooks.example.com:8443/in?x=1")?;
    /// assert_eq!(uri.port_u16(), Some(8443));
    ///
    /// let err = policy.validate_endpoint_url("http://169.254.169.254/latest/meta-data").unwrap_err();
    /// assert!(matches!(err, EndpointUrlError::BlockedAddress { reason, .. } if reason.kind() == RangeKind::CloudMetadata));
    /// assert_eq!(policy.validate_endpoint_url("ftp://x.example/"), Err(EndpointUrlError::UnsupportedScheme("ftp".into())));
    /// assert_eq!(policy.validate_endpoint_url("https://u:p@x.example/"), Err(EndpointUrlError::UserInfo));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An [`EndpointUrlError`] naming the first problem found.
    pub fn validate_endpoint_url(&self, url: &str) -> Result<Uri, EndpointUrlError> {
        if url.contains('#') {
            return Err(EndpointUrlError::Fragment);
        }
        if !url.contains("://") {
            return Err(EndpointUrlError::MissingScheme);
        }
        let uri: Uri = url
            .parse()
            .map_err(|err: http::uri::InvalidUri| EndpointUrlError::Malformed(err.to_string()))?;
        match uri.scheme_str() {
            None => return Err(EndpointUrlError::MissingScheme),
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {}
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {
                if self.is_https_only() {
                    return Err(EndpointUrlError::HttpsRequired);
                }
            }
            Some(other) => return Err(EndpointUrlError::UnsupportedScheme(other.to_owned())),
        }
        let authority = uri.authority().ok_or(EndpointUrlError::MissingHost)?;
        if authority.as_str().contains('@') {
            return Err(EndpointUrlError::UserInfo);
        }
        let host = normalize_host(authority.host());
        if host.is_empty() {
            return Err(EndpointUrlError::MissingHost);
        }
        if let Ok(addr) = host.parse::<IpAddr>() {
            // Rust accepts only the canonical forms; the legacy ones are refused below.
            if let Some(reason) = self.refusal(Some(&host), addr) {
                return Err(EndpointUrlError::BlockedAddress { addr, reason });
            }
        } else if is_numeric_host(&host) {
            return Err(EndpointUrlError::AmbiguousNumericHost);
        } else if (host == "localhost" || host.ends_with(".localhost"))
            && self
                .refusal(Some(&host), IpAddr::from([127, 0, 0, 1]))
                .is_some()
        {
            return Err(EndpointUrlError::Localhost);
        }
        Ok(uri)
    }
}

/// Whether every label is a decimal, octal or hex number: what `inet_aton`
/// would read as an IPv4 address (`127.1`, `0x7f.1`, `2130706433`).
fn is_numeric_host(host: &str) -> bool {
    host.split('.').all(|label| {
        let digits = label.strip_prefix("0x").unwrap_or(label);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_hexdigit())
            && (label.starts_with("0x") || digits.bytes().all(|b| b.is_ascii_digit()))
    })
}
