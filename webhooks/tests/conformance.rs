//! Runs every case of `tests/data/webhook-vectors.json` (75 cases, copied
//! unchanged from the shared conformance folder) and checks the verdict, the
//! error kind where the case names one, and — for valid single-signature
//! cases — that our signers reproduce the signature byte for byte.
//!
//! The case counts per scheme are asserted, so a case that is silently
//! skipped fails the run.
#![cfg(feature = "ed25519")]
#![allow(missing_docs)]

#[path = "conformance/convoy.rs"]
mod convoy;
#[path = "conformance/vector.rs"]
mod vector;

use std::collections::BTreeMap;
use std::time::Duration;

use palisade_webhooks::sign::SigningKey;
use palisade_webhooks::verify::PublicKey;
use palisade_webhooks::{
    GitHub, Scheme, Secret, Signer, StandardWebhooks, Stripe, Verified, VerifyError,
};

use convoy::{Convoy, Encoding, Hash, Mode};
use vector::Vector;

const VECTORS: &str = include_str!("data/webhook-vectors.json");

/// The counts the shared conformance README states.
const EXPECTED_COUNTS: [(&str, usize); 7] = [
    ("standard-webhooks", 38),
    ("standard-webhooks-v1a", 4),
    ("standard-webhooks-bytes", 1),
    ("stripe-signature", 10),
    ("github-x-hub-signature-256", 5),
    ("convoy-simple", 5),
    ("convoy-advanced", 12),
];

#[test]
fn every_vector_gives_the_expected_verdict() {
    let vectors: Vec<Vector> = serde_json::from_str(VECTORS).expect("vectors parse");
    let mut ran: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();

    for v in &vectors {
        let outcome = match v.scheme.as_str() {
            "standard-webhooks" | "standard-webhooks-bytes" => standard(v),
            "standard-webhooks-v1a" => v1a(v),
            "stripe-signature" => stripe(v),
            "github-x-hub-signature-256" => github(v),
            "convoy-simple" | "convoy-advanced" => convoy(v),
            other => Err(format!("unknown scheme {other}")),
        };
        *ran.entry(v.scheme.clone()).or_default() += 1;
        if let Err(msg) = outcome {
            failures.push(format!("{}: {msg}", v.name));
        }
    }

    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
    assert_eq!(ran.values().sum::<usize>(), 75, "cases run: {ran:?}");
    let expected: BTreeMap<String, usize> = EXPECTED_COUNTS
        .iter()
        .map(|(s, n)| ((*s).to_owned(), *n))
        .collect();
    assert_eq!(ran, expected);
}

/// Compares a verification result with the case's verdict and error kind.
fn judge(v: &Vector, result: Result<Verified, VerifyError>) -> Result<(), String> {
    match (result, v.valid) {
        (Ok(_), true) => Ok(()),
        (Err(e), false) => match &v.error {
            Some(kind) if kind != e.kind() => {
                Err(format!("rejected as {} ({e}), expected {kind}", e.kind()))
            }
            _ => Ok(()),
        },
        (Ok(_), false) => Err("accepted, expected a rejection".into()),
        (Err(e), true) => Err(format!("rejected as {} ({e}), expected valid", e.kind())),
    }
}

fn tolerance(v: &Vector) -> Duration {
    Duration::from_secs(v.tolerance.unwrap_or(300))
}

/// A valid case whose header is exactly one `v1,…` entry is a signing vector.
fn is_single_v1(v: &Vector) -> bool {
    v.valid && v.signature.starts_with("v1,") && !v.signature.contains(' ')
}

fn standard(v: &Vector) -> Result<(), String> {
    let secret = match v.secret.parse::<Secret>() {
        Ok(secret) => secret,
        Err(e) if v.error.as_deref() == Some(e.kind()) && !v.valid => return Ok(()),
        Err(e) => return Err(format!("secret rejected: {e}")),
    };
    if v.error.as_deref() == Some("empty_secret") {
        return Err("empty secret accepted".into());
    }
    let verifier = StandardWebhooks::new(secret.clone()).tolerance(tolerance(v));
    judge(
        v,
        verifier.verify(&v.standard_headers(), &v.body(), v.now()),
    )?;

    if is_single_v1(v) {
        let id = v.id.as_deref().ok_or("signing vector without id")?;
        let ts = v
            .timestamp_int()
            .ok_or("signing vector without timestamp")?;
        let signed = Signer::new(secret)
            .sign(id, ts, &v.body())
            .map_err(|e| format!("signer failed: {e}"))?;
        if signed.signature != v.signature {
            return Err(format!("signer produced {}", signed.signature));
        }
    }
    Ok(())
}

