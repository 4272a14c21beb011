//! The `traceparent` header: parsing and formatting per W3C Trace Context Level 2.

use std::fmt;
use std::str::FromStr;

use super::error::InvalidTraceParent;
use super::ids::{SpanId, TraceFlags, TraceId, decode_lower_hex};

/// The length of a version `00` value: `2 + 1 + 32 + 1 + 16 + 1 + 2`.
const V00_LEN: usize = 55;

/// A parsed `traceparent` value: trace id, parent (span) id and flags.
///
/// Parsing follows Trace Context Level 2, "traceparent Header Field Values"
/// and "Versioning of traceparent"; formatting always writes version `00`,
/// the highest version this crate knows ("Vendors MUST use these fields to
/// construct the new `traceparent` field according to the highest version of
/// the specification known to the implementation").
///
/// ```
/// use palisade_tracing_layer::propagate::TraceParent;
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert!(tp.flags().is_sampled());
/// assert_eq!(tp.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
///
/// // Uppercase hex, version ff and all-zero ids are rejected.
/// assert!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// assert!("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// # Ok::<(), palisade_tracing_layer::propagate::InvalidTraceParent>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

impl TraceParent {
    /// A `traceparent` from its three fields.
    #[must_use]
    pub const fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        Self {
            trace_id,
            parent_id,
            flags,
        }
    }

    /// The trace id.
    #[must_use]
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The parent id: the span id of the caller's hop.
    #[must_use]
    pub const fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The flags.
    #[must_use]
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// Parses one `traceparent` value exactly; no surrounding whitespace is allowed here
    /// (HTTP's optional whitespace around a field value is removed by
    /// [`TraceContext::extract`](super::TraceContext::extract)).
    ///
    /// # Errors
    ///
    /// [`InvalidTraceParent`] for anything the spec says to ignore: a version
    /// that is not two lowercase hex digits followed by `-`, version `ff`, a
    /// version `00` value that is not exactly 55 characters, a higher version
    /// shorter than 55 characters or with a character other than `-` after the
    /// flags, fields that are not lowercase hex of the right length, missing
    /// dashes, or an all-zero trace id or parent id.
    pub fn parse(value: &str) -> Result<Self, InvalidTraceParent> {
        Self::parse_bytes(value.as_bytes())
    }

    /// [`TraceParent::parse`] over raw bytes (a header value need not be UTF-8).
    pub(crate) fn parse_bytes(b: &[u8]) -> Result<Self, InvalidTraceParent> {
        // "When the version prefix cannot be parsed (it's not 2 hex characters
        // followed by a dash (`-`)), the implementation should restart the trace."
        let version = match (b.get(..2), b.get(2)) {
            (Some(v), Some(b'-')) => decode_lower_hex::<1>(v).map(|[v]| v),
            _ => None,
        }
        .ok_or(InvalidTraceParent::new(
            "version is not two lowercase hex digits and a dash",
        ))?;
        // "version: ... Version `ff` is invalid."
        if version == 0xff {
            return Err(InvalidTraceParent::new("version ff is forbidden"));
        }
        if version == 0x00 && b.len() != V00_LEN {
            return Err(InvalidTraceParent::new(
                "version 00 is not exactly 55 characters",
            ));
        }
        // Versioning of traceparent: "If the size of the header is shorter than
        // 55 characters, the vendor should not parse the header".
        if b.len() < V00_LEN {
            return Err(InvalidTraceParent::new("shorter than 55 characters"));
        }
        // "... the 2 characters [of flags] are either at the end of the string or followed by a dash."
        if b.len() > V00_LEN && b[V00_LEN] != b'-' {
            return Err(InvalidTraceParent::new(
                "trace-flags not followed by a dash",
            ));
        }
        if b[35] != b'-' || b[52] != b'-' {
            return Err(InvalidTraceParent::new(
                "fields are not separated by dashes",
            ));
        }
        // trace-id / parent-id: "All bytes as zero ... is considered an invalid
        // value"; "vendors MUST ignore the `traceparent`".
        let trace_id = decode_lower_hex::<16>(&b[3..35]).ok_or(InvalidTraceParent::new(
            "trace-id is not 32 lowercase hex digits",
        ))?;
        let trace_id = TraceId::from_bytes(trace_id)
            .ok_or(InvalidTraceParent::new("trace-id is all zeros"))?;
        let parent_id = decode_lower_hex::<8>(&b[36..52]).ok_or(InvalidTraceParent::new(
            "parent-id is not 16 lowercase hex digits",
        ))?;
        let parent_id = SpanId::from_bytes(parent_id)
            .ok_or(InvalidTraceParent::new("parent-id is all zeros"))?;
        let [flags] = decode_lower_hex::<1>(&b[53..55]).ok_or(InvalidTraceParent::new(
            "trace-flags is not two lowercase hex digits",
        ))?;
        let flags = if version == 0x00 {
            TraceFlags::from_bits(flags)
        } else {
            // Versioning of traceparent: for a higher version, "Parse the
            // `sampled` bit of `flags`" — the only flag the spec lets us read
            // from a version we do not know.
            TraceFlags::from_bits(flags & TraceFlags::SAMPLED.bits())
        };
        Ok(Self {
            trace_id,
            parent_id,
            flags,
        })
    }
}

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn reasons_name_the_broken_field() {
        let reason = |s: &str| TraceParent::parse(s).err().map(|e| e.reason());
        assert_eq!(reason(VALID), None);
        assert_eq!(
            reason(
                &VALID
                    .replace("4bf92f35", "00000000")
                    .replace("77b34da6a3ce929d0e0e4736", "000000000000000000000000")
            ),
            Some("trace-id is all zeros")
        );
        assert_eq!(
            reason(&VALID.replace("00f067aa0ba902b7", "0000000000000000")),
            Some("parent-id is all zeros")
        );
        assert_eq!(
            reason(&VALID.replacen("00-", "ff-", 1)),
            Some("version ff is forbidden")
        );
        assert_eq!(
            reason(&VALID[..54]),
            Some("version 00 is not exactly 55 characters")
        );
        assert_eq!(
            reason(&VALID.replacen("00-", "01-", 1)[..54]),
            Some("shorter than 55 characters")
        );
        assert_eq!(
            reason(&VALID.replace("-01", "-0g")),
            Some("trace-flags is not two lowercase hex digits")
        );
    }

    #[test]
    fn higher_version_keeps_only_the_sampled_bit() {
        let tp = TraceParent::parse(&VALID.replacen("00-", "01-", 1).replace("-01", "-03-extra"));
        let flags = tp.map(|tp| tp.flags());
        assert_eq!(flags, Ok(TraceFlags::SAMPLED));
    }
}
