//! Why the model decides: the class-activation map of a checkpoint over single patches (exact
//! for both networks, see `Net::class_activation`), for the dashboard's overlay and
//! `lnmc show --cam`.

use std::path::{Path, PathBuf};

use tch::{nn, Device, Kind, Tensor};

use crate::checkpoint;
use crate::data::intensity::Intensity;
use crate::data::{context, Dataset};
use crate::error::{Error, Result};
use crate::metrics::malignant_probability;
use crate::model::{Net, Spec};

/// A checkpoint loaded on the CPU, ready to explain patches one forward pass at a time.
pub struct Explainer {
    pub checkpoint: PathBuf,
    net: Net,
    _vs: nn::VarStore,
    /// The network's architecture and the slices it takes.
    pub model: Spec,
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
    /// for a PyTorch file), refusing a checkpoint of no network lnmc knows.
    pub fn load(path: &Path) -> Result<Explainer> {
        let ckpt = checkpoint::load(path)?;
        let intensity = ckpt
            .info
            .as_ref()
            .map(|i| i.config.intensity)
            .unwrap_or_default();
        let (vs, net, model) = ckpt.network(path, Device::Cpu)?;
        Ok(Explainer {
            model,
            checkpoint: path.to_path_buf(),
            bias_difference: net.bias_difference(),
            net,
            _vs: vs,
            intensity,
        })
    }

    /// Maps of the patches `indices` of `data`, each with the neighbouring slices its network
    /// takes.
    pub fn explain_at(&self, data: &Dataset, indices: &[usize]) -> Result<Vec<Explanation>> {
        // A network of one slice takes no neighbours: no nodule lookup to build, nor to lack.
        let lookup = match self.model.context {
            1 => Ok(context::Nodules::default()),
            _ => context::lookup(data),
        };
        self.explain_in(&lookup, data, indices)
    }

    /// `explain_at` with each nodule's rows looked up already (the dashboard's worker, asked
    /// again at every page, builds the lookup once a file).
    pub fn explain_in(
        &self,
        lookup: &context::Lookup,
        data: &Dataset,
        indices: &[usize],
    ) -> Result<Vec<Explanation>> {
        let rows = context::rows_for(lookup, data, indices, self.model.context)?;
        self.explain_rows(data, &rows)
    }

    /// Maps of patches of `data` given as their rows (each patch and its neighbouring slices,
    /// as `context::rows_for` gives them).
    fn explain_rows(&self, data: &Dataset, rows: &[Vec<usize>]) -> Result<Vec<Explanation>> {
        let stacks = rows
            .iter()
            .map(|rows| context::stack(data, rows))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&[f32]> = stacks.iter().map(|s| s.as_slice()).collect();
        self.explain(&refs, data.height, data.width)
    }

    /// Maps of raw patches, each its K slices of `height` × `width` intensities one after the
    /// other (`context::stack`), rescaled as in training (each slice in its own window).
    pub fn explain(
        &self,
        patches: &[&[f32]],
        height: usize,
        width: usize,
    ) -> Result<Vec<Explanation>> {
        if patches.is_empty() {
            return Ok(Vec::new());
        }
        let k = self.model.context;
        let pixels = height * width;
        if let Some(p) = patches.iter().find(|p| p.len() != k * pixels) {
            return Err(Error::runtime(format!(
                "{}: takes {k} slice(s) of {height}×{width} a patch, was given {} pixels",
                self.checkpoint.display(),
                p.len()
            )));
        }
        let _guard = tch::no_grad_guard();
        let raw: Vec<f32> = patches.iter().flat_map(|p| p.iter().copied()).collect();
        let normalised = self.intensity.apply(&raw, pixels);
        let xs = Tensor::from_slice(&normalised).view([
            patches.len() as i64,
            k as i64,
            height as i64,
            width as i64,
        ]);
        let (maps, logits) = self.net.class_activation(&xs);
        let size = maps.size();
        let (mh, mw) = (size[1] as usize, size[2] as usize);
        let maps = Vec::<f32>::try_from(maps.to_kind(Kind::Float).flatten(0, -1)).expect("floats");
        let logits = Vec::<f32>::try_from(logits.flatten(0, -1)).expect("floats");
        Ok((0..patches.len())
            .map(|k| Explanation {
                map: maps[k * mh * mw..(k + 1) * mh * mw].to_vec(),
                height: mh,
                width: mw,
                logits: [logits[2 * k], logits[2 * k + 1]],
                bias_difference: self.bias_difference,
            })
            .collect())
    }
}
