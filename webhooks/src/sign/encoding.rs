//! The byte encodings the schemes share.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, padded on output and read leniently: padding optional
/// and stray bits in the last symbol ignored, as Python's `b64decode` (the
/// reference library) does for secrets that lost their padding.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Base64 for signatures: padding optional, but stray bits in the last
/// symbol are an error, so each signature has one accepted spelling and a
/// changed character is always a changed signature.
pub(crate) const SIG_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The longest base64 text a 64-byte (ed25519) signature can have, padded.
pub(crate) const MAX_SIG_B64_LEN: usize = 88;
