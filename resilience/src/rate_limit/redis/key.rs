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

impl RedisKey for crate::key::KeyBytes {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl RedisKey for Vec<u8> {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

/// The keys of [`PoolMissing`](crate::key::PoolMissing): `s:<key>`, or
/// `none` for the shared bucket of requests without a key.
impl<K: RedisKey> RedisKey for Option<K> {
    fn write_redis_key(&self, out: &mut Vec<u8>) {
        match self {
            Some(key) => {
                out.extend_from_slice(b"s:");
                key.write_redis_key(out);
            }
            None => out.extend_from_slice(b"none"),
        }
    }
}
