//! Training as a worker that reports through typed events. The headless CLI prints them; the
//! dashboard draws them. Nothing here knows which one is listening.
//!
//! The contract with a front end:
//! - `prepare` checks and loads everything for a `Start`: every input error (a bad file, an
//!   option out of range, a run that exists or is locked) is returned there, before training.
//! - `train` then sends, in this order: one `Started`; for each epoch its `Batch` events and one
//!   `Epoch`, then `CheckpointSaved` for best.safetensors (when the epoch is the best so far)
//!   and for last.safetensors; and last either `Finished` or `Stopped`. An error ends it with
//!   `Err` instead (`spawn` turns that into a final `Failed` event). Whatever the ending, the
//!   run's end.json records it before `train` returns, so readers of the run see it too.
//! - The front end steers through `Control`, read between batches: `pause` holds the worker
//!   before the next batch, `stop` ends the run before it (the last completed epoch is saved).

mod session;
mod steps;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub use session::{prepare, Request, Session, Start};

use crate::data::split::Split;
use crate::error::Result;
use crate::run::system::Doing;
use crate::run::{self, Ending};
use crate::types::EpochRecord;
use steps::Model;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        run: String,
        /// Where the run is written (its system.csv, its log).
        run_dir: PathBuf,
        device: String,
        /// What the convolutions compute in and why ("bf16 (the CPU has AMX-BF16)").
        precision: String,
        synthetic: bool,
        /// What the data's pixels hold.
        units: crate::data::units::Units,
        /// The train/validation split the run uses.
        split: Split,
        first_epoch: usize,
        epochs: usize,
        batches: usize,
        /// Reading, checking and normalising the data, in seconds.
        prepare_seconds: f64,
        /// The pixels as held on the device, and how many there are.
        data_bytes: u64,
        data_pixels: u64,
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
        /// Ended before its last epoch by `--early-stop N`: N epochs without a better val AUC.
        early_stop: Option<usize>,
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
            Event::Started { run, device, precision, synthetic, units, split, first_epoch, epochs, prepare_seconds, data_bytes, data_pixels, .. } => {
                let kind = if *synthetic { "synthetic" } else { "real" };
                let warning = split.facts().warning().map_or(String::new(), |w| format!(" · {w}"));
                format!(
                    "run {run} · {kind} data in {} · {} train / {} val · device {device} · {precision} · epochs {first_epoch}–{epochs} · data ready in {prepare_seconds:.2}s, {} held ({:.1} bytes a pixel){warning}",
                    units.name(),
                    split.train.len(),
                    split.val.len(),
                    crate::data::memory::size(*data_bytes),
                    *data_bytes as f64 / (*data_pixels).max(1) as f64
                )
            }
            Event::Epoch { record: r, best } => format!(
                "epoch {:>3}  train loss {:.4} acc {:5.1}%  val loss {:.4} acc {:5.1}% f1 {:.3} auc {:.3}{}  {:6.1}s {:5.0}/s{}",
                r.epoch,
                r.train_loss,
                100.0 * r.train_acc,
                r.val_loss,
                100.0 * r.val_acc,
                r.val_f1,
                r.val_auc,
                match (r.val_nodule_acc, r.val_nodule_auc) {
                    (Some(acc), Some(auc)) => format!("  nodules acc {:5.1}% auc {auc:.3}", 100.0 * acc),
                    _ => String::new(),
                },
                r.seconds,
                r.samples_per_s,
                if *best { "  *best" } else { "" }
            ),
            Event::Finished { best, seconds, early_stop } => {
                let mut line = format!("finished in {seconds:.0}s");
                if let Some(n) = early_stop {
                    line.push_str(&format!(" (early stop: val AUC not better for {n} epochs)"));
                }
                if let Some(b) = best {
                    line.push_str(&format!(
                        " · best val acc {:.2}% f1 {:.4} at epoch {}",
                        100.0 * b.val_acc,
                        b.val_f1,
                        b.epoch
                    ));
                }
                line
            }
            Event::Stopped { epoch, run_dir } => format!(
                "stopped at epoch {epoch}, resume with: lnmc train --headless --resume {}",
                run_dir.display()
            ),
            Event::Failed(message) => format!("failed: {message}"),
            Event::Batch { .. } | Event::CheckpointSaved { .. } => return None,
        })
    }

    /// Whether this is the last event of a run.
    pub fn is_last(&self) -> bool {
        matches!(
            self,
            Event::Finished { .. } | Event::Stopped { .. } | Event::Failed(_)
        )
    }
}

