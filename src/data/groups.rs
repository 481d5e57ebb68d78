//! Nodule groups for files that carry no ids, such as the upstream `all_patches.hdf5`: which
//! rows are slices of one nodule. They are inferred once (`lnmc groups`), written to a sidecar
//! beside the data file (`<data file>.groups.csv`, never into the user's HDF5) and read with the
//! data from then on, so that splits keep whole nodules on one side and metrics can be counted
//! per nodule.
//!
//! The rule: the slices of one nodule are stored in consecutive rows, carry the same label and
//! share their surroundings (vessels, parenchyma, chest wall move little from one slice to the
//! next), so two neighbouring rows of one label are joined when their patches differ little.
//! The measure is the mean absolute difference of 4×4-pixel block means (relative to the
//! patches' own variation where they are segmented, see `Measure`). How little is "little" is
//! learnt from the file itself, from rows far apart in it, which are never one nodule: the
//! threshold is the distance that only 5 % of such pairs fall below (`FALSE_JOINS`). That is
//! what makes the rule free of units: a change of units that scales and shifts every value
//! (HU → greys, [0, 1], z-scores) scales every distance by one factor, the reference
//! distances with them, and the same pairs are joined. It does not depend either on how many
//! neighbours are one nodule (many in LIDC slice sets, fewer in LUNA16 patch sets), which a
//! threshold that splits the neighbours' own distances into two kinds did: where five pairs in
//! six are one nodule, such a cut falls inside the one-nodule kind. Correlation was tried and
//! separates worse (every patch is centred on a bright nodule, so different nodules correlate
//! too).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Dataset;
use crate::error::{Error, Result};
use crate::files::write_atomic;

/// `dataset/all_patches.hdf5` → `dataset/all_patches.hdf5.groups.csv`.
pub fn sidecar(data: &Path) -> PathBuf {
    let mut name = data.file_name().unwrap_or_default().to_os_string();
    name.push(".groups.csv");
    data.with_file_name(name)
}

/// How much further than its neighbour a slice may be from the first slice of its nodule: the
/// end slices of a nodule differ more than neighbours do, two different nodules most often more.
pub const REACH: f64 = 2.5;

/// Patches are compared as the means of blocks of POOL × POOL pixels: CT noise is independent
/// from pixel to pixel and averages out over a block, while the anatomy that tells one nodule
/// from the next (vessels, walls, the nodule's outline) is larger than a block. On the
/// synthetic sets this halves the distance between slices of one nodule and leaves the
/// distance between nodules almost as it was.
pub const POOL: usize = 4;

/// The share of far-apart rows of one label that the threshold would join: the chance that the
/// last slice of one nodule and the first of the next, which are as unrelated as any two rows,
/// are taken for one nodule. The rule errs towards joining on purpose: two nodules joined cost
/// a little balance in the split, one nodule cut in two leaks it into both sides. On the
/// synthetic sets (tests/groups.rs) 5 % joins all same-nodule neighbours of runs of up to 4
/// slices and 98–99 % of segmented runs of up to 11, where 1 % joined 96 % and 77–80 %.
pub const FALSE_JOINS: f64 = 0.05;

/// Rows, evenly spaced through the file, whose pairs are compared to learn how different two
/// nodules are: 400 give some 40,000 pairs of one label far enough apart.
const REFERENCE_ROWS: usize = 400;
/// Fewer reference pairs than this and the threshold would be a guess.
const MIN_REFERENCE_PAIRS: usize = 100;

/// Mean absolute difference of two patches, pixel by pixel.
pub fn difference(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(&x, &y)| (x - y).abs() as f64).sum();
    sum / a.len().max(1) as f64
}

/// Mean absolute deviation of a patch from its own mean: how much it varies.
fn spread(a: &[f32]) -> f64 {
    let mean = a.iter().map(|&x| x as f64).sum::<f64>() / a.len().max(1) as f64;
    a.iter().map(|&x| (x as f64 - mean).abs()).sum::<f64>() / a.len().max(1) as f64
}

