//! `palisade webhook sign|verify|secret`, run as the real binary.

#![allow(missing_docs)]
// The helpers below are test code too: a failed spawn should fail loudly.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use palisade_webhooks::Secret;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const T: i64 = 1_700_000_000;
/// Not UTF-8: the CLI must pass bodies through as raw bytes.
const BODY: &[u8] = b"{\"type\":\"ping\"}\xff\xfe\x00";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn palisade(args: &[&str], stdin: &[u8]) -> Run {
    palisade_with_env_secret(args, stdin, None)
}

/// Runs with `PALISADE_WEBHOOK_SECRET` set to `secret` (unset for `None`).
fn palisade_with_env_secret(args: &[&str], stdin: &[u8], secret: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_palisade"));
    match secret {
        Some(secret) => command.env("PALISADE_WEBHOOK_SECRET", secret),
        None => command.env_remove("PALISADE_WEBHOOK_SECRET"),
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may exit (usage error) before reading its input.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs and expects success; returns stdout without the final newline.
fn ok(args: &[&str], stdin: &[u8]) -> String {
    let run = palisade(args, stdin);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.stdout.trim_end_matches('\n').to_owned()
}

fn sign_standard(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let ts = ts.to_string();
    ok(
        &[
            "webhook",
            "sign",
            "--secret",
            secret,
            "--id",
            id,
            "--timestamp",
            &ts,
        ],
        body,
    )
}

fn verify_standard(extra: &[&str], headers: &[String], now: i64, body: &[u8]) -> Run {
    let now = now.to_string();
    let mut args = vec!["webhook", "verify", "--scheme", "standard", "--now", &now];
    args.extend_from_slice(extra);
    for header in headers {
        args.extend(["--header", header]);
    }
    palisade(&args, body)
}

fn standard_headers(signature: &str) -> Vec<String> {
    vec![
        "webhook-id: msg_1".to_owned(),
        format!("webhook-timestamp: {T}"),
        format!("webhook-signature: {signature}"),
    ]
}

/// Asserts a verification failure: exit 1, nothing on stdout and the
/// reason (with its stable code) on stderr.
fn assert_invalid(run: &Run, code: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with("error: invalid webhook: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("({code})")), "{}", run.stderr);
}

#[test]
fn standard_sign_then_verify() {
    let signature = sign_standard(SECRET, "msg_1", T, BODY);
    assert!(signature.starts_with("v1,"), "{signature}");

    let run = verify_standard(
        &["--secret", SECRET],
        &standard_headers(&signature),
        T + 299,
        BODY,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "valid\n");
}

#[test]
fn standard_signature_is_the_documented_one() {
    // The example of the Standard Webhooks specification.
    let signature = sign_standard(
        SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn stripe_sign_then_verify() {
    let ts = T.to_string();
    let signature = ok(
        &[
            "webhook",
            "sign",
            "--scheme",
            "stripe",
            "--secret",
            "whsec_stripe",
            "--timestamp",
            &ts,
        ],
        BODY,
    );
    assert!(signature.starts_with(&format!("t={T},v1=")), "{signature}");

    let header = format!("Stripe-Signature: {signature}");
    let now = (T + 10).to_string();
    let verify = [
        "webhook",
        "verify",
        "--scheme",
        "stripe",
        "--secret",
        "whsec_stripe",
        "--header",
        &header,
        "--now",
        &now,
    ];
    assert_eq!(ok(&verify, BODY), "valid");
    assert_invalid(&palisade(&verify, b"other body"), "invalid_signature");
}

#[test]
fn github_sign_then_verify() {
    let signature = ok(
        &[
            "webhook",
            "sign",
            "--scheme",
            "github",
            "--secret",
            "It's a Secret to Everybody",
        ],
        b"Hello, World!",
    );
    // GitHub's documented example.
    assert_eq!(
        signature,
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );

    let header = format!("X-Hub-Signature-256: {signature}");
    let verify = [
        "webhook",
        "verify",
        "--scheme",
        "github",
        "--secret",
        "It's a Secret to Everybody",
        "--header",
        &header,
    ];
    assert_eq!(ok(&verify, b"Hello, World!"), "valid");
    assert_invalid(&palisade(&verify, b"Hello, World?"), "invalid_signature");
}

#[test]
fn ed25519_key_pair_sign_then_verify() {
    let keys = ok(&["webhook", "secret", "--ed25519"], b"");
    let (signing, public) = keys.split_once('\n').unwrap();
    assert!(
        signing.starts_with("whsk_") && public.starts_with("whpk_"),
        "{keys}"
    );

    let signature = sign_standard(signing, "msg_1", T, BODY);
    assert!(signature.starts_with("v1a,"), "{signature}");
    let run = verify_standard(
        &["--secret", public],
        &standard_headers(&signature),
        T,
        BODY,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_body_file_is_read_as_raw_bytes() {
    let path = std::env::temp_dir().join(format!("palisade-cli-body-{}", std::process::id()));
    std::fs::write(&path, BODY).unwrap();
    let file = path.to_str().unwrap();
    let ts = T.to_string();

    let from_file = ok(
        &[
            "webhook",
            "sign",
            "--secret",
            SECRET,
            "--id",
            "msg_1",
            "--timestamp",
            &ts,
            "--body-file",
            file,
        ],
        b"ignored",
    );
    assert_eq!(from_file, sign_standard(SECRET, "msg_1", T, BODY));
    let run = verify_standard(
        &["--secret", SECRET, "--body-file", file],
        &standard_headers(&from_file),
        T,
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn rotation_signs_with_every_secret_and_verifies_with_any() {
    let new = "whsec_bmV3LXNlY3JldC1ieXRlcy0wMTIzNDU2Nzg5";
    let ts = T.to_string();
    let signature = ok(
        &[
            "webhook",
            "sign",
            "--secret",
            SECRET,
            "--secret",
            new,
            "--id",
            "msg_1",
            "--timestamp",
            &ts,
        ],
        BODY,
    );
    assert_eq!(signature.split(' ').count(), 2, "{signature}");

    for receiver in [SECRET, new] {
        let run = verify_standard(
            &["--secret", receiver],
            &standard_headers(&signature),
            T,
            BODY,
        );
        assert_eq!(run.code, 0, "{receiver}: {}", run.stderr);
    }
}

#[test]
fn sign_headers_feed_verify() {
    let ts = T.to_string();
    let lines = ok(
        &[
            "webhook",
            "sign",
            "--secret",
            SECRET,
            "--id",
            "msg_1",
            "--timestamp",
            &ts,
            "--headers",
        ],
        BODY,
    );
    let headers: Vec<String> = lines.lines().map(str::to_owned).collect();
    assert_eq!(headers.len(), 3, "{lines}");
    let run = verify_standard(&["--secret", SECRET], &headers, T, BODY);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_bad_signature_exits_1() {
    let signature = sign_standard(SECRET, "msg_1", T, BODY);
    let other = Secret::generate().to_string();
    let run = verify_standard(
        &["--secret", &other],
        &standard_headers(&signature),
        T,
        BODY,
    );
    assert_invalid(&run, "invalid_signature");

    let run = verify_standard(
        &["--secret", SECRET],
        &standard_headers(&signature),
        T,
        b"tampered",
    );
    assert_invalid(&run, "invalid_signature");
}

#[test]
fn a_stale_or_future_timestamp_exits_1() {
    let signature = sign_standard(SECRET, "msg_1", T, BODY);
    let headers = standard_headers(&signature);

    let run = verify_standard(&["--secret", SECRET], &headers, T + 301, BODY);
    assert_invalid(&run, "timestamp_too_old");
    let run = verify_standard(&["--secret", SECRET], &headers, T - 301, BODY);
    assert_invalid(&run, "timestamp_too_new");

    // A wider tolerance accepts it.
    let run = verify_standard(
        &["--secret", SECRET, "--tolerance", "600"],
        &headers,
        T + 301,
        BODY,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn a_missing_header_exits_1_naming_it() {
    let signature = sign_standard(SECRET, "msg_1", T, BODY);
    let mut headers = standard_headers(&signature);
    headers.pop();
    let run = verify_standard(&["--secret", SECRET], &headers, T, BODY);
    assert_invalid(&run, "missing_header");
    assert!(run.stderr.contains("webhook-signature"), "{}", run.stderr);
}

#[test]
fn a_malformed_header_exits_1() {
    let signature = sign_standard(SECRET, "msg_1", T, BODY);
    let mut headers = standard_headers(&signature);
    headers[1] = "webhook-timestamp: yesterday".to_owned();
    let run = verify_standard(&["--secret", SECRET], &headers, T, BODY);
    assert_invalid(&run, "invalid_timestamp");

    let now = T.to_string();
    let run = palisade(
        &[
            "webhook",
            "verify",
            "--scheme",
            "stripe",
            "--secret",
            "whsec_stripe",
            "--header",
            "stripe-signature: not-a-stripe-header",
            "--now",
            &now,
        ],
        BODY,
    );
    assert_invalid(&run, "malformed_header");
    assert!(run.stderr.contains("stripe-signature"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let usage = |args: &[&str]| {
        let run = palisade(args, BODY);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        assert_eq!(run.stdout, "");
        run.stderr
    };
    usage(&[
        "webhook",
        "sign",
        "--scheme",
        "smoke-signals",
        "--secret",
        SECRET,
    ]);
    usage(&["webhook", "sign", "--secret", SECRET]); // no --id
    usage(&[
        "webhook", "verify", "--secret", SECRET, "--header", "no colon",
    ]);
    usage(&["webhook", "verify", "--header", "webhook-id: x"]); // no --secret
    usage(&[
        "webhook",
        "verify",
        "--scheme",
        "github",
        "--secret",
        "s",
        "--tolerance",
        "5",
    ]);
    let stderr = usage(&[
        "webhook",
        "sign",
        "--secret",
        "whsec_!!hunter2",
        "--id",
        "x",
    ]);
    assert!(!stderr.contains("hunter2"), "the secret leaked: {stderr}");
}

/// Runs and expects a usage error (exit 2, nothing on stdout); returns stderr.
fn usage_error(run: &Run, what: &str) -> String {
    assert_eq!(run.code, 2, "{what}: {}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{what}: {}", run.stderr);
    assert_eq!(run.stdout, "", "{what}");
    run.stderr.clone()
}

#[test]
fn an_empty_secret_is_refused_by_every_scheme() {
    let stripe_header = format!("stripe-signature: t={T},v1=00");
    let ts = T.to_string();
    for scheme in ["standard", "stripe", "github"] {
        for blank in ["", " "] {
            let sign = [
                "webhook",
                "sign",
                "--scheme",
                scheme,
                "--secret",
                blank,
                "--id",
                "msg_1",
                "--timestamp",
                &ts,
            ];
            let stderr = usage_error(&palisade(&sign, BODY), scheme);
            assert!(stderr.contains("secret is empty"), "{scheme}: {stderr}");

            let verify = [
                "webhook",
                "verify",
                "--scheme",
                scheme,
                "--secret",
                blank,
                "--header",
                &stripe_header,
                "--now",
                &ts,
            ];
            let stderr = usage_error(&palisade(&verify, BODY), scheme);
            assert!(stderr.contains("secret is empty"), "{scheme}: {stderr}");

            // The same through the environment: refused, never "valid".
            let run = palisade_with_env_secret(&verify[..4], BODY, Some(blank));
            usage_error(
                &run,
                &format!("{scheme} with PALISADE_WEBHOOK_SECRET={blank:?}"),
            );
        }
        // Also when it is the second of several secrets.
        let run = palisade(
            &[
                "webhook", "verify", "--scheme", scheme, "--secret", SECRET, "--secret", "",
            ],
            BODY,
        );
        let stderr = usage_error(&run, scheme);
        assert!(stderr.contains("secret is empty"), "{scheme}: {stderr}");
    }
}

#[test]
fn verifying_with_a_signing_key_names_the_public_key() {
    let keys = ok(&["webhook", "secret", "--ed25519"], b"");
    let (signing, public) = keys.split_once('\n').unwrap();
    let signature = sign_standard(signing, "msg_1", T, BODY);

    let run = verify_standard(
        &["--secret", signing],
        &standard_headers(&signature),
        T,
        BODY,
    );
    let stderr = usage_error(&run, "verify with whsk_");
    assert!(stderr.contains("whpk_"), "{stderr}");
    assert!(stderr.contains("public key"), "{stderr}");
    assert!(!stderr.contains("base64"), "{stderr}");
    assert!(
        !stderr.contains(signing),
        "the signing key leaked: {stderr}"
    );

    // And the other way round: a public key cannot sign.
    let run = palisade(
        &["webhook", "sign", "--secret", public, "--id", "msg_1"],
        BODY,
    );
    let stderr = usage_error(&run, "sign with whpk_");
    assert!(stderr.contains("whsk_"), "{stderr}");
}

#[test]
fn secret_prints_a_fresh_32_byte_secret() {
    let first = ok(&["webhook", "secret"], b"");
    let second = ok(&["webhook", "secret"], b"");
    assert!(first.starts_with("whsec_"), "{first}");
    let parsed: Secret = first.parse().unwrap();
    assert_eq!(parsed.as_bytes().len(), 32);
    assert_ne!(first, second);
}
