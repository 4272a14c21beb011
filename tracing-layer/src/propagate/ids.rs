//! The three fields of a `traceparent`: trace id, span (parent) id and flags.

use std::fmt;

/// The id of a whole distributed trace: 16 bytes, never all zero.
///
/// Trace Context Level 2, "trace-id": "All bytes as zero
/// (`00000000000000000000000000000000`) is considered an invalid value", so
/// this type cannot hold it. `Display` writes 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// The id of one span (one hop): 8 bytes, never all zero.
///
/// Trace Context Level 2, "parent-id": all zero bytes are invalid. `Display`
/// writes 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

macro_rules! id_impl {
    ($ty:ident, $n:literal) => {
        impl $ty {
            /// The id from its bytes, or `None` when they are all zero (invalid per the spec).
            #[must_use]
            pub const fn from_bytes(bytes: [u8; $n]) -> Option<Self> {
                let mut i = 0;
                while i < $n {
                    if bytes[i] != 0 {
                        return Some(Self(bytes));
                    }
                    i += 1;
                }
                None
            }

            /// The id's bytes.
            #[must_use]
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }

            /// A new id with every byte drawn from `rng`.
            ///
            /// Should every byte come out zero, the last byte is set to 1 so
            /// the id stays valid.
            #[must_use]
            pub fn random(rng: &mut impl rand::Rng) -> Self {
                let mut bytes = [0u8; $n];
                rng.fill_bytes(&mut bytes);
                if bytes.iter().all(|&b| b == 0) {
                    bytes[$n - 1] = 1;
                }
                Self(bytes)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_lower_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }
    };
}

id_impl!(TraceId, 16);
id_impl!(SpanId, 8);

/// The `trace-flags` byte: the sampled flag and the Level 2 random-trace-id flag.
///
/// Only the two flags the spec defines are kept. Trace Context Level 2,
/// "Other Flags": "The behavior of other flags, such as (`00000100`) is not
/// defined and is reserved for future use. Vendors MUST set those to zero." —
/// so [`TraceFlags::from_bits`] drops unknown bits and we never forward them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// The sampled flag (`0x01`): the caller may have recorded trace data.
    pub const SAMPLED: Self = Self(0x01);
    /// The random-trace-id flag (`0x02`, Level 2): at least the right-most
    /// 7 bytes of the trace id were generated randomly.
    pub const RANDOM_TRACE_ID: Self = Self(0x02);
    const KNOWN: u8 = 0x03;

    /// No flags set.
    #[must_use]
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Flags from a raw byte, keeping only the known bits (see the type docs).
    #[must_use]
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & Self::KNOWN)
    }

    /// The raw byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled flag is set.
    #[must_use]
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the random-trace-id flag is set.
    #[must_use]
    pub const fn is_random_trace_id(self) -> bool {
        self.0 & Self::RANDOM_TRACE_ID.0 != 0
    }

    /// These flags with the sampled flag set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        self.with(Self::SAMPLED, sampled)
    }

    /// These flags with the random-trace-id flag set or cleared.
    #[must_use]
    pub const fn with_random_trace_id(self, random: bool) -> Self {
        self.with(Self::RANDOM_TRACE_ID, random)
    }

    const fn with(self, flag: Self, on: bool) -> Self {
        if on {
            Self(self.0 | flag.0)
        } else {
            Self(self.0 & !flag.0)
        }
    }
}

impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lower_hex(f, &[self.0])
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TraceFlags({self}, sampled: {}, random: {})",
            self.is_sampled(),
            self.is_random_trace_id()
        )
    }
}

/// The value of one lowercase hex digit (`HEXDIGLC` in the spec's ABNF); uppercase is invalid.
const fn lower_hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes exactly `2 * N` lowercase hex digits.
pub(crate) fn decode_lower_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *byte = lower_hex_value(pair[0])? << 4 | lower_hex_value(pair[1])?;
    }
    Some(out)
}

/// Writes `bytes` as lowercase hex into `out` (two digits a byte, as far as both go).
pub(crate) fn encode_lower_hex(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
}

fn write_lower_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Ids are at most 16 bytes: format into a stack buffer and write once
    // (a `write!` per digit made formatting the slowest part of injecting).
    let mut buf = [0u8; 32];
    for (pair, &b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    let len = 2 * bytes.len().min(16);
    // Only ASCII hex digits were written.
    f.write_str(std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_flag_bits_are_dropped() {
        let flags = TraceFlags::from_bits(0xff);
        assert_eq!(flags.bits(), 0x03);
        assert!(flags.is_sampled() && flags.is_random_trace_id());
        assert_eq!(TraceFlags::from_bits(0x04), TraceFlags::empty());
    }

    #[test]
    fn setters_toggle_one_flag() {
        let f = TraceFlags::empty()
            .with_sampled(true)
            .with_random_trace_id(true);
        assert_eq!(f.to_string(), "03");
        assert_eq!(f.with_sampled(false).to_string(), "02");
        assert_eq!(f.with_random_trace_id(false).to_string(), "01");
    }

    #[test]
    fn zero_ids_do_not_exist() {
        assert!(TraceId::from_bytes([0; 16]).is_none());
        assert!(SpanId::from_bytes([0; 8]).is_none());
    }

    #[test]
    fn hex_is_lowercase_both_ways() {
        let bytes = decode_lower_hex::<8>(b"00f067aa0ba902b7");
        let id = bytes.and_then(SpanId::from_bytes);
        assert_eq!(
            id.map(|i| i.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(decode_lower_hex::<8>(b"00F067AA0BA902B7"), None);
        assert_eq!(decode_lower_hex::<8>(b"00f067aa0ba902b"), None);
    }
}
