#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::ranges::{V4_REFUSED, V6_REFUSED};
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const ALL_FORMS: [Ipv6Embedding; 6] = [
    Ipv6Embedding::Ipv4Mapped,
    Ipv6Embedding::Ipv4Compatible,
    Ipv6Embedding::SixToFour,
    Ipv6Embedding::Nat64,
    Ipv6Embedding::Nat64LocalUse,
    Ipv6Embedding::Teredo,
];

/// One address per refused range and edge, with the reason a user sees.
#[test]
fn every_refused_range_is_refused_with_its_reason() {
    use RangeKind::*;
    let table: &[(&str, RangeKind)] = &[
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", ThisNetwork),
        ("0.255.255.255", ThisNetwork),
        ("10.0.0.0", Private),
        ("10.255.255.255", Private),
        ("100.64.0.0", SharedAddressSpace),
        ("100.100.100.200", SharedAddressSpace),
        ("100.127.255.255", SharedAddressSpace),
        ("127.0.0.1", Loopback),
        ("127.255.255.254", Loopback),
        ("169.254.169.254", CloudMetadata),
        ("169.254.0.1", LinkLocal),
        ("169.254.255.255", LinkLocal),
        ("172.16.0.0", Private),
        ("172.31.255.255", Private),
        ("192.0.0.8", ProtocolAssignments),
        ("192.0.2.1", Documentation),
        ("192.88.99.1", Relay6to4Anycast),
        ("192.168.0.1", Private),
        ("192.168.255.255", Private),
        ("198.18.0.1", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("198.51.100.7", Documentation),
        ("203.0.113.9", Documentation),
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("240.0.0.1", Reserved),
        ("255.255.255.254", Reserved),
        ("255.255.255.255", Broadcast),
        ("::", Unspecified),
        ("::1", Loopback),
        ("100::1", DiscardOnly),
        ("2001:db8::1", Documentation),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", Documentation),
        ("2001:2::1", ProtocolAssignments),
        ("2001:1ff:ffff::1", ProtocolAssignments),
        ("3fff::1", Documentation),
        ("3fff:fff:ffff::1", Documentation),
        ("5f00::1", Srv6Sids),
        ("fd00:ec2::254", CloudMetadata),
        ("fc00::1", UniqueLocal),
        ("fdff:ffff::1", UniqueLocal),
        ("fe80::1", LinkLocal),
        ("febf:ffff::1", LinkLocal),
        ("fec0::1", SiteLocal),
        ("ff02::1", Multicast),
        ("ff0e::1", Multicast),
        ("1::1", Reserved),
        ("1fff:ffff::1", Reserved),
        ("4000::1", Reserved),
        ("8000::1", Reserved),
        ("e000::1", Reserved),
        // IPv4-carrying forms: the IPv4 address inside decides.
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:169.254.169.254", CloudMetadata),
        ("::ffff:10.1.2.3", Private),
        ("::127.0.0.1", Loopback),
        ("::8.8.8.8", Ipv4Compatible),
        ("2002:7f00:1::", Loopback),
        ("2002:a9fe:a9fe::1", CloudMetadata),
        ("2002:c0a8:101::1", Private),
        ("64:ff9b::10.0.0.1", Private),
        ("64:ff9b::100.64.0.1", SharedAddressSpace),
        ("64:ff9b:1::192.168.0.1", Private),
        ("64:ff9b:1::8.8.8.8", Nat64LocalUse),
        // Teredo: client 127.0.0.1 stored inverted (80ff:fffe).
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", Loopback),
        // Teredo with a public client (8.8.8.8 inverted is f7f7:f7f7).
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Teredo),
    ];
    for (addr, kind) in table {
        let refusal = classify(ip(addr)).unwrap_or_else(|| panic!("{addr} was allowed"));
        assert_eq!(refusal.kind(), *kind, "{addr}: {refusal}");
    }
    // Every kind appears in the table above.
    let kinds: std::collections::HashSet<_> = table.iter().map(|(_, kind)| *kind).collect();
    assert_eq!(kinds.len(), 21);
}

#[test]
fn globally_reachable_addresses_are_allowed() {
    for addr in [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.215.14",
        "1.0.0.0",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.0",
        "192.0.3.0",
        "192.88.98.255",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "203.0.112.255",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001::1",
        "2000::1",
        "3ffe::1",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::8.8.8.8",
    ] {
        assert_eq!(classify(ip(addr)), None, "{addr} was refused");
    }
}

