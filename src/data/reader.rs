//! Read `all_patches.hdf5`-style files and refuse anything that would train on garbage. Each
//! problem gets one line naming the file, the dataset and what is wrong.

use std::path::Path;

use hdf5::types::{IntSize, TypeDescriptor};
use ndarray::s;

use super::{
    check_is_file, groups, memory, Dataset, Pixels, GROUP_DATASETS, IMAGES, LABELS, SYNTHETIC_ATTR,
};
use crate::error::{Error, Result};

/// Smallest patch side the ConvNet's two 2×2 poolings can take with room to spare.
pub const MIN_SIDE: usize = 16;
/// Patches converted per HDF5 read when the stored type is not int16: the whole file is never
/// held twice (once as read, once converted).
const BLOCK: usize = 4096;

/// Reads the file into memory and, when it has no ids of its own, the groups `lnmc groups`
/// inferred for it. Refuses, before reading the pixels, a file that would not fit in memory.
pub fn read(path: &Path) -> Result<Dataset> {
    read_with(path, true, Load::Memory, Labels::Required).map(|(d, _)| d)
}

/// Reads the file alone, ignoring any groups sidecar (for `lnmc groups`, which replaces it).
pub fn read_without_sidecar(path: &Path) -> Result<Dataset> {
    read_with(path, false, Load::Memory, Labels::Required).map(|(d, _)| d)
}

/// Checks the file and reads its labels and groups, leaving the pixels in the file to be read
/// patch by patch (the dashboard and `lnmc show`: a 6 GB file opens in well under a second).
pub fn open(path: &Path) -> Result<Dataset> {
    read_with(path, true, Load::Lazily, Labels::Required).map(|(d, _)| d)
}

/// Reads a file that may have no labels (`lnmc predict`), or labels of one class only; true
/// when it has labels. Without them every label reads 0 and none may be reported.
pub fn read_for_prediction(path: &Path) -> Result<(Dataset, bool)> {
    read_with(path, true, Load::Memory, Labels::Optional)
}

#[derive(Clone, Copy, PartialEq)]
enum Labels {
    /// Training and evaluation: both classes present.
    Required,
    Optional,
}

#[derive(Clone, Copy, PartialEq)]
enum Load {
    Memory,
    Lazily,
}

/// The pixels left in the file: read a patch, or a sample, when asked for.
#[derive(Debug)]
pub struct Lazy {
    images: hdf5::Dataset,
    /// Stored as int16: read as such (HDF5's own conversion to float is slower).
    int16: bool,
    /// The last patches read: `lnmc show` and the report read a patch twice (its facts, its
    /// picture), and the overlay's maps read again the patches the dashboard has just read
    /// for drawing (which keeps its own copies, `tui::patches`).
    recent: std::sync::Mutex<std::collections::VecDeque<(usize, Vec<f32>)>>,
}

/// Patches `Lazy` keeps.
const RECENT: usize = 32;

impl Lazy {
    pub(super) fn patch(&self, path: &Path, index: usize) -> Result<Vec<f32>> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, patch)) = recent.iter().find(|(i, _)| *i == index) {
            return Ok(patch.clone());
        }
        let patch = self.read_patch(path, index)?;
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back((index, patch.clone()));
        Ok(patch)
    }

    fn read_patch(&self, path: &Path, index: usize) -> Result<Vec<f32>> {
        let read = match self.int16 {
            true => self
                .images
                .read_slice_2d::<i16, _>(s![index, .., ..])
                .map(|a| a.iter().map(|&v| f32::from(v)).collect()),
            false => self
                .images
                .read_slice_2d::<f32, _>(s![index, .., ..])
                .map(|a| a.iter().copied().collect()),
        };
        read.map_err(|e| Error::file(path, format!("patch {index} unreadable ({e})")))
    }

    /// Every `step`-th patch from the first, in one strided read.
    pub(super) fn every(&self, path: &Path, step: usize) -> Result<Vec<f32>> {
        let step = step as isize;
        let read = match self.int16 {
            true => self
                .images
                .read_slice::<i16, _, ndarray::Ix3>(s![..;step, .., ..])
                .map(|a| a.iter().map(|&v| f32::from(v)).collect()),
            false => self
                .images
                .read_slice::<f32, _, ndarray::Ix3>(s![..;step, .., ..])
                .map(|a| a.iter().copied().collect()),
        };
        read.map_err(|e| Error::file(path, format!("dataset '{IMAGES}' unreadable ({e})")))
    }
}

