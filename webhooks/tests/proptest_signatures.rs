//! Property tests: signing then verifying round-trips for any body, id and
//! secret; no header value makes any scheme panic (or accept); and changing any
//! single byte of what is signed, or of the signature, is detected.
#![cfg(feature = "ed25519")]
#![allow(missing_docs)]

use http::{HeaderMap, HeaderName, HeaderValue};
use palisade_webhooks::sign::SigningKey;
use palisade_webhooks::{
    GitHub, Scheme, Secret, SignedHeaders, Signer, StandardWebhooks, Stripe, VerifyError,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Message ids: visible ASCII without `.` (what `Signer::sign` accepts).
fn id() -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..=0x7e, 1..64).prop_map(|bytes| {
        bytes
            .into_iter()
            .map(|b| if b == b'.' { '_' } else { char::from(b) })
            .collect()
    })
}

fn secret() -> impl Strategy<Value = Secret> {
    proptest::collection::vec(any::<u8>(), 1..100)
        .prop_map(|b| Secret::from_bytes(&b).expect("non-empty"))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

/// Any bytes `HeaderValue::from_bytes` accepts: tab, visible ASCII, space,
/// and obs-text (0x80..=0xff).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
        0..200,
    )
}

/// Header values that look like signatures, to get past the first checks.
fn signature_like() -> impl Strategy<Value = Vec<u8>> {
    let entry = (
        prop_oneof![Just("v1,"), Just("v1a,"), Just("v2,"), Just(""), Just(",")],
        "[A-Za-z0-9+/=]{0,100}",
    )
        .prop_map(|(v, s)| format!("{v}{s}"));
    prop_oneof![
        proptest::collection::vec(entry, 0..6).prop_map(|e| e.join(" ").into_bytes()),
        header_bytes(),
    ]
}

fn timestamp_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9]{0,25}".prop_map(String::into_bytes),
        "[-+]?[0-9]{1,12}(\\.[0-9]+)?(e[0-9]+)?".prop_map(String::into_bytes),
        header_bytes(),
    ]
}

fn stripe_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        ("[0-9a-z=]{0,20}", "[0-9a-fA-F]{0,70}", "[ tv0-9=,]{0,10}")
            .prop_map(|(t, v, x)| format!("t={t},v1={v}{x}").into_bytes()),
        header_bytes(),
    ]
}

fn hub_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "sha256=[0-9a-fA-F]{0,70}".prop_map(String::into_bytes),
        header_bytes(),
    ]
}

fn put(headers: &mut HeaderMap, name: &'static str, value: Option<Vec<u8>>) {
    if let Some(value) = value {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_bytes(&value).expect("strategy yields valid header bytes"),
        );
    }
}

/// The byte at `i` of the header `field` (1: id, 2: timestamp, 3: signature)
/// as signed.
fn signed_byte(signed: &SignedHeaders, field: usize, i: usize) -> u8 {
    match field {
        1 => signed.id.as_bytes()[i],
        2 => signed.timestamp.to_string().as_bytes()[i],
        _ => signed.signature.as_bytes()[i],
    }
}

