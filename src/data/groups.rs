//! Nodule groups for files that carry no ids, such as the upstream `all_patches.hdf5`: which
//! rows are slices of one nodule. They are inferred once (`lnmc groups`), written to a sidecar
//! beside the data file (`<data file>.groups.csv`, never into the user's HDF5) and read with the
//! data from then on, so that splits keep whole nodules on one side and metrics can be counted
//! per nodule.
//!
//! The rule: the slices of one nodule are stored in consecutive rows, carry the same label and
//! share their surroundings (vessels, parenchyma, chest wall move little from one slice to the
//! next), so two neighbouring rows of one label are joined when their patches differ little.
//! The measure is the mean absolute difference of the raw intensities, in HU for CT files.
//! Correlation was tried and separates worse (every patch is centred on a bright nodule, so
//! different nodules correlate too; on synthetic sets 10 % of same-nodule pairs fell below the
//! median of different ones). The threshold errs towards joining on purpose: two nodules joined
//! cost a little balance in the split, one nodule cut in two leaks it into both sides.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Dataset;
use crate::error::{Error, Result};
use crate::files::write_atomic;

/// Neighbouring rows of one label whose patches differ by at most this much on average (in the
/// file's units: HU) are one nodule. Measured on synthetic sets with known ids (`tests/groups.rs`
/// and `lnmc groups --check`): 99 % of same-nodule neighbours differ by < 60 HU (CT noise of
/// 10–30 HU and a slice of shift), different nodules by 89 HU in the median; 10 % of those
/// fall below 55 HU and are joined, which merges a few nodules at most.
pub const MAX_DIFFERENCE: f64 = 60.0;

/// `dataset/all_patches.hdf5` → `dataset/all_patches.hdf5.groups.csv`.
pub fn sidecar(data: &Path) -> PathBuf {
    let mut name = data.file_name().unwrap_or_default().to_os_string();
    name.push(".groups.csv");
    data.with_file_name(name)
}

/// How much further than its neighbour a slice may be from the first slice of its nodule: the
/// end slices of a nodule differ more than neighbours do, two different nodules most often more.
pub const REACH: f64 = 1.5;

/// Mean absolute difference of two patches, pixel by pixel.
pub fn difference(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(&x, &y)| (x - y).abs() as f64).sum();
    sum / a.len().max(1) as f64
}

/// A nodule id per row, counting from 0 in row order; neighbours of one label that differ by
/// at most `max_difference` share one.
pub fn infer(data: &Dataset, max_difference: f64) -> Result<Vec<i64>> {
    let n = data.len();
    let differ =
        |a: usize, b: usize| -> Result<f64> { Ok(difference(&data.patch(a)?, &data.patch(b)?)) };
    // The comparisons are independent: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut joined = vec![false; n.saturating_sub(1)];
    let chunk = joined.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = joined
            .chunks_mut(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || -> Result<()> {
                    for (k, join) in part.iter_mut().enumerate() {
                        let i = c * chunk + k;
                        *join = data.labels[i] == data.labels[i + 1]
                            && differ(i, i + 1)? <= max_difference;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().expect("comparison threads do not panic"))
    })?;
    // A chain of look-alike neighbours would otherwise grow without end: a row also has to
    // stay within REACH × max_difference of its group's first row.
    let mut ids = Vec::with_capacity(n);
    let (mut id, mut first) = (0, 0);
    for i in 0..n {
        let stays = i > 0 && joined[i - 1] && differ(first, i)? <= REACH * max_difference;
        if i > 0 && !stays {
            id += 1;
            first = i;
        }
        ids.push(id);
    }
    Ok(ids)
}

/// "1823 nodules from 6691 patches; slices per nodule: 1: 460, 2: 455, …"
pub fn describe(ids: &[i64]) -> String {
    let sizes = group_sizes(ids);
    let mut histogram = std::collections::BTreeMap::new();
    for &s in &sizes {
        *histogram.entry(s).or_insert(0usize) += 1;
    }
    let mut text = format!(
        "{} nodules from {} patches; slices per nodule:",
        sizes.len(),
        ids.len()
    );
    for (size, count) in histogram {
        let _ = write!(text, " {size}: {count},");
    }
    text.pop();
    text
}

/// How many rows each group has, groups in order of first appearance.
pub fn group_sizes(ids: &[i64]) -> Vec<usize> {
    let mut order: Vec<i64> = Vec::new();
    let mut counts: std::collections::HashMap<i64, usize> = Default::default();
    for &id in ids {
        let count = counts.entry(id).or_insert(0);
        if *count == 0 {
            order.push(id);
        }
        *count += 1;
    }
    order.iter().map(|id| counts[id]).collect()
}

/// Writes the sidecar of `data_path`: a comment line with the data's SHA-256, then
/// `index,nodule` rows (pandas: `read_csv(path, comment="#")`).
pub fn write_sidecar(data_path: &Path, sha256: &str, ids: &[i64]) -> Result<PathBuf> {
    let path = sidecar(data_path);
    let mut text = format!("# lnmc nodule groups of data sha256 {sha256}\nindex,nodule\n");
    for (i, id) in ids.iter().enumerate() {
        let _ = writeln!(text, "{i},{id}");
    }
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// The groups in the sidecar of `data_path`, if there is one, checked against the data: its
/// hash (computed only when a sidecar exists) and one row per patch, in order, ids ≥ 0.
pub fn read_sidecar(
    data_path: &Path,
    rows: usize,
    sha256: impl FnOnce() -> Result<String>,
) -> Result<Option<Vec<i64>>> {
    let path = sidecar(data_path);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let fail = |msg: String| Error::file(&path, msg);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let Some(recorded) = header.strip_prefix("# lnmc nodule groups of data sha256 ") else {
        return Err(fail("not an lnmc groups file (first line)".into()));
    };
    if lines.next() != Some("index,nodule") {
        return Err(fail(
            "not an lnmc groups file (expected the header index,nodule)".into(),
        ));
    }
    let mut ids = Vec::with_capacity(rows);
    for (k, line) in lines.enumerate() {
        let parsed = line.split_once(',').and_then(|(i, id)| {
            Some((
                i.trim().parse::<usize>().ok()?,
                id.trim().parse::<i64>().ok()?,
            ))
        });
        match parsed {
            Some((i, id)) if i == k && id >= 0 => ids.push(id),
            Some((i, _)) if i != k => {
                return Err(fail(format!("row {} has index {i}, expected {k}", k + 3)))
            }
            _ => {
                return Err(fail(format!(
                    "row {} is not 'index,nodule' with an id ≥ 0: {line:?}",
                    k + 3
                )))
            }
        }
    }
    if ids.len() != rows {
        return Err(fail(format!(
            "has {} rows but the data has {rows} patches: run `lnmc groups` again",
            ids.len()
        )));
    }
    if sha256()? != recorded.trim() {
        return Err(fail(
            "was made for other data (SHA-256 differs): run `lnmc groups` again".into(),
        ));
    }
    Ok(Some(ids))
}

/// Checks a group column read from the data file itself.
pub fn check_ids(path: &Path, name: &str, ids: &[i64]) -> Result<()> {
    match ids.iter().position(|&id| id < 0) {
        Some(i) => Err(Error::file(
            path,
            format!(
                "dataset '{name}' has a negative id ({}) at index {i}",
                ids[i]
            ),
        )),
        None => Ok(()),
    }
}
