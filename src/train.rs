//! Training as a worker that reports through typed events. The headless CLI prints them; the
//! dashboard draws them. Nothing here knows which one is listening.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tch::nn::ModuleT;
use tch::{nn, Device, Kind, Tensor};

use crate::checkpoint::{self, Checkpoint, Info};
use crate::data::intensity::Intensity;
use crate::data::split::{Split, SplitKind};
use crate::data::{self, reader, Dataset};
use crate::error::{Error, Result};
use crate::eval::{self, index_tensor, malignant_probability};
use crate::model::ConvNet;
use crate::optim::Adam;
use crate::run::{self, DataInfo, MetricsLog, RunConfig, RunDir};

/// Batch size for inference. Not bigger: past 64 patches the activations outgrow the CPU's
/// caches and throughput falls (measured: 256 and 1024 are slower on 2 EPYC cores).
pub const EVAL_BATCH: usize = 64;
/// Batches between two reads of the training loss from the device.
const READBACK: usize = 8;

/// Hyper-parameters, defaulting to upstream's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub dropout: f64,
    pub seed: u64,
}

impl Default for Hyper {
    fn default() -> Self {
        Hyper {
            epochs: 150,
            batch_size: 64,
            lr: 1e-3,
            weight_decay: 3e-4,
            dropout: 0.3,
            seed: 0,
        }
    }
}

impl Hyper {
    pub fn validate(&self) -> Result<()> {
        let bad = |option: &str, value: String, want: &str| {
            Err(Error::input(format!("--{option} {value}: must be {want}")))
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch-size", "0".into(), "at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", self.lr.to_string(), "a positive number");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "weight-decay",
                self.weight_decay.to_string(),
                "zero or positive",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "in [0, 1)");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// CUDA when a GPU is visible, else CPU.
    Auto,
    Cpu,
    Cuda,
}

pub fn pick_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(Error::input("--device cuda: no CUDA device is visible")),
    }
}

pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        _ => "cpu".into(),
    }
}

/// One row of metrics.csv. Accuracies are fractions in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub val_f1: f64,
    pub val_auc: f64,
    pub lr: f64,
    /// Wall time of the epoch, validation and checkpointing included.
    pub seconds: f64,
    /// Training throughput of the epoch (forward, backward and step only). Absent (0) in the
    /// metrics.csv of lnmc 0.1.0.
    #[serde(default)]
    pub samples_per_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        run: String,
        device: String,
        synthetic: bool,
        train: usize,
        val: usize,
        first_epoch: usize,
        epochs: usize,
        batches: usize,
        /// Reading, checking and normalising the data, in seconds.
        prepare_seconds: f64,
    },
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
        samples_per_second: f64,
    },
    Epoch {
        record: EpochRecord,
        best: bool,
    },
    CheckpointSaved {
        path: PathBuf,
        best: bool,
    },
    Finished {
        best: Option<EpochRecord>,
        seconds: f64,
    },
    /// Stopped on request; `epoch` epochs are complete and saved.
    Stopped {
        epoch: usize,
        run_dir: PathBuf,
    },
    Failed(String),
}

impl Event {
    /// The line the headless front end prints, the dashboard logs and the run's log.txt keeps;
    /// None for the frequent progress events.
    pub fn line(&self) -> Option<String> {
        Some(match self {
            Event::Started { run, device, synthetic, train, val, first_epoch, epochs, prepare_seconds, .. } => {
                let kind = if *synthetic { "synthetic" } else { "real" };
                format!(
                    "run {run} · {kind} data · {train} train / {val} val · device {device} · epochs {first_epoch}–{epochs} · data ready in {prepare_seconds:.2}s"
                )
            }
            Event::Epoch { record: r, best } => format!(
                "epoch {:>3}  train loss {:.4} acc {:5.1}%  val loss {:.4} acc {:5.1}% f1 {:.3} auc {:.3}  {:6.1}s {:5.0}/s{}",
                r.epoch,
                r.train_loss,
                100.0 * r.train_acc,
                r.val_loss,
                100.0 * r.val_acc,
                r.val_f1,
                r.val_auc,
                r.seconds,
                r.samples_per_s,
                if *best { "  *best" } else { "" }
            ),
            Event::Finished { best: Some(b), seconds } => format!(
                "finished in {seconds:.0}s · best val acc {:.2}% f1 {:.4} at epoch {}",
                100.0 * b.val_acc,
                b.val_f1,
                b.epoch
            ),
            Event::Finished { best: None, seconds } => format!("finished in {seconds:.0}s"),
            Event::Stopped { epoch, run_dir } => format!(
                "stopped at epoch {epoch}, resume with: lnmc train --headless --resume {}",
                run_dir.display()
            ),
            Event::Failed(message) => format!("{}{message}", run::FAILED),
            Event::Batch { .. } | Event::CheckpointSaved { .. } => return None,
        })
    }
}