/// Stop and pause requests from whichever front end drives the worker.
#[derive(Debug, Default)]
pub struct Control {
    pub stop: AtomicBool,
    pub pause: AtomicBool,
}

/// Trains the session to its last epoch, or until `control.stop` is set. Each completed epoch
/// is appended to metrics.csv and saved to last.safetensors before the next one starts, so a
/// stop, a kill or a crash costs at most the epoch in progress.
pub fn train(mut s: Session, control: &Control, sink: &mut dyn FnMut(Event)) -> Result<Ending> {
    let log = s.run.dir.join(run::LOG);
    let mut emit = |event: Event| {
        if let Some(line) = event.line() {
            run::append_log(&log, &line);
        }
        sink(event);
    };
    let cuda = match s.device {
        tch::Device::Cuda(i) => Some(i),
        _ => None,
    };
    let sampler = run::system::Sampler::start(&s.run.dir, cuda, Arc::clone(&s.activity));
    let result = run_epochs(&mut s, control, &mut emit);
    drop(sampler);
    let ending = match &result {
        Ok(ending) => ending.clone(),
        Err(e) => {
            let failed = Event::Failed(e.to_string());
            run::append_log(&log, &failed.line().unwrap_or_default());
            Ending::Failed {
                message: e.to_string(),
            }
        }
    };
    s.run.end(&ending, s.completed)?;
    result
}

fn run_epochs(s: &mut Session, control: &Control, emit: &mut dyn FnMut(Event)) -> Result<Ending> {
    let mut model = Model::build(s)?;
    let mut best = EpochRecord::best(&s.history).cloned();
    let mut history = s.history.clone();
    let started = Instant::now();
    emit(Event::Started {
        run: s.run.name.clone(),
        run_dir: s.run.dir.clone(),
        device: crate::compute::device_name(s.device),
        precision: s.compute.why.clone(),
        synthetic: s.config.data.synthetic,
        units: s.units,
        split: s.split.clone(),
        first_epoch: s.completed + 1,
        epochs: s.config.hyper.epochs,
        batches: s.batches(),
        prepare_seconds: s.prepare_seconds,
        data_bytes: s.patches.bytes(),
        data_pixels: (s.config.data.samples * s.config.data.height * s.config.data.width) as u64,
    });
    for epoch in s.completed + 1..=s.config.hyper.epochs {
        let Some(fit) = model.train_epoch(s, epoch, control, emit)? else {
            emit(Event::Stopped {
                epoch: epoch - 1,
                run_dir: s.run.dir.clone(),
            });
            return Ok(Ending::Stopped);
        };
        s.activity.now(Doing::Validating { epoch });
        let record = model.validate(s, epoch, &fit);
        let is_best = best.as_ref().is_none_or(|b| record.beats(b));
        s.activity.now(Doing::Saving { epoch });
        model.save(s, epoch, record.val_acc, is_best)?;
        s.metrics.append(&record)?;
        s.completed = epoch;
        if is_best {
            best = Some(record.clone());
        }
        history.push(record.clone());
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
        if let Some(patience) = s
            .config
            .hyper
            .early_stop
            .filter(|&n| auc_stalled(&history, n))
        {
            emit(Event::Finished {
                best,
                seconds: started.elapsed().as_secs_f64(),
                early_stop: Some(patience),
            });
            return Ok(Ending::Finished);
        }
    }
    emit(Event::Finished {
        best,
        seconds: started.elapsed().as_secs_f64(),
        early_stop: None,
    });
    Ok(Ending::Finished)
}

/// Whether the last `patience` epochs brought no validation AUC above the best before them.
fn auc_stalled(history: &[EpochRecord], patience: usize) -> bool {
    let best_at = history
        .iter()
        .enumerate()
        .filter(|(_, r)| r.val_auc.is_finite())
        .reduce(|a, b| if b.1.val_auc > a.1.val_auc { b } else { a })
        .map_or(0, |(i, _)| i);
    history.len() - 1 - best_at >= patience
}

/// Runs `prepare` + `train` on a thread of its own, handing every event to `sink`; the last
/// one is Finished, Stopped or Failed.
pub fn spawn(
    start: Start,
    control: Arc<Control>,
    mut sink: impl FnMut(Event) + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        if let Err(e) = prepare(start).and_then(|s| train(s, &control, &mut sink)) {
            sink(Event::Failed(e.to_string()));
        }
    })
}