fn read_with(path: &Path, use_sidecar: bool, load: Load, need: Labels) -> Result<(Dataset, bool)> {
    check_is_file(path)?;
    let fail = |msg: String| Error::file(path, msg);
    // The library's own error stack goes to stderr by default; our messages say it better.
    hdf5::silence_errors(true);
    let file = hdf5::File::open(path)
        .map_err(|_| fail("not an HDF5 file, or truncated/unreadable".into()))?;
    let names = file
        .member_names()
        .map_err(|e| fail(format!("cannot list datasets ({e})")))?;
    let members = Members {
        file: &file,
        names: &names,
        path,
    };
    let (images, [n, height, width], stored, int16) = images_of(&members)?;
    let labelled = members.has(LABELS);
    let labels = labels_of(&members, n, need)?;
    let (groups, group_source, group_doubt, patients) = groups_of(&members, n, use_sidecar)?;
    let groups_are_nodules = !members.has(GROUP_DATASETS[1]) || members.has(GROUP_DATASETS[0]);
    let synthetic = file
        .attr_names()
        .map(|a| a.iter().any(|a| a == SYNTHETIC_ATTR))
        .unwrap_or(false);
    let pixels = match load {
        Load::Lazily => Pixels::Lazy(Lazy {
            images,
            int16,
            recent: Default::default(),
        }),
        Load::Memory => {
            // Floats may hold fractions, which keep 4 bytes a pixel: count on that.
            let bytes_per_pixel = if matches!(stored, TypeDescriptor::Float(_)) {
                4
            } else {
                2
            };
            memory::check(path, n, height * width, bytes_per_pixel)?;
            load_pixels(&images, int16, path, [n, height, width])?
        }
    };
    Dataset {
        path: path.to_path_buf(),
        synthetic,
        height,
        width,
        pixels,
        labels,
        groups,
        group_source,
        groups_are_nodules,
        group_doubt,
        patients,
        scale: Default::default(),
    }
    .with_scale()
    .map(|d| (d, labelled))
}

/// A file's top-level datasets, opened by name with the file named in every refusal.
struct Members<'a> {
    file: &'a hdf5::File,
    names: &'a [String],
    path: &'a Path,
}

impl Members<'_> {
    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn fail(&self, msg: String) -> Error {
        Error::file(self.path, msg)
    }

    fn open(&self, name: &str) -> Result<hdf5::Dataset> {
        if !self.has(name) {
            let found = if self.names.is_empty() {
                "none".to_string()
            } else {
                self.names.join(", ")
            };
            return Err(self.fail(format!("dataset '{name}' missing (found: {found})")));
        }
        self.file
            .dataset(name)
            .map_err(|e| self.fail(format!("dataset '{name}' unreadable ({e})")))
    }
}

/// The images dataset, its (N, H, W), its stored type and whether it is int16, checked.
fn images_of(m: &Members) -> Result<(hdf5::Dataset, [usize; 3], TypeDescriptor, bool)> {
    let images = m.open(IMAGES)?;
    let shape = images.shape();
    let [n, height, width] = shape[..] else {
        return Err(m.fail(format!(
            "dataset '{IMAGES}' has shape {shape:?}, expected rank 3 (N, H, W)"
        )));
    };
    if n == 0 {
        return Err(m.fail(format!("dataset '{IMAGES}' is empty")));
    }
    if height < MIN_SIDE || width < MIN_SIDE {
        return Err(m.fail(format!(
            "dataset '{IMAGES}' has {height}x{width} patches, need at least {MIN_SIDE}x{MIN_SIDE}"
        )));
    }
    let stored = dtype_of(&images, m.path, IMAGES)?;
    let int16 = match stored {
        TypeDescriptor::Integer(IntSize::U2) => true,
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_) => {
            false
        }
        other => {
            return Err(m.fail(format!(
                "dataset '{IMAGES}' has type {other}, expected numbers"
            )))
        }
    };
    Ok((images, [n, height, width], stored, int16))
}

/// The n labels, each 0 or 1, both classes present where they are `Required`; all 0 for a
/// file without labels where they are `Optional`.
fn labels_of(m: &Members, n: usize, need: Labels) -> Result<Vec<u8>> {
    let label_values = match (m.has(LABELS), need) {
        (false, Labels::Optional) => vec![0; n],
        _ => read_ids(&m.open(LABELS)?, m.path, LABELS, n)?,
    };
    if let Some(i) = label_values.iter().position(|&l| l != 0 && l != 1) {
        return Err(m.fail(format!(
            "dataset '{LABELS}' has label {} at index {i}, expected 0 (benign) or 1 (malignant)",
            label_values[i]
        )));
    }
    let labels: Vec<u8> = label_values.iter().map(|&l| l as u8).collect();
    let malignant = labels.iter().filter(|&&l| l == 1).count();
    if need == Labels::Required && (malignant == 0 || malignant == n) {
        let only = if malignant == 0 {
            "benign (0)"
        } else {
            "malignant (1)"
        };
        return Err(m.fail(format!(
            "dataset '{LABELS}' has only one class: all {n} patches are {only}"
        )));
    }
    Ok(labels)
}

