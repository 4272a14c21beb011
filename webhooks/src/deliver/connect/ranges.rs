//! Which addresses a webhook may never reach, and why.
//!
//! The table follows the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries: every range that is not globally reachable unicast is refused.
//! IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4,
//! NAT64, Teredo) are unpacked and the IPv4 address is checked too, so
//! `::ffff:127.0.0.1` or `2002:7f00:1::` is refused as loopback.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// What a refused range is for: the "why" in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RangeKind {
    /// `0.0.0.0/8`: "this network", only valid as a source.
    ThisNetwork,
    /// `0.0.0.0` and `::`: no host at all (many stacks treat it as local).
    Unspecified,
    /// `127.0.0.0/8` and `::1`: this machine.
    Loopback,
    /// RFC 1918 private networks: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10`: carrier-grade NAT shared address space (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16` and `fe80::/10`: link-local.
    LinkLocal,
    /// A cloud instance-metadata endpoint (`169.254.169.254`,
    /// `fd00:ec2::254`): credentials live there.
    CloudMetadata,
    /// `192.0.0.0/24` and `2001::/23`: IETF protocol assignments.
    ProtocolAssignments,
    /// Documentation ranges (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`,
    /// `2001:db8::/32`, `3fff::/20`).
    Documentation,
    /// `198.18.0.0/15`: benchmarking (RFC 2544).
    Benchmarking,
    /// `192.88.99.0/24`: the deprecated 6to4 relay anycast prefix.
    Relay6to4Anycast,
    /// `224.0.0.0/4` and `ff00::/8`: multicast.
    Multicast,
    /// `255.255.255.255`: limited broadcast.
    Broadcast,
    /// Reserved for future use (`240.0.0.0/4`) or IPv6 space outside global
    /// unicast (`2000::/3`).
    Reserved,
    /// `100::/64`: discard-only (RFC 6666).
    DiscardOnly,
    /// `fc00::/7`: unique local addresses, the IPv6 private networks.
    UniqueLocal,
    /// `fec0::/10`: deprecated site-local addresses.
    SiteLocal,
    /// `5f00::/16`: SRv6 segment identifiers (RFC 9602).
    Srv6Sids,
    /// `::/96`: deprecated IPv4-compatible IPv6 addresses.
    Ipv4Compatible,
    /// `64:ff9b:1::/48`: local-use NAT64 (RFC 8215), never global.
    Nat64LocalUse,
    /// `2001::/32`: Teredo tunnels.
    Teredo,
}

impl RangeKind {
    /// A short lowercase description, used in error messages.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::ThisNetwork => "\"this network\"",
            Self::Unspecified => "unspecified address",
            Self::Loopback => "loopback",
            Self::Private => "private network",
            Self::SharedAddressSpace => "carrier-grade NAT shared address space",
            Self::LinkLocal => "link-local",
            Self::CloudMetadata => "cloud metadata endpoint",
            Self::ProtocolAssignments => "IETF protocol assignments",
            Self::Documentation => "documentation range",
            Self::Benchmarking => "benchmarking range",
            Self::Relay6to4Anycast => "6to4 relay anycast",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
            Self::DiscardOnly => "discard-only",
            Self::UniqueLocal => "unique local",
            Self::SiteLocal => "site-local",
            Self::Srv6Sids => "SRv6 segment identifiers",
            Self::Ipv4Compatible => "IPv4-compatible (deprecated)",
            Self::Nat64LocalUse => "local-use NAT64",
            Self::Teredo => "Teredo",
        }
    }
}

impl fmt::Display for RangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// One refused range and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefusedRange {
    /// The range.
    pub net: IpNet,
    /// What it is for.
    pub kind: RangeKind,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, kind: RangeKind) -> RefusedRange {
    RefusedRange {
        net: IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)),
        kind,
    }
}

const fn v6(segments: [u16; 8], len: u8, kind: RangeKind) -> RefusedRange {
    let [a, b, c, d, e, f, g, h] = segments;
    RefusedRange {
        net: IpNet::V6(Ipv6Net::new_assert(
            Ipv6Addr::new(a, b, c, d, e, f, g, h),
            len,
        )),
        kind,
    }
}

