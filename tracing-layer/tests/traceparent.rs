//! Table tests of the `traceparent` grammar, from W3C Trace Context Level 2,
//! "traceparent Header Field Values" and "Versioning of traceparent".

use palisade_tracing_layer::propagate::{TraceFlags, TraceParent};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn tp(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

#[test]
fn valid_version_00_values_parse_and_print_back_identically() {
    for flags in ["00", "01", "02", "03"] {
        let value = tp("00", TRACE, PARENT, flags);
        let parsed = TraceParent::parse(&value);
        assert_eq!(parsed.map(|p| p.to_string()), Ok(value.clone()), "{value}");
    }
    let parsed = TraceParent::parse(&tp("00", TRACE, PARENT, "01"));
    assert_eq!(
        parsed.map(|p| (p.trace_id().to_string(), p.parent_id().to_string())),
        Ok((TRACE.into(), PARENT.into()))
    );
}

#[test]
fn invalid_forms_are_rejected_with_a_reason() {
    let upper_trace = TRACE.to_uppercase();
    let cases: Vec<(String, &str)> = vec![
        // Lengths.
        (
            String::new(),
            "version is not two lowercase hex digits and a dash",
        ),
        (
            "00".into(),
            "version is not two lowercase hex digits and a dash",
        ),
        (
            tp("00", &TRACE[1..], PARENT, "01"),
            "version 00 is not exactly 55 characters",
        ),
        (
            tp("00", TRACE, &PARENT[1..], "01"),
            "version 00 is not exactly 55 characters",
        ),
        (
            tp("00", TRACE, PARENT, "1"),
            "version 00 is not exactly 55 characters",
        ),
        (
            tp("00", TRACE, PARENT, "011"),
            "version 00 is not exactly 55 characters",
        ),
        (
            format!("{}-00", tp("00", TRACE, PARENT, "01")),
            "version 00 is not exactly 55 characters",
        ),
        (
            tp("0", TRACE, PARENT, "01"),
            "version is not two lowercase hex digits and a dash",
        ),
        (
            tp("000", TRACE, PARENT, "01"),
            "version is not two lowercase hex digits and a dash",
        ),
        // Case.
        (
            tp("00", &upper_trace, PARENT, "01"),
            "trace-id is not 32 lowercase hex digits",
        ),
        (
            tp("00", TRACE, "00F067AA0BA902B7", "01"),
            "parent-id is not 16 lowercase hex digits",
        ),
        (
            tp("00", TRACE, PARENT, "0A"),
            "trace-flags is not two lowercase hex digits",
        ),
        (
            tp("0A", TRACE, PARENT, "01"),
            "version is not two lowercase hex digits and a dash",
        ),
        // All-zero ids.
        (
            tp("00", &"0".repeat(32), PARENT, "01"),
            "trace-id is all zeros",
        ),
        (
            tp("00", TRACE, &"0".repeat(16), "01"),
            "parent-id is all zeros",
        ),
        // Version ff.
        (tp("ff", TRACE, PARENT, "01"), "version ff is forbidden"),
        (
            format!("{}-extra", tp("ff", TRACE, PARENT, "01")),
            "version ff is forbidden",
        ),
        // Stray characters: a sign that other parsers read as part of a number, non-hex, wrong separators.
        (
            tp("00", &format!("+{}", &TRACE[1..]), PARENT, "01"),
            "trace-id is not 32 lowercase hex digits",
        ),
        (
            tp("00", TRACE, &format!("-{}", &PARENT[1..]), "01"),
            "parent-id is not 16 lowercase hex digits",
        ),
        (
            tp("00", &format!("{}g", &TRACE[1..]), PARENT, "01"),
            "trace-id is not 32 lowercase hex digits",
        ),
        (
            tp("00", TRACE, PARENT, "0."),
            "trace-flags is not two lowercase hex digits",
        ),
        (
            format!("00_{TRACE}-{PARENT}-01"),
            "version is not two lowercase hex digits and a dash",
        ),
        (
            format!("00-{TRACE}_{PARENT}-01"),
            "fields are not separated by dashes",
        ),
        (
            format!("00-{TRACE}-{PARENT}_01"),
            "fields are not separated by dashes",
        ),
        (
            format!("00-{TRACE}-{PARENT}-\u{e9}"),
            "trace-flags is not two lowercase hex digits",
        ),
        // Whitespace: none inside, and none around at this level (see the context tests for OWS).
        (
            format!(" {}", tp("00", TRACE, PARENT, "01")),
            "version is not two lowercase hex digits and a dash",
        ),
        (
            format!("{} ", tp("00", TRACE, PARENT, "01")),
            "version 00 is not exactly 55 characters",
        ),
        (
            format!("00- {}-{PARENT}-01", &TRACE[1..]),
            "trace-id is not 32 lowercase hex digits",
        ),
        (
            format!("00-{TRACE}-{PARENT}- 1"),
            "trace-flags is not two lowercase hex digits",
        ),
        // Future versions: at least 55 characters, then only a dash may follow the flags.
        (tp("01", TRACE, PARENT, "0"), "shorter than 55 characters"),
        (
            format!("{}x", tp("01", TRACE, PARENT, "01")),
            "trace-flags not followed by a dash",
        ),
        (
            format!("{}1-x", tp("cc", TRACE, PARENT, "01")),
            "trace-flags not followed by a dash",
        ),
        (
            tp("01", &"0".repeat(32), PARENT, "01"),
            "trace-id is all zeros",
        ),
        (
            tp("01", &upper_trace, PARENT, "01"),
            "trace-id is not 32 lowercase hex digits",
        ),
    ];
    for (value, reason) in cases {
        let err = TraceParent::parse(&value).err();
        assert_eq!(err.as_ref().map(|e| e.reason()), Some(reason), "{value:?}");
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, format!("invalid traceparent: {reason}"));
    }
}

