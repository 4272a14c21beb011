//! Which custom headers an endpoint may carry.

use http::{HeaderName, HeaderValue};

use super::EndpointError;

/// Headers the engine sets itself (signature, identity, framing) or that
/// only make sense for one connection (hop-by-hop, RFC 9110 §7.6.1).
const FORBIDDEN: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "user-agent",
];

/// Checks an endpoint's custom headers.
pub(super) fn check(headers: &[(String, String)]) -> Result<(), EndpointError> {
    for (name, value) in headers {
        let parsed = HeaderName::try_from(name.as_str())
            .map_err(|_| EndpointError::InvalidHeader(name.clone()))?;
        if FORBIDDEN.contains(&parsed.as_str()) {
            return Err(EndpointError::ForbiddenHeader(name.clone()));
        }
        HeaderValue::try_from(value.as_str())
            .map_err(|_| EndpointError::InvalidHeader(name.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, value: &str) -> Result<(), EndpointError> {
        check(&[(name.to_owned(), value.to_owned())])
    }

    #[test]
    fn custom_headers_pass_and_reserved_ones_do_not() {
        assert!(one("x-tenant", "acme").is_ok());
        assert!(one("Authorization", "Bearer t").is_ok());
        for name in [
            "Webhook-Signature",
            "connection",
            "Transfer-Encoding",
            "host",
        ] {
            assert!(
                matches!(one(name, "x"), Err(EndpointError::ForbiddenHeader(_))),
                "{name}"
            );
        }
        assert!(matches!(
            one("bad name", "x"),
            Err(EndpointError::InvalidHeader(_))
        ));
        assert!(matches!(
            one("x-ok", "line\nbreak"),
            Err(EndpointError::InvalidHeader(_))
        ));
    }
}
