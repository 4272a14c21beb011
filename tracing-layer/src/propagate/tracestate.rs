//! The `tracestate` header: a list of up to 32 vendor `key=value` members.

use std::fmt;
use std::str::FromStr;

use super::error::InvalidTraceState;

/// The most members a list may hold (Trace Context Level 2, "list": "There can
/// be a maximum of 32 `list-member`s in a `list`").
pub const MAX_MEMBERS: usize = 32;

/// The longest key (Level 2, "Key": "( lcalpha / DIGIT ) 0*255 ( keychar )").
const MAX_KEY_LEN: usize = 256;

/// The longest value (Level 2, "Value": "up to 256 printable ASCII characters").
const MAX_VALUE_LEN: usize = 256;

/// Members longer than this are the first to go when [`TraceState::insert`]
/// must make room ("Entries larger than `128` characters long SHOULD be removed first").
const LONG_MEMBER: usize = 128;

/// A parsed `tracestate`: an ordered list of vendor entries, left-most first.
///
/// The whole list is valid or it is dropped: a bad key, a bad value, a
/// duplicate key or more than [`MAX_MEMBERS`] members make it invalid. Empty
/// and whitespace-only members (`a=1,,b=2`, `a=1, ,b=2`) are allowed and
/// skipped. There is no length cap beyond the grammar's, so the spec's "Vendors
/// SHOULD propagate at least 512 characters of a combined header" always holds.
///
/// ```
/// use palisade_tracing_layer::propagate::TraceState;
///
/// let mut state: TraceState = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE".parse()?;
/// assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
/// // Our hop updates its entry, which moves to the left.
/// state.insert("congo", "ucfJifl5GOE")?;
/// assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
/// # Ok::<(), palisade_tracing_layer::propagate::InvalidTraceState>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