/// Each table entry: its first, last and middle address are refused, and
/// with the entry's own reason unless a more specific entry comes first.
#[test]
fn table_ranges_are_refused_from_first_to_last_address() {
    for table in [V4_REFUSED, V6_REFUSED] {
        for (index, range) in table.iter().enumerate() {
            let first = range.net.network();
            let last = range.net.broadcast();
            let middle = match (first, last) {
                (IpAddr::V4(a), IpAddr::V4(b)) => IpAddr::V4(Ipv4Addr::from(
                    u32::from(a) + (u32::from(b) - u32::from(a)) / 2,
                )),
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    IpAddr::V6((u128::from(a) + (u128::from(b) - u128::from(a)) / 2).into())
                }
                _ => unreachable!(),
            };
            for addr in [first, middle, last] {
                let refusal =
                    classify(addr).unwrap_or_else(|| panic!("{addr} in {} allowed", range.net));
                let shadowed = table[..index]
                    .iter()
                    .any(|earlier| earlier.net.contains(&addr))
                    || matches!(addr, IpAddr::V6(v6) if Ipv6Embedding::unpack(v6).is_some());
                if !shadowed {
                    assert_eq!(refusal.kind(), range.kind, "{addr}");
                    assert_eq!(refusal.range(), range.net, "{addr}");
                }
            }
        }
    }
    assert_eq!(
        refused_ranges().count(),
        V4_REFUSED.len() + V6_REFUSED.len()
    );
}

#[test]
fn refusal_messages_name_the_range_and_the_form() {
    assert_eq!(
        classify(ip("10.1.2.3")).unwrap().to_string(),
        "private network (10.0.0.0/8)"
    );
    assert_eq!(
        classify(ip("2002:7f00:1::")).unwrap().to_string(),
        "loopback (127.0.0.0/8) inside a 6to4 IPv6 address (2002::/16)"
    );
    assert_eq!(
        classify(ip("64:ff9b:1::8.8.8.8")).unwrap().to_string(),
        "local-use NAT64 (64:ff9b:1::/48)"
    );
}

fn refused_v4() -> impl Strategy<Value = (Ipv4Addr, RangeKind)> {
    (0..V4_REFUSED.len(), any::<u32>()).prop_map(|(index, bits)| {
        let IpAddr::V4(network) = V4_REFUSED[index].net.network() else {
            unreachable!()
        };
        let host_mask = u32::MAX
            .checked_shr(u32::from(V4_REFUSED[index].net.prefix_len()))
            .unwrap_or(0);
        let v4 = Ipv4Addr::from(u32::from(network) | (bits & host_mask));
        (v4, classify(IpAddr::V4(v4)).unwrap().kind())
    })
}

fn form() -> impl Strategy<Value = Ipv6Embedding> {
    prop::sample::select(ALL_FORMS.to_vec())
}

proptest! {
    /// A refused IPv4 address is refused in every IPv6 form, for the same reason.
    #[test]
    fn refused_v4_is_refused_in_every_v6_form((v4, kind) in refused_v4(), form in form()) {
        let v6 = form.embed(v4);
        let refusal = classify(IpAddr::V6(v6));
        prop_assert!(refusal.is_some(), "{v6} ({form} of {v4}) allowed");
        // `::` and `::1` are themselves (unspecified, loopback), not a form of 0.0.0.0/0.0.0.1.
        prop_assume!(!(form == Ipv6Embedding::Ipv4Compatible && u32::from(v4) <= 1));
        let refusal = refusal.unwrap();
        prop_assert_eq!(refusal.kind(), kind);
        prop_assert_eq!(refusal.embedded(), Some((form, v4)));
    }

    /// A public IPv4 address is reachable through the forms that reach it and
    /// refused in the deprecated or local-only forms.
    #[test]
    fn public_v4_follows_the_form(v4 in any::<u32>().prop_map(Ipv4Addr::from), form in form()) {
        prop_assume!(classify(IpAddr::V4(v4)).is_none());
        let refusal = classify(IpAddr::V6(form.embed(v4)));
        prop_assert_eq!(refusal.map(|r| r.kind()), form.refused_for_any_ipv4());
    }

    #[test]
    fn embedding_round_trips(v4 in any::<u32>().prop_map(Ipv4Addr::from), form in form()) {
        let v6 = form.embed(v4);
        // `::` and `::1` are themselves, not IPv4-compatible 0.0.0.0 and 0.0.0.1.
        prop_assume!(!(form == Ipv6Embedding::Ipv4Compatible && u32::from(v4) <= 1));
        prop_assert_eq!(Ipv6Embedding::unpack(v6), Some((form, v4)));
    }

    /// The allow-list lets exactly its network through.
    #[test]
    fn allowed_net_lets_only_its_addresses_through((v4, _) in refused_v4()) {
        let policy = AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap());
        let allowed = policy.refusal(None, IpAddr::V4(v4)).is_none();
        prop_assert_eq!(allowed, v4.is_loopback());
    }
}

