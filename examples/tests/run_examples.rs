//! Runs every example binary, as a user would with `cargo run`, and checks
//! what it prints: each one serves itself on 127.0.0.1, runs its demo, and
//! must exit 0 on its own within a bound.
//!
//! The binaries are built by `cargo test` with this crate and found through
//! `CARGO_BIN_EXE_<name>`, so no nested cargo runs.
#![allow(missing_docs)]
// The examples are other processes: waiting for them takes real time, so
// the bound on their run time is a wall-clock deadline, polled with a sleep.
#![allow(clippy::disallowed_methods)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long an example may run before it counts as hung (they take
/// about two seconds; the bound leaves room for a loaded machine).
const LIMIT: Duration = Duration::from_secs(60);

/// Runs the example at `exe` to completion and returns its standard output.
/// Fails if it runs longer than [`LIMIT`] or exits unsuccessfully.
fn run(exe: &str) -> String {
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
    // Drain both pipes while it runs, so a chatty example cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_string(&mut text).expect("UTF-8 output");
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));

    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the example's status") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{exe} did not exit within {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().expect("the stdout reader");
    let stderr = stderr.join().expect("the stderr reader");
    assert!(
        status.success(),
        "{exe} exited with {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// The lines of `output` that contain `needle`.
fn lines_with<'a>(output: &'a str, needle: &str) -> Vec<&'a str> {
    output.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn resilient_client_retries_blips_sheds_load_times_out_and_opens_the_breaker() {
    let out = run(env!("CARGO_BIN_EXE_resilient_client"));

    // Retries hide the flaky upstream's 503s: six successes for eight requests.
    let flaky = lines_with(&out, "GET /flaky");
    assert_eq!(flaky.len(), 6, "{out}");
    assert!(flaky.iter().all(|l| l.ends_with("200 OK")), "{out}");
    assert!(
        out.contains("the upstream received 8 requests; the breaker is closed"),
        "{out}"
    );

    // The bulkhead of two admits two of three concurrent calls.
    let slow = lines_with(&out, "GET /slow");
    assert_eq!(
        slow.iter().filter(|l| l.ends_with("200 OK")).count(),
        2,
        "{out}"
    );
    assert_eq!(
        slow.iter().filter(|l| l.ends_with("bulkhead_full")).count(),
        1,
        "{out}"
    );

    // A hanging route: three attempts, each cut off by the timeout.
    assert!(out.contains("GET /hang: timeout"), "{out}");
    assert!(
        out.contains("the upstream received 3 requests; the breaker is closed"),
        "{out}"
    );

    // The outage opens the breaker; later calls fail fast without being sent.
    let down = lines_with(&out, "GET /down");
    assert_eq!(down.len(), 4, "{out}");
    assert!(down[0].ends_with("503 Service Unavailable"), "{out}");
    assert!(
        down[1..].iter().all(|l| l.ends_with("circuit_open")),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("the upstream received 3 requests; the breaker is open"),
        "{out}"
    );
}

