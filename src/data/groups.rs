//! Nodule groups for files that carry no ids, such as the upstream `all_patches.hdf5`: which
//! rows are slices of one nodule. They are inferred once (`lnmc groups`), written to a sidecar
//! beside the data file (`<data file>.groups.csv`, never into the user's HDF5) and read with the
//! data from then on, so that splits keep whole nodules on one side and metrics can be counted
//! per nodule.
//!
//! The rule: the slices of one nodule are stored in consecutive rows, carry the same label and
//! share their surroundings (vessels, parenchyma, chest wall move little from one slice to the
//! next), so two neighbouring rows of one label are joined when their patches differ little.
//! The measure is the mean absolute difference of the raw values (relative to the patches' own
//! variation where they are segmented, see `Measure`). How little is "little" is taken from the
//! file itself, which is what makes the rule free of units: the differences
//! between neighbours fall into two kinds, slices of one nodule (small) and the last slice of
//! one nodule against the first of the next (large), and the threshold is the one that best
//! separates the two (Otsu's, on the logarithms of the differences). Any change of units that
//! scales and shifts the values (HU → greys, [0, 1], z-scores) scales every difference by one
//! factor, shifts every logarithm by one constant and moves the threshold with them: the same
//! pairs are joined. A segmented file (black around the nodule) has smaller differences of
//! both kinds, and the threshold follows them down. Of the smaller kind, the threshold keeps
//! the mean + 1.8 standard deviations of its logarithms (`joining_threshold`). Correlation was
//! tried and separates worse (every patch is centred on a bright nodule, so different nodules
//! correlate too). The rule
//! errs towards joining on purpose: two nodules joined cost a little balance in the split,
//! one nodule cut in two leaks it into both sides.

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
pub const REACH: f64 = 1.5;

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
            Measure::Absolute => "mean absolute difference",
            Measure::Relative => "difference relative to the patches' own variation",
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
    /// How well the measure separates the two kinds of neighbours: Otsu's between-kind share
    /// of the variance of the log distances, 0…1 (NaN with too few neighbours).
    pub separation: f64,
}

/// Infers the groups of `data`: with the threshold `given` (in the file's units), else with
/// the one the file's own neighbour differences give.
pub fn infer(data: &Dataset, given: Option<f64>) -> Result<Inferred> {
    // A threshold in the file's units is a mean absolute difference; from the data, the
    // measure suits what the patches show.
    let measure = match (given, segmented(data)) {
        (None, true) => Measure::Relative,
        _ => Measure::Absolute,
    };
    let distances = neighbour_distances(data, measure)?;
    let too_few = || {
        Error::file(
            &data.path,
            "too few neighbouring patches of one label to find nodule groups from",
        )
    };
    let separated = separating_threshold(&distances);
    let (threshold, separation) = match (given, separated) {
        (Some(t), _) => (t, separated.map_or(f64::NAN, |(_, s)| s)),
        (None, Some((cut, separation))) => (joining_threshold(&distances, cut), separation),
        (None, None) => return Err(too_few()),
    };
    // A chain of look-alike neighbours would otherwise grow without end: a row also has to
    // stay within REACH × threshold of its group's first row.
    let n = data.len();
    let mut ids = Vec::with_capacity(n);
    let (mut id, mut first) = (0, 0);
    for i in 0..n {
        let joined = i > 0 && distances[i - 1] <= threshold;
        let stays = joined && measure.of(&data.patch(first)?, &data.patch(i)?) <= REACH * threshold;
        if i > 0 && !stays {
            id += 1;
            first = i;
        }
        ids.push(id);
    }
    Ok(Inferred {
        ids,
        threshold,
        from_data: given.is_none(),
        measure,
        separation,
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

/// The distance of each row to the next by `measure`, NaN where their labels differ (they are
/// never one nodule), on every core.
fn neighbour_distances(data: &Dataset, measure: Measure) -> Result<Vec<f64>> {
    let n = data.len();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut distances = vec![f64::NAN; n.saturating_sub(1)];
    let chunk = distances.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = distances
            .chunks_mut(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || -> Result<()> {
                    for (k, d) in part.iter_mut().enumerate() {
                        let i = c * chunk + k;
                        if data.labels[i] == data.labels[i + 1] {
                            *d = measure.of(&data.patch(i)?, &data.patch(i + 1)?);
                        }
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

/// How many standard deviations above their mean (in logarithms) the slices of one nodule may
/// differ: the 96th percentile of a log-normal kind, which with its long upper tail joins
/// 99.5 % of same-nodule neighbours on the synthetic sets in every convention (tests/groups.rs;
/// 1.645 joined 98.6 %, 1.96 merged nodules into too long groups).
const SPREADS: f64 = 1.8;

/// The threshold below which neighbours are one nodule, given the `cut` that splits the
/// distances in two kinds (`separating_threshold`): of the smaller kind, the slices of one
/// nodule, the mean + `SPREADS` standard deviations of their logarithms, erring towards joining
/// as the rule means to. Scaling every distance by one factor scales this threshold by the same.
pub fn joining_threshold(distances: &[f64], cut: f64) -> f64 {
    let logs: Vec<f64> = distances
        .iter()
        .filter(|&&d| d > 0.0 && d <= cut)
        .map(|d| d.ln())
        .collect();
    if logs.len() < 2 {
        return cut;
    }
    let mean = logs.iter().sum::<f64>() / logs.len() as f64;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64;
    (mean + SPREADS * var.sqrt()).exp().max(cut)
}

/// The threshold that best separates two kinds of distances (Otsu's method on their
/// logarithms, 256 bins): the largest between-kind variance, and that variance's share of the
/// whole (1: two sharp kinds, 0: one). NaNs (pairs not compared) are left out; None with fewer
/// than two distances.
pub fn separating_threshold(distances: &[f64]) -> Option<(f64, f64)> {
    let mut values: Vec<f64> = distances
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if values.len() < 2 {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // Identical neighbours (a difference of 0) sit just below the smallest positive one.
    let floor = values.iter().copied().find(|&d| d > 0.0)? / 2.0;
    let logs: Vec<f64> = values.iter().map(|&d| d.max(floor).ln()).collect();
    let (lo, hi) = (logs[0], logs[logs.len() - 1]);
    if hi - lo < 1e-12 {
        return Some((values[values.len() - 1], 0.0));
    }
    const BINS: usize = 256;
    let width = (hi - lo) / BINS as f64;
    let mut counts = [0f64; BINS];
    for &l in &logs {
        counts[(((l - lo) / width) as usize).min(BINS - 1)] += 1.0;
    }
    let centre = |b: usize| lo + (b as f64 + 0.5) * width;
    let total = logs.len() as f64;
    let sum: f64 = (0..BINS).map(|b| counts[b] * centre(b)).sum();
    let (mut below, mut below_sum, mut best, mut cut) = (0.0, 0.0, -1.0, 0);
    for b in 0..BINS - 1 {
        below += counts[b];
        below_sum += counts[b] * centre(b);
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let between = below * above * (below_sum / below - (sum - below_sum) / above).powi(2);
        if between > best {
            (best, cut) = (between, b);
        }
    }
    let mean = sum / total;
    let variance: f64 = (0..BINS)
        .map(|b| counts[b] * (centre(b) - mean).powi(2))
        .sum();
    let separation = best / total.powi(2) / (variance / total).max(f64::MIN_POSITIVE);
    Some(((lo + (cut + 1) as f64 * width).exp(), separation))
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
