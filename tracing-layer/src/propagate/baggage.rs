//! W3C Baggage (<https://www.w3.org/TR/baggage/>): the `baggage` header.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use http::header::HeaderName;

/// The `baggage` header name.
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// At most this many list-members ("a baggage-string … MUST NOT contain more
/// than 64 list-members").
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// At most this many bytes in the whole header ("MUST NOT exceed 8192 bytes").
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// A W3C Baggage list: keys, percent-decoded values and their properties,
/// in order.
///
/// Parsing is strict: a list that breaks the grammar (a key that is not a
/// token, a value with a character outside `baggage-octet` that is not
/// percent-encoded, a bad escape) or the limits (64 members, 8192 bytes) is
/// invalid as a whole and dropped. What [`Display`](fmt::Display) writes
/// always parses back to the same list.
///
/// ```
/// use palisade_tracing_layer::propagate::Baggage;
///
/// let baggage: Baggage = "userId=alice, serverNode=DF%2028;meta".parse()?;
/// assert_eq!(baggage.get("serverNode"), Some("DF 28"));
/// assert_eq!(baggage.to_string(), "userId=alice,serverNode=DF%2028;meta");
/// # Ok::<(), palisade_tracing_layer::propagate::InvalidBaggage>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    key: String,
    value: String,
    /// Each property as sent (`key` or `key=value`), whitespace removed.
    properties: Vec<String>,
}

/// Why a `baggage` header was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidBaggage(&'static str);

impl fmt::Display for InvalidBaggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid baggage: {}", self.0)
    }
}

impl std::error::Error for InvalidBaggage {}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `baggage-octet`: visible ASCII except `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

fn key(s: &str) -> Result<&str, InvalidBaggage> {
    let s = trim(s);
    if s.is_empty() || !s.bytes().all(is_tchar) {
        return Err(InvalidBaggage("a key is not a token"));
    }
    Ok(s)
}

fn decode(s: &str) -> Result<String, InvalidBaggage> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if !is_baggage_octet(b) {
            return Err(InvalidBaggage(
                "a value has a character that must be percent-encoded",
            ));
        }
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(InvalidBaggage("a bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| InvalidBaggage("a value is not UTF-8 once decoded"))
}

impl Baggage {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            members: Vec::new(),
        }
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of list-members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The decoded value of the first member named `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value.as_str())
    }

    /// The members as `(key, decoded value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members
            .iter()
            .map(|m| (m.key.as_str(), m.value.as_str()))
    }

    /// Sets `key` to `value` (replacing an earlier member of that key).
    ///
    /// # Errors
    ///
    /// [`InvalidBaggage`] when `key` is not a token, or when the list would
    /// break the limits.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidBaggage> {
        let key = self::key(key)?.to_owned();
        let mut next = self.clone();
        next.members.retain(|m| m.key != key);
        next.members.push(Member {
            key,
            value: value.to_owned(),
            properties: Vec::new(),
        });
        next.check_limits()?;
        *self = next;
        Ok(())
    }

    /// Parses the `baggage` header lines of a request, combined in order as
    /// one list.
    ///
    /// # Errors
    ///
    /// [`InvalidBaggage`] when the combined list is invalid.
    pub fn parse_lines<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, InvalidBaggage> {
        let mut members = Vec::new();
        let mut bytes = 0;
        for line in lines {
            bytes += line.len();
            if bytes > MAX_BAGGAGE_BYTES {
                return Err(InvalidBaggage("longer than 8192 bytes"));
            }
            let line = std::str::from_utf8(line).map_err(|_| InvalidBaggage("not ASCII"))?;
            for member in line.split(',') {
                if trim(member).is_empty() {
                    continue;
                }
                members.push(parse_member(member)?);
                if members.len() > MAX_BAGGAGE_MEMBERS {
                    return Err(InvalidBaggage("more than 64 list-members"));
                }
            }
        }
        Ok(Self { members })
    }

    fn check_limits(&self) -> Result<(), InvalidBaggage> {
        if self.members.len() > MAX_BAGGAGE_MEMBERS {
            return Err(InvalidBaggage("more than 64 list-members"));
        }
        if self.to_string().len() > MAX_BAGGAGE_BYTES {
            return Err(InvalidBaggage("longer than 8192 bytes"));
        }
        Ok(())
    }
}

fn parse_member(member: &str) -> Result<Member, InvalidBaggage> {
    let mut parts = member.split(';');
    let head = parts.next().unwrap_or_default();
    let (k, v) = head
        .split_once('=')
        .ok_or(InvalidBaggage("a list-member has no `=`"))?;
    let key = key(k)?.to_owned();
    let value = decode(trim(v))?;
    let mut properties = Vec::new();
    for property in parts {
        let property = match property.split_once('=') {
            Some((k, v)) => {
                let v = trim(v);
                decode(v)?;
                format!("{}={v}", key_of(k)?)
            }
            None => key_of(property)?.to_owned(),
        };
        properties.push(property);
    }
    Ok(Member {
        key,
        value,
        properties,
    })
}

fn key_of(s: &str) -> Result<&str, InvalidBaggage> {
    key(s)
}

impl FromStr for Baggage {
    type Err = InvalidBaggage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_lines([s.as_bytes()])
    }
}

impl fmt::Display for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, member) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            f.write_str(&member.key)?;
            f.write_char('=')?;
            for &b in member.value.as_bytes() {
                if is_baggage_octet(b) && b != b'%' {
                    f.write_char(char::from(b))?;
                } else {
                    write!(f, "%{b:02X}")?;
                }
            }
            for property in &member.properties {
                f.write_char(';')?;
                f.write_str(property)?;
            }
        }
        Ok(())
    }
}