/// What `groups_of` finds: the groups, where they came from, the doubt about inferred ones,
/// and the patients where the file has nodules too.
type Groups = (
    Option<Vec<i64>>,
    groups::Source,
    Option<String>,
    Option<Vec<i64>>,
);

/// The file's own nodule (else patient) ids, else the sidecar's (with `use_sidecar`); and the
/// patients as well where the file has both, so that the split keeps them whole.
fn groups_of(m: &Members, n: usize, use_sidecar: bool) -> Result<Groups> {
    // Patients as well, where the file has both: the split keeps them whole.
    let patients = match m.has(GROUP_DATASETS[0]) && m.has(GROUP_DATASETS[1]) {
        true => {
            let ids = read_ids(&m.open(GROUP_DATASETS[1])?, m.path, GROUP_DATASETS[1], n)?;
            groups::check_ids(m.path, GROUP_DATASETS[1], &ids)?;
            Some(ids)
        }
        false => None,
    };
    let (groups, source, doubt) = match GROUP_DATASETS.iter().find(|g| m.has(g)) {
        Some(name) => {
            let ids = read_ids(&m.open(name)?, m.path, name, n)?;
            groups::check_ids(m.path, name, &ids)?;
            (Some(ids), groups::Source::File, None)
        }
        None if !use_sidecar => (None, groups::Source::None, None),
        None => match groups::read_sidecar(m.path, n, || super::sha256(m.path))? {
            Some(side) => (Some(side.ids), side.source, side.doubt),
            None => (None, groups::Source::None, None),
        },
    };
    Ok((groups, source, doubt, patients))
}

/// All pixels in memory: int16 as stored; anything else converted block by block, to int16
/// while every value so far is a whole number that fits, else to f32.
fn load_pixels(
    images: &hdf5::Dataset,
    int16: bool,
    path: &Path,
    [n, height, width]: [usize; 3],
) -> Result<Pixels> {
    let unreadable =
        |e: hdf5::Error| Error::file(path, format!("dataset '{IMAGES}' unreadable ({e})"));
    if int16 {
        return Ok(Pixels::I16(images.read_raw().map_err(unreadable)?));
    }
    let per = height * width;
    let mut whole: Vec<i16> = Vec::with_capacity(n * per);
    let mut fractional: Option<Vec<f32>> = None;
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let block = images
            .read_slice::<f32, _, ndarray::Ix3>(s![start..end, .., ..])
            .map_err(unreadable)?;
        let block = block.as_slice().expect("a fresh array is contiguous");
        if let Some(bad) = block.iter().position(|v| !v.is_finite()) {
            return Err(Error::file(
                path,
                format!(
                    "dataset '{IMAGES}' has a non-finite pixel ({}) in patch {} at ({}, {})",
                    block[bad],
                    start + bad / per,
                    bad % per / width,
                    bad % width
                ),
            ));
        }
        let fits = |v: &f32| v.fract() == 0.0 && (-32768.0..=32767.0).contains(v);
        if fractional.is_none() && !block.iter().all(fits) {
            let mut wide = Vec::with_capacity(n * per);
            wide.extend(whole.drain(..).map(f32::from));
            whole.shrink_to_fit();
            fractional = Some(wide);
        }
        match &mut fractional {
            Some(wide) => wide.extend_from_slice(block),
            None => whole.extend(block.iter().map(|&v| v as i16)),
        }
    }
    Ok(match fractional {
        Some(wide) => Pixels::F32(wide),
        None => Pixels::I16(whole),
    })
}

fn dtype_of(ds: &hdf5::Dataset, path: &Path, name: &str) -> Result<TypeDescriptor> {
    ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| {
        Error::file(
            path,
            format!("dataset '{name}' has an unsupported type ({e})"),
        )
    })
}

/// A per-patch integer column, shaped (N,) or (N, 1) as upstream's `slice_class`.
fn read_ids(ds: &hdf5::Dataset, path: &Path, name: &str, n: usize) -> Result<Vec<i64>> {
    let fail = |msg: String| Error::file(path, format!("dataset '{name}' {msg}"));
    let shape = ds.shape();
    let count = match shape[..] {
        [count] | [count, 1] => count,
        _ => {
            return Err(fail(format!(
                "has shape {shape:?}, expected (N,) or (N, 1)"
            )))
        }
    };
    if count != n {
        return Err(fail(format!(
            "has {count} entries but '{IMAGES}' has {n} patches"
        )));
    }
    match dtype_of(ds, path, name)? {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {}
        other => return Err(fail(format!("has type {other}, expected integers"))),
    }
    ds.read_raw().map_err(|e| fail(format!("unreadable ({e})")))
}
