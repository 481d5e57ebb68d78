//! Evaluating a checkpoint file on a data file: the one procedure behind `lnmc eval` and the
//! dashboard's Evaluate tab (metrics in `metrics`, the forward passes in `inference`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::baseline::{self, Baseline};
use crate::calibration;
use crate::checkpoint::{self, Info};
use crate::data::intensity::Intensity;
use crate::data::split::{self, Split};
use crate::data::{self, reader, Dataset};
use crate::error::{Error, Result};
use crate::inference::{self, Patches};
use crate::metrics::{self, Intervals, Metrics};
use crate::model::Spec;
use crate::operating_point::{self, OperatingPoint, Rule};
use crate::paired;
use crate::predictions::Prediction;
use crate::run;
use crate::subgroups::{self, Binning, Features, Subgroup};
use crate::types::{DeviceChoice, Precision};

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub checkpoint: PathBuf,
    /// Default: the checkpoint's own data, else the default data.
    pub data: Option<PathBuf>,
    /// Every patch instead of the validation split.
    pub all: bool,
    /// Default: the checkpoint's, else the per-patch percentile rescale.
    pub intensity: Option<Intensity>,
    pub device: DeviceChoice,
    pub precision: Precision,
    /// Score each patch as the mean probability over its 8 symmetries.
    pub tta: bool,
    /// Where P(malignant) is cut for the operating point reported beside the metrics at 0.5.
    pub threshold: Rule,
    /// A second checkpoint to compare on the same patches.
    pub against: Option<PathBuf>,
    /// Upper edges of the size subgroups, in pixels of equivalent diameter.
    pub size_edges: Vec<f64>,
}

