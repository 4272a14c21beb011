//! `palisade healthcheck`: asks a running server's `/health/live` and exits
//! 0 when it answers 2xx, 1 otherwise — a container `HEALTHCHECK` with no
//! curl in the image.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::duration::parse_duration;
use crate::listener::BindAddr;

/// Where the server listens (the same flags and variables as `serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// The server's address, `HOST[:PORT]`; an unspecified address
    /// (`0.0.0.0`, `::`) is asked on loopback.
    #[arg(long, env = "PALISADE_ADDR", value_name = "HOST[:PORT]", default_value_t = BindAddr::ip(IpAddr::V4(Ipv4Addr::LOCALHOST)))]
    pub addr: BindAddr,
    /// The server's port when `--addr` names none.
    #[arg(long, env = "PALISADE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// How long to wait for the answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// Runs the check; one line on stderr when it fails.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // clap hands the arguments over by value
pub fn run(args: HealthcheckArgs) -> ExitCode {
    let checked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(check(&args)));
    match checked {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("unhealthy: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn check(args: &HealthcheckArgs) -> Result<(), String> {
    let addrs = args
        .addr
        .resolve(args.port)
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", args.addr))?;
    let mut last_error = String::from("no address to ask");
    for addr in addrs.into_iter().map(loopback_if_unspecified) {
        match tokio::time::timeout(args.timeout, get_live(addr)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last_error = format!("{addr}: {e}"),
            Err(_) => last_error = format!("{addr}: no answer within {:?}", args.timeout),
        }
    }
    Err(last_error)
}

/// A server bound to every interface is reached on loopback.
fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

async fn get_live(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let request = format!(
        "GET /health/live HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: palisade-healthcheck\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    // The status line is all we need; read at most a few KiB of it.
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status_line = line.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') && code.len() == 3 => Ok(()),
        Some(_) => Err(format!("/health/live answered {status_line:?}")),
        None => Err("no HTTP answer".to_owned()),
    }
}