fn v1a(v: &Vector) -> Result<(), String> {
    let public: PublicKey = v.secret.parse().map_err(|e| format!("public key: {e}"))?;
    let signing: SigningKey = v
        .signing_key
        .as_deref()
        .ok_or("v1a case without signing_key")?
        .parse()
        .map_err(|e| format!("signing key: {e}"))?;
    if signing.public_key() != public {
        return Err("signing key does not match the public key".into());
    }
    let verifier = StandardWebhooks::from_public_key(public).tolerance(tolerance(v));
    let body = v.body();
    judge(v, verifier.verify(&v.standard_headers(), &body, v.now()))?;

    // Our own v1a signature over the case's message verifies with the public
    // key; ed25519 is deterministic, so a valid lone v1a must be reproduced.
    let id = v.id.as_deref().ok_or("v1a case without id")?;
    let ts = v.timestamp_int().ok_or("v1a case without timestamp")?;
    let signed = Signer::from_signing_key(signing)
        .sign(id, ts, &body)
        .map_err(|e| format!("signer failed: {e}"))?;
    let mut headers = http::HeaderMap::new();
    signed.apply(&mut headers);
    verifier
        .verify(&headers, &body, v.now())
        .map_err(|e| format!("our v1a signature was rejected: {e}"))?;
    if v.valid && v.signature.starts_with("v1a,") && signed.signature != v.signature {
        return Err(format!("signer produced {}", signed.signature));
    }
    Ok(())
}

fn stripe(v: &Vector) -> Result<(), String> {
    let stripe = Stripe::new(v.secret.clone()).tolerance(tolerance(v));
    judge(
        v,
        stripe.verify(&v.single_header("Stripe-Signature"), &v.body(), v.now()),
    )?;
    let single_v1 = v.signature.matches("v1=").count() == 1 && !v.signature.contains("v0=");
    if v.valid && single_v1 {
        let ts = v.timestamp_int().ok_or("stripe case without timestamp")?;
        let header = stripe.sign(ts, &v.body());
        if header != v.signature {
            return Err(format!("signer produced {header}"));
        }
    }
    Ok(())
}

fn github(v: &Vector) -> Result<(), String> {
    let github = GitHub::new(v.secret.clone());
    judge(
        v,
        github.verify(&v.single_header("X-Hub-Signature-256"), &v.body(), v.now()),
    )?;
    if v.valid && github.sign(&v.body()) != v.signature {
        return Err(format!("signer produced {}", github.sign(&v.body())));
    }
    Ok(())
}

fn convoy(v: &Vector) -> Result<(), String> {
    let scheme = Convoy {
        secret: v.secret.as_bytes().to_vec(),
        mode: if v.scheme == "convoy-simple" {
            Mode::Simple
        } else {
            Mode::Advanced
        },
        hash: match v.hash.as_deref() {
            Some("SHA256") => Hash::Sha256,
            Some("SHA512") => Hash::Sha512,
            other => return Err(format!("unknown hash {other:?}")),
        },
        encoding: match v.encoding.as_deref() {
            Some("hex") => Encoding::Hex,
            Some("base64") => Encoding::Base64,
            other => return Err(format!("unknown encoding {other:?}")),
        },
        tolerance_secs: i64::try_from(v.tolerance.unwrap_or(300)).map_err(|e| e.to_string())?,
    };
    // Through `dyn Scheme`, as a layer holding a user scheme would call it.
    let scheme: Box<dyn Scheme> = Box::new(scheme);
    judge(
        v,
        scheme.verify(&v.single_header("X-Convoy-Signature"), &v.body(), v.now()),
    )
}
