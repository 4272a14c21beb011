//! Standard Webhooks signing and verification: palisade-webhooks next to a raw
//! HMAC-SHA256 of the same bytes (the floor) and the `standardwebhooks` 1.0 and
//! `svix` 2.9 crates, in the same groups so the ratios can be read directly.
//!
//! Run: `cargo bench -p palisade-benches --bench webhooks -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::HeaderMap;
use palisade_webhooks::{Clock as _, Scheme as _, Secret, Signer, StandardWebhooks, SystemClock};
use sha2::Sha256;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SIZES: [usize; 2] = [1024, 64 * 1024];

/// A JSON-looking UTF-8 body of exactly `len` bytes (the peers reject
/// non-UTF-8 bodies).
fn body(len: usize) -> Vec<u8> {
    let mut body = br#"{"type":"invoice.paid","data":""#.to_vec();
    body.resize(len - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

/// The peers check the timestamp against the wall clock themselves, so the
/// signed timestamp has to be the current time.
#[allow(clippy::disallowed_methods)] // a benchmark, not library code
fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits i64")
}

/// The bytes Standard Webhooks signs, in one buffer (for the raw HMAC).
fn content(ts: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{ID}.{ts}.").into_bytes();
    content.extend_from_slice(body);
    content
}

fn raw_hmac(key: &[u8], content: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(content);
    mac.finalize().into_bytes().into()
}

fn verify(c: &mut Criterion) {
    let secret: Secret = SECRET.parse().expect("valid secret");
    let ours = StandardWebhooks::new(secret.clone());
    let standard = standardwebhooks::Webhook::new(SECRET).expect("valid secret");
    let svix = svix::webhooks::Webhook::new(SECRET).expect("valid secret");

    let mut group = c.benchmark_group("webhooks/verify");
    for size in SIZES {
        let body = body(size);
        let ts = now();
        let signed = Signer::new(secret.clone())
            .sign(ID, ts, &body)
            .expect("signable");
        let mut headers = HeaderMap::new();
        signed.apply(&mut headers);
        let content = content(ts, &body);
        group.throughput(Throughput::Bytes(size as u64));

        // Every verifier reads the wall clock per call, as the peers do.
        group.bench_with_input(BenchmarkId::new("palisade", size), &body, |b, body| {
            b.iter(|| {
                ours.verify(black_box(&headers), black_box(body), SystemClock.now_unix())
                    .expect("valid")
            });
        });
        group.bench_with_input(
            BenchmarkId::new("raw_hmac_sha256", size),
            &content,
            |b, content| b.iter(|| raw_hmac(black_box(secret.as_bytes()), black_box(content))),
        );
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| {
                b.iter(|| {
                    standard
                        .verify(black_box(body), black_box(&headers))
                        .expect("valid")
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("svix", size), &body, |b, body| {
            b.iter(|| {
                svix.verify(black_box(body), black_box(&headers))
                    .expect("valid")
            });
        });
    }
    group.finish();
}

fn sign(c: &mut Criterion) {
    let secret: Secret = SECRET.parse().expect("valid secret");
    let ours = Signer::new(secret.clone());
    let standard = standardwebhooks::Webhook::new(SECRET).expect("valid secret");
    let svix = svix::webhooks::Webhook::new(SECRET).expect("valid secret");

    let mut group = c.benchmark_group("webhooks/sign");
    for size in SIZES {
        let body = body(size);
        let ts = now();
        let content = content(ts, &body);
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_with_input(BenchmarkId::new("palisade", size), &body, |b, body| {
            b.iter(|| {
                ours.sign(black_box(ID), ts, black_box(body))
                    .expect("signable")
            });
        });
        group.bench_with_input(
            BenchmarkId::new("raw_hmac_sha256", size),
            &content,
            |b, content| b.iter(|| raw_hmac(black_box(secret.as_bytes()), black_box(content))),
        );
        group.bench_with_input(
            BenchmarkId::new("standardwebhooks", size),
            &body,
            |b, body| {
                b.iter(|| {
                    standard
                        .sign(black_box(ID), ts, black_box(body))
                        .expect("signable")
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("svix", size), &body, |b, body| {
            b.iter(|| {
                svix.sign(black_box(ID), ts, black_box(body))
                    .expect("signable")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
