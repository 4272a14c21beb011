//! Instants for date constraints and the clock that supplies "now".
//!
//! Date constraints compare against the context's `current_time` when it is
//! set, otherwise against [`Clock::now`]. Timestamps are parsed from RFC 3339
//! (`2022-01-29T13:00:00.000Z`, `2022-01-22T13:00:00+02:00`) without a date
//! library.
//!
//! ```
//! use palisade_flags::time::Timestamp;
//!
//! let utc: Timestamp = "2022-01-22T11:30:00.000Z".parse().unwrap();
//! let offset: Timestamp = "2022-01-22T13:30:00+02:00".parse().unwrap();
//! assert_eq!(utc, offset);
//! assert!("22/01/2022".parse::<Timestamp>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `millis` milliseconds after the Unix epoch.
    #[must_use]
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The instant a [`SystemTime`] stands for (saturating far outside ±292
    /// million years).
    #[must_use]
    pub fn from_system_time(time: SystemTime) -> Self {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Self(millis(after)),
            Err(before) => Self(-millis(before.duration())),
        }
    }
}

/// An RFC 3339 timestamp could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidTimestamp;

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RFC 3339 timestamp (expected e.g. 2022-01-29T13:00:00.000Z)")
    }
}

impl std::error::Error for InvalidTimestamp {}

/// RFC 3339 in UTC to the millisecond, `2022-01-29T13:00:00.000Z`: what
/// [`FromStr`] reads back to the same instant.
///
/// ```
/// use palisade_flags::time::Timestamp;
///
/// let at = Timestamp::from_unix_millis(1_643_461_200_000);
/// assert_eq!(at.to_string(), "2022-01-29T13:00:00.000Z");
/// assert_eq!(at.to_string().parse::<Timestamp>(), Ok(at));
/// ```
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::native::rfc3339(*self))
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_rfc3339(text.trim().as_bytes()).ok_or(InvalidTimestamp)
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction](Z|±HH:MM)`.
fn parse_rfc3339(b: &[u8]) -> Option<Timestamp> {
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            // Only the first three fraction digits count (milliseconds).
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(at)? {
        b'Z' | b'z' if at + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if at + 6 == b.len() && b[at + 3] == b':' => {
            let (h, m) = (digits(at + 1..at + 3)?, digits(at + 4..at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(Timestamp(seconds * 1_000 + millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Where evaluation reads "now" for date constraints when the context does
/// not carry a current time. Inject a fixed clock in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // The default clock is the wall clock; tests inject their own.
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<i64> {
        text.parse::<Timestamp>().ok().map(Timestamp::unix_millis)
    }

    #[test]
    fn parses_utc_and_offsets_to_the_same_instant() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2022-01-29T13:00:00.000Z"), Some(1_643_461_200_000));
        assert_eq!(parse("2022-01-29T15:00:00+02:00"), Some(1_643_461_200_000));
        assert_eq!(parse("2022-01-29T12:30:00-00:30"), Some(1_643_461_200_000));
        assert_eq!(parse("2000-02-29T00:00:00.5Z"), Some(951_782_400_500));
        assert_eq!(parse("1969-12-31T23:59:59.999Z"), Some(-1));
    }

    #[test]
    fn rejects_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2022-01-29",
            "2022-01-29T13:00:00",
            "2022-13-01T00:00:00Z",
            "2022-02-30T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2022-01-29T24:00:00Z",
            "2022-01-29T13:00:00.Z",
            "2022-01-29T13:00:00+0200",
            "2022-01-29T13:00:00Zjunk",
            "２０２２-01-29T13:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