impl TraceState {
    /// An empty list.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            members: Vec::new(),
        }
    }

    /// Parses one `tracestate` value (several header lines: see
    /// [`TraceState::parse_lines`]).
    ///
    /// # Errors
    ///
    /// [`InvalidTraceState`] when a member is not `key=value` by the Level 2
    /// grammar, a key repeats, or there are more than [`MAX_MEMBERS`] members.
    pub fn parse(value: &str) -> Result<Self, InvalidTraceState> {
        Self::parse_lines([value.as_bytes()])
    }

    /// Parses several `tracestate` header lines as one list, in order.
    ///
    /// "When receiving multiple `tracestate` header fields, they MUST be
    /// combined into a single header according to RFC7230": joined with `,`.
    ///
    /// # Errors
    ///
    /// As [`TraceState::parse`]; also when a line is not ASCII.
    pub fn parse_lines<'a>(
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, InvalidTraceState> {
        let mut members: Vec<(String, String)> = Vec::new();
        for line in lines {
            for member in line.split(|&b| b == b',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                if members.len() == MAX_MEMBERS {
                    return Err(InvalidTraceState::new("more than 32 list-members"));
                }
                let eq = member
                    .iter()
                    .position(|&b| b == b'=')
                    .ok_or(InvalidTraceState::new("list-member has no '='"))?;
                let (key, value) = (&member[..eq], &member[eq + 1..]);
                let key = validate_key(key)?;
                let value = validate_value(value)?;
                if members.iter().any(|(k, _)| k == key) {
                    return Err(InvalidTraceState::new("duplicate key"));
                }
                members.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(Self { members })
    }

    /// The value for `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value` and moves it to the left of the list.
    ///
    /// "Modified keys MUST be moved to the beginning (left) of the list"; "The
    /// new key-value pair SHOULD be added to the beginning of the list". When
    /// the list would exceed [`MAX_MEMBERS`], one other member is dropped: the
    /// right-most one longer than 128 characters, else the right-most one
    /// ("tracestate Limits").
    ///
    /// # Errors
    ///
    /// [`InvalidTraceState`] when `key` or `value` break the grammar; the list is unchanged.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidTraceState> {
        let key = validate_key(key.as_bytes())?;
        let value = validate_value(value.as_bytes())?;
        self.members.retain(|(k, _)| k != key);
        if self.members.len() == MAX_MEMBERS {
            let long = self
                .members
                .iter()
                .rposition(|(k, v)| k.len() + 1 + v.len() > LONG_MEMBER);
            let drop = long.unwrap_or(MAX_MEMBERS - 1);
            self.members.remove(drop);
        }
        self.members.insert(0, (key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(at).1)
    }

    /// The members, left-most first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the list is empty (then no `tracestate` header is sent).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl FromStr for TraceState {
    type Err = InvalidTraceState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Writes `key=value` members separated by `,` with no optional whitespace.
impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// Strips SP and HTAB at both ends: "Spaces and horizontal tabs surrounding
/// `list-member`s are ignored", and HTTP's OWS around a field value.
pub(super) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Level 2, "Key" (<https://www.w3.org/TR/trace-context-2/#key>):
///
/// ```abnf
/// key = ( lcalpha / DIGIT ) 0*255 ( keychar )
/// keychar    = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@"
/// lcalpha    = %x61-7A ; a-z
/// ```
///
/// Level 1's split into `simple-key` and `tenant@system` keys is gone: `@` is
/// an ordinary key character anywhere but first, any key may start with a
/// digit, and the only length limit is 256 characters in all.
fn validate_key(key: &[u8]) -> Result<&str, InvalidTraceState> {
    let first_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let keychar = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-*/@".contains(b);
    let ok = key.len() <= MAX_KEY_LEN
        && key.first().is_some_and(first_ok)
        && key.iter().skip(1).all(keychar);
    if !ok {
        return Err(InvalidTraceState::new("key does not match the key grammar"));
    }
    // All bytes checked above are ASCII.
    std::str::from_utf8(key).map_err(|_| InvalidTraceState::new("key is not ascii"))
}

/// Level 2, "Value": `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B /
/// %x2D-3C / %x3E-7E`, `chr = %x20 / nblk-chr`. Leading spaces belong to the
/// value; trailing ones were removed as optional whitespace.
fn validate_value(value: &[u8]) -> Result<&str, InvalidTraceState> {
    let chr = |b: &u8| matches!(b, 0x20..=0x7e) && *b != b',' && *b != b'=';
    if value.is_empty() || value.len() > MAX_VALUE_LEN || value.last() == Some(&b' ') {
        return Err(InvalidTraceState::new(
            "value is empty, too long or ends in a space",
        ));
    }
    if !value.iter().all(chr) {
        return Err(InvalidTraceState::new(
            "value has a character outside 0x20-0x7e or ',' or '='",
        ));
    }
    std::str::from_utf8(value).map_err(|_| InvalidTraceState::new("value is not ascii"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_value_spaces_are_ows_leading_are_kept() {
        let state = TraceState::parse("a= x  ,b=y\t");
        assert_eq!(state.as_ref().ok().and_then(|s| s.get("a")), Some(" x"));
        assert_eq!(state.map(|s| s.to_string()).as_deref(), Ok("a= x,b=y"));
    }

    #[test]
    fn insert_when_full_drops_the_rightmost_long_member_first() {
        let mut members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        members[3] = format!("k3={}", "x".repeat(200));
        let mut state = TraceState::parse(&members.join(",")).unwrap_or_default();
        assert_eq!(state.len(), 32);
        assert_eq!(state.insert("new", "1"), Ok(()));
        assert_eq!(state.len(), 32);
        assert_eq!(state.get("k3"), None);
        assert_eq!(state.get("k31"), Some("v"));
        assert_eq!(state.insert("newer", "2"), Ok(()));
        assert_eq!(state.get("k31"), None);
        assert_eq!(state.iter().next(), Some(("newer", "2")));
    }
}
