//! The process's own counters, as /proc has them.

use std::fs;
use std::time::Instant;

/// The process's own counters, as /proc has them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counters {
    /// CPU time, user and system, in seconds.
    pub(super) cpu_s: f64,
    pub(super) at: Instant,
    pub(super) threads: u32,
    pub(super) rss_kib: u64,
    pub(super) peak_kib: u64,
}

pub(super) fn read_counters() -> Option<Counters> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, num_threads 20 (proc(5)).
    let ticks = |k: usize| fields.get(k - 3)?.parse::<u64>().ok();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some(Counters {
        cpu_s: (ticks(14)? + ticks(15)?) as f64 / per_second,
        at: Instant::now(),
        threads: ticks(20)? as u32,
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}
