//! Why the model decides: the class-activation map of a checkpoint over single patches (exact
//! for this network, see `ConvNet::class_activation`), for the dashboard's overlay and
//! `lnmc show --cam`.

use std::path::{Path, PathBuf};

use tch::{nn, Device, Kind, Tensor};

use crate::checkpoint;
use crate::data::intensity::Intensity;
use crate::error::Result;
use crate::metrics::malignant_probability;
use crate::model::ConvNet;

/// A checkpoint loaded on the CPU, ready to explain patches one forward pass at a time.
pub struct Explainer {
    pub checkpoint: PathBuf,
    net: ConvNet,
    _vs: nn::VarStore,
    intensity: Intensity,
    bias_difference: f64,
}

/// The map of one patch: M(i, j) row-major, `height` × `width` cells (a quarter of the patch's
/// side), in log-odds; mean(M) + `bias_difference` = logit₁ − logit₀.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub map: Vec<f32>,
    pub height: usize,
    pub width: usize,
    /// (benign, malignant).
    pub logits: [f32; 2],
    pub bias_difference: f64,
}

impl Explanation {
    pub fn probability(&self) -> f64 {
        malignant_probability(self.logits)
    }

    /// The largest |M|: the colour scale's end.
    pub fn scale(&self) -> f32 {
        self.map.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }
}

impl Explainer {
    /// The checkpoint's weights, and its run's intensity rescaling (the per-patch percentile
    /// for a PyTorch file), refusing a checkpoint that does not fit the ConvNet.
    pub fn load(path: &Path) -> Result<Explainer> {
        let ckpt = checkpoint::load(path)?;
        let intensity = ckpt
            .info
            .as_ref()
            .map(|i| i.config.intensity)
            .unwrap_or_default();
        let mut vs = nn::VarStore::new(Device::Cpu);
        let net = ConvNet::new(&vs.root(), 0.0);
        checkpoint::restore(&mut vs, &ckpt, path)?;
        Ok(Explainer {
            checkpoint: path.to_path_buf(),
            bias_difference: net.bias_difference(),
            net,
            _vs: vs,
            intensity,
        })
    }

    /// Maps of raw patches (`height` × `width` intensities each), rescaled as in training.
    pub fn explain(&self, patches: &[&[f32]], height: usize, width: usize) -> Vec<Explanation> {
        if patches.is_empty() {
            return Vec::new();
        }
        let _guard = tch::no_grad_guard();
        let pixels = height * width;
        let raw: Vec<f32> = patches.iter().flat_map(|p| p.iter().copied()).collect();
        let normalised = self.intensity.apply(&raw, pixels);
        let xs = Tensor::from_slice(&normalised).view([
            patches.len() as i64,
            1,
            height as i64,
            width as i64,
        ]);
        let (maps, logits) = self.net.class_activation(&xs);
        let size = maps.size();
        let (mh, mw) = (size[1] as usize, size[2] as usize);
        let maps = Vec::<f32>::try_from(maps.to_kind(Kind::Float).flatten(0, -1)).expect("floats");
        let logits = Vec::<f32>::try_from(logits.flatten(0, -1)).expect("floats");
        (0..patches.len())
            .map(|k| Explanation {
                map: maps[k * mh * mw..(k + 1) * mh * mw].to_vec(),
                height: mh,
                width: mw,
                logits: [logits[2 * k], logits[2 * k + 1]],
                bias_difference: self.bias_difference,
            })
            .collect()
    }
}