/// Refused IPv4 ranges, most specific first (the first match gives the reason).
pub(super) const V4_REFUSED: &[RefusedRange] = &[
    v4(0, 0, 0, 0, 32, RangeKind::Unspecified),
    v4(0, 0, 0, 0, 8, RangeKind::ThisNetwork),
    v4(10, 0, 0, 0, 8, RangeKind::Private),
    v4(100, 64, 0, 0, 10, RangeKind::SharedAddressSpace),
    v4(127, 0, 0, 0, 8, RangeKind::Loopback),
    v4(169, 254, 169, 254, 32, RangeKind::CloudMetadata),
    v4(169, 254, 0, 0, 16, RangeKind::LinkLocal),
    v4(172, 16, 0, 0, 12, RangeKind::Private),
    v4(192, 0, 0, 0, 24, RangeKind::ProtocolAssignments),
    v4(192, 0, 2, 0, 24, RangeKind::Documentation),
    v4(192, 88, 99, 0, 24, RangeKind::Relay6to4Anycast),
    v4(192, 168, 0, 0, 16, RangeKind::Private),
    v4(198, 18, 0, 0, 15, RangeKind::Benchmarking),
    v4(198, 51, 100, 0, 24, RangeKind::Documentation),
    v4(203, 0, 113, 0, 24, RangeKind::Documentation),
    v4(224, 0, 0, 0, 4, RangeKind::Multicast),
    v4(255, 255, 255, 255, 32, RangeKind::Broadcast),
    v4(240, 0, 0, 0, 4, RangeKind::Reserved),
];

/// Refused IPv6 ranges, most specific first. The IPv4-carrying forms are
/// handled before this table (see [`classify`]).
pub(super) const V6_REFUSED: &[RefusedRange] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, RangeKind::Unspecified),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, RangeKind::Loopback),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, RangeKind::DiscardOnly),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        RangeKind::Documentation,
    ),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        RangeKind::ProtocolAssignments,
    ),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, RangeKind::Documentation),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, RangeKind::Srv6Sids),
    v6(
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        RangeKind::CloudMetadata,
    ),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, RangeKind::UniqueLocal),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, RangeKind::LinkLocal),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, RangeKind::SiteLocal),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, RangeKind::Multicast),
    // Everything outside global unicast 2000::/3.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 3, RangeKind::Reserved),
    v6([0x4000, 0, 0, 0, 0, 0, 0, 0], 2, RangeKind::Reserved),
    v6([0x8000, 0, 0, 0, 0, 0, 0, 0], 1, RangeKind::Reserved),
];

/// An IPv6 form that carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ipv6Embedding {
    /// `::ffff:0:0/96`: IPv4-mapped (the IPv4 host itself on a dual-stack socket).
    Ipv4Mapped,
    /// `::/96`: IPv4-compatible (deprecated).
    Ipv4Compatible,
    /// `2002::/16`: 6to4, the IPv4 address in bits 16–47.
    SixToFour,
    /// `64:ff9b::/96`: the well-known NAT64 prefix.
    Nat64,
    /// `64:ff9b:1::/48`: local-use NAT64, the IPv4 address in the last 32 bits.
    Nat64LocalUse,
    /// `2001::/32`: Teredo, the client's IPv4 address inverted in the last 32 bits.
    Teredo,
}

impl Ipv6Embedding {
    /// The prefix of this form.
    #[must_use]
    pub fn prefix(self) -> Ipv6Net {
        let (addr, len) = match self {
            Self::Ipv4Mapped => (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
            Self::Ipv4Compatible => (Ipv6Addr::UNSPECIFIED, 96),
            Self::SixToFour => (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16),
            Self::Nat64 => (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
            Self::Nat64LocalUse => (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48),
            Self::Teredo => (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32),
        };
        Ipv6Net::new_assert(addr, len)
    }

    /// Puts `v4` into this form, as a sender (or an attacker) would.
    #[must_use]
    pub fn embed(self, v4: Ipv4Addr) -> Ipv6Addr {
        let v4 = u128::from(u32::from(v4));
        let prefix = u128::from(self.prefix().addr());
        Ipv6Addr::from(match self {
            Self::SixToFour => prefix | (v4 << 80),
            Self::Teredo => prefix | (!v4 & 0xffff_ffff),
            _ => prefix | v4,
        })
    }

    /// The form `addr` is in and the IPv4 address it carries, if any.
    #[must_use]
    pub fn unpack(addr: Ipv6Addr) -> Option<(Self, Ipv4Addr)> {
        let bits = u128::from(addr);
        let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
        let form = [
            Self::Ipv4Mapped,
            Self::Ipv4Compatible,
            Self::SixToFour,
            Self::Nat64,
            Self::Nat64LocalUse,
            Self::Teredo,
        ]
        .into_iter()
        .find(|form| form.prefix().contains(&addr))?;
        let v4 = match form {
            Self::SixToFour => Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32),
            Self::Teredo => Ipv4Addr::from(!u32::from(low32)),
            _ => low32,
        };
        Some((form, v4))
    }

    /// Whether an address of this form is refused even when the IPv4 address
    /// it carries is public: the deprecated and local-only forms. 6to4, the
    /// well-known NAT64 prefix and IPv4-mapped addresses reach the IPv4
    /// address they carry, so they follow its verdict.
    #[must_use]
    pub const fn refused_for_any_ipv4(self) -> Option<RangeKind> {
        match self {
            Self::Ipv4Compatible => Some(RangeKind::Ipv4Compatible),
            Self::Nat64LocalUse => Some(RangeKind::Nat64LocalUse),
            Self::Teredo => Some(RangeKind::Teredo),
            Self::Ipv4Mapped | Self::SixToFour | Self::Nat64 => None,
        }
    }
}

impl fmt::Display for Ipv6Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4Mapped => "IPv4-mapped",
            Self::Ipv4Compatible => "IPv4-compatible",
            Self::SixToFour => "6to4",
            Self::Nat64 => "NAT64",
            Self::Nat64LocalUse => "local-use NAT64",
            Self::Teredo => "Teredo",
        })
    }
}

