//! K-fold cross-validation as K ordinary runs, `runs/NAME/fold-1` … `runs/NAME/fold-K` (each
//! one resumable like any run), summarised in `runs/NAME/cv.json`: the last epoch of each fold,
//! their mean and standard deviation, and the metrics of the pooled out-of-fold predictions
//! (every patch scored once, by the model that never saw it). Each fold's model is its last
//! epoch's: a choice made without the patches it then scores. The best epoch by validation
//! accuracy is kept beside it, labelled optimistic: it was picked on the very patches it
//! scores. The pooled predictions are written beside it (`cv-predictions.csv`), and set
//! against the nodule diameter alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::baseline::{self, Baseline};
use crate::data::split::{Facts, SplitKind};
use crate::error::{Error, Result};
use crate::evaluation::{self, RESAMPLES};
use crate::files::write_json;
use crate::metrics::{self, Intervals, Metrics};
use crate::predictions::{self, Prediction};
use crate::run::catalog::RunEntry;
use crate::run::{Status, CONFIG, CV_SUMMARY};
use crate::train::{Request, Start};
use crate::types::{DeviceChoice, EpochRecord};

/// `fold-3`.
pub fn fold_name(k: usize) -> String {
    format!("fold-{k}")
}

/// Where the folds of cross-validation `name` go: its own directory under each root.
pub fn roots(runs_root: &Path, checkpoint_root: &Path, name: &str) -> (PathBuf, PathBuf) {
    (runs_root.join(name), checkpoint_root.join(name))
}

/// How to go on with fold `k` of `folds`: None when it has finished already, a resume when it
/// was begun, else a new run of `template` (whose roots are the cross-validation's own).
pub fn start(template: &Request, k: usize, folds: usize) -> Option<Start> {
    let dir = template.runs_root.join(fold_name(k));
    if !dir.join(CONFIG).exists() {
        let mut request = template.clone();
        request.settings.name = Some(fold_name(k));
        request.fold = Some(crate::data::split::Fold { k, of: folds });
        return Some(Start::New(request));
    }
    match RunEntry::read(&dir).map(|e| e.status) {
        Some(Status::Finished) => None,
        _ => Some(Start::Resume {
            run_dir: dir,
            epochs: None,
            device: template.settings.device,
            precision: template.settings.precision,
        }),
    }
}

/// Trains the `folds` folds of `request` one after another, each an ordinary run under
/// runs/NAME/ (going on where an earlier command stopped), through `train_one`, which returns
/// an exit code; then summarises them. None when a fold did not finish: its code is returned.
/// `say` gets a line for each fold.
pub fn train_folds(
    mut request: Request,
    folds: usize,
    train_one: &mut dyn FnMut(Start) -> Result<u8>,
    say: &mut dyn FnMut(String),
) -> Result<std::result::Result<Summary, u8>> {
    // Labels and groups are all the check needs: the pixels stay in the file.
    crate::data::split::check_folds(folds, &crate::data::reader::open(&request.data)?)?;
    let name = request
        .settings
        .name
        .take()
        .unwrap_or_else(crate::run::timestamp);
    let (runs_root, checkpoint_root) = roots(&request.runs_root, &request.checkpoint_root, &name);
    request.runs_root = runs_root.clone();
    request.checkpoint_root = checkpoint_root;
    for k in 1..=folds {
        match start(&request, k, folds) {
            None => say(format!("fold {k} of {folds} finished already")),
            Some(start) => {
                say(format!("fold {k} of {folds}"));
                let code = train_one(start)?;
                if code != 0 {
                    return Ok(Err(code));
                }
            }
        }
    }
    summarise(&runs_root, folds, request.settings.device).map(Ok)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub folds: usize,
    pub split: SplitKind,
    /// The folds' split as data (whose groups, possibly optimistic and why).
    pub split_facts: Facts,
    /// How each fold's model is chosen for the numbers below.
    pub selection: String,
    /// The last epoch of each fold, in fold order.
    pub per_fold: Vec<EpochRecord>,
    /// Mean and sample standard deviation over the folds of each metric of their last epoch.
    pub mean: BTreeMap<String, f64>,
    pub sd: BTreeMap<String, f64>,
    /// The out-of-fold predictions of the folds' last checkpoints, pooled.
    pub pooled: Pooled,
    /// The same with each fold's best epoch by validation accuracy: chosen on the patches it
    /// scores, so optimistic.
    pub best_epoch: BestEpoch,
}

/// The folds' best epochs, which select on what they score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BestEpoch {
    pub optimistic: bool,
    pub why: String,
    pub per_fold: Vec<EpochRecord>,
    pub mean: BTreeMap<String, f64>,
    pub sd: BTreeMap<String, f64>,
    pub pooled: Pooled,
}

/// What cv.json says of how its headline numbers choose each fold's model.
pub const SELECTION: &str =
    "each fold's last epoch: chosen without looking at the patches it scores";
