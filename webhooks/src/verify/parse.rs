//! Reading header values without ever panicking on what a sender put there.

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::ConstantTimeEq as _;

use super::VerifyError;
use crate::sign::encoding::{MAX_SIG_B64_LEN, SIG_BASE64};

/// The first value of `name`, or `MissingHeader` when it is absent or blank.
pub(crate) fn required<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    display: &'static str,
) -> Result<&'h HeaderValue, VerifyError> {
    match headers.get(name) {
        Some(v) if !is_blank(v) => Ok(v),
        _ => Err(VerifyError::MissingHeader(display)),
    }
}

/// Whether a header value is empty or only whitespace (treated as absent).
pub(crate) fn is_blank(value: &HeaderValue) -> bool {
    value.as_bytes().trim_ascii().is_empty()
}

/// The value as visible ASCII text, or `MalformedHeader`.
pub(crate) fn text<'h>(
    value: &'h HeaderValue,
    display: &'static str,
) -> Result<&'h str, VerifyError> {
    value.to_str().map_err(|_| VerifyError::MalformedHeader {
        header: display.to_owned(),
        reason: "not visible ASCII",
    })
}

/// A Unix timestamp in seconds: ASCII digits only (no sign, no fraction, no
/// exponent), at least one, fitting an `i64`.
pub(crate) fn timestamp(s: &[u8]) -> Result<i64, VerifyError> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return Err(VerifyError::InvalidTimestamp);
    }
    s.iter()
        .try_fold(0i64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
        .ok_or(VerifyError::InvalidTimestamp)
}

/// Accepts `ts` when it is at most `past` seconds older than `now` and, if
/// `future` is given, at most that many seconds ahead of it (both bounds
/// inclusive, as the reference libraries).
pub(crate) fn check_window(
    ts: i64,
    now: i64,
    past: i64,
    future: Option<i64>,
) -> Result<(), VerifyError> {
    let age = now.saturating_sub(ts);
    if age > past {
        return Err(VerifyError::TimestampTooOld { age_secs: age });
    }
    if let Some(future) = future {
        let ahead = ts.saturating_sub(now);
        if ahead > future {
            return Err(VerifyError::TimestampTooNew { ahead_secs: ahead });
        }
    }
    Ok(())
}

/// Decodes base64 `text` into `buf` and returns the bytes, or `None` when it
/// is not base64 or too long for any signature we check.
pub(crate) fn base64_into<'b>(text: &[u8], buf: &'b mut [u8; 66]) -> Option<&'b [u8]> {
    if text.len() > MAX_SIG_B64_LEN {
        return None;
    }
    let len = SIG_BASE64.decode_slice(text, buf).ok()?;
    buf.get(..len)
}

/// Constant-time equality of two byte strings (their lengths are public).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Word by word: subtle's per-byte slice comparison costs a barrier per
    // byte, which shows at 1 KiB bodies.
    let (a_words, a_tail) = a.as_chunks::<8>();
    let (b_words, b_tail) = b.as_chunks::<8>();
    let words = a_words
        .iter()
        .zip(b_words)
        .fold(subtle::Choice::from(1), |eq, (x, y)| {
            eq & u64::from_ne_bytes(*x).ct_eq(&u64::from_ne_bytes(*y))
        });
    bool::from(words & a_tail.ct_eq(b_tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_compares_every_byte() {
        let a: Vec<u8> = (0..37).collect();
        assert!(ct_eq(&a, &a.clone()));
        for i in 0..a.len() {
            let mut b = a.clone();
            b[i] ^= 0x80;
            assert!(!ct_eq(&a, &b), "byte {i}");
        }
        assert!(!ct_eq(&a, &a[..36]));
        assert!(ct_eq(&[], &[]));
    }

    #[test]
    fn timestamps_are_plain_non_negative_integers() {
        assert_eq!(timestamp(b"1614265330"), Ok(1_614_265_330));
        assert_eq!(timestamp(b"0"), Ok(0));
        assert_eq!(timestamp(b"9223372036854775807"), Ok(i64::MAX));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1.5",
            b"1e9",
            b" 1",
            b"hello",
            b"9223372036854775808",
            b"99999999999999999999",
        ] {
            assert_eq!(
                timestamp(bad),
                Err(VerifyError::InvalidTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn window_bounds_are_inclusive_and_saturate() {
        assert_eq!(check_window(0, 300, 300, Some(300)), Ok(()));
        assert_eq!(
            check_window(0, 301, 300, Some(300)),
            Err(VerifyError::TimestampTooOld { age_secs: 301 })
        );
        assert_eq!(check_window(300, 0, 300, Some(300)), Ok(()));
        assert_eq!(
            check_window(301, 0, 300, Some(300)),
            Err(VerifyError::TimestampTooNew { ahead_secs: 301 })
        );
        assert_eq!(check_window(i64::MAX, 0, 300, None), Ok(()));
        assert_eq!(
            check_window(0, i64::MIN, 300, Some(300)),
            Err(VerifyError::TimestampTooNew {
                ahead_secs: i64::MAX
            })
        );
    }
}