/// The means of the POOL × POOL blocks of a `height` × `width` patch, row by row; blocks at
/// the right and bottom edges of a size that POOL does not divide hold fewer pixels.
pub fn blocks(patch: &[f32], height: usize, width: usize) -> Vec<f32> {
    let (rows, cols) = (height.div_ceil(POOL), width.div_ceil(POOL));
    let mut sums = vec![0f64; rows * cols];
    for (y, row) in patch.chunks(width.max(1)).take(height).enumerate() {
        let out = &mut sums[(y / POOL) * cols..][..cols];
        for (sum, part) in out.iter_mut().zip(row.chunks(POOL)) {
            *sum += part.iter().map(|&v| v as f64).sum::<f64>();
        }
    }
    let side = |i: usize, of: usize| POOL.min(of - i * POOL) as f64;
    sums.iter()
        .enumerate()
        .map(|(b, &sum)| (sum / (side(b / cols, height) * side(b % cols, width))) as f32)
        .collect()
}

/// How two patches differ: `infer` measures whole patches absolutely, segmented ones relatively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// The mean absolute difference: best where patches show their surroundings.
    Absolute,
    /// The mean absolute difference over the square root of the patches' own variation (the
    /// geometric mean of the absolute and the relative difference): where the surroundings are
    /// blacked out (segmented nodules), a nodule is told from the next by its own shape.
    Relative,
}

impl Measure {
    /// The distance between two patches' `blocks`.
    pub fn of(self, a: &[f32], b: &[f32]) -> f64 {
        match self {
            Measure::Absolute => difference(a, b),
            Measure::Relative => {
                let scale = (spread(a) + spread(b)).sqrt();
                match scale > 0.0 {
                    true => difference(a, b) / scale,
                    false => difference(a, b),
                }
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Measure::Absolute => "mean absolute difference of 4×4-pixel block means",
            Measure::Relative => {
                "difference of 4×4-pixel block means relative to the patches' own variation"
            }
        }
    }
}

/// Nodule groups found in a file, and the threshold they were found with.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    /// A nodule id per row, counting from 0 in row order.
    pub ids: Vec<i64>,
    /// Neighbours of one label whose `measure` is at most this are one nodule (in the file's
    /// units for the absolute measure).
    pub threshold: f64,
    /// The threshold came from the data (not from `--max-difference`).
    pub from_data: bool,
    pub measure: Measure,
    /// The far-apart pairs of one label the threshold was taken from (0 with a given one).
    pub reference_pairs: usize,
    /// Of the neighbouring rows of one label, the share closer than the threshold: far above
    /// FALSE_JOINS where the file holds runs of slices, near it where it holds none.
    pub neighbours_joined: f64,
}

/// Infers the groups of `data`: with the threshold `given` (in the file's units), else with
/// the one the file's own far-apart rows give.
pub fn infer(data: &Dataset, given: Option<f64>) -> Result<Inferred> {
    // A threshold in the file's units is a mean absolute difference; from the data, the
    // measure suits what the patches show.
    let measure = match (given, segmented(data)) {
        (None, true) => Measure::Relative,
        _ => Measure::Absolute,
    };
    let compare = Compare { data, measure };
    let distances = compare.neighbours()?;
    // A given threshold needs no reference pairs: drawing them would be work for nothing.
    let reference = match given {
        Some(_) => Vec::new(),
        None => compare.far_apart()?,
    };
    if reference.len() < MIN_REFERENCE_PAIRS && given.is_none() {
        return Err(Error::file(
            &data.path,
            "too few patches of one label far enough apart to learn how nodules differ",
        ));
    }
    let threshold = given.unwrap_or_else(|| joining_threshold(&reference));
    // A chain of look-alike neighbours would otherwise grow without end: a row also has to
    // stay within REACH × threshold of its group's first row.
    let n = data.len();
    let mut ids = Vec::with_capacity(n);
    let (mut id, mut first) = (0, compare.blocks(0)?);
    for i in 0..n {
        let joined = i > 0 && distances[i - 1] <= threshold;
        let row = compare.blocks(i)?;
        let stays = joined && measure.of(&first, &row) <= REACH * threshold;
        if i > 0 && !stays {
            id += 1;
            first = row;
        }
        ids.push(id);
    }
    let compared = distances.iter().filter(|d| !d.is_nan());
    let joined = compared.clone().filter(|&&d| d <= threshold).count();
    let neighbours_joined = joined as f64 / compared.count().max(1) as f64;
    Ok(Inferred {
        ids,
        threshold,
        from_data: given.is_none(),
        measure,
        reference_pairs: reference.len(),
        neighbours_joined,
    })
}

/// Share of pixels that hold the commonest value above which a file counts as segmented.
pub const SEGMENTED_SHARE: f64 = 0.2;

