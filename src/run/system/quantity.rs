//! The quantities of the samples a chart or a column shows.

use super::Sample;

/// A quantity of the samples a chart or a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Cpu,
    Memory,
    Gpu,
    GpuMemory,
}

impl Quantity {
    /// Its name in charts and `export --metric`: the system.csv column it comes from.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Cpu => "cpu_percent",
            Quantity::Memory => "rss_mib",
            Quantity::Gpu => "gpu_percent",
            Quantity::GpuMemory => "gpu_memory_mib",
        }
    }

    pub fn value(self, s: &Sample) -> Option<f64> {
        match self {
            Quantity::Cpu => Some(s.cpu_percent),
            Quantity::Memory => Some(s.rss_mib),
            Quantity::Gpu => s.gpu_percent,
            Quantity::GpuMemory => s.gpu_memory_mib,
        }
    }

    /// (minutes since the first sample, value) of each sample that has one.
    pub fn points(self, rows: &[Sample]) -> Vec<(f64, f64)> {
        let Some(first) = rows.first() else {
            return Vec::new();
        };
        rows.iter()
            .filter_map(|s| {
                let v = self.value(s).filter(|v| v.is_finite())?;
                Some(((s.time - first.time) / 60.0, v))
            })
            .collect()
    }
}