#[test]
fn axum_rate_limit_answers_429_problem_json_per_client_ip() {
    let out = run(env!("CARGO_BIN_EXE_axum_rate_limit"));

    let first = lines_with(&out, "127.0.0.1 #");
    assert_eq!(first.len(), 4, "{out}");
    for (line, remaining) in first.iter().zip(["2", "1", "0"]) {
        assert!(line.contains("200 OK"), "{out}");
        assert!(line.contains(&format!("remaining={remaining} ")), "{out}");
        assert!(line.ends_with("body=hello, 127.0.0.1"), "{out}");
    }
    let limited = first[3];
    assert!(limited.contains("429 Too Many Requests"), "{out}");
    assert!(
        !limited.contains("retry-after=- "),
        "a 429 names its Retry-After: {out}"
    );
    assert!(
        limited.contains("content-type=application/problem+json "),
        "{out}"
    );
    assert!(limited.contains(r#""code":"rate_limited""#), "{out}");

    // Another address has its own quota.
    let other = lines_with(&out, "127.0.0.2 #1");
    assert_eq!(other.len(), 1, "{out}");
    assert!(other[0].contains("200 OK remaining=2 "), "{out}");
}

#[test]
fn webhook_receiver_accepts_only_genuine_deliveries_once() {
    let out = run(env!("CARGO_BIN_EXE_webhook_receiver"));

    let answer = |label: &str| {
        let lines = lines_with(&out, label);
        assert_eq!(lines.len(), 1, "{out}");
        lines[0].to_owned()
    };
    assert!(
        answer("genuine:").ends_with("200 OK received invoice.paid (msg_1)"),
        "{out}"
    );
    assert!(
        answer("replayed:").contains(r#"409 Conflict "replayed""#),
        "{out}"
    );
    assert!(
        answer("forged:").contains(r#"401 Unauthorized "invalid_signature""#),
        "{out}"
    );
    assert!(
        answer("tampered:").contains(r#"401 Unauthorized "invalid_signature""#),
        "{out}"
    );
    assert!(
        answer("unsigned:").contains(r#"400 Bad Request "missing_header""#),
        "{out}"
    );
}

#[test]
fn webhook_sender_retries_the_failed_attempt_and_delivers() {
    let out = run(env!("CARGO_BIN_EXE_webhook_sender"));

    let published = lines_with(&out, "published msg_");
    assert_eq!(published.len(), 1, "{out}");
    assert!(published[0].ends_with("to 1 endpoint(s)"), "{out}");
    let message_id = published[0]
        .split_whitespace()
        .nth(1)
        .expect("a message id");

    // The receiver verified both attempts (same `webhook-id`), refused the
    // first with 503, and got the payload intact on the second.
    let attempts = lines_with(&out, "attempt ");
    assert_eq!(attempts.len(), 2, "{out}");
    assert!(attempts[0].starts_with("attempt 1: Status(503)"), "{out}");
    assert!(
        attempts[0].contains(&format!("busy, try {message_id} later")),
        "{out}"
    );
    assert!(attempts[1].starts_with("attempt 2: Status(200)"), "{out}");
    assert!(
        attempts[1].contains(&format!(r#"got {message_id}: {{\"invoice\":\"in_1\"}}"#)),
        "{out}"
    );
    assert!(out.trim_end().ends_with("delivery: succeeded"), "{out}");
}

#[test]
fn flags_axum_branches_on_the_flag_and_applies_the_kill_switch_live() {
    let out = run(env!("CARGO_BIN_EXE_flags_axum"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");

    // Targeted countries get the new checkout, in a sticky variant with its payload.
    assert_eq!(
        lines[0],
        "user=123&country=NO: 200 OK new checkout, green button #00ff00 (reason SPLIT)"
    );
    assert_eq!(
        lines[1],
        "user=alice&country=SE: 200 OK new checkout, blue button #0000ff (reason SPLIT)"
    );
    // Outside the constraint: the default.
    assert_eq!(
        lines[2],
        "user=123&country=US: 200 OK classic checkout (reason DEFAULT)"
    );
    // The kill switch applies to the next request, without a restart.
    assert_eq!(lines[3], "kill: 200 OK new-checkout is off for everyone");
    assert_eq!(
        lines[4],
        "user=123&country=NO: 200 OK classic checkout (reason DISABLED)"
    );
    // An unknown flag is a 404 problem+json.
    assert!(lines[5].starts_with("kill: 404 Not Found {"), "{out}");
    assert!(lines[5].contains(r#""status":404"#), "{out}");
}

#[test]
fn tracing_setup_logs_spans_with_ids_and_exports_metrics() {
    let out = run(env!("CARGO_BIN_EXE_tracing_setup"));

    // The caller's request id is echoed, and its trace continued with a new
    // span id for our hop (the parent was 00f067aa0ba902b7).
    let traced = lines_with(&out, "GET /orders/42: ");
    assert_eq!(traced.len(), 1, "{out}");
    assert!(traced[0].starts_with("GET /orders/42: 200 OK x-request-id=checkout-7f3a traceresponse=00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{out}");
    assert!(
        traced[0].ends_with("-01") && !traced[0].contains("00f067aa0ba902b7"),
        "{out}"
    );
    // Without one, a request id of 32 hex digits is made.
    let fresh = lines_with(&out, "GET /orders/43: 200 OK x-request-id=");
    assert_eq!(fresh.len(), 1, "{out}");
    let id = fresh[0]["GET /orders/43: 200 OK x-request-id=".len()..]
        .split_whitespace()
        .next()
        .expect("an id");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{out}"
    );

    // The fmt layer logs the span, named by the route, with the request id,
    // the handler's own event inside it, and an ERROR for the 500.
    let span_closes = lines_with(&out, r#"request_id="checkout-7f3a""#);
    assert!(
        span_closes
            .iter()
            .any(|l| l.contains("otel.name=GET /orders/{id} ") && l.contains("close")),
        "{out}"
    );
    assert!(
        span_closes
            .iter()
            .any(|l| l.contains("looking up the order order=42")),
        "{out}"
    );
    assert!(
        lines_with(&out, " ERROR ")
            .iter()
            .any(|l| l.contains(r#"http.route="/fail""#) && l.contains(r#"error.type="500""#)),
        "{out}"
    );

    // Prometheus counts requests per route and status.
    let metrics = lines_with(&out, "metric: http_server_request_duration_seconds_count{");
    assert!(
        metrics
            .iter()
            .any(|l| l.contains(r#"http_route="/orders/{id}""#)
                && l.contains(r#"http_response_status_code="200""#)
                && l.ends_with("} 2")),
        "{out}"
    );
    assert!(
        metrics.iter().any(|l| l.contains(r#"http_route="/fail""#)
            && l.contains(r#"http_response_status_code="500""#)
            && l.ends_with("} 1")),
        "{out}"
    );
}
