//! A receiver that only verifies compiles none of the delivery engine: no
//! database driver, no HTTP client.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::process::Command;

/// The crates `palisade-webhooks` depends on (normal edges) with `features`.
fn tree(features: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            "palisade-webhooks",
            "-e",
            "normal",
        ])
        .args([
            "--prefix",
            "none",
            "--no-default-features",
            "--features",
            features,
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn names(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

const ENGINE_ONLY: &[&str] = &[
    "sqlx",
    "sqlx-core",
    "libsqlite3-sys",
    "hyper",
    "hyper-util",
    "hyper-rustls",
    "rustls",
    "palisade-resilience",
];

#[test]
fn a_receiver_compiles_no_database_and_no_http_client() {
    let receiver = tree("axum,ed25519");
    let crates = names(&receiver);
    for engine_crate in ENGINE_ONLY {
        assert!(
            !crates.contains(engine_crate),
            "the receiver's build pulls in {engine_crate}:\n{receiver}"
        );
    }
    // And the sender's build does include them (so the check above can fail).
    let sender = tree("deliver,sqlite");
    let crates = names(&sender);
    for engine_crate in ["sqlx", "hyper-util", "rustls"] {
        assert!(
            crates.contains(&engine_crate),
            "{engine_crate} missing from:\n{sender}"
        );
    }
}