impl Request {
    /// Evaluate `checkpoint` on its validation split with the defaults.
    pub fn new(checkpoint: PathBuf) -> Request {
        Request {
            checkpoint,
            data: None,
            all: false,
            intensity: None,
            device: DeviceChoice::Auto,
            // Exact by default: a checkpoint scores the same on every machine, bf16 CPUs too.
            precision: Precision::Fp32,
            tta: false,
            threshold: Rule::Fixed(metrics::THRESHOLD),
            against: None,
            size_edges: subgroups::SIZE_EDGES.to_vec(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Evaluation {
    pub checkpoint: PathBuf,
    pub metrics: Metrics,
    /// Patches evaluated, with their label and probability of malignancy.
    pub indices: Vec<usize>,
    pub labels: Vec<u8>,
    pub scores: Vec<f64>,
    pub data_path: PathBuf,
    pub source_kind: &'static str,
    /// What the file's pixels hold.
    pub units: crate::data::units::Units,
    pub split_name: String,
    /// "run NAME, epoch N" or "PyTorch state_dict".
    pub origin: String,
    /// The network scored: its architecture and context slices.
    pub model: Spec,
    /// The network against the nodule diameter alone, or why there is no such comparison.
    pub baseline: std::result::Result<Baseline, String>,
    /// The forward passes alone, data loading excluded.
    pub inference_seconds: f64,
    /// What the convolutions computed in, and why.
    pub precision: String,
    /// What was scored, and whether its numbers may be optimistic.
    pub split: split::Facts,
    /// Nodule of each evaluated patch, when the data has groups.
    pub groups: Option<Vec<i64>>,
    /// Patient of each evaluated patch, when the file has patient ids beside nodule ids.
    pub patients: Option<Vec<i64>>,
    /// Each nodule scored by the mean probability of its slices (`n` counts nodules).
    pub nodule: Option<Metrics>,
    /// 95 % bootstrap intervals of the patch-level metrics, resampling nodules when known.
    /// None where the counts cannot support one (`metrics::MIN_PER_CLASS`).
    pub ci: Option<Intervals>,
    /// Whether P(malignant) means what it says, before and after the checkpoint's temperature.
    pub calibration: calibration::Assessment,
    /// The decision at the requested threshold.
    pub operating_point: OperatingPoint,
    /// The second checkpoint, when one was asked for: its scores of the same patches and the
    /// paired tests, or why there are none.
    pub against: Option<Against>,
    /// Size and density of each evaluated patch, how they are binned, and the metrics of each
    /// group.
    pub features: Vec<Features>,
    pub binning: Binning,
    pub subgroups: Vec<Subgroup>,
}

/// A second checkpoint scored on the same patches.
#[derive(Debug, Clone)]
pub struct Against {
    pub checkpoint: PathBuf,
    pub origin: String,
    pub scores: Vec<f64>,
    pub comparison: std::result::Result<paired::Comparison, String>,
}

/// Bootstrap resamples for the confidence intervals, and their seed (fixed: the same
/// evaluation always reports the same intervals).
pub const RESAMPLES: usize = 1000;
const BOOTSTRAP_SEED: u64 = 20_161_128;

impl Evaluation {
    /// "fp32" or "bf16": what the network scored in, without the reason.
    pub fn precision_short(&self) -> &str {
        self.precision.split(' ').next().unwrap_or("")
    }

    /// The position of patch `index` among the evaluated ones.
    pub fn position(&self, index: usize) -> Option<usize> {
        self.indices.iter().position(|&i| i == index)
    }

    /// The misclassified patches, most confidently wrong first.
    pub fn misclassified(&self) -> Vec<usize> {
        let mut wrong: Vec<(usize, f64)> = (0..self.indices.len())
            .filter(|&k| !metrics::is_correct(self.labels[k], self.scores[k]))
            .map(|k| (self.indices[k], (self.scores[k] - metrics::THRESHOLD).abs()))
            .collect();
        wrong.sort_by(|a, b| b.1.total_cmp(&a.1));
        wrong.into_iter().map(|(i, _)| i).collect()
    }
}

impl Evaluation {
    /// Each scored patch as a row of a predictions table (`eval --predictions`).
    pub fn predictions(&self, fold: Option<usize>) -> Vec<Prediction> {
        let at = |ids: &Option<Vec<i64>>, k: usize| ids.as_ref().map(|v| v[k]);
        (0..self.indices.len())
            .map(|k| Prediction {
                index: self.indices[k],
                nodule: at(&self.groups, k),
                patient: at(&self.patients, k),
                label: Some(self.labels[k]),
                p_malignant: self.scores[k],
                fold,
            })
            .collect()
    }

    /// The patches the two compared checkpoints decide differently at 0.5, the largest
    /// difference in P(malignant) first; empty without a second checkpoint.
    pub fn disagreements(&self) -> Vec<usize> {
        let Some(a) = &self.against else {
            return Vec::new();
        };
        let mut k: Vec<usize> = (0..self.scores.len())
            .filter(|&k| {
                metrics::predicts_malignant(self.scores[k])
                    != metrics::predicts_malignant(a.scores[k])
            })
            .collect();
        let gap = |k: usize| (a.scores[k] - self.scores[k]).abs();
        k.sort_by(|&x, &y| gap(y).total_cmp(&gap(x)));
        k.into_iter().map(|k| self.indices[k]).collect()
    }
}

/// Every patch of a file scored, labels or not (`lnmc predict`).
pub struct Scored {
    pub rows: Vec<Prediction>,
    pub model: Spec,
    /// Whether the file has labels (the rows then carry them).
    pub labelled: bool,
    /// What the network computed in, and why.
    pub precision: String,
}

/// P(malignant) of every patch of `data_path` by `checkpoint`, with the run's intensity step
/// and context; the file may lack labels. Refuses patches of another size than the run's.
pub fn predict_file(request: &Request, data_path: &Path) -> Result<Scored> {
    let ckpt = checkpoint::load(&request.checkpoint)?;
    let (mut data, labelled) = reader::read_for_prediction(data_path)?;
    ckpt.check_patch_size(&request.checkpoint, &data)?;
    let intensity = request
        .intensity
        .or(ckpt.info.as_ref().map(|i| i.config.intensity))
        .unwrap_or_default();
    let device = crate::compute::device(request.device)?;
    let (_vs, mut net, model) = ckpt.network(&request.checkpoint, device)?;
    let compute = crate::compute::Compute::resolve(request.precision, device);
    net.set_precision(compute.kind);
    let indices: Vec<usize> = (0..data.len()).collect();
    let patches = Patches::new(&mut data, &intensity, device, model.context)?;
    let scores = score(&net, &patches, &indices, request.tta);
    let rows = indices
        .iter()
        .map(|&i| Prediction {
            index: i,
            nodule: data.groups.as_ref().map(|g| g[i]),
            patient: data.patients.as_ref().map(|p| p[i]),
            label: labelled.then_some(data.labels[i]),
            p_malignant: scores[i],
            fold: None,
        })
        .collect();
    Ok(Scored {
        rows,
        model,
        labelled,
        precision: scored_in(request.precision, compute),
    })
}

/// P(malignant) of the patches `indices`, plain or averaged over the 8 symmetries.
fn score(net: &crate::model::Net, patches: &Patches, indices: &[usize], tta: bool) -> Vec<f64> {
    if tta {
        return inference::predict_tta(net, patches, indices, inference::BATCH);
    }
    let (logits, _) = inference::predict(net, patches, indices, inference::BATCH);
    logits
        .iter()
        .map(|&l| metrics::malignant_probability(l))
        .collect()
}

pub fn evaluate(request: &Request) -> Result<Evaluation> {
    let mut e = evaluate_one(request)?;
    e.operating_point = operating_point::choose(&e.labels, &e.scores, request.threshold)?;
    if let Some(other) = &request.against {
        // The same data, split and scoring as the first; then the patches must be the same.
        let second = evaluate_one(&Request {
            checkpoint: other.clone(),
            data: Some(e.data_path.clone()),
            against: None,
            ..request.clone()
        })?;
        if second.indices != e.indices {
            return Err(Error::file(
                other,
                format!(
                    "is scored on other patches than {} ({} against {}): compare checkpoints of the same split, or pass --split all",
                    request.checkpoint.display(),
                    second.split_name,
                    e.split_name
                ),
            ));
        }
        let comparison = paired::compare(
            &e.labels,
            &e.scores,
            &second.scores,
            e.groups.as_deref(),
            RESAMPLES,
            BOOTSTRAP_SEED,
        );
        e.against = Some(Against {
            checkpoint: other.clone(),
            origin: second.origin,
            scores: second.scores,
            comparison,
        });
    }
    Ok(e)
}

/// One checkpoint's evaluation, at the default threshold and against nothing.
fn evaluate_one(request: &Request) -> Result<Evaluation> {
    let ckpt = checkpoint::load(&request.checkpoint)?;
    let info = ckpt.info.as_ref();
    let data_path = data_path(request, info)?;
    let mut data = reader::read(&data_path)?;
    let intensity = request
        .intensity
        .or(info.map(|i| i.config.intensity))
        .unwrap_or_default();
    let device = crate::compute::device(request.device)?;
    ckpt.check_patch_size(&request.checkpoint, &data)?;
    let (_vs, mut net, model) = ckpt.network(&request.checkpoint, device)?;
    let compute = crate::compute::Compute::resolve(request.precision, device);
    net.set_precision(compute.kind);
    let (indices, split_name, split_facts) = scope(request.all, info, &data, &data_path)?;
    let features = patch_features(&data, &indices)?;
    // The set as stored, rescaled batch by batch: no normalised copy of it.
    let patches = Patches::new(&mut data, &intensity, device, model.context)?;
    let started = Instant::now();
    let scores = score(&net, &patches, &indices, request.tta);
    let inference_seconds = started.elapsed().as_secs_f64();
    let truth: Vec<u8> = indices.iter().map(|&i| data.labels[i]).collect();
    let picked = |ids: &Vec<i64>| indices.iter().map(|&i| ids[i]).collect::<Vec<i64>>();
    let groups = data.groups.as_ref().map(picked);
    let patients = data.patients.as_ref().map(picked);
    let nodule = groups
        .as_ref()
        .and_then(|ids| metrics::nodule_metrics(&truth, &scores, ids));
    let ci = metrics::bootstrap(
        &truth,
        &scores,
        groups.as_deref(),
        RESAMPLES,
        BOOTSTRAP_SEED,
    );
    let temperature = calibration::load(&request.checkpoint)?;
    let calibration = calibration::assess(
        &truth,
        &scores,
        groups.as_deref(),
        temperature,
        RESAMPLES,
        BOOTSTRAP_SEED,
    );
    let rule = Rule::Fixed(metrics::THRESHOLD);
    let (binning, subgroups) = subgroup_table(request, &data, &truth, &scores, &groups, &features);
    let diameters: Vec<f64> = features.iter().map(|f| f.diameter).collect();
    Ok(Evaluation {
        baseline: baseline::diameter(&truth, &scores, &diameters, groups.as_deref()),
        patients,
        model,
        features,
        binning,
        subgroups,
        checkpoint: request.checkpoint.clone(),
        operating_point: operating_point::at(&truth, &scores, metrics::THRESHOLD, rule),
        calibration,
        against: None,
        metrics: metrics::metrics(&truth, &scores),
        split: split_facts,
        groups,
        nodule,
        ci,
        units: data.scale.units,
        indices,
        labels: truth,
        scores,
        data_path,
        source_kind: data.source_kind(),
        split_name: match request.tta {
            true => format!("{split_name} · TTA ×8"),
            false => split_name,
        },
        origin: origin(info),
        inference_seconds,
        precision: scored_in(request.precision, compute),
    })
}

/// The data asked for, else the file the checkpoint's run trained on, else the default set.
fn data_path(request: &Request, info: Option<&checkpoint::Info>) -> Result<PathBuf> {
    Ok(match (&request.data, info) {
        (Some(path), _) => path.clone(),
        (None, Some(i)) if i.config.data.path.exists() => i.config.data.path.clone(),
        (None, _) => data::default_path()?,
    })
}

/// Where a checkpoint comes from, as the outputs say it.
fn origin(info: Option<&checkpoint::Info>) -> String {
    match info {
        Some(i) => format!("run {}, epoch {}", i.config.name, i.epoch),
        None => "PyTorch state_dict".into(),
    }
}

/// The patches scored (all, or the validation side of the split the checkpoint was trained
/// with), what to call them, and what is known of how honest that split is.
fn scope(
    all: bool,
    info: Option<&checkpoint::Info>,
    data: &Dataset,
    data_path: &Path,
) -> Result<(Vec<usize>, String, split::Facts)> {
    if !all {
        return validation_indices(info, data, data_path);
    }
    let trained_here = match info {
        Some(i) => Some(data::sha256(data_path)? == i.config.data.sha256),
        None => None,
    };
    Ok((
        (0..data.len()).collect(),
        "all patches".to_string(),
        split::Facts::all(data, trained_here),
    ))
}

/// Metrics by size and density (the bins the request asks for, or the data's own).
fn subgroup_table(
    request: &Request,
    data: &Dataset,
    truth: &[u8],
    scores: &[f64],
    groups: &Option<Vec<i64>>,
    features: &[Features],
) -> (Binning, Vec<Subgroup>) {
    let densities: Vec<f64> = features.iter().map(|f| f.density).collect();
    let binning = Binning::new(&request.size_edges, &data.scale, &densities);
    let table = subgroups::table(
        truth,
        scores,
        groups.as_deref(),
        features,
        &binning,
        RESAMPLES,
        BOOTSTRAP_SEED,
    );
    (binning, table)
}

/// What the network computed in, and why, as the outputs say it.
fn scored_in(asked: Precision, compute: crate::compute::Compute) -> String {
    match asked {
        Precision::Fp32 => "fp32 (exact: the same scores on every machine)".into(),
        _ => compute.why,
    }
}

/// Size and density of each patch of `indices`, on every core.
fn patch_features(data: &Dataset, indices: &[usize]) -> Result<Vec<Features>> {
    let threshold = subgroups::threshold(&data.scale);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = indices.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let patch = data.patch(i)?;
                            Ok(subgroups::features(
                                &patch,
                                data.height,
                                data.width,
                                threshold,
                            ))
                        })
                        .collect::<Result<Vec<Features>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(indices.len());
        for w in workers {
            all.extend(w.join().expect("feature worker")?);
        }
        Ok(all)
    })
}

