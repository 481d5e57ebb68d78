//! The nodule patches and their labels, as read from HDF5, plus everything done to them before
//! they reach the model: intensity rescaling and the train/val split.

pub mod groups;
pub mod intensity;
pub mod reader;
pub mod review;
pub mod rng;
pub mod split;
pub mod synth;

use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};

/// Names of the HDF5 datasets, as in the upstream `all_patches.hdf5`.
pub const IMAGES: &str = "ct_slices";
pub const LABELS: &str = "slice_class";
/// Optional per-patch ids that let the split keep all slices of one nodule on one side.
pub const GROUP_DATASETS: [&str; 2] = ["nodule_id", "patient_id"];
/// Root attribute that marks a file written by `lnmc synth`.
pub const SYNTHETIC_ATTR: &str = "lnmc_synthetic";

/// Where the real upstream file goes, and where the synthetic stand-in is generated.
pub const REAL_PATH: &str = "dataset/all_patches.hdf5";
pub const SYNTHETIC_PATH: &str = "dataset/synthetic.hdf5";
/// Size of the upstream set, the default for the synthetic one.
pub const UPSTREAM_N: usize = 6691;

/// Label 1 is malignant, the positive class everywhere in lnmc.
pub const MALIGNANT: u8 = 1;

#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    /// True for files written by `lnmc synth`: every screen says so.
    pub synthetic: bool,
    pub height: usize,
    pub width: usize,
    /// Raw intensities (HU for the upstream file), patch after patch, row-major.
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    /// Per-patch nodule or patient id: the file's own, else inferred ones from its sidecar.
    pub groups: Option<Vec<i64>>,
    /// The groups came from `lnmc groups` (the sidecar), not from the file.
    pub groups_inferred: bool,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    pub fn patch(&self, index: usize) -> &[f32] {
        let p = self.pixels();
        &self.images[index * p..(index + 1) * p]
    }

    /// Raw intensity (min, max, mean) of one patch.
    pub fn patch_stats(&self, index: usize) -> (f32, f32, f64) {
        let patch = self.patch(index);
        let (min, max) = patch
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let mean = patch.iter().map(|&v| v as f64).sum::<f64>() / patch.len() as f64;
        (min, max, mean)
    }

    /// (benign, malignant) counts.
    pub fn class_counts(&self) -> (usize, usize) {
        let malignant = self.labels.iter().filter(|&&l| l == MALIGNANT).count();
        (self.len() - malignant, malignant)
    }

    /// "synthetic" or "real", for headers and logs.
    pub fn source_kind(&self) -> &'static str {
        if self.synthetic {
            "synthetic"
        } else {
            "real"
        }
    }
}

/// The data file used when the user names none: the real upstream file if it has been dropped
/// into `dataset/`, else the deterministic synthetic set, generated on first use.
pub fn default_path() -> Result<PathBuf> {
    let real = Path::new(REAL_PATH);
    if real.exists() {
        return Ok(real.to_path_buf());
    }
    let synthetic = Path::new(SYNTHETIC_PATH);
    if !synthetic.exists() {
        if let Some(dir) = synthetic.parent() {
            std::fs::create_dir_all(dir).at(dir, "create directory")?;
        }
        synth::write(synthetic, &synth::Options::default())?;
    }
    Ok(synthetic.to_path_buf())
}

/// The file named on the command line, or the default one.
pub fn resolve(path: Option<&Path>) -> Result<PathBuf> {
    match path {
        Some(p) => Ok(p.to_path_buf()),
        None => default_path(),
    }
}

/// SHA-256 of a file, hex, recorded in each run's config so a result can be traced to its data.
pub fn sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).at(path, "open")?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).at(path, "read")?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Make sure a path can be opened as a data file before handing it to the HDF5 library.
pub(crate) fn check_is_file(path: &Path) -> Result<()> {
    crate::files::check_is_file(
        path,
        "an HDF5 file",
        "put the upstream all_patches.hdf5 in dataset/ or run `lnmc synth`",
    )
}
