//! Getting a run ready to train: a new one (read and check the data, split it, create the run
//! directory) or the continuation of a stopped one (its own settings, data and split, and its
//! last checkpoint).

use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::Device;

use crate::checkpoint::{self, Checkpoint};
use crate::compute::{self, Compute};
use crate::data::split::{Fold, Split, SplitKind};
use crate::data::units::Units;
use crate::data::{self, reader, review};
use crate::error::{Error, Result};
use crate::inference::Patches;
use crate::run::{self, MetricsLog, RunDir};
use crate::settings::Settings;
use crate::types::{DataInfo, DeviceChoice, EpochRecord, Precision, RunConfig};

/// Training patches the normalised mean and deviation in config.json are computed from.
const STATS_SAMPLE: usize = 8192;

/// What to train: a new run or the continuation of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    New(Request),
    Resume {
        run_dir: PathBuf,
        epochs: Option<usize>,
        device: DeviceChoice,
        precision: Precision,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub data: PathBuf,
    /// A split of None is `SplitKind::default_for` the data; a name of None a timestamp.
    pub settings: Settings,
    /// Cross-validation: validate on this fold, the split's kind then being unused.
    pub fold: Option<Fold>,
    pub runs_root: PathBuf,
    pub checkpoint_root: PathBuf,
}

/// Everything checked and loaded, ready to train: all input errors surface before this exists.
pub struct Session {
    pub run: RunDir,
    pub config: RunConfig,
    pub(super) device: Device,
    pub(super) compute: Compute,
    /// The set on the device, raw, rescaled batch by batch.
    pub(super) patches: Patches,
    /// The labels on the host, for the validation metrics.
    pub(super) host_labels: Vec<u8>,
    /// What the data's pixels hold, for the start line.
    pub(super) units: Units,
    /// Nodule of each patch, when the data has groups: validation is also scored per nodule.
    pub(super) groups: Option<Vec<i64>>,
    pub(super) split: Split,
    /// The checkpoint to continue from, when resuming.
    pub(super) resume: Option<Checkpoint>,
    /// Rows of the epochs completed before this session.
    pub(super) history: Vec<EpochRecord>,
    pub(super) metrics: MetricsLog,
    /// Epochs completed so far, by earlier sessions and this one.
    pub(super) completed: usize,
    pub(super) prepare_seconds: f64,
    /// What the loop is doing, for the sampler of system.csv.
    pub(super) activity: std::sync::Arc<run::system::Activity>,
}

impl Session {
    pub(super) fn batches(&self) -> usize {
        self.split
            .train
            .len()
            .div_ceil(self.config.hyper.batch_size)
    }
}

pub fn prepare(start: Start) -> Result<Session> {
    match start {
        Start::New(request) => prepare_new(request),
        Start::Resume {
            run_dir,
            epochs,
            device,
            precision,
        } => prepare_resume(&run_dir, epochs, device, precision),
    }
}

