//! Durations on the command line: `500ms`, `10s`, `5m`, `1h`, or a bare
//! number of seconds.

use std::time::Duration;

/// Parses a duration flag (a clap value parser).
///
/// # Errors
///
/// A one-line message for anything but a whole number with an optional
/// `ms`, `s`, `m` or `h` suffix.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let usage = || format!("`{text}` is not a duration; write e.g. 500ms, 10s, 5m or 1h");
    let n: u64 = number.parse().map_err(|_| usage())?;
    let seconds = |factor: u64| n.checked_mul(factor).map(Duration::from_secs);
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => None,
    }
    .ok_or_else(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "s",
            "1.5s",
            "-1s",
            "10 days",
            "1d",
            "99999999999999999999h",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }
}
