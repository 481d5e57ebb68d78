//! What an import produces and how it is written: one HDF5 file in lnmc's schema, put in
//! place by a rename only once it is whole.

use std::path::Path;

use crate::data::{GROUP_DATASETS, IMAGES, LABELS};
use crate::error::{Error, IoContext, Result};

/// Root attribute of an imported file: the command that made it.
pub const IMPORT_ATTR: &str = "lnmc_import";
/// Per-patch text: where the patch came from (a path below the imported folder, or a series
/// and a world position).
pub const SOURCE: &str = "source";

/// The patches' pixels in their own type, patch after patch, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPixels {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    F32(Vec<f32>),
}

impl PatchPixels {
    pub fn len(&self) -> usize {
        match self {
            PatchPixels::U8(v) => v.len(),
            PatchPixels::U16(v) => v.len(),
            PatchPixels::I16(v) => v.len(),
            PatchPixels::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// "8-bit greys", for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            PatchPixels::U8(_) => "8-bit",
            PatchPixels::U16(_) => "16-bit",
            PatchPixels::I16(_) => "signed 16-bit",
            PatchPixels::F32(_) => "32-bit float",
        }
    }
}

/// An imported set, whole in memory (an image tree) or one part of it (a series).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub height: usize,
    pub width: usize,
    pub pixels: PatchPixels,
    pub labels: Vec<u8>,
    pub nodule_id: Vec<i64>,
    pub patient_id: Vec<i64>,
    pub source: Vec<String>,
}

impl Imported {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Refuses to write over `out` unless `force`.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() && !force {
        return Err(Error::file(
            out,
            "exists already: choose another --out, or pass --force to replace it",
        ));
    }
    Ok(())
}

/// The temporary file an import of `out` writes before renaming it into place.
pub fn temporary(out: &Path) -> std::path::PathBuf {
    let name = out
        .file_name()
        .map_or("import".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.importing-{}", std::process::id()))
}

/// Writes `set` to `out` through a temporary file; `what` is kept as the root attribute.
pub fn write(out: &Path, set: &Imported, what: &str) -> Result<()> {
    let tmp = temporary(out);
    let result = write_hdf5(&tmp, set, what);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::runtime(format!(
            "{}: cannot write ({e})",
            out.display()
        )));
    }
    std::fs::rename(&tmp, out).at(out, "write")
}

fn write_hdf5(path: &Path, set: &Imported, what: &str) -> hdf5::Result<()> {
    let file = hdf5::File::create(path)?;
    let n = set.len();
    let shape = [n, set.height, set.width];
    match &set.pixels {
        PatchPixels::U8(v) => dataset(&file, IMAGES, &shape, v)?,
        PatchPixels::U16(v) => dataset(&file, IMAGES, &shape, v)?,
        PatchPixels::I16(v) => dataset(&file, IMAGES, &shape, v)?,
        PatchPixels::F32(v) => dataset(&file, IMAGES, &shape, v)?,
    }
    dataset(&file, LABELS, &[n, 1], &set.labels)?;
    dataset(&file, GROUP_DATASETS[0], &[n], &set.nodule_id)?;
    dataset(&file, GROUP_DATASETS[1], &[n], &set.patient_id)?;
    strings(&file, SOURCE, &set.source)?;
    let attr: hdf5::types::VarLenUnicode = what.parse().unwrap_or_default();
    file.new_attr::<hdf5::types::VarLenUnicode>()
        .create(IMPORT_ATTR)?
        .write_scalar(&attr)?;
    Ok(())
}

/// A dataset of `values` in `shape`, chunked and compressed where it is large.
pub(crate) fn dataset<T: hdf5::H5Type>(
    file: &hdf5::File,
    name: &str,
    shape: &[usize],
    values: &[T],
) -> hdf5::Result<()> {
    let array = ndarray::ArrayViewD::from_shape(shape, values)
        .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
    file.new_dataset_builder().with_data(&array).create(name)?;
    Ok(())
}

/// A dataset of text, one string a patch.
pub(crate) fn strings(file: &hdf5::File, name: &str, values: &[String]) -> hdf5::Result<()> {
    let text: Vec<hdf5::types::VarLenUnicode> = values
        .iter()
        .map(|s| s.parse().unwrap_or_default())
        .collect();
    dataset(file, name, &[text.len()], &text)
}

/// Where each patch of an imported file came from (`source`), or None for other files (or one
/// whose `source` cannot be read: it only informs).
pub fn read_sources(path: &Path) -> Option<Vec<String>> {
    let file = hdf5::File::open(path).ok()?;
    let text = file
        .dataset(SOURCE)
        .ok()?
        .read_raw::<hdf5::types::VarLenUnicode>()
        .ok()?;
    Some(text.iter().map(|s| s.as_str().to_string()).collect())
}
