//! Will a data file fit in memory? Asked before its pixels are read, so that a file too big for
//! the machine (or the Slurm job's cgroup) is refused with an estimate instead of swapping or
//! being killed half-way.

use std::path::Path;

use crate::error::{Error, Result};

/// What a process needs besides the pixels: libtorch, the model, a batch's activations, the
/// dashboard. Measured: 0.4–0.9 GB on the upstream-sized set (BENCHMARKS.md).
pub const FIXED_BYTES: u64 = 1 << 30;
/// Per patch besides its pixels: label (host and device), nodule id, intensity window, index.
pub const PER_PATCH_BYTES: u64 = 64;
/// Overrides the memory lnmc believes available, in bytes (to stay within a share of a
/// shared machine; the tests use it to simulate a small one).
pub const ENV_AVAILABLE: &str = "LNMC_MEMORY_AVAILABLE";

/// Bytes a data set of `patches` × `pixels` needs in memory.
pub fn needed(patches: usize, pixels: usize, bytes_per_pixel: usize) -> u64 {
    (patches * pixels * bytes_per_pixel) as u64 + patches as u64 * PER_PATCH_BYTES + FIXED_BYTES
}

/// Memory this process may still use: the override, else the smaller of the system's
/// available memory and what the cgroup (a Slurm job, a container) leaves. None when unknown.
pub fn available() -> Option<u64> {
    if let Ok(text) = std::env::var(ENV_AVAILABLE) {
        return text.trim().parse().ok();
    }
    let system = proc_bytes("/proc/meminfo", "MemAvailable:");
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
    };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    match (system, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An error naming the file and the estimate when `needed` exceeds what is available.
pub fn check(path: &Path, patches: usize, pixels: usize, bytes_per_pixel: usize) -> Result<()> {
    let need = needed(patches, pixels, bytes_per_pixel);
    match available() {
        Some(have) if need > have => Err(Error::file(
            path,
            format!(
                "too large for this machine's memory: needs ≈ {} ({patches} patches × {pixels} pixels × {bytes_per_pixel} bytes + {} for lnmc itself), {} available; use a machine with more memory or a subset of the file",
                size(need),
                size(FIXED_BYTES),
                size(have)
            ),
        )),
        _ => Ok(()),
    }
}

/// The process's peak resident memory so far (Linux), for the start line and benchmarks.
pub fn peak_rss() -> Option<u64> {
    proc_bytes("/proc/self/status", "VmHWM:")
}

/// The "KEY:   123 kB" line of a /proc file, in bytes.
fn proc_bytes(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// "6.14 GB", "54.8 MB", "4.6 EB" (a broken header's claim), "512.0 kB", "17 bytes".
pub fn size(bytes: u64) -> String {
    match bytes as f64 {
        b if b >= 1e18 => format!("{:.1} EB", b / 1e18),
        b if b >= 1e15 => format!("{:.1} PB", b / 1e15),
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        _ => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_counts_pixels_patches_and_the_fixed_part() {
        assert_eq!(needed(0, 4096, 2), FIXED_BYTES);
        assert_eq!(
            needed(1000, 4096, 2) - needed(0, 4096, 2),
            1000 * (4096 * 2 + PER_PATCH_BYTES)
        );
        assert_eq!(
            needed(10, 4096, 4) - needed(10, 4096, 2),
            10 * 4096 * 2,
            "4-byte pixels cost twice"
        );
    }

    #[test]
    fn the_system_reports_some_memory() {
        // Every Linux has /proc/meminfo; the tests never set the override for this process.
        if std::env::var(ENV_AVAILABLE).is_err() {
            assert!(available().is_some_and(|b| b > 0));
        }
        assert!(peak_rss().is_some_and(|b| b > 0));
    }
}
