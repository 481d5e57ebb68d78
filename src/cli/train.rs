//! `lnmc train --headless`: one run, a resumed run or a cross-validation, printed a line an
//! epoch; SIGINT/SIGTERM stop it after the batch in progress.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use clap::Args;

use crate::cross_validation::{self, Summary};
use crate::data;
use crate::error::{Error, Result};
use crate::run::{self, Ending};
use crate::settings::{self, Settings};
use crate::train::{self, Control, Event, Start};

#[derive(Args)]
pub struct TrainArgs {
    /// Print one line per epoch instead of opening the dashboard.
    #[arg(long)]
    headless: bool,
    /// HDF5 file (default: dataset/all_patches.hdf5, else the synthetic set).
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
    /// Continue runs/NAME (or NAME) from its last checkpoint (its own settings; --epochs may
    /// extend it).
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// K-fold cross-validation (whole nodules where known, stratified): runs NAME/fold-1 …
    /// NAME/fold-K, then runs/NAME/cv.json. Run the same command again to go on after a stop.
    #[arg(long, value_name = "K")]
    folds: Option<usize>,
}

/// `epochs_given`: --epochs was on the command line (a resumed run keeps its own otherwise).
pub fn run(args: TrainArgs, epochs_given: bool) -> Result<u8> {
    if !args.headless {
        return Err(Error::input(
            "lnmc train: pass --headless, or run `lnmc` (no subcommand) to train in the dashboard",
        ));
    }
    if let Some(run_dir) = args.resume {
        if args.folds.is_some() {
            return Err(Error::input(
                "--folds with --resume: resume one fold with --resume runs/NAME/fold-K, or run the same --folds command again",
            ));
        }
        return train_headless(Start::Resume {
            run_dir: run::resolve(&run_dir),
            epochs: epochs_given.then_some(args.settings.hyper.epochs),
            device: args.settings.device,
            precision: args.settings.precision,
        });
    }
    // Every setting is checked before a fold or a run starts.
    args.settings.validate()?;
    let request = train::Request {
        data: data::resolve(args.data.as_deref())?,
        settings: args.settings,
        fold: None,
        runs_root: run::RUNS.into(),
        checkpoint_root: run::CHECKPOINTS.into(),
    };
    match args.folds {
        Some(folds) => folds_headless(request, folds),
        None => train_headless(Start::New(request)),
    }
}

/// A cross-validation headless: each fold a run, started, resumed or left as it stands, then
/// the summary.
pub(super) fn folds_headless(request: train::Request, folds: usize) -> Result<u8> {
    let outcome =
        cross_validation::train_folds(request, folds, &mut train_headless, &mut |line| {
            println!("{line}")
        })?;
    match outcome {
        Ok(summary) => {
            print_summary(&summary);
            Ok(0)
        }
        Err(code) => Ok(code),
    }
}

fn print_summary(summary: &Summary) {
    println!(
        "{}-fold cross-validation ({} split) · {}",
        summary.folds,
        settings::name(summary.split),
        PathBuf::from(run::RUNS)
            .join(&summary.name)
            .join(run::CV_SUMMARY)
            .display()
    );
    println!("  models          {}", summary.selection);
    if let Some(warning) = summary.split_facts.warning() {
        println!("  warning         {warning}");
    }
    for (metric, mean) in &summary.mean {
        println!(
            "  {metric:<15} {mean:.4} ± {:.4} over folds",
            summary.sd[metric]
        );
    }
    let p = &summary.pooled;
    let interval =
        |ci: Option<[f64; 2]>| ci.map_or(String::new(), |[lo, hi]| format!(" [{lo:.4}, {hi:.4}]"));
    println!(
        "  out-of-fold     accuracy {:.4}{} · f1 {:.4} · roc auc {:.4}{} ({} patches)",
        p.metrics.accuracy,
        interval(p.ci.as_ref().map(|c| c.accuracy)),
        p.metrics.f1,
        p.metrics.auc,
        interval(p.ci.as_ref().map(|c| c.auc)),
        p.metrics.n
    );
    if let Some(n) = &p.nodule {
        println!(
            "  out-of-fold     {} nodules: accuracy {:.4} · f1 {:.4} · roc auc {:.4}",
            n.n, n.accuracy, n.f1, n.auc
        );
    }
    let b = &summary.best_epoch.pooled;
    println!(
        "  best epochs     accuracy {:.4} · roc auc {:.4} (optimistic: each fold's best epoch was chosen on the patches it scores)",
        b.metrics.accuracy, b.metrics.auc
    );
}

/// Set by SIGINT/SIGTERM; the training loop stops after the batch in progress.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// Trains one run headless: the worker thread's events printed here, SIGINT/SIGTERM turned
/// into a stop. The exit code: 0 finished, 128 + signal when stopped.
pub(super) fn train_headless(start: Start) -> Result<u8> {
    let session = train::prepare(start)?;
    let control = Arc::new(Control::default());
    for signal in [libc::SIGINT, libc::SIGTERM] {
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
    let watcher = Arc::clone(&control);
    std::thread::spawn(move || loop {
        if SIGNAL.load(Ordering::SeqCst) != 0 {
            watcher.stop.store(true, Ordering::SeqCst);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    });
    // Training runs on this thread, the one that prepared the data: libtorch used from two
    // threads keeps two OpenMP teams and trains a quarter slower (BENCHMARKS.md). A printer
    // thread is the headless front end of its event stream.
    let (tx, events) = std::sync::mpsc::channel();
    let printer = std::thread::spawn(move || events.into_iter().for_each(print_event));
    let outcome = train::train(session, &control, &mut |e| {
        let _ = tx.send(e);
    });
    drop(tx);
    let _ = printer.join();
    let outcome = outcome?;
    Ok(match outcome {
        Ending::Finished => 0,
        Ending::Stopped => 128 + SIGNAL.load(Ordering::SeqCst) as u8,
        Ending::Failed { .. } => 1,
    })
}

/// The headless front end: one line per epoch.
fn print_event(event: Event) {
    match (&event, event.line()) {
        (Event::Stopped { .. } | Event::Failed(_), Some(line)) => eprintln!("{line}"),
        (_, Some(line)) => println!("{line}"),
        (_, None) => {}
    }
}