/// Whether the patches are segmented: one value (the blacked-out background) holds at least
/// `SEGMENTED_SHARE` of the pixels of the sample the data's scale was found from. Noise keeps
/// any one value of a whole CT patch far below that, in any units.
pub fn segmented(data: &Dataset) -> bool {
    data.scale.commonest >= SEGMENTED_SHARE
}

/// Distances between the rows of one file by one measure.
struct Compare<'a> {
    data: &'a Dataset,
    measure: Measure,
}

impl Compare<'_> {
    fn blocks(&self, i: usize) -> Result<Vec<f32>> {
        Ok(blocks(
            &self.data.patch(i)?,
            self.data.height,
            self.data.width,
        ))
    }

    /// The distance of each row to the next, NaN where their labels differ (they are never one
    /// nodule), on every core.
    fn neighbours(&self) -> Result<Vec<f64>> {
        let n = self.data.len();
        let labels = &self.data.labels;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let mut distances = vec![f64::NAN; n.saturating_sub(1)];
        let chunk = distances.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = distances
                .chunks_mut(chunk)
                .enumerate()
                .map(|(c, part)| {
                    scope.spawn(move || -> Result<()> {
                        let mut previous = self.blocks(c * chunk)?;
                        for (k, d) in part.iter_mut().enumerate() {
                            let i = c * chunk + k;
                            let next = self.blocks(i + 1)?;
                            if labels[i] == labels[i + 1] {
                                *d = self.measure.of(&previous, &next);
                            }
                            previous = next;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("comparison threads do not panic"))
        })?;
        Ok(distances)
    }

    /// Distances between rows of one label too far apart to be slices of one nodule (more
    /// than LONGEST_NODULE rows, or a tenth of a small file), among REFERENCE_ROWS rows spread
    /// evenly through the file: what the distance between two different nodules looks like in
    /// this file, whatever the share of neighbours that are different nodules.
    fn far_apart(&self) -> Result<Vec<f64>> {
        let n = self.data.len();
        let gap = LONGEST_NODULE.min(n / 10).max(1);
        let rows: Vec<usize> = (0..REFERENCE_ROWS.min(n))
            .map(|k| k * n / REFERENCE_ROWS.min(n).max(1))
            .collect();
        let pooled = rows
            .iter()
            .map(|&i| self.blocks(i))
            .collect::<Result<Vec<_>>>()?;
        let labels = &self.data.labels;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        Ok(std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (rows, pooled) = (&rows, &pooled);
                    scope.spawn(move || {
                        let mut distances = Vec::new();
                        for a in (t..rows.len()).step_by(threads) {
                            for b in a + 1..rows.len() {
                                let (i, j) = (rows[a], rows[b]);
                                if j - i > gap && labels[i] == labels[j] {
                                    distances.push(self.measure.of(&pooled[a], &pooled[b]));
                                }
                            }
                        }
                        distances
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("comparison threads do not panic"))
                .collect()
        }))
    }
}

/// The threshold below which neighbours are one nodule: the FALSE_JOINS quantile of the
/// distances between far-apart rows (`reference`). It depends only on how different two
/// nodules of the file are, not on how many neighbours are slices of one nodule, and a change
/// of units that scales every distance by one factor scales it by the same factor.
pub fn joining_threshold(reference: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = reference
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * FALSE_JOINS).round() as usize]
}

/// No nodule's run of slices in a CT patch set is longer than this: 30 mm at 0.625 mm slices
/// is 48; a group of more is two nodules or more run together.
pub const LONGEST_NODULE: usize = 100;
/// More slices a group than this on average and the groups are fewer than any CT set has
/// nodules (LIDC-derived sets average 5–6, the synthetic ones 2.5).
pub const MEAN_SLICES: f64 = 20.0;

/// Why the groups cannot be nodules, if they cannot.
pub fn implausible(ids: &[i64]) -> Option<String> {
    let sizes = group_sizes(ids);
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mean = ids.len() as f64 / sizes.len().max(1) as f64;
    if largest > LONGEST_NODULE {
        Some(format!(
            "a group of {largest} slices, longer than any nodule's run ({LONGEST_NODULE})"
        ))
    } else if mean > MEAN_SLICES {
        Some(format!(
            "{} groups of {mean:.0} slices on average, far fewer than a CT set has nodules",
            sizes.len()
        ))
    } else {
        None
    }
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
