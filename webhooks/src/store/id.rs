//! Ids for messages (`msg_…`) and endpoints (`ep_…`).

use std::time::SystemTime;

use rand::TryRng as _;

/// `prefix` + 12 hex digits of milliseconds + 16 random hex digits.
///
/// The time prefix keeps new rows at the end of the primary-key index (ids
/// sort by creation), and 64 random bits make a collision within one
/// millisecond practically impossible.
pub(crate) fn new_id(prefix: &str, now: SystemTime) -> String {
    use std::fmt::Write as _;

    let millis = super::to_millis(now).max(0);
    let mut random = [0u8; 8];
    // The OS generator only fails when the OS cannot give randomness at all;
    // the time prefix and a process-wide counter still keep ids unique then.
    if rand::rngs::SysRng.try_fill_bytes(&mut random).is_err() {
        random = fallback_counter().to_be_bytes();
    }
    let mut id = String::with_capacity(prefix.len() + 28);
    id.push_str(prefix);
    let _ = write!(id, "{:012x}", millis & 0xffff_ffff_ffff);
    for b in random {
        let _ = write!(id, "{b:02x}");
    }
    id
}

fn fallback_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_sortable_and_distinct() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_000);
        let a = new_id("msg_", t);
        let b = new_id("msg_", t + std::time::Duration::from_millis(1));
        assert!(a.starts_with("msg_"));
        assert_eq!(a.len(), 4 + 28);
        assert!(a < b, "{a} sorts before {b}");
        assert_ne!(new_id("msg_", t), new_id("msg_", t));
    }
}
