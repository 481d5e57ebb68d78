//! runs/NAME/system.csv: what the machine did while the run trained, one row a sample, flushed
//! as it is taken, so that a `watch` on another host reads it as the writer's own screen does.
//!
//! The writer's `Sampler` thread reads the process's CPU time, memory and threads from /proc
//! and, when the run trains on an NVIDIA GPU, the GPU's use, memory, temperature and power
//! through NVML (libnvidia-ml.so is opened at run time, so a machine without it only lacks those
//! columns). The training loop tells it through `Activity` what it is doing and when it last
//! finished a batch: that is what a reader needs to tell a stalled run from a slow one.
//!
//! A file each: the sample (here), what the loop is doing (`activity`), the stall rule
//! (`stall`), the process's counters from /proc (`proc`), the GPU through NVML (`nvml`), the
//! sampling thread (`sampler`), reading system.csv back (`samples`), and what a chart shows
//! of it (`quantity`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

mod activity;
mod nvml;
mod proc;
mod quantity;
mod sampler;
mod samples;
mod stall;

pub use activity::{Activity, Doing};
pub use quantity::Quantity;
pub use sampler::{Probe, Sampler};
pub use samples::{parse, read, Samples};
pub use stall::{minutes, stall, stall_limit, Stall, STALL_FACTOR, STALL_FLOOR};

/// How often the writer samples.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// One sample, one row of system.csv. GPU columns are empty where the run has no NVIDIA GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since 1970 (UTC), when the sample was taken.
    pub time: f64,
    /// CPU time of the process over the last interval, in % of the cores it may use (its
    /// affinity and cgroup quota): 100 is all of them busy.
    pub cpu_percent: f64,
    /// The cores it may use.
    pub cores: usize,
    /// Resident memory now, and the most it has held, in MiB.
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
    pub threads: u32,
    /// Share of the last NVML sample period in which a kernel ran on the GPU (the whole GPU,
    /// not this process alone).
    pub gpu_percent: Option<f64>,
    pub gpu_memory_mib: Option<f64>,
    pub gpu_memory_total_mib: Option<f64>,
    pub gpu_temperature_c: Option<f64>,
    pub gpu_power_w: Option<f64>,
    /// What the training loop was last doing ("epoch 2: batch 17/84 done").
    pub doing: String,
    /// Seconds since the loop last finished a batch or moved to another step.
    pub idle_s: f64,
    /// The median of its recent times a batch (empty before one was timed).
    pub step_s: Option<f64>,
}

/// A sample as the tests of these files take one.
#[cfg(test)]
pub(crate) fn test_sample(idle_s: f64, step_s: Option<f64>) -> Sample {
    Sample {
        time: 1.0e9,
        cpu_percent: 50.0,
        cores: 2,
        rss_mib: 100.0,
        peak_rss_mib: 120.0,
        threads: 3,
        gpu_percent: None,
        gpu_memory_mib: None,
        gpu_memory_total_mib: None,
        gpu_temperature_c: None,
        gpu_power_w: None,
        doing: "epoch 2: batch 3/10 done".into(),
        idle_s,
        step_s,
    }
}
