//! `--api-allow` / `--api-deny`: which client addresses may call `/api` at all.

use std::net::IpAddr;

use ipnet::IpNet;

/// Allow and deny CIDR lists. No lists: everyone may try a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpRules {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl IpRules {
    /// Rules from the two lists: a client in `deny` is refused; when `allow`
    /// is not empty, a client outside it is refused too.
    #[must_use]
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        Self { allow, deny }
    }

    /// Whether any rule is set (then a client whose address is unknown is refused).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether `client` may call the API. An IPv4 client seen as an
    /// IPv4-mapped IPv6 address (a dual-stack listener) is judged as IPv4.
    #[must_use]
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(ip) = client else {
            return false;
        };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        if self.deny.iter().any(|net| net.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn deny_wins_and_allow_is_exclusive() {
        let rules = IpRules::new(nets(&["10.0.0.0/8", "::1/128"]), nets(&["10.0.0.9/32"]));
        assert!(rules.allows(Some("10.1.2.3".parse().unwrap())));
        assert!(rules.allows(Some("::1".parse().unwrap())));
        assert!(rules.allows(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(!rules.allows(Some("10.0.0.9".parse().unwrap())));
        assert!(!rules.allows(Some("192.168.1.1".parse().unwrap())));
        assert!(!rules.allows(None));
        assert!(IpRules::default().allows(None));
        let deny_only = IpRules::new(vec![], nets(&["127.0.0.0/8"]));
        assert!(!deny_only.allows(Some("127.0.0.1".parse().unwrap())));
        assert!(deny_only.allows(Some("10.0.0.1".parse().unwrap())));
    }
}
