//! Where and in what arithmetic tensors compute: the device a `DeviceChoice` opens (CUDA on
//! demand, through `cuda`) and the precision a `Precision` resolves to on it.

use tch::{Device, Kind};

use crate::error::{Error, Result};
use crate::types::{DeviceChoice, Precision};

/// The device `choice` asks for; `Cuda` is an error where no GPU can be opened.
pub fn device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => {
            crate::cuda::prepare(false);
            Ok(Device::cuda_if_available())
        }
        DeviceChoice::Cuda => {
            if !crate::cuda::gpu_visible() {
                return Err(Error::input("--device cuda: no CUDA device is visible"));
            }
            crate::cuda::load()?;
            match tch::Cuda::is_available() {
                true => Ok(Device::Cuda(0)),
                false => Err(Error::input("--device cuda: no CUDA device is visible")),
            }
        }
    }
}

/// "cpu" or "cuda:N", as runs record and screens show it.
pub fn device_name(device: Device) -> String {
    run_device(device).to_string()
}

/// The device as a run records it.
pub fn run_device(device: Device) -> crate::types::RunDevice {
    match device {
        Device::Cuda(i) => crate::types::RunDevice::Cuda(i),
        _ => crate::types::RunDevice::Cpu,
    }
}

/// What convolutions and matmuls compute in, and why it was chosen (for the start line).
#[derive(Debug, Clone, PartialEq)]
pub struct Compute {
    pub kind: Kind,
    /// "bf16 (the CPU has AMX-BF16)".
    pub why: String,
}

impl Compute {
    /// The precision to compute in on `device`. Master weights, the loss, softmax, the metrics
    /// and Adam stay in fp32 whatever is chosen.
    pub fn resolve(precision: Precision, device: Device) -> Compute {
        let (kind, why) = match precision {
            Precision::Fp32 => (Kind::Float, "fp32 (asked for)".into()),
            Precision::Bf16 => (Kind::BFloat16, "bf16 (asked for)".into()),
            Precision::Auto => match device {
                Device::Cuda(_) => (Kind::BFloat16, "bf16 (CUDA)".into()),
                _ => match cpu_bf16() {
                    Some(flag) => (Kind::BFloat16, format!("bf16 (the CPU has {flag})")),
                    None => (Kind::Float, "fp32 (the CPU has no native bf16)".into()),
                },
            },
        };
        Compute { kind, why }
    }

    /// "fp32" or "bf16", as config.json records it.
    pub fn name(&self) -> &'static str {
        self.numeric().name()
    }

    /// What it computes in, as a run records it.
    pub fn numeric(&self) -> crate::types::Numeric {
        match self.kind {
            Kind::BFloat16 => crate::types::Numeric::Bf16,
            _ => crate::types::Numeric::Fp32,
        }
    }
}

/// The CPU flag that makes bf16 fast here: AMX-BF16 (Xeon) or AVX512-BF16 (Xeon, EPYC Zen 4).
fn cpu_bf16() -> Option<&'static str> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    if has("amx_bf16") {
        Some("AMX-BF16")
    } else if has("avx512_bf16") {
        Some("AVX512-BF16")
    } else {
        None
    }
}
