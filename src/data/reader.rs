//! Read `all_patches.hdf5`-style files and refuse anything that would train on garbage. Each
//! problem gets one line naming the file, the dataset and what is wrong.

use std::path::Path;

use hdf5::types::{IntSize, TypeDescriptor};

use super::{check_is_file, groups, Dataset, GROUP_DATASETS, IMAGES, LABELS, SYNTHETIC_ATTR};
use crate::error::{Error, Result};

/// Smallest patch side the ConvNet's two 2×2 poolings can take with room to spare.
pub const MIN_SIDE: usize = 16;

/// Reads the file and, when it has no ids of its own, the groups `lnmc groups` inferred for it.
pub fn read(path: &Path) -> Result<Dataset> {
    read_with(path, true)
}

/// Reads the file alone, ignoring any groups sidecar (for `lnmc groups`, which replaces it).
pub fn read_without_sidecar(path: &Path) -> Result<Dataset> {
    read_with(path, false)
}

fn read_with(path: &Path, use_sidecar: bool) -> Result<Dataset> {
    check_is_file(path)?;
    let fail = |msg: String| Error::file(path, msg);
    // The library's own error stack goes to stderr by default; our messages say it better.
    hdf5::silence_errors(true);
    let file = hdf5::File::open(path)
        .map_err(|_| fail("not an HDF5 file, or truncated/unreadable".into()))?;
    let names = file
        .member_names()
        .map_err(|e| fail(format!("cannot list datasets ({e})")))?;
    let open = |name: &str| {
        if !names.iter().any(|n| n == name) {
            let found = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            return Err(fail(format!("dataset '{name}' missing (found: {found})")));
        }
        file.dataset(name)
            .map_err(|e| fail(format!("dataset '{name}' unreadable ({e})")))
    };

    let images = open(IMAGES)?;
    let shape = images.shape();
    let [n, height, width] = shape[..] else {
        return Err(fail(format!(
            "dataset '{IMAGES}' has shape {shape:?}, expected rank 3 (N, H, W)"
        )));
    };
    if n == 0 {
        return Err(fail(format!("dataset '{IMAGES}' is empty")));
    }
    if height < MIN_SIDE || width < MIN_SIDE {
        return Err(fail(format!(
            "dataset '{IMAGES}' has {height}x{width} patches, need at least {MIN_SIDE}x{MIN_SIDE}"
        )));
    }
    let unreadable = |e: hdf5::Error| fail(format!("dataset '{IMAGES}' unreadable ({e})"));
    let (is_float, pixels): (bool, Vec<f32>) = match dtype_of(&images, path, IMAGES)? {
        // int16 is the upstream file's type: reading it as stored and widening here is ~4× faster
        // than HDF5's own int16 → float conversion.
        TypeDescriptor::Integer(IntSize::U2) => {
            let stored: Vec<i16> = images.read_raw().map_err(unreadable)?;
            (false, stored.into_iter().map(f32::from).collect())
        }
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            (false, images.read_raw().map_err(unreadable)?)
        }
        TypeDescriptor::Float(_) => (true, images.read_raw().map_err(unreadable)?),
        other => {
            return Err(fail(format!(
                "dataset '{IMAGES}' has type {other}, expected numbers"
            )))
        }
    };
    if is_float {
        if let Some(bad) = pixels.iter().position(|v| !v.is_finite()) {
            let per = height * width;
            return Err(fail(format!(
                "dataset '{IMAGES}' has a non-finite pixel ({}) in patch {} at ({}, {})",
                pixels[bad],
                bad / per,
                bad % per / width,
                bad % width
            )));
        }
    }

    let label_values = read_ids(&open(LABELS)?, path, LABELS, n)?;
    if let Some(i) = label_values.iter().position(|&l| l != 0 && l != 1) {
        return Err(fail(format!(
            "dataset '{LABELS}' has label {} at index {i}, expected 0 (benign) or 1 (malignant)",
            label_values[i]
        )));
    }
    let labels: Vec<u8> = label_values.iter().map(|&l| l as u8).collect();
    let malignant = labels.iter().filter(|&&l| l == 1).count();
    if malignant == 0 || malignant == n {
        let only = if malignant == 0 {
            "benign (0)"
        } else {
            "malignant (1)"
        };
        return Err(fail(format!(
            "dataset '{LABELS}' has only one class: all {n} patches are {only}"
        )));
    }

    let (groups, groups_inferred) = match GROUP_DATASETS
        .iter()
        .find(|g| names.iter().any(|n| n == *g))
    {
        Some(name) => {
            let ids = read_ids(&open(name)?, path, name, n)?;
            groups::check_ids(path, name, &ids)?;
            (Some(ids), false)
        }
        None if !use_sidecar => (None, false),
        None => {
            let inferred = groups::read_sidecar(path, n, || super::sha256(path))?;
            let found = inferred.is_some();
            (inferred, found)
        }
    };
    let synthetic = file
        .attr_names()
        .map(|a| a.iter().any(|a| a == SYNTHETIC_ATTR))
        .unwrap_or(false);

    Ok(Dataset {
        path: path.to_path_buf(),
        synthetic,
        height,
        width,
        images: pixels,
        labels,
        groups,
        groups_inferred,
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