/// The validation patches a checkpoint was selected on: its run's split.json when the data is
/// unchanged, else the split recomputed from the run's settings; upstream's split for a
/// PyTorch file.
fn validation_indices(
    info: Option<&Info>,
    data: &Dataset,
    path: &Path,
) -> Result<(Vec<usize>, String, split::Facts)> {
    let Some(info) = info else {
        let name = "upstream val split (sklearn, random_state=42)".to_string();
        let facts = split::Facts::of(split::SplitKind::Upstream, data);
        return Ok((split::upstream(data.len()).1, name, facts));
    };
    let config = &info.config;
    let same_data = data::sha256(path)? == config.data.sha256;
    let saved = same_data
        .then(|| run::read_split(&config.run_dir).ok())
        .flatten();
    // The split as it was made when the run trained (its groups' verdict then), else as
    // it is made now.
    let (split, facts) = match saved {
        Some(s) if s.val.iter().all(|&i| i < data.len()) => (s, config.facts()),
        _ => {
            let s = Split::recompute(config.split, config.split_seed, config.fold, data)?;
            let facts = s.facts();
            (s, facts)
        }
    };
    let mut name = format!("val split of run {}", config.name);
    if !same_data {
        name.push_str(" (recomputed: the data differs from the run's)");
    }
    Ok((split.val, name, facts))
}