/// Stop and pause requests from whichever front end drives the worker.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    pub pause: AtomicBool,
}

/// What to train: a new run or the continuation of one.
#[derive(Debug, Clone)]
pub enum Start {
    New(Request),
    Resume {
        run_dir: PathBuf,
        epochs: Option<usize>,
        device: DeviceChoice,
    },
}

#[derive(Debug, Clone)]
pub struct Request {
    pub data: PathBuf,
    pub hyper: Hyper,
    pub device: DeviceChoice,
    pub intensity: Intensity,
    pub split: SplitKind,
    pub name: Option<String>,
    pub runs_root: PathBuf,
    pub checkpoint_root: PathBuf,
}

/// Everything checked and loaded, ready to train: all input errors surface before this exists.
pub struct Session {
    pub run: RunDir,
    pub config: RunConfig,
    device: Device,
    images: Tensor,
    labels: Tensor,
    /// The same labels on the host, for the validation metrics.
    host_labels: Vec<u8>,
    split: Split,
    resume: Option<Checkpoint>,
    history: Vec<EpochRecord>,
    metrics: MetricsLog,
    prepare_seconds: f64,
}

/// The normalised patches as an (N, 1, H, W) float tensor and the labels as int64, on `device`.
pub fn tensors(data: &Dataset, intensity: &Intensity, device: Device) -> (Tensor, Tensor) {
    let shape = [data.len() as i64, 1, data.height as i64, data.width as i64];
    let images = Tensor::empty(shape, (Kind::Float, Device::Cpu));
    // Rescaled straight into the tensor's memory: no second 110 MB copy of the upstream set.
    // SAFETY: `images` is a new contiguous float tensor of exactly data.images.len() values,
    // owned here and not shared until this slice is gone.
    let out =
        unsafe { std::slice::from_raw_parts_mut(images.data_ptr() as *mut f32, data.images.len()) };
    intensity.apply_into(&data.images, out, data.pixels());
    let images = images.to_device(device);
    let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
    (images, Tensor::from_slice(&labels).to_device(device))
}

pub fn prepare(start: Start) -> Result<Session> {
    match start {
        Start::New(request) => prepare_new(request),
        Start::Resume {
            run_dir,
            epochs,
            device,
        } => prepare_resume(&run_dir, epochs, device),
    }
}

fn prepare_new(request: Request) -> Result<Session> {
    request.hyper.validate()?;
    let device = pick_device(request.device)?;
    let started = Instant::now();
    let data = reader::read(&request.data)?;
    let split = Split::new(request.split, request.hyper.seed, &data)?;
    let (images, labels) = tensors(&data, &request.intensity, device);
    let prepare_seconds = started.elapsed().as_secs_f64();
    let name = request.name.unwrap_or_else(run::timestamp);
    let run = RunDir::create(&request.runs_root, &request.checkpoint_root, &name)?;
    let train_pixels = images.index_select(0, &index_tensor(&split.train, device));
    let config = RunConfig {
        lnmc_version: env!("CARGO_PKG_VERSION").into(),
        name: name.clone(),
        created: run::timestamp(),
        run_dir: run.dir.clone(),
        checkpoint_dir: run.checkpoints.clone(),
        data: DataInfo {
            path: std::fs::canonicalize(&request.data).unwrap_or(request.data.clone()),
            sha256: data::sha256(&request.data)?,
            synthetic: data.synthetic,
            samples: data.len(),
            height: data.height,
            width: data.width,
            normalised_mean: train_pixels.mean(Kind::Double).double_value(&[]),
            normalised_std: train_pixels.std(true).double_value(&[]),
        },
        intensity: request.intensity,
        split: split.kind,
        split_seed: split.seed,
        train_samples: split.train.len(),
        val_samples: split.val.len(),
        hyper: request.hyper,
        device: device_name(device),
        threads: tch::get_num_threads() as usize,
    };
    run.write_config(&config)?;
    run.write_split(&split)?;
    assemble(
        run,
        config,
        prepare_seconds,
        (images, labels),
        data.labels,
        split,
        None,
    )
}

