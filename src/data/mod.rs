//! The nodule patches and their labels, as read from HDF5, plus everything done to them before
//! they reach the model: intensity rescaling and the train/val split.

pub mod context;
pub mod groups;
pub mod intensity;
pub mod memory;
pub mod reader;
pub mod review;
pub mod rng;
pub mod split;
pub mod synth;
pub mod units;

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

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

#[derive(Debug)]
pub struct Dataset {
    pub path: PathBuf,
    /// True for files written by `lnmc synth`: every screen says so.
    pub synthetic: bool,
    pub height: usize,
    pub width: usize,
    /// Raw intensities (HU for the upstream file), patch after patch, row-major.
    pub pixels: Pixels,
    pub labels: Vec<u8>,
    /// Per-patch nodule or patient id: the file's own, else inferred ones from its sidecar.
    pub groups: Option<Vec<i64>>,
    /// Where the groups came from: the file, the user's CSV or inference (both in the sidecar).
    pub group_source: groups::Source,
    /// Whether each group is one nodule (false: a file with `patient_id` alone). Neighbouring
    /// slices as context (`--context`) need nodules.
    pub groups_are_nodules: bool,
    /// Per-patch patient ids where the file has them beside nodule ids: a group split keeps
    /// whole patients on one side (one patient's nodules can share what a model learns), while
    /// nodule-level metrics still count nodules.
    pub patients: Option<Vec<i64>>,
    /// Why the groups cannot be trusted: inferred ones judged uncertain by `lnmc groups`.
    /// A group split on them is possibly optimistic.
    pub group_doubt: Option<String>,
    /// What the pixels hold (HU, greys, …) and their usual range.
    pub scale: units::Scale,
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

    /// The raw intensities of patch `index`: from memory, or read from the file when the
    /// set was opened lazily (an error then when the file became unreadable).
    pub fn patch(&self, index: usize) -> Result<Vec<f32>> {
        let p = self.pixels();
        let range = index * p..(index + 1) * p;
        // Out of range only once `take_pixels` has moved them to the device.
        let gone = || Error::runtime(format!("patch {index}: pixels no longer held"));
        Ok(match &self.pixels {
            Pixels::I16(v) => v
                .get(range)
                .ok_or_else(gone)?
                .iter()
                .map(|&x| f32::from(x))
                .collect(),
            Pixels::F32(v) => v.get(range).ok_or_else(gone)?.to_vec(),
            Pixels::Lazy(file) => file.patch(&self.path, index)?,
        })
    }

    /// Raw intensity (min, max, mean) of one patch.
    pub fn patch_stats(&self, index: usize) -> Result<(f32, f32, f64)> {
        Ok(stats(&self.patch(index)?))
    }

    /// Whether the pixels are held in memory (else each patch is read from the file).
    pub fn in_memory(&self) -> bool {
        !matches!(self.pixels, Pixels::Lazy(_))
    }

    /// The pixels of at most `max_patches` patches spread evenly over the file (every patch
    /// when there are no more): enough for a histogram, without reading a big file whole.
    pub fn pixel_sample(&self, max_patches: usize) -> Result<Vec<f32>> {
        let step = self.len().div_ceil(max_patches.max(1)).max(1);
        if let Pixels::Lazy(file) = &self.pixels {
            return file.every(&self.path, step);
        }
        let mut out = Vec::with_capacity(self.len().div_ceil(step) * self.pixels());
        for i in (0..self.len()).step_by(step) {
            out.extend(self.patch(i)?);
        }
        Ok(out)
    }

    /// The set with its `scale` found from an even sample of its pixels.
    pub fn with_scale(mut self) -> Result<Dataset> {
        self.scale = units::Scale::of(&self.pixel_sample(units::SAMPLE_PATCHES)?);
        Ok(self)
    }

    /// The pixels, moved out (to become a tensor without a copy); the set keeps its labels,
    /// groups and shape but no pixels afterwards.
    pub fn take_pixels(&mut self) -> Pixels {
        std::mem::replace(&mut self.pixels, Pixels::I16(Vec::new()))
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

/// The patches' intensities as lnmc holds them. In memory, 2 bytes a pixel whenever that is
/// exact: int16 files as stored, and any integer or whole-number float values that fit in
/// int16 (HU always do). Other values stay f32, 4 bytes a pixel: rounding them would change
/// what the model sees. The dashboard and `lnmc show` read patches from the file on demand.
#[derive(Debug)]
pub enum Pixels {
    I16(Vec<i16>),
    F32(Vec<f32>),
    Lazy(reader::Lazy),
}

impl Pixels {
    /// Bytes held in memory.
    pub fn bytes(&self) -> usize {
        match self {
            Pixels::I16(v) => v.len() * 2,
            Pixels::F32(v) => v.len() * 4,
            Pixels::Lazy(_) => 0,
        }
    }
}

/// (min, max, mean) of raw intensities.
pub fn stats(values: &[f32]) -> (f32, f32, f64) {
    let (min, max) = values
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
    (min, max, mean)
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

/// Files from this size on keep their hash beside them (`FILE.sha256`).
const HASH_CACHE_FROM: u64 = 256 << 20;

/// SHA-256 of a file, hex, recorded in each run's config so a result can be traced to its data.
/// A 6 GB file takes seconds to hash, so a big file's hash is kept beside it in `FILE.sha256`
/// with the file's size and modification time, and trusted while both are unchanged (as git
/// trusts its index). A directory lnmc cannot write to only means hashing again next time.
pub fn sha256(path: &Path) -> Result<String> {
    sha256_cached_from(path, HASH_CACHE_FROM)
}

fn sha256_cached_from(path: &Path, cache_from: u64) -> Result<String> {
    let meta = std::fs::metadata(path).at(path, "read")?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp = format!("{} {modified}", meta.len());
    let mut cache = path.as_os_str().to_owned();
    cache.push(".sha256");
    let cache = PathBuf::from(cache);
    let big = meta.len() >= cache_from;
    if big {
        let cached = std::fs::read_to_string(&cache).unwrap_or_default();
        if let Some((hash, recorded)) = cached.trim().split_once(' ') {
            if recorded == stamp && hash.len() == 64 {
                return Ok(hash.to_string());
            }
        }
    }
    let hash = hash_file(path)?;
    if big {
        let _ = crate::files::write_atomic(&cache, format!("{hash} {stamp}\n").as_bytes());
    }
    Ok(hash)
}

fn hash_file(path: &Path) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_files_hash_is_kept_beside_it_while_size_and_time_are_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.h5");
        std::fs::write(&path, b"abc").unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_cached_from(&path, 0).unwrap(), abc);
        let cache = dir.path().join("d.h5.sha256");
        let kept = std::fs::read_to_string(&cache).unwrap();
        assert!(kept.starts_with(&format!("{abc} 3 ")), "{kept}");
        // Trusted while the stamp matches: a planted hash is returned as is.
        let planted = kept.replacen(abc, &"0".repeat(64), 1);
        std::fs::write(&cache, &planted).unwrap();
        assert_eq!(sha256_cached_from(&path, 0).unwrap(), "0".repeat(64));
        // A changed file (another size) is hashed again.
        std::fs::write(&path, b"abcd").unwrap();
        assert_ne!(sha256_cached_from(&path, 0).unwrap(), "0".repeat(64));
        // Small files are hashed every time and leave nothing beside them.
        let small = dir.path().join("s.h5");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(sha256(&small).unwrap(), abc);
        assert!(!dir.path().join("s.h5.sha256").exists());
    }
}