fn standard_headers(signed: &SignedHeaders) -> HeaderMap {
    let mut headers = HeaderMap::new();
    signed.apply(&mut headers);
    headers
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sign_then_verify_round_trips(
        id in id(),
        secret in secret(),
        other in secret(),
        body in body(),
        ts in 0i64..4_000_000_000,
        skew in -300i64..=300,
    ) {
        // Sender mid-rotation signs with the old and the new secret; a
        // receiver holding only the new one accepts.
        let signer = Signer::with_secrets(vec![other, secret.clone()]).unwrap();
        let signed = signer.sign(&id, ts, &body).unwrap();
        let verified = StandardWebhooks::new(secret)
            .verify(&standard_headers(&signed), &body, ts + skew)
            .unwrap();
        prop_assert_eq!(verified.id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(verified.timestamp, Some(ts));
    }

    #[test]
    fn svix_headers_round_trip(id in id(), secret in secret(), body in body(), ts in 0i64..4_000_000_000) {
        let signed = Signer::new(secret.clone()).sign(&id, ts, &body).unwrap();
        let mut headers = HeaderMap::new();
        signed.apply_svix(&mut headers);
        prop_assert!(StandardWebhooks::new(secret).verify(&headers, &body, ts).is_ok());
    }

    #[test]
    fn v1a_round_trips(id in id(), seed in any::<[u8; 32]>(), body in body(), ts in 0i64..4_000_000_000) {
        let key = SigningKey::from_seed(&seed);
        let signed = Signer::from_signing_key(key.clone()).sign(&id, ts, &body).unwrap();
        let verifier = StandardWebhooks::from_public_key(key.public_key());
        prop_assert!(verifier.verify(&standard_headers(&signed), &body, ts).is_ok());
    }

    #[test]
    fn stripe_and_github_round_trip(secret in "[ -~]{0,30}[!-~][ -~]{0,29}", body in body(), ts in 0i64..4_000_000_000) {
        let stripe = Stripe::new(&secret).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("stripe-signature", stripe.sign(ts, &body).parse().unwrap());
        prop_assert_eq!(stripe.verify(&headers, &body, ts).map(|v| v.timestamp), Ok(Some(ts)));

        let github = GitHub::new(&secret).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-hub-signature-256", github.sign(&body).parse().unwrap());
        prop_assert!(github.verify(&headers, &body, 0).is_ok());
    }

    #[test]
    fn arbitrary_headers_never_panic_nor_verify(
        id in proptest::option::of(header_bytes()),
        ts in proptest::option::of(timestamp_like()),
        sig in proptest::option::of(signature_like()),
        svix_sig in proptest::option::of(signature_like()),
        stripe in proptest::option::of(stripe_like()),
        hub in proptest::option::of(hub_like()),
        body in body(),
        now in any::<i64>(),
        seed in any::<[u8; 32]>(),
        secret in secret(),
    ) {
        let mut headers = HeaderMap::new();
        put(&mut headers, "webhook-id", id.clone());
        put(&mut headers, "webhook-timestamp", ts.clone());
        put(&mut headers, "webhook-signature", sig);
        put(&mut headers, "svix-id", id);
        put(&mut headers, "svix-timestamp", ts);
        put(&mut headers, "svix-signature", svix_sig);
        put(&mut headers, "stripe-signature", stripe);
        put(&mut headers, "x-hub-signature-256", hub);

        let schemes: [Box<dyn Scheme>; 3] = [
            Box::new(
                StandardWebhooks::new(secret)
                    .add_public_key(SigningKey::from_seed(&seed).public_key()),
            ),
            Box::new(Stripe::new("whsec_test_secret").unwrap()),
            Box::new(GitHub::new("It's a Secret to Everybody").unwrap()),
        ];
        for scheme in &schemes {
            let err: VerifyError = scheme.verify(&headers, &body, now).unwrap_err();
            prop_assert!(err.status() == 400 || err.status() == 401, "{err:?}");
            prop_assert!(!err.kind().is_empty() && !err.to_string().is_empty());
        }
    }

    #[test]
    fn any_single_byte_change_is_detected(
        id in id(),
        secret in secret(),
        body in proptest::collection::vec(any::<u8>(), 1..512),
        ts in 1_000_000_000i64..4_000_000_000,
        field in 0usize..4,
        at in any::<Index>(),
        replacement in 0x21u8..=0x7e,
        flip in 1u8..=255,
    ) {
        let signed = Signer::new(secret.clone()).sign(&id, ts, &body).unwrap();
        let verifier = StandardWebhooks::new(secret);
        let mut headers = standard_headers(&signed);
        prop_assert!(verifier.verify(&headers, &body, ts).is_ok());

        let mut body = body;
        let header = match field {
            0 => {
                let i = at.index(body.len());
                body[i] ^= flip;
                None
            }
            1 => Some(("webhook-id", signed.id.clone().into_bytes())),
            2 => Some(("webhook-timestamp", signed.timestamp.to_string().into_bytes())),
            _ => Some(("webhook-signature", signed.signature.clone().into_bytes())),
        };
        if let Some((name, mut value)) = header {
            // A different visible-ASCII byte, so the header stays valid.
            let i = at.index(value.len());
            value[i] = if value[i] == replacement { replacement % 94 + 0x21 } else { replacement };
            prop_assert_ne!(value[i], signed_byte(&signed, field, i));
            put(&mut headers, name, Some(value));
        }
        prop_assert!(verifier.verify(&headers, &body, ts).is_err());
    }
}