fn prepare_new(request: Request) -> Result<Session> {
    let settings = request.settings;
    settings.validate()?;
    let device = compute::device(settings.device)?;
    let compute = Compute::resolve(settings.precision, device);
    let started = Instant::now();
    let mut data = reader::read(&request.data)?;
    let kind = settings
        .split
        .unwrap_or_else(|| SplitKind::default_for(&data));
    let mut split = Split::recompute(kind, settings.hyper.seed, request.fold, &data)?;
    let excluded_flagged = match settings.exclude_flagged {
        true => {
            let flagged: std::collections::HashSet<usize> =
                review::read(&request.data, data.len())?
                    .into_iter()
                    .map(|f| f.index)
                    .collect();
            split.train.retain(|i| !flagged.contains(i));
            split.val.retain(|i| !flagged.contains(i));
            // What is left must still mean something.
            split.check(&data)?;
            Some(flagged.len())
        }
        false => None,
    };
    let sha256 = data::sha256(&request.data)?;
    let patches = Patches::new(
        &mut data,
        &settings.intensity,
        device,
        settings.hyper.context,
    )?;
    let prepare_seconds = started.elapsed().as_secs_f64();
    let name = settings.name.unwrap_or_else(run::timestamp);
    let run = RunDir::create(&request.runs_root, &request.checkpoint_root, &name)?;
    // Descriptive only: exact on upstream-sized sets, from an even sample on big ones.
    let (normalised_mean, normalised_std) = patches.normalised_stats(&split.train, STATS_SAMPLE);
    let config = RunConfig {
        lnmc_version: env!("CARGO_PKG_VERSION").into(),
        name: name.clone(),
        created: run::timestamp(),
        run_dir: run.dir.clone(),
        checkpoint_dir: run.checkpoints.clone(),
        data: DataInfo {
            path: std::fs::canonicalize(&request.data).unwrap_or(request.data.clone()),
            sha256,
            synthetic: data.synthetic,
            samples: data.len(),
            height: data.height,
            width: data.width,
            normalised_mean,
            normalised_std,
        },
        intensity: settings.intensity,
        split: split.kind,
        split_facts: Some(split.facts()),
        split_seed: split.seed,
        fold: split.fold,
        excluded_flagged,
        train_samples: split.train.len(),
        val_samples: split.val.len(),
        hyper: settings.hyper,
        device: compute::run_device(device),
        precision: compute.numeric(),
        threads: tch::get_num_threads() as usize,
    };
    run.write_config(&config)?;
    run.write_split(&split)?;
    assemble(
        run,
        config,
        compute,
        prepare_seconds,
        patches,
        (data.labels, data.groups, data.scale.units),
        split,
        None,
    )
}

fn prepare_resume(
    run_dir: &Path,
    epochs: Option<usize>,
    choice: DeviceChoice,
    precision: Precision,
) -> Result<Session> {
    let (run, mut config) = RunDir::open(run_dir)?;
    if let Some(epochs) = epochs {
        config.hyper.epochs = epochs;
    }
    config.hyper.validate()?;
    let device = compute::device(choice)?;
    let compute = Compute::resolve(precision, device);
    let started = Instant::now();
    let mut data = reader::read(&config.data.path)?;
    if data::sha256(&config.data.path)? != config.data.sha256 {
        return Err(Error::file(
            &config.data.path,
            format!(
                "has changed since run '{}' started; resume needs the same data",
                config.name
            ),
        ));
    }
    let split = run::read_split(&run.dir)?;
    if split
        .train
        .iter()
        .chain(&split.val)
        .any(|&i| i >= data.len())
    {
        return Err(Error::file(
            &run.dir.join(run::SPLIT),
            "indexes patches the data does not have",
        ));
    }
    let patches = Patches::new(&mut data, &config.intensity, device, config.hyper.context)?;
    let prepare_seconds = started.elapsed().as_secs_f64();
    // Killed before the first epoch ended: nothing to resume from, start the run afresh.
    let resume = match run.last().exists() {
        true => Some(checkpoint::load(&run.last())?),
        false => None,
    };
    config.device = compute::run_device(device);
    config.precision = compute.numeric();
    run.write_config(&config)?;
    assemble(
        run,
        config,
        compute,
        prepare_seconds,
        patches,
        (data.labels, data.groups, data.scale.units),
        split,
        resume,
    )
}

/// The session of a new or resumed run; metrics.csv keeps the rows of completed epochs only.
fn assemble(
    run: RunDir,
    config: RunConfig,
    compute: Compute,
    prepare_seconds: f64,
    patches: Patches,
    (host_labels, groups, units): (Vec<u8>, Option<Vec<i64>>, Units),
    split: Split,
    resume: Option<Checkpoint>,
) -> Result<Session> {
    let completed = resume
        .as_ref()
        .and_then(|c| c.info.as_ref())
        .map_or(0, |i| i.epoch);
    let history: Vec<EpochRecord> = run::read_metrics(&run.dir.join(run::METRICS))
        .into_iter()
        .filter(|r| r.epoch <= completed)
        .collect();
    let metrics = MetricsLog::open(&run.dir, completed)?;
    Ok(Session {
        run,
        config,
        device: patches.device(),
        compute,
        patches,
        host_labels,
        groups,
        units,
        split,
        resume,
        history,
        metrics,
        completed,
        prepare_seconds,
        activity: Default::default(),
    })
}
