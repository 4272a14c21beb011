//! Table tests of the `tracestate` grammar and limits, from W3C Trace Context
//! Level 2, "tracestate Header Field Values" and "tracestate Limits".

use palisade_tracing_layer::propagate::{MAX_MEMBERS, TraceState};

fn members(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn reason(value: &str) -> Option<&'static str> {
    TraceState::parse(value).err().map(|e| e.reason())
}

#[test]
fn thirty_two_members_are_kept_thirty_three_drop_the_list() {
    let state = TraceState::parse(&members(32));
    assert_eq!(state.as_ref().map(TraceState::len), Ok(MAX_MEMBERS));
    assert_eq!(state.map(|s| s.to_string()), Ok(members(32)));
    assert_eq!(reason(&members(33)), Some("more than 32 list-members"));
    // Empty members do not count.
    assert!(TraceState::parse(&format!("{},,, ,", members(32))).is_ok());
}

/// Level 2 (w3c/trace-context#386) unified the key grammar:
/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )` with `@` among the keychars.
/// Keys Level 1 rejected (`foo@`, `foo@@bar`, a tenant longer than 241
/// characters) are valid, as the official suite tests since w3c/trace-context#584.
#[test]
fn keys_follow_the_level_2_grammar() {
    let longest = format!("a{}", "b".repeat(255));
    let longest_digit_first = format!("1{}", "b".repeat(255));
    let long_tenant = format!("{}@v", "t".repeat(242));
    let long_system = format!("t@{}", "v".repeat(15));
    for key in [
        "a",
        "foo",
        "1abc",
        "z9_-*/",
        longest.as_str(),
        longest_digit_first.as_str(),
        "0tenant@sys",
        "t@s",
        "a-b@x*/_",
        "foo@",
        "foo@@bar",
        "foo@bar@baz",
        "a@1s",
        long_tenant.as_str(),
        long_system.as_str(),
    ] {
        let state = TraceState::parse(&format!("{key}=v"));
        assert_eq!(
            state.map(|s| s.get(key).map(str::to_owned)),
            Ok(Some("v".into())),
            "{key}"
        );
    }
    let too_long = format!("a{}", "b".repeat(256));
    let too_long_with_at = format!("a{}@s", "t".repeat(254));
    for key in [
        "",
        "A",
        "Foo",
        "fOo",
        "_a",
        "*a",
        "/a",
        "-a",
        "@s",
        "a b",
        "a.b",
        "a=b",
        "a:b",
        "é",
        too_long.as_str(),
        too_long_with_at.as_str(),
    ] {
        assert!(TraceState::parse(&format!("{key}=v")).is_err(), "{key:?}");
    }
}

#[test]
fn values_are_printable_ascii_without_comma_or_equals() {
    let max = "v".repeat(256);
    for value in [
        "v",
        "t61rcWkgMzE",
        "!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
        " lead",
        "in side",
        max.as_str(),
    ] {
        let state = TraceState::parse(&format!("k={value}"));
        assert_eq!(
            state.map(|s| s.get("k").map(str::to_owned)),
            Ok(Some(value.into())),
            "{value:?}"
        );
    }
    let too_long = "v".repeat(257);
    for value in [
        "",
        "a=b",
        "a\tb",
        "caf\u{e9}",
        "a\u{7f}",
        too_long.as_str(),
        "   ",
    ] {
        assert!(
            TraceState::parse(&format!("k={value}")).is_err(),
            "{value:?}"
        );
    }
    assert_eq!(reason("k"), Some("list-member has no '='"));
}

#[test]
fn duplicate_keys_drop_the_list() {
    assert_eq!(reason("a=1,b=2,a=3"), Some("duplicate key"));
    assert_eq!(reason("t@s=1,t@s=2"), Some("duplicate key"));
    assert!(TraceState::parse("t@s=1,s=2,t=3").is_ok());
}

#[test]
fn empty_and_whitespace_members_are_skipped() {
    for value in [
        "",
        " ",
        ",",
        " , ,\t,",
        "a=1,,b=2",
        "a=1 , \t, b=2",
        ",a=1,b=2,",
        "\ta=1\t,  b=2  ",
    ] {
        let state = TraceState::parse(value);
        let expected = if value.contains('a') { "a=1,b=2" } else { "" };
        assert_eq!(
            state.map(|s| s.to_string()),
            Ok(expected.to_owned()),
            "{value:?}"
        );
    }
}

#[test]
fn header_lines_are_combined_in_order() {
    let lines: [&[u8]; 3] = [b"a=1,b=2", b"", b" c=3 ,d=4"];
    let state = TraceState::parse_lines(lines);
    assert_eq!(state.map(|s| s.to_string()), Ok("a=1,b=2,c=3,d=4".into()));
    // Limits and duplicates apply to the combined list.
    let dup: [&[u8]; 2] = [b"a=1", b"a=2"];
    assert!(TraceState::parse_lines(dup).is_err());
    let (first, second) = (
        members(20),
        (20..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(","),
    );
    assert!(TraceState::parse_lines([first.as_bytes(), second.as_bytes()]).is_err());
    assert!(TraceState::parse_lines([b"a=\xff".as_slice()]).is_err());
}

#[test]
fn at_least_512_characters_are_carried() {
    // Eight members of 100 characters each: 807 characters with the commas.
    let value = (0..8)
        .map(|i| format!("k{i}={}", "x".repeat(97)))
        .collect::<Vec<_>>()
        .join(",");
    assert!(value.len() > 512);
    let state = TraceState::parse(&value);
    assert_eq!(state.map(|s| s.to_string()), Ok(value));
}

#[test]
fn updates_move_the_key_left_and_keep_the_others_in_order() {
    let mut state =
        TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,x=1").unwrap_or_default();
    assert_eq!(state.insert("congo", "ucfJifl5GOE"), Ok(()));
    assert_eq!(
        state.to_string(),
        "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7,x=1"
    );
    assert_eq!(state.insert("new", "n"), Ok(()));
    assert_eq!(
        state.to_string(),
        "new=n,congo=ucfJifl5GOE,rojo=00f067aa0ba902b7,x=1"
    );
    assert_eq!(state.remove("rojo").as_deref(), Some("00f067aa0ba902b7"));
    // A bad key or value leaves the list as it was.
    assert!(state.insert("Bad", "v").is_err());
    assert!(state.insert("ok", "a,b").is_err());
    assert!(state.insert("ok", "trailing ").is_err());
    assert_eq!(state.to_string(), "new=n,congo=ucfJifl5GOE,x=1");
}

#[test]
fn inserting_into_a_full_list_keeps_32_members() {
    let mut state = TraceState::parse(&members(32)).unwrap_or_default();
    assert_eq!(state.insert("ours", "1"), Ok(()));
    assert_eq!(state.len(), 32);
    assert_eq!(state.iter().next(), Some(("ours", "1")));
    // "Then entries SHOULD be removed starting from the end of `tracestate`."
    assert_eq!(state.get("k31"), None);
    assert_eq!(state.get("k30"), Some("v30"));
}
