//! The errors [`SafeConnector`](super::SafeConnector) originates, one type per
//! cause, each recoverable from the hyper client's error chain with
//! [`find_cause`].

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::ranges::{RangeKind, Refusal};

/// The destination is in a refused range: no connection was made to it.
///
/// ```
/// use palisade_webhooks::deliver::connect::{classify, BlockedAddress, RangeKind};
///
/// let addr = "10.0.0.7".parse()?;
/// let err = BlockedAddress::new("hooks.example", addr, classify(addr).expect("private"));
/// assert_eq!(err.reason().kind(), RangeKind::Private);
/// assert_eq!(
///     err.to_string(),
///     "refused to connect to hooks.example at 10.0.0.7: private network (10.0.0.0/8)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedAddress {
    host: String,
    addr: IpAddr,
    reason: Refusal,
}

impl BlockedAddress {
    /// `host` resolved to `addr`, which is refused for `reason`.
    #[must_use]
    pub fn new(host: impl Into<String>, addr: IpAddr, reason: Refusal) -> Self {
        Self {
            host: host.into(),
            addr,
            reason,
        }
    }

    /// The host from the URL (a name or an IP literal).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The refused address.
    #[must_use]
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Which range the address is in.
    #[must_use]
    pub const fn reason(&self) -> Refusal {
        self.reason
    }

    /// Shorthand for `self.reason().kind()`.
    #[must_use]
    pub const fn kind(&self) -> RangeKind {
        self.reason.kind()
    }
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused to connect to {} at {}: {}",
            self.host, self.addr, self.reason
        )
    }
}

impl Error for BlockedAddress {}

/// The policy is [`https_only`](super::AddressPolicy::https_only) and the URL
/// is `http://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HttpsRequired;

impl fmt::Display for HttpsRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refused to connect over plain http: the policy requires https")
    }
}

impl Error for HttpsRequired {}

/// The URI given to the connector has no host or a scheme other than `http`
/// or `https`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTarget {
    reason: &'static str,
}

impl InvalidTarget {
    pub(super) const fn new(reason: &'static str) -> Self {
        Self { reason }
    }
}

impl fmt::Display for InvalidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid connect target: {}", self.reason)
    }
}

impl Error for InvalidTarget {}

/// The host name did not resolve (or resolved to no address).
#[derive(Debug)]
pub struct ResolveFailed {
    host: String,
    source: io::Error,
}

impl ResolveFailed {
    pub(super) fn new(host: &str, source: io::Error) -> Self {
        Self {
            host: host.to_owned(),
            source,
        }
    }

    /// The host that did not resolve.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for ResolveFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.source)
    }
}

impl Error for ResolveFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Every allowed address of the host failed to connect (or timed out).
#[derive(Debug)]
pub struct ConnectFailed {
    host: String,
    attempts: Vec<(SocketAddr, io::Error)>,
}

impl ConnectFailed {
    pub(super) fn new(host: &str, attempts: Vec<(SocketAddr, io::Error)>) -> Self {
        Self {
            host: host.to_owned(),
            attempts,
        }
    }

    /// The host that could not be reached.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Each address tried, in order, and why it failed.
    #[must_use]
    pub fn attempts(&self) -> &[(SocketAddr, io::Error)] {
        &self.attempts
    }

    /// Whether every attempt timed out.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        !self.attempts.is_empty()
            && self
                .attempts
                .iter()
                .all(|(_, err)| err.kind() == io::ErrorKind::TimedOut)
    }
}

impl fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not connect to {}", self.host)?;
        if let Some((addr, err)) = self.attempts.last() {
            write!(
                f,
                " ({} address(es) tried; last {addr}: {err})",
                self.attempts.len()
            )?;
        }
        Ok(())
    }
}

impl Error for ConnectFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.attempts
            .last()
            .map(|(_, err)| err as &(dyn Error + 'static))
    }
}

pub(super) fn timed_out(what: &str, after: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} timed out after {after:?}"),
    )
}

/// Finds an error of type `T` in `err` or its chain of sources, e.g. a
/// [`BlockedAddress`] inside the `hyper_util` client's error.
///
/// ```
/// use palisade_webhooks::deliver::connect::{find_cause, HttpsRequired};
///
/// let err: Box<dyn std::error::Error + Send + Sync> = Box::new(HttpsRequired::default());
/// assert!(find_cause::<HttpsRequired>(err.as_ref()).is_some());
/// ```
#[must_use]
pub fn find_cause<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}