/// And of the best-epoch numbers beside them.
pub const BEST_EPOCH_WHY: &str = "each fold's best epoch by validation accuracy, chosen on the very patches it then scores: optimistic";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pooled {
    pub metrics: Metrics,
    pub nodule: Option<Metrics>,
    /// None where the counts cannot support one (`metrics::MIN_PER_CLASS`).
    pub ci: Option<Intervals>,
    /// The pooled predictions against the nodule diameter alone, with DeLong's intervals of
    /// both AUCs; absent where the counts cannot carry it (or in a cv.json of an earlier lnmc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

/// The pooled out-of-fold predictions of the last epochs, beside cv.json.
pub const PREDICTIONS: &str = "cv-predictions.csv";

/// Reads the finished folds under `dir`, evaluates each fold's best checkpoint on its own
/// validation fold, and writes `dir/cv.json`.
pub fn summarise(dir: &Path, folds: usize, device: DeviceChoice) -> Result<Summary> {
    let name = dir
        .file_name()
        .map_or("cv".into(), |n| n.to_string_lossy().into_owned());
    let (mut split, mut facts) = (SplitKind::Stratified, None);
    let (mut last, mut best) = (Pooling::default(), Pooling::default());
    for k in 1..=folds {
        let fold_dir = dir.join(fold_name(k));
        let entry = RunEntry::read(&fold_dir)
            .ok_or_else(|| Error::file(&fold_dir, "is not an lnmc run"))?;
        let config = entry.config().cloned().expect("an lnmc run has a config");
        if entry.status != Status::Finished {
            return Err(Error::input(format!(
                "{}: fold has not finished ({}); resume it first",
                fold_dir.display(),
                entry.status.label()
            )));
        }
        split = config.split;
        facts.get_or_insert_with(|| config.facts());
        let no_epoch = || Error::file(&fold_dir.join(crate::run::METRICS), "has no epoch");
        let evaluate = |file: &str| {
            evaluation::evaluate(&evaluation::Request {
                data: Some(config.data.path.clone()),
                device,
                ..evaluation::Request::new(config.checkpoint_dir.join(file))
            })
        };
        last.add(
            entry.history().last().cloned().ok_or_else(no_epoch)?,
            evaluate(crate::run::LAST)?,
            k,
        );
        best.add(
            entry.best().cloned().ok_or_else(no_epoch)?,
            evaluate(crate::run::BEST)?,
            k,
        );
    }
    predictions::write(&dir.join(PREDICTIONS), &last.predictions)?;
    let (last, best) = (last.finish(), best.finish());
    let summary = Summary {
        name,
        folds,
        split,
        split_facts: facts.unwrap_or_else(|| Facts::recorded_as(split)),
        selection: SELECTION.into(),
        per_fold: last.per_fold,
        mean: last.mean,
        sd: last.sd,
        pooled: last.pooled,
        best_epoch: BestEpoch {
            optimistic: true,
            why: BEST_EPOCH_WHY.into(),
            per_fold: best.per_fold,
            mean: best.mean,
            sd: best.sd,
            pooled: best.pooled,
        },
    };
    write_json(&dir.join(CV_SUMMARY), &summary)?;
    Ok(summary)
}

/// The out-of-fold predictions of one choice of epoch per fold, gathered fold by fold.
struct Pooling {
    per_fold: Vec<EpochRecord>,
    labels: Vec<u8>,
    scores: Vec<f64>,
    diameters: Vec<f64>,
    /// None as soon as one fold has no groups.
    groups: Option<Vec<i64>>,
    predictions: Vec<Prediction>,
}

impl Default for Pooling {
    fn default() -> Pooling {
        Pooling {
            per_fold: Vec::new(),
            labels: Vec::new(),
            scores: Vec::new(),
            diameters: Vec::new(),
            groups: Some(Vec::new()),
            predictions: Vec::new(),
        }
    }
}

/// What a `Pooling` adds up to.
struct Gathered {
    per_fold: Vec<EpochRecord>,
    mean: BTreeMap<String, f64>,
    sd: BTreeMap<String, f64>,
    pooled: Pooled,
}

impl Pooling {
    fn add(&mut self, record: EpochRecord, e: evaluation::Evaluation, fold: usize) {
        self.per_fold.push(record);
        self.predictions.extend(e.predictions(Some(fold)));
        self.diameters.extend(e.features.iter().map(|f| f.diameter));
        self.labels.extend(e.labels);
        self.scores.extend(e.scores);
        // Ids are per file, and all folds read the same file: they pool as they are.
        self.groups = match (self.groups.take(), e.groups) {
            (Some(mut all), Some(ids)) => {
                all.extend(ids);
                Some(all)
            }
            _ => None,
        };
    }

    fn finish(self) -> Gathered {
        let nodule = self
            .groups
            .as_ref()
            .and_then(|ids| metrics::nodule_metrics(&self.labels, &self.scores, ids));
        let (mean, sd) = spread(&self.per_fold);
        Gathered {
            pooled: Pooled {
                metrics: metrics::metrics(&self.labels, &self.scores),
                nodule,
                ci: metrics::bootstrap(
                    &self.labels,
                    &self.scores,
                    self.groups.as_deref(),
                    RESAMPLES,
                    1,
                ),
                baseline: baseline::diameter(
                    &self.labels,
                    &self.scores,
                    &self.diameters,
                    self.groups.as_deref(),
                )
                .ok(),
            },
            per_fold: self.per_fold,
            mean,
            sd,
        }
    }
}

/// Mean and sample standard deviation of each validation metric over the folds.
fn spread(per_fold: &[EpochRecord]) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    use crate::types::Recorded;
    let columns = [
        Recorded::ValAcc,
        Recorded::ValF1,
        Recorded::ValAuc,
        Recorded::NoduleAcc,
        Recorded::NoduleF1,
        Recorded::NoduleAuc,
    ];
    let (mut mean, mut sd) = (BTreeMap::new(), BTreeMap::new());
    for column in columns {
        let name = column.name();
        let values: Option<Vec<f64>> = per_fold.iter().map(|r| column.of(r)).collect();
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            continue;
        };
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        mean.insert(name.to_string(), m);
        sd.insert(name.to_string(), var.sqrt());
    }
    (mean, sd)
}