fn prepare_resume(run_dir: &Path, epochs: Option<usize>, choice: DeviceChoice) -> Result<Session> {
    let (run, mut config) = RunDir::open(run_dir)?;
    if let Some(epochs) = epochs {
        config.hyper.epochs = epochs;
    }
    config.hyper.validate()?;
    let device = pick_device(choice)?;
    let started = Instant::now();
    let data = reader::read(&config.data.path)?;
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
    let tensors = tensors(&data, &config.intensity, device);
    let prepare_seconds = started.elapsed().as_secs_f64();
    // Killed before the first epoch ended: nothing to resume from, start the run afresh.
    let resume = match run.last().exists() {
        true => Some(checkpoint::load(&run.last())?),
        false => None,
    };
    config.device = device_name(device);
    run.write_config(&config)?;
    assemble(
        run,
        config,
        prepare_seconds,
        tensors,
        data.labels,
        split,
        resume,
    )
}

/// The session of a new or resumed run; metrics.csv keeps the rows of completed epochs only.
fn assemble(
    run: RunDir,
    config: RunConfig,
    prepare_seconds: f64,
    (images, labels): (Tensor, Tensor),
    host_labels: Vec<u8>,
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
        device: images.device(),
        images,
        labels,
        host_labels,
        split,
        resume,
        history,
        metrics,
        prepare_seconds,
    })
}

pub enum Outcome {
    Finished,
    Stopped { epoch: usize },
}

/// Trains the session to its last epoch, or until `control.stop` is set. Each completed epoch
/// is appended to metrics.csv and saved to last.safetensors before the next one starts, so a
/// stop, a kill or a crash costs at most the epoch in progress.
pub fn train(s: Session, control: &Control, sink: &mut dyn FnMut(Event)) -> Result<Outcome> {
    let log = s.run.dir.join(run::LOG);
    let mut emit = |event: Event| {
        if let Some(line) = event.line() {
            run::append_log(&log, &line);
        }
        sink(event);
    };
    let result = run_epochs(s, control, &mut emit);
    // The run's log says how it ended, so the Runs tab can tell a failure from a stop.
    if let Err(e) = &result {
        run::append_log(&log, &format!("{}{e}", run::FAILED));
    }
    result
}

