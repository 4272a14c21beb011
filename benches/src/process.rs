//! What the load programs read about processes from `/proc` (Linux): CPU
//! time (ours, and that of a database server's processes), resident memory,
//! and the peak of it.
//!
//! CPU times come from `/proc/<pid>/stat` (`utime + stime`, in clock ticks:
//! 10 ms at the usual 100 Hz), so they include threads that have exited;
//! measure over seconds, not milliseconds.

use std::fs;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Clock ticks per second (`getconf CLK_TCK`, 100 if that fails).
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

/// The command name and `utime + stime` (ticks) of one `/proc/<pid>/stat`.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    // The command name is in parentheses and may itself contain spaces or
    // parentheses: split at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    // After the name: state (field 3) … utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((comm, utime + stime))
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let per_second = ticks_per_second();
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

/// CPU time (user + system) this process has used so far, all threads.
#[must_use]
pub fn own_cpu_time() -> Duration {
    fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(parse_stat)
        .map_or(Duration::ZERO, |(_, ticks)| ticks_to_duration(ticks))
}

/// CPU time (user + system) used so far by every live process whose command
/// name is `name` (e.g. `postgres`: the server and its backends). A backend
/// that exits between two readings takes its time with it, so compare
/// readings taken while the same connections are open.
#[must_use]
pub fn cpu_time_of(name: &str) -> Duration {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut ticks = 0;
    for entry in entries.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        if let Ok(stat) = fs::read_to_string(entry.path().join("stat"))
            && let Some((comm, t)) = parse_stat(&stat)
            && comm == name
        {
            ticks += t;
        }
    }
    ticks_to_duration(ticks)
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB.
fn status_kib(key: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(key)?.strip_prefix(':')?;
                rest.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

/// Resident memory now, in KiB.
#[must_use]
pub fn rss_kib() -> u64 {
    status_kib("VmRSS")
}

/// The highest resident memory since start or the last
/// [`reset_peak_rss`], in KiB.
#[must_use]
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM")
}

/// Starts the peak-RSS count again from the current RSS (Linux ≥ 4.0:
/// writing `5` to `/proc/self/clear_refs`). Returns whether it worked.
#[must_use]
pub fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_whose_name_has_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) w) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 0 0 20 0 3 0 100 1000 200";
        assert_eq!(parse_stat(line), Some(("tokio (rt) w", 300)));
    }

    #[test]
    fn reads_this_process() {
        // Burn a little CPU so the reading cannot be zero at 100 Hz.
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(own_cpu_time() > Duration::ZERO);
        assert!(rss_kib() > 0);
        assert!(peak_rss_kib() >= rss_kib());
    }
}