/// Why an address is refused: the range it falls in and, for an IPv6
/// address carrying an IPv4 one, the form it was found in.
///
/// ```
/// use std::net::IpAddr;
/// use palisade_webhooks::deliver::connect::{classify, RangeKind};
///
/// let addr: IpAddr = "::ffff:169.254.169.254".parse()?;
/// let refusal = classify(addr).expect("refused");
/// assert_eq!(refusal.kind(), RangeKind::CloudMetadata);
/// assert_eq!(
///     refusal.to_string(),
///     "cloud metadata endpoint (169.254.169.254/32) inside an IPv4-mapped IPv6 address (::ffff:0.0.0.0/96)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refusal {
    range: RefusedRange,
    via: Option<(Ipv6Embedding, Ipv4Addr)>,
}

impl Refusal {
    /// What the refused range is.
    #[must_use]
    pub const fn kind(&self) -> RangeKind {
        self.range.kind
    }

    /// The refused range the address (or the IPv4 address it carries) is in.
    #[must_use]
    pub const fn range(&self) -> IpNet {
        self.range.net
    }

    /// For an IPv6 address carrying an IPv4 address: its form and the IPv4
    /// address that was checked.
    #[must_use]
    pub const fn embedded(&self) -> Option<(Ipv6Embedding, Ipv4Addr)> {
        self.via
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.range.kind, self.range.net)?;
        if let Some((form, _)) = self.via {
            let article = if matches!(
                form,
                Ipv6Embedding::Ipv4Mapped | Ipv6Embedding::Ipv4Compatible
            ) {
                "an"
            } else {
                "a"
            };
            write!(
                f,
                " inside {article} {form} IPv6 address ({})",
                form.prefix()
            )?;
        }
        Ok(())
    }
}

/// Every refused range, most specific first (IPv4, then IPv6). The IPv6
/// forms carrying IPv4 addresses are listed in [`Ipv6Embedding`].
pub fn refused_ranges() -> impl Iterator<Item = RefusedRange> {
    V4_REFUSED.iter().chain(V6_REFUSED).copied()
}

/// Says why `addr` must not be reached, or `None` for a globally reachable
/// unicast address. This ignores any allow-list: see
/// [`AddressPolicy::refusal`](super::AddressPolicy::refusal).
#[must_use]
pub fn classify(addr: IpAddr) -> Option<Refusal> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(addr: Ipv4Addr) -> Option<Refusal> {
    let addr = IpAddr::V4(addr);
    V4_REFUSED
        .iter()
        .find(|range| range.net.contains(&addr))
        .map(|range| Refusal {
            range: *range,
            via: None,
        })
}

fn classify_v6(addr: Ipv6Addr) -> Option<Refusal> {
    // `::` and `::1` sit inside the IPv4-compatible prefix; they are
    // themselves, not an IPv4 address.
    if addr == Ipv6Addr::UNSPECIFIED || addr == Ipv6Addr::LOCALHOST {
        return table_v6(addr);
    }
    if let Some((form, v4)) = Ipv6Embedding::unpack(addr) {
        if let Some(inner) = classify_v4(v4) {
            return Some(Refusal {
                range: inner.range,
                via: Some((form, v4)),
            });
        }
        return form.refused_for_any_ipv4().map(|kind| Refusal {
            range: RefusedRange {
                net: IpNet::V6(form.prefix()),
                kind,
            },
            via: None,
        });
    }
    table_v6(addr)
}

fn table_v6(addr: Ipv6Addr) -> Option<Refusal> {
    let addr = IpAddr::V6(addr);
    V6_REFUSED
        .iter()
        .find(|range| range.net.contains(&addr))
        .map(|range| Refusal {
            range: *range,
            via: None,
        })
}