fn run_epochs(mut s: Session, control: &Control, emit: &mut dyn FnMut(Event)) -> Result<Outcome> {
    let hyper = s.config.hyper.clone();
    tch::manual_seed(hyper.seed as i64);
    let mut vs = nn::VarStore::new(s.device);
    let net = ConvNet::new(&vs.root(), hyper.dropout);
    let mut adam = Adam::new(&vs, hyper.lr, hyper.weight_decay);
    let mut completed = 0;
    if let Some(ckpt) = &s.resume {
        let last = s.run.last();
        checkpoint::restore(&mut vs, ckpt, &last)?;
        let info = ckpt
            .info
            .as_ref()
            .ok_or_else(|| Error::file(&last, "has no lnmc metadata"))?;
        adam.load_state(info.adam_step, &ckpt.tensors);
        completed = info.epoch;
    }
    let mut best = s
        .history
        .iter()
        .cloned()
        .reduce(|a, b| if b.val_acc > a.val_acc { b } else { a });
    let train_idx = index_tensor(&s.split.train, Device::Cpu);
    let n_train = s.split.train.len();
    let bs = hyper.batch_size;
    let batches = n_train.div_ceil(bs);
    let started = Instant::now();
    emit(Event::Started {
        run: s.run.name.clone(),
        device: device_name(s.device),
        synthetic: s.config.data.synthetic,
        train: n_train,
        val: s.split.val.len(),
        first_epoch: completed + 1,
        epochs: hyper.epochs,
        batches,
        prepare_seconds: s.prepare_seconds,
    });

    for epoch in completed + 1..=hyper.epochs {
        let epoch_start = Instant::now();
        // Seeding per epoch makes the shuffle and the dropout masks of epoch k the same whether
        // the run got there in one go or through a resume.
        tch::manual_seed(hyper.seed as i64 * 1_000_003 + epoch as i64);
        let order = train_idx.index_select(
            0,
            &Tensor::randperm(n_train as i64, (Kind::Int64, Device::Cpu)),
        );
        let order = order.to_device(s.device);
        // Losses and hits stay on the device and are read back every READBACK batches: on a GPU
        // a read per step would stall the queue of kernels.
        let mut loss_sum = Tensor::zeros([], (Kind::Double, s.device));
        let mut correct = Tensor::zeros([], (Kind::Int64, s.device));
        let mut pending: Vec<Tensor> = Vec::with_capacity(READBACK);
        for batch in 0..batches {
            while control.pause.load(Ordering::Relaxed) && !control.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            if control.stop.load(Ordering::Relaxed) {
                emit(Event::Stopped {
                    epoch: epoch - 1,
                    run_dir: s.run.dir.clone(),
                });
                return Ok(Outcome::Stopped { epoch: epoch - 1 });
            }
            let len = bs.min(n_train - batch * bs);
            let idx = order.narrow(0, (batch * bs) as i64, len as i64);
            let ys = s.labels.index_select(0, &idx);
            let logits = net.forward_t(&s.images.index_select(0, &idx), true);
            let loss = logits.cross_entropy_for_logits(&ys);
            adam.zero_grad();
            loss.backward();
            adam.step();
            let loss = loss.detach();
            loss_sum += &loss * len as f64;
            correct += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
            pending.push(loss);
            if pending.len() == READBACK || batch + 1 == batches {
                let losses =
                    Vec::<f32>::try_from(Tensor::stack(&pending, 0).to_device(Device::Cpu))
                        .expect("float losses");
                let first = batch + 1 - losses.len();
                let seen = (batch * bs + len) as f64;
                let rate = seen / epoch_start.elapsed().as_secs_f64();
                for (k, loss) in losses.into_iter().enumerate() {
                    emit(Event::Batch {
                        epoch,
                        batch: first + k + 1,
                        batches,
                        loss: loss as f64,
                        samples_per_second: rate,
                    });
                }
                pending.clear();
            }
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();

        let (logits, val_loss_sum) =
            eval::predict(&net, &s.images, &s.labels, &s.split.val, EVAL_BATCH);
        let scores: Vec<f64> = logits.iter().map(|&l| malignant_probability(l)).collect();
        let val_labels: Vec<u8> = s.split.val.iter().map(|&i| s.host_labels[i]).collect();
        let m = eval::metrics(&val_labels, &scores);
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum.double_value(&[]) / n_train as f64,
            train_acc: correct.int64_value(&[]) as f64 / n_train as f64,
            val_loss: val_loss_sum / s.split.val.len().max(1) as f64,
            val_acc: m.accuracy,
            val_f1: m.f1,
            val_auc: m.auc,
            lr: hyper.lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            samples_per_s: n_train as f64 / train_seconds,
        };
        let is_best = best.as_ref().is_none_or(|b| record.val_acc > b.val_acc);
        let info = Info {
            config: s.config.clone(),
            epoch,
            val_accuracy: m.accuracy,
            adam_step: adam.step,
        };
        let mut weights: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        if is_best {
            checkpoint::save(&s.run.best(), &weights, &info)?;
            best = Some(record.clone());
        }
        weights.extend(adam.state());
        checkpoint::save(&s.run.last(), &weights, &info)?;
        s.metrics.append(&record)?;
        emit(Event::Epoch {
            record,
            best: is_best,
        });
        if is_best {
            emit(Event::CheckpointSaved {
                path: s.run.best(),
                best: true,
            });
        }
        emit(Event::CheckpointSaved {
            path: s.run.last(),
            best: false,
        });
    }
    emit(Event::Finished {
        best,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(Outcome::Finished)
}

/// Runs `prepare` + `train` on a thread of its own, handing every event to `sink`; the last
/// one is Finished, Stopped or Failed.
pub fn spawn(
    start: Start,
    control: std::sync::Arc<Control>,
    mut sink: impl FnMut(Event) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Err(e) = prepare(start).and_then(|s| train(s, &control, &mut sink)) {
            sink(Event::Failed(e.to_string()));
        }
    })
}