#[test]
fn future_versions_are_read_as_00_with_or_without_extra_fields() {
    for value in [
        tp("01", TRACE, PARENT, "01"),
        format!("{}-", tp("01", TRACE, PARENT, "01")),
        format!(
            "{}-what-the-future-will-be-like",
            tp("cc", TRACE, PARENT, "01")
        ),
        format!("{}-\u{1F600} anything", tp("fe", TRACE, PARENT, "01")),
    ] {
        let parsed = TraceParent::parse(&value);
        // Sent on downgraded to version 00, extra fields dropped.
        assert_eq!(
            parsed.map(|p| p.to_string()),
            Ok(tp("00", TRACE, PARENT, "01")),
            "{value}"
        );
    }
}

#[test]
fn flags_keep_sampled_and_random_and_drop_unknown_bits() {
    let flags = |value: &str| TraceParent::parse(value).map(|p| p.flags());
    assert_eq!(
        flags(&tp("00", TRACE, PARENT, "00")),
        Ok(TraceFlags::empty())
    );
    assert_eq!(
        flags(&tp("00", TRACE, PARENT, "01")),
        Ok(TraceFlags::SAMPLED)
    );
    assert_eq!(
        flags(&tp("00", TRACE, PARENT, "02")),
        Ok(TraceFlags::RANDOM_TRACE_ID)
    );
    // "Other Flags ... Vendors MUST set those to zero."
    let ff = TraceParent::parse(&tp("00", TRACE, PARENT, "ff"));
    assert_eq!(ff.map(|p| p.to_string()), Ok(tp("00", TRACE, PARENT, "03")));
    let nine = TraceParent::parse(&tp("00", TRACE, PARENT, "09"));
    assert_eq!(
        nine.map(|p| p.to_string()),
        Ok(tp("00", TRACE, PARENT, "01"))
    );
    // A higher version: only the sampled bit is read ("Parse the `sampled` bit of `flags`").
    assert_eq!(
        flags(&tp("01", TRACE, PARENT, "03")),
        Ok(TraceFlags::SAMPLED)
    );
    assert_eq!(
        flags(&tp("01", TRACE, PARENT, "02")),
        Ok(TraceFlags::empty())
    );
}
