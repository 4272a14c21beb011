//! `--addr HOST[:PORT]`: where the server listens, as a user writes it.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// An address to listen on: an IP address or a host name, with or without a
/// port — `127.0.0.1`, `0.0.0.0:8080`, `localhost:8080`, `[::1]:9000`, `::`.
///
/// ```
/// use palisade_server::listener::BindAddr;
///
/// let addr: BindAddr = "[::1]:9000".parse().unwrap();
/// assert_eq!(addr.port(), Some(9000));
/// let addr: BindAddr = "localhost".parse().unwrap();
/// assert_eq!(addr.port(), None);
/// assert!("localhost:http".parse::<BindAddr>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddr {
    host: Host,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    Name(String),
}

impl BindAddr {
    /// An IP address with no port.
    #[must_use]
    pub fn ip(ip: IpAddr) -> Self {
        Self {
            host: Host::Ip(ip),
            port: None,
        }
    }

    /// The port, if the address names one.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The socket addresses to try, in the resolver's order, with
    /// `default_port` when the address names none.
    ///
    /// # Errors
    ///
    /// The resolver's error when a host name does not resolve (or resolves
    /// to nothing).
    pub async fn resolve(&self, default_port: u16) -> io::Result<Vec<SocketAddr>> {
        let port = self.port.unwrap_or(default_port);
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Name(name) => {
                let found: Vec<_> = tokio::net::lookup_host((name.as_str(), port))
                    .await?
                    .collect();
                if found.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the name resolves to no address",
                    ));
                }
                Ok(found)
            }
        }
    }
}

/// Why an `--addr` value is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddrError(&'static str);

impl fmt::Display for BindAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BindAddrError {}

impl FromStr for BindAddr {
    type Err = BindAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(socket) = s.parse::<SocketAddr>() {
            return Ok(Self {
                host: Host::Ip(socket.ip()),
                port: Some(socket.port()),
            });
        }
        // A bare IPv6 address has colons of its own: try the IPs first.
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::ip(ip));
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            return inner
                .parse::<IpAddr>()
                .map(Self::ip)
                .map_err(|_| BindAddrError("expected an IPv6 address between [ and ]"));
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().map_err(|_| {
                    BindAddrError("expected HOST[:PORT] with a port from 0 to 65535")
                })?;
                (host, Some(port))
            }
            None => (s, None),
        };
        let valid_name = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid_name {
            return Err(BindAddrError(
                "expected HOST[:PORT]: an IP address or a host name, e.g. 0.0.0.0, localhost:8080, [::1]:9000",
            ));
        }
        Ok(Self {
            host: Host::Name(host.to_owned()),
            port,
        })
    }
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (Host::Ip(IpAddr::V6(ip)), Some(port)) => write!(f, "[{ip}]:{port}"),
            (Host::Ip(ip), Some(port)) => write!(f, "{ip}:{port}"),
            (Host::Ip(ip), None) => write!(f, "{ip}"),
            (Host::Name(name), Some(port)) => write!(f, "{name}:{port}"),
            (Host::Name(name), None) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn parse(s: &str) -> BindAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ips_names_and_ports_are_accepted() {
        assert_eq!(
            parse("0.0.0.0"),
            BindAddr::ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(parse("::1"), BindAddr::ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(
            parse("[::1]"),
            BindAddr::ip(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        let v6 = parse("[::1]:9000");
        assert_eq!(
            (v6.to_string(), v6.port()),
            ("[::1]:9000".to_owned(), Some(9000))
        );
        let name = parse("localhost:8080");
        assert_eq!(
            (name.to_string(), name.port()),
            ("localhost:8080".to_owned(), Some(8080))
        );
        assert_eq!(parse("api.example-1.internal").port(), None);
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            ":8080",
            "localhost:",
            "localhost:http",
            "localhost:70000",
            "[::1",
            "[nope]:1",
            "a..b",
            "under_score",
            "http://localhost",
        ] {
            assert!(bad.parse::<BindAddr>().is_err(), "{bad:?} was accepted");
        }
    }

    #[tokio::test]
    async fn the_default_port_applies_only_when_none_is_given() {
        let ip = parse("127.0.0.1").resolve(8080).await.unwrap();
        assert_eq!(ip, vec![SocketAddr::from(([127, 0, 0, 1], 8080))]);
        let ip = parse("127.0.0.1:9000").resolve(8080).await.unwrap();
        assert_eq!(ip, vec![SocketAddr::from(([127, 0, 0, 1], 9000))]);
        let name = parse("localhost:9000").resolve(8080).await.unwrap();
        assert!(!name.is_empty());
        assert!(
            name.iter()
                .all(|a| a.port() == 9000 && a.ip().is_loopback()),
            "{name:?}"
        );
    }
}
