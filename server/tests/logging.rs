//! What the server writes to its log: `--log-format pretty|json` through a
//! pipe (as a log collector or a file sees it), and one access-log line per
//! request.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use http::{Request, StatusCode};
use palisade_server::access_log::access_log_layer;
use support::LogCapture;
use tower::ServiceExt as _;

#[tokio::test(start_paused = true)]
async fn every_request_gets_one_access_line_with_its_id_status_and_duration() {
    let captured = LogCapture::default();
    let _guard = captured.install();

    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                "done"
            }),
        )
        .layer(access_log_layer());
    let request = Request::get("/slow?token=secret")
        .header("x-request-id", "req-42")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request = Request::post("/missing")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let lines = captured.target("access");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let fields = &lines[0]["fields"];
    assert_eq!(fields["method"], "GET");
    assert_eq!(fields["path"], "/slow", "no query string: {fields}");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["request_id"], "req-42");
    assert!(fields["duration_ms"].as_f64().unwrap() >= 250.0, "{fields}");
    let fields = &lines[1]["fields"];
    assert_eq!(
        (
            &fields["method"],
            &fields["path"],
            &fields["status"],
            &fields["request_id"]
        ),
        (
            &serde_json::json!("POST"),
            &serde_json::json!("/missing"),
            &serde_json::json!(404),
            &serde_json::json!("-")
        )
    );
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("palisade-logging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `palisade` with `args` and `env` until it says it listens, sends it
/// one request, stops it, and returns everything it wrote to stdout.
fn log_of_a_short_run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let dir = TempDir::new(name);
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(&dir.0)
        .args(["--port", "0"])
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PALISADE_ADDR")
        .env_remove("PALISADE_LOG_FORMAT")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let port = loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("never said it listens: {lines:?}");
        };
        let port = line.split("127.0.0.1:").nth(1).map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        lines.push(line);
        if let Some(port) = port
            && !port.is_empty()
        {
            break port;
        }
    };
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    lines.extend(rx.try_iter());
    lines
}

#[cfg(unix)]
#[test]
fn pretty_logs_through_a_pipe_carry_no_colour_escapes() {
    let lines = log_of_a_short_run("pretty", &[], &[]);
    assert!(
        lines.iter().any(|l| l.contains("palisade listening")),
        "{lines:?}"
    );
    for line in &lines {
        assert!(!line.contains("\x1b["), "ANSI escape in {line:?}");
    }
}

#[cfg(unix)]
#[test]
fn json_logs_are_one_object_per_line() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("PALISADE_LOG_FORMAT", "json")][..]),
    ] {
        let lines = log_of_a_short_run("json", args, env);
        let objects: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect();
        let listening = objects
            .iter()
            .find(|o| o["fields"]["message"] == "palisade listening")
            .unwrap_or_else(|| panic!("{lines:?}"));
        assert!(listening["fields"]["addr"].is_string(), "{listening}");
        assert_eq!(listening["level"], "INFO");
    }
}

#[test]
fn an_unknown_log_format_fails_with_one_line() {
    let dir = TempDir::new("bad-format");
    let output = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(&dir.0)
        .args(["--log-format", "xml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("xml"), "{stderr}");
}
