//! [`RedisKey`]: how a bucket's key becomes the bytes of a Redis key.

use std::io::Write;
use std::net::IpAddr;

/// Writes a key as the bytes of a Redis key; implemented for the keys of the
/// built-in extractors and common key types.
pub trait RedisKey {
    /// Appends this key's bytes to `out`.
    fn write_redis_key(&self, out: &mut Vec<u8>);
}

impl RedisKey for () {
    fn write_redis_key(&self, _: &mut Vec<u8>) {}
}

impl RedisKey for String {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for &'static str {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for u64 {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{self}");
    }
}

impl RedisKey for IpAddr {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{self}");
    }
}

#[cfg(feature = "http")]
impl RedisKey for http::HeaderValue {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}
