//! The GPU a run trains on, through NVML (libnvidia-ml.so opened at run time, so a machine
//! without it only lacks the GPU columns).

/// The GPU a run trains on, through NVML.
pub(super) struct Gpu {
    nvml: nvml_wrapper::Nvml,
    /// The NVML name of the CUDA device: its index or UUID.
    id: GpuId,
}

enum GpuId {
    Index(u32),
    Uuid(String),
}

impl Gpu {
    /// CUDA device `cuda` of this process, or None where NVML cannot be opened or does not
    /// know it. NVML numbers every GPU of the machine; CUDA only those CUDA_VISIBLE_DEVICES
    /// lets through, in its order.
    pub(super) fn open(cuda: usize) -> Option<Gpu> {
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        let id = match visible.as_deref().map(|v| v.split(',').nth(cuda)) {
            Some(Some(entry)) => match entry.trim().parse::<u32>() {
                Ok(index) => GpuId::Index(index),
                Err(_) => GpuId::Uuid(entry.trim().to_string()),
            },
            Some(None) => return None,
            None => GpuId::Index(cuda as u32),
        };
        let nvml = nvml_wrapper::Nvml::init().ok()?;
        let gpu = Gpu { nvml, id };
        gpu.device().ok()?;
        Some(gpu)
    }

    fn device(&self) -> Result<nvml_wrapper::Device<'_>, nvml_wrapper::error::NvmlError> {
        match &self.id {
            GpuId::Index(i) => self.nvml.device_by_index(*i),
            GpuId::Uuid(u) => self.nvml.device_by_uuid(u.as_str()),
        }
    }

    /// (use %, memory used MiB, memory total MiB, °C, W); a value NVML refuses stays empty.
    pub(super) fn read(&self) -> [Option<f64>; 5] {
        let Ok(d) = self.device() else {
            return [None; 5];
        };
        let memory = d.memory_info().ok();
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        [
            d.utilization_rates().ok().map(|u| u.gpu as f64),
            memory.as_ref().map(|m| mib(m.used)),
            memory.as_ref().map(|m| mib(m.total)),
            d.temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
                .ok()
                .map(f64::from),
            d.power_usage().ok().map(|mw| mw as f64 / 1000.0),
        ]
    }
}
