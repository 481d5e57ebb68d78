//! A checkpoint as a TorchScript file that PyTorch loads with `torch.jit.load` and no lnmc
//! code: the network traced in fp32 on the CPU, in inference mode (no dropout, batch norm on
//! its running statistics). It takes what lnmc feeds the network — (N, K, H, W) float32 after
//! the intensity step, K the context slices — and returns (N, 2) logits (benign, malignant).
//! Everything else a user needs to feed it (the intensity window, the context, the patch size)
//! goes into a JSON file beside it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use super::Checkpoint;
use crate::data::intensity::Intensity;
use crate::error::{Error, Result};
use crate::files::write_json;
use crate::model::Spec;

/// What `model.json` says beside `model.pt`.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub architecture: crate::model::Architecture,
    /// Slices a patch is given as (the patch in the middle, its nodule's nearest rows around).
    pub context: usize,
    /// The intensity step, as `--intensity` writes it (`window:LO,HI` or `percentile:2,98`),
    /// and the same as numbers.
    pub intensity: String,
    pub intensity_kind: &'static str,
    pub intensity_low: f64,
    pub intensity_high: f64,
    /// The patch side the network was trained on (any side ≥ 16 runs).
    pub height: usize,
    pub width: usize,
    pub input: &'static str,
    pub output: &'static str,
    pub source: PathBuf,
}

/// The file beside `out` that describes it: `model.pt` → `model.json`.
pub fn description_path(out: &Path) -> PathBuf {
    out.with_extension("json")
}

/// Traces the checkpoint at `path` and writes `out` and its description, each whole or not at
/// all.
pub fn export(path: &Path, ckpt: &Checkpoint, out: &Path) -> Result<Description> {
    let (_vs, net, spec) = ckpt.network(path, Device::Cpu)?;
    let (height, width) = ckpt
        .info
        .as_ref()
        .map_or((64, 64), |i| (i.config.data.height, i.config.data.width));
    let intensity = ckpt
        .info
        .as_ref()
        .map(|i| i.config.intensity)
        .unwrap_or_default();
    let example = Tensor::zeros(
        [2, spec.context as i64, height as i64, width as i64],
        (Kind::Float, Device::Cpu),
    );
    let _guard = tch::no_grad_guard();
    let module = tch::CModule::create_by_tracing("lnmc", "forward", &[example], &mut |inputs| {
        vec![net.forward_t(&inputs[0], false)]
    })
    .map_err(|e| Error::runtime(format!("cannot trace the network ({e})")))?;
    // Saved beside the destination first, then renamed: never a half-written model.pt.
    let partial = out.with_extension("pt.partial");
    module
        .save(&partial)
        .map_err(|e| Error::file(out, format!("cannot write ({e})")))?;
    std::fs::rename(&partial, out).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        Error::file(out, format!("cannot write ({e})"))
    })?;
    let description = describe(spec, intensity, height, width, path);
    let json = description_path(out);
    if let Err(e) = write_json(&json, &description) {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    Ok(description)
}

fn describe(
    spec: Spec,
    intensity: Intensity,
    height: usize,
    width: usize,
    source: &Path,
) -> Description {
    let (kind, low, high) = match intensity {
        Intensity::Percentile { low, high } => ("percentile", low, high),
        Intensity::Fixed { low, high } => ("window", low, high),
    };
    Description {
        architecture: spec.architecture,
        context: spec.context,
        intensity: intensity.name(),
        intensity_kind: kind,
        intensity_low: low,
        intensity_high: high,
        height,
        width,
        input: "(N, context, H, W) float32: each slice clamped to its window [lo, hi] (window: the fixed values; percentile: the slice's own percentiles, numpy's linear method), then 2·(x − lo)/(hi − lo) − 1 computed in float64",
        output: "(N, 2) float32 logits (benign, malignant); P(malignant) = softmax(logits)[:, 1]",
        source: source.to_path_buf(),
    }
}