#[test]
fn allow_list_of_networks_and_hosts() {
    let policy = AddressPolicy::new()
        .allow_net("10.20.0.0/16".parse().unwrap())
        .allow_net("fd12::/16".parse().unwrap())
        .allow_host("hooks.corp.example")
        .unwrap()
        .allow_host("*.svc.cluster.local")
        .unwrap();
    assert!(policy.refusal(None, ip("10.20.3.4")).is_none());
    assert!(
        policy.refusal(None, ip("::ffff:10.20.3.4")).is_none(),
        "IPv4-mapped is the same host"
    );
    assert!(
        policy.refusal(None, ip("2002:a14:304::")).is_some(),
        "6to4 goes to a relay, not the host"
    );
    assert_eq!(
        policy.refusal(None, ip("10.21.0.1")).unwrap().kind(),
        RangeKind::Private
    );
    assert!(policy.refusal(None, ip("fd12::1")).is_none());
    assert!(policy.refusal(None, ip("127.0.0.1")).is_some());

    assert!(
        policy
            .refusal(Some("hooks.corp.example"), ip("127.0.0.1"))
            .is_none()
    );
    assert!(
        policy
            .refusal(Some("Hooks.Corp.Example."), ip("127.0.0.1"))
            .is_none()
    );
    assert!(
        policy
            .refusal(Some("evil-hooks.corp.example"), ip("127.0.0.1"))
            .is_some()
    );
    assert!(
        policy
            .refusal(Some("a.svc.cluster.local"), ip("10.0.0.1"))
            .is_none()
    );
    assert!(
        policy
            .refusal(Some("svc.cluster.local"), ip("10.0.0.1"))
            .is_some(),
        "*. is below, not the name"
    );
    assert!(
        policy
            .refusal(Some("xsvc.cluster.local"), ip("10.0.0.1"))
            .is_some()
    );
}

#[test]
fn bad_host_patterns_are_refused() {
    for pattern in [
        "", ".", "*", "*.", "a..b", "a b", "a*.b", "*.*.b", "http://x", ".x",
    ] {
        let err = AddressPolicy::new().allow_host(pattern).unwrap_err();
        assert!(
            err.to_string().contains("invalid allowed host"),
            "{pattern}: {err}"
        );
    }
}

#[test]
fn endpoint_urls_are_validated() {
    use EndpointUrlError::*;
    let policy = AddressPolicy::new();
    for ok in [
        "https://hooks.example.com/in",
        "http://hooks.example.com:8080/in?a=b",
        "HTTPS://Hooks.Example.com",
        "https://[2606:4700::1111]:8443/x",
        "https://8.8.8.8/",
        "https://123.example/",
        "https://0x7f.example/",
        "https://hooks.example.com./",
    ] {
        assert!(policy.validate_endpoint_url(ok).is_ok(), "{ok}");
    }
    let cases: &[(&str, EndpointUrlError)] = &[
        ("/relative/path", MissingScheme),
        ("hooks.example.com/in", MissingScheme),
        ("ftp://hooks.example.com/", UnsupportedScheme("ftp".into())),
        ("file:///etc/passwd", Malformed(String::new())),
        (
            "gopher://127.0.0.1:6379/_INFO",
            UnsupportedScheme("gopher".into()),
        ),
        ("https://user:secret@hooks.example.com/", UserInfo),
        ("https://user@hooks.example.com/", UserInfo),
        ("https://hooks.example.com/#frag", Fragment),
        ("http://localhost:8080/", Localhost),
        ("http://api.localhost/", Localhost),
        ("https://exa mple.com/", Malformed(String::new())),
        ("", MissingScheme),
        ("http://2130706433/", AmbiguousNumericHost),
        ("http://127.1:8080/", AmbiguousNumericHost),
        ("http://0x7f.0.0.1/", AmbiguousNumericHost),
        ("http://0177.0.0.1/", AmbiguousNumericHost),
        ("http://0x7f000001/", AmbiguousNumericHost),
    ];
    for (url, expected) in cases {
        let err = policy.validate_endpoint_url(url).unwrap_err();
        match (expected, &err) {
            (Malformed(_), Malformed(detail)) => assert!(!detail.is_empty()),
            _ => assert_eq!(&err, expected, "{url}"),
        }
        assert!(!err.to_string().contains("secret"), "{err}");
    }
    for (url, kind) in [
        ("http://127.0.0.1:8080/", RangeKind::Loopback),
        (
            "http://169.254.169.254/latest/meta-data/",
            RangeKind::CloudMetadata,
        ),
        ("http://[::1]/", RangeKind::Loopback),
        ("http://[::ffff:10.0.0.1]/", RangeKind::Private),
        ("http://[fd00:ec2::254]/", RangeKind::CloudMetadata),
        ("https://0.0.0.0/", RangeKind::Unspecified),
    ] {
        match policy.validate_endpoint_url(url) {
            Err(BlockedAddress { reason, .. }) => assert_eq!(reason.kind(), kind, "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    let https_only = AddressPolicy::new().https_only(true);
    assert_eq!(
        https_only.validate_endpoint_url("http://hooks.example.com/"),
        Err(HttpsRequired)
    );
    assert!(
        https_only
            .validate_endpoint_url("https://hooks.example.com/")
            .is_ok()
    );

    let local = AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap());
    assert!(
        local
            .validate_endpoint_url("http://127.0.0.1:8080/")
            .is_ok()
    );
    assert!(
        local
            .validate_endpoint_url("http://localhost:8080/")
            .is_ok()
    );
    assert!(
        local.validate_endpoint_url("http://[::1]:8080/").is_err(),
        "::1 is not in 127/8"
    );
}
