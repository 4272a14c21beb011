//! [`AddressPolicy`]: which hosts and addresses a webhook may be sent to.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::ranges::{Ipv6Embedding, Refusal, classify};

/// Which addresses outbound webhook connections may reach.
///
/// [`AddressPolicy::new`] refuses every address that is not globally
/// reachable unicast (loopback, private, link-local and cloud metadata,
/// carrier-grade NAT, unique-local, multicast, reserved and documentation
/// ranges, and the IPv6 forms carrying such an IPv4 address; see
/// [`refused_ranges`](super::refused_ranges)). An allow-list of networks and
/// host names opens exceptions for users who deliver inside their own
/// network (and for tests on `127.0.0.1`); [`https_only`](Self::https_only)
/// refuses plain `http://` URLs.
///
/// ```
/// use std::net::IpAddr;
/// use palisade_webhooks::deliver::connect::{AddressPolicy, RangeKind};
///
/// let loopback: IpAddr = "127.0.0.1".parse()?;
/// let policy = AddressPolicy::new();
/// assert_eq!(policy.refusal(None, loopback).map(|r| r.kind()), Some(RangeKind::Loopback));
/// assert!(policy.refusal(None, "93.184.215.14".parse()?).is_none());
///
/// let policy = AddressPolicy::new()
///     .allow_net("127.0.0.0/8".parse()?)
///     .allow_host("hooks.internal.example")?;
/// assert!(policy.refusal(None, loopback).is_none());
/// // An allowed host name may resolve to anything.
/// assert!(policy.refusal(Some("HOOKS.internal.example."), "10.1.2.3".parse()?).is_none());
/// assert!(policy.refusal(Some("other.example"), "10.1.2.3".parse()?).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allowed_nets: Vec<IpNet>,
    allowed_hosts: Vec<HostPattern>,
    https_only: bool,
}

impl AddressPolicy {
    /// The default policy: every special-purpose range refused, no
    /// exceptions, `http` and `https` both allowed.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allowed_nets: Vec::new(),
            allowed_hosts: Vec::new(),
            https_only: false,
        }
    }

    /// Allows every address in `net`, even inside a refused range (e.g.
    /// `10.0.0.0/8` for a company network, `127.0.0.0/8` for tests). An
    /// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 host itself,
    /// so it is allowed when its IPv4 address is.
    #[must_use]
    pub fn allow_net(mut self, net: IpNet) -> Self {
        self.allowed_nets.push(net.trunc());
        self
    }

    /// Allows a host name, whatever it resolves to: `hooks.internal.example`
    /// exactly, or `*.internal.example` for every name below it (not the
    /// name itself). Matching ignores ASCII case and a trailing dot.
    ///
    /// This trusts the DNS answers for that name; prefer [`allow_net`](Self::allow_net)
    /// when the addresses are known.
    ///
    /// # Errors
    ///
    /// [`InvalidHostPattern`] for an empty name, a name with characters a
    /// host name cannot hold, or a `*` anywhere but a leading `*.`.
    pub fn allow_host(mut self, pattern: &str) -> Result<Self, InvalidHostPattern> {
        self.allowed_hosts.push(HostPattern::parse(pattern)?);
        Ok(self)
    }

    /// Refuses plain `http://` URLs (at validation and at connect time) when
    /// `on`. Off by default; turn it on in production.
    #[must_use]
    pub const fn https_only(mut self, on: bool) -> Self {
        self.https_only = on;
        self
    }

    /// Whether plain `http://` URLs are refused.
    #[must_use]
    pub const fn is_https_only(&self) -> bool {
        self.https_only
    }

    /// The allowed networks.
    #[must_use]
    pub fn allowed_nets(&self) -> &[IpNet] {
        &self.allowed_nets
    }

    /// Whether `host` (a name from a URL) is on the host allow-list.
    #[must_use]
    pub fn is_host_allowed(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.allowed_hosts
            .iter()
            .any(|pattern| pattern.matches(&host))
    }

    /// Why connecting to `addr` (which `host` resolved to, if known) is
    /// refused, or `None` when it is allowed: an allowed host, an address in
    /// an allowed network, or a globally reachable address.
    #[must_use]
    pub fn refusal(&self, host: Option<&str>, addr: IpAddr) -> Option<Refusal> {
        if host.is_some_and(|host| self.is_host_allowed(host)) || self.is_net_allowed(addr) {
            return None;
        }
        classify(addr)
    }

    fn is_net_allowed(&self, addr: IpAddr) -> bool {
        let mapped_v4 = match addr {
            IpAddr::V6(v6) => match Ipv6Embedding::unpack(v6) {
                Some((Ipv6Embedding::Ipv4Mapped, v4)) => Some(IpAddr::V4(v4)),
                _ => None,
            },
            IpAddr::V4(_) => None,
        };
        self.allowed_nets
            .iter()
            .any(|net| net.contains(&addr) || mapped_v4.is_some_and(|v4| net.contains(&v4)))
    }
}

/// An entry of the host allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.suffix`: the stored string is `.suffix`.
    Subdomains(String),
}

impl HostPattern {
    fn parse(pattern: &str) -> Result<Self, InvalidHostPattern> {
        let invalid = || InvalidHostPattern {
            pattern: pattern.to_owned(),
        };
        let normalized = normalize_host(pattern);
        let (wildcard, name) = match normalized.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, normalized.as_str()),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
            && !name.starts_with('.')
            && !name.contains("..");
        if !valid {
            return Err(invalid());
        }
        Ok(if wildcard {
            Self::Subdomains(format!(".{name}"))
        } else {
            Self::Exact(name.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(name) => host == name,
            Self::Subdomains(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
        }
    }
}

/// Lowercase, without a trailing dot or IPv6 brackets.
pub(super) fn normalize_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// A host allow-list entry that is not a host name or `*.` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHostPattern {
    pattern: String,
}

impl fmt::Display for InvalidHostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid allowed host {:?}: expected a host name or `*.` followed by one",
            self.pattern
        )
    }
}

impl std::error::Error for InvalidHostPattern {}
