//! The `lnmc` command line: headless front ends over the ML core.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use lnmc::data::intensity::Intensity;
use lnmc::data::split::{self, SplitKind, SLICE_LEVEL_WARNING};
use lnmc::data::{self, groups, reader, review, synth};
use lnmc::error::{Error, Result};
use lnmc::explain::Explainer;
use lnmc::patch_image;
use lnmc::run::Ending;
use lnmc::train::{self, Control, Event, Start};
use lnmc::tui::image::ProtocolChoice;
use lnmc::types::{Augment, Balance, DeviceChoice, Hyper, Precision, Schedule};
use lnmc::{cross_validation, evaluation, run, tui};

#[derive(Parser)]
#[command(
    name = "lnmc",
    version,
    about = "Lung-nodule malignancy classification: train, evaluate and browse CT patches"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// HDF5 file for the dashboard (default: dataset/all_patches.hdf5, else the synthetic set).
    #[arg(long)]
    data: Option<PathBuf>,
    /// How the dashboard draws images.
    #[arg(long, value_enum, default_value_t = ProtocolChoice::Auto)]
    image_protocol: ProtocolChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic nodule set with the upstream schema.
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = data::UPSTREAM_N)]
        n: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also write a per-patch `nodule_id` dataset (enables --split group).
        #[arg(long)]
        with_ids: bool,
        /// Share of malignant patches (default: upstream's 2526/6691 ≈ 0.378; ≈ 0.002 is like a
        /// LUNA16 candidate file).
        #[arg(long, default_value_t = synth::Options::default().positive_rate)]
        positive_rate: f64,
    },
    /// Infer which rows are slices of one nodule (for files without nodule ids) and write them
    /// beside the data as FILE.groups.csv; splits then hold out whole nodules.
    Groups {
        /// HDF5 file (default: dataset/all_patches.hdf5, else the synthetic set).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Join neighbouring rows of one label whose mean absolute difference is at most this
        /// (in the file's units, HU for CT).
        #[arg(long, default_value_t = groups::MAX_DIFFERENCE)]
        max_difference: f64,
    },
    /// Train the ConvNet.
    Train(TrainArgs),
    /// Exact dataset-level metrics of a checkpoint (lnmc .safetensors or PyTorch .pth).
    Eval(EvalArgs),
    /// Open the dashboard on a run written by another process (e.g. `train --headless`).
    /// A directory of runs (runs/, a sweep's folder) shows them all as a live table; Enter
    /// follows one.
    Watch {
        /// runs/NAME, or a directory of runs (default: the newest run under runs/).
        run: Option<PathBuf>,
    },
    /// Every epoch of chosen runs as one long CSV table, and/or their chart as SVG.
    Export(ExportArgs),
    /// Print one patch in the terminal, with its label.
    Show(ShowArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// runs/NAME directories (a cross-validation stands for its folds); default: every run
    /// under runs/.
    runs: Vec<PathBuf>,
    /// The long table (run, epoch, metric, value, then each setting as a column).
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    /// The chart of --metric over the runs.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    plot: Option<PathBuf>,
    /// loss, val_acc, val_f1, val_auc, val_nodule_acc, val_nodule_auc or lr.
    #[arg(long, default_value = "loss")]
    metric: String,
    /// EMA smoothing weight in [0, 1) (never applied to lr).
    #[arg(long)]
    smooth: Option<f64>,
    #[arg(long)]
    log_y: bool,
    /// x by wall time (minutes) instead of epoch.
    #[arg(long)]
    wall_time: bool,
}

#[derive(Args)]
struct ShowArgs {
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, required_unless_present = "flagged")]
    index: Option<usize>,
    /// Also the checkpoint's P(malignant) and logits for the patch.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Overlay the checkpoint's class-activation map (red: towards malignant, blue: benign).
    #[arg(long, requires = "checkpoint")]
    cam: bool,
    /// Write the picture to this PNG file instead of printing it.
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
    /// List the patches flagged as doubtful labels (FILE.review.csv).
    #[arg(long, conflicts_with = "index")]
    flagged: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Print one line per epoch instead of opening the dashboard.
    #[arg(long)]
    headless: bool,
    /// HDF5 file (default: dataset/all_patches.hdf5, else the synthetic set).
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, default_value_t = Hyper::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = Hyper::default().lr)]
    lr: f64,
    #[arg(long, default_value_t = Hyper::default().weight_decay)]
    weight_decay: f64,
    #[arg(long, default_value_t = Hyper::default().dropout)]
    dropout: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `d4`: each patch in a random one of the square's 8 symmetries (turns, flips).
    #[arg(long, value_enum, default_value_t = Augment::None)]
    augment: Augment,
    /// For a rare class: `weighted` loss (each class weighs the same in total) or class-balanced
    /// `sample`-ing (with replacement); `none` as upstream
    #[arg(long, value_enum, default_value_t = Balance::None)]
    balance: Balance,
    /// `cosine`: linear warm-up over the first 5 % of steps, then cosine decay to zero.
    #[arg(long, value_enum, default_value_t = Schedule::Constant)]
    schedule: Schedule,
    /// Label smoothing ε of the training loss.
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// Stop when validation AUC has not improved for N epochs (the best checkpoint is kept).
    #[arg(long, value_name = "N")]
    early_stop: Option<usize>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Convolutions in bf16 (master weights, loss and Adam in fp32): `auto` where the hardware
    /// computes bf16 natively (CUDA; CPUs with AMX-BF16 or AVX512-BF16).
    #[arg(long, value_enum, default_value_t = Precision::Auto)]
    precision: Precision,
    /// Run name (default: a UTC timestamp).
    #[arg(long)]
    run: Option<String>,
    /// `percentile` (per patch 2–98 %, upstream) or `hu:LO,HI` (a fixed HU window).
    #[arg(long, value_parser = parse_intensity, default_value = "percentile")]
    intensity: Intensity,
    /// Default: `group` (whole nodules on one side) when the data has nodule ids or inferred
    /// groups (`lnmc groups`), else `stratified`.
    #[arg(long, value_enum)]
    split: Option<SplitKind>,
    /// Continue runs/NAME from its last checkpoint (its own settings; --epochs may extend it).
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// K-fold cross-validation (whole nodules where known, stratified): runs NAME/fold-1 …
    /// NAME/fold-K, then runs/NAME/cv.json. Run the same command again to go on after a stop.
    #[arg(long, value_name = "K")]
    folds: Option<usize>,
    /// Leave out of training and validation the patches flagged as doubtful labels in the
    /// dashboard (FILE.review.csv); config.json records how many.
    #[arg(long)]
    exclude_flagged: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum EvalSplit {
    Val,
    All,
}

#[derive(Args)]
struct EvalArgs {
    #[arg(long)]
    checkpoint: PathBuf,
    /// HDF5 file (default: the checkpoint's own data, else the default data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// `val`: the run's validation split (upstream's split for a .pth file); `all`: every patch.
    #[arg(long, value_enum, default_value_t = EvalSplit::Val)]
    split: EvalSplit,
    #[arg(long)]
    json: bool,
    /// Override the checkpoint's intensity rescaling.
    #[arg(long, value_parser = parse_intensity)]
    intensity: Option<Intensity>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Test-time augmentation: each patch scored as the mean probability over the square's 8
    /// symmetries.
    #[arg(long)]
    tta: bool,
    #[arg(long, value_enum, default_value_t = Precision::Auto)]
    precision: Precision,
}

fn parse_intensity(text: &str) -> std::result::Result<Intensity, String> {
    Intensity::parse(text).map_err(|e| e.to_string())
}

/// libtorch allocates every activation with malloc. A batch of 64 patches needs 33 MB blocks,
/// over glibc's 32 MB ceiling for heap blocks, so by default each one is a fresh mmap whose pages
/// the kernel faults in and zeroes again at every use: about half of CPU inference time
/// (BENCHMARKS.md; training measured no change). One heap that is never trimmed reuses them.
fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    // A closed pipe (`lnmc eval | head -1`) ends the program quietly, as it does other Unix
    // tools, instead of a panic in println!.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    keep_freed_memory_for_reuse();
    let cli = Cli::parse();
    // CUDA only for what may train or evaluate, and before any tensor work (see cuda.rs):
    // `--version`, `watch`, `synth`, `groups` and `show` never map the CUDA libraries.
    match &cli.command {
        None => lnmc::cuda::prepare(false),
        Some(Command::Train(args)) => lnmc::cuda::prepare(args.device == DeviceChoice::Cpu),
        Some(Command::Eval(args)) => lnmc::cuda::prepare(args.device == DeviceChoice::Cpu),
        Some(_) => {}
    }
    if let Ok(threads) = std::thread::available_parallelism() {
        tch::set_num_threads(threads.get() as i32);
    }
    let result = match cli.command {
        None => tui::run(tui::Options {
            data: cli.data,
            protocol: cli.image_protocol,
            watch: None,
        })
        .map(|()| 0),
        Some(Command::Watch { run }) => tui::run(tui::Options {
            data: cli.data,
            protocol: cli.image_protocol,
            watch: Some(match run {
                Some(dir) => tui::Watch::Run(dir),
                None => tui::Watch::Newest,
            }),
        })
        .map(|()| 0),
        Some(Command::Synth {
            out,
            n,
            seed,
            with_ids,
            positive_rate,
        }) => synth_cmd(&out, n, seed, with_ids, positive_rate),
        Some(Command::Groups {
            data,
            max_difference,
        }) => groups_cmd(data.as_deref(), max_difference),
        Some(Command::Train(args)) => train_cmd(args),
        Some(Command::Eval(args)) => eval_cmd(args),
        Some(Command::Show(args)) => show_cmd(args),
        Some(Command::Export(args)) => export_cmd(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lnmc: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn synth_cmd(out: &Path, n: usize, seed: u64, with_ids: bool, positive_rate: f64) -> Result<u8> {
    if n < 2 {
        return Err(Error::input(
            "--n: need at least 2 patches (one of each class)",
        ));
    }
    if !(positive_rate > 0.0 && positive_rate < 1.0) {
        return Err(Error::input(format!(
            "--positive-rate {positive_rate}: must be between 0 and 1 (exclusive)"
        )));
    }
    let options = synth::Options {
        n,
        seed,
        with_ids,
        positive_rate,
    };
    let started = std::time::Instant::now();
    synth::write(out, &options)?;
    println!(
        "wrote {n} synthetic patches ({} malignant) to {} (seed {seed}) in {:.1}s",
        options.malignant(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

fn groups_cmd(path: Option<&Path>, max_difference: f64) -> Result<u8> {
    if !(max_difference >= 0.0 && max_difference.is_finite()) {
        return Err(Error::input(format!(
            "--max-difference {max_difference}: must be zero or positive"
        )));
    }
    let path = data::resolve(path)?;
    let data = reader::read_without_sidecar(&path)?;
    if data.groups.is_some() {
        println!(
            "{}: has its own per-patch ids ({}); nothing to infer",
            path.display(),
            data::GROUP_DATASETS.join(" or ")
        );
        return Ok(0);
    }
    let ids = groups::infer(&data, max_difference)?;
    let sidecar = groups::write_sidecar(&path, &data::sha256(&path)?, &ids)?;
    println!("{}", groups::describe(&ids));
    println!("wrote {}", sidecar.display());
    Ok(0)
}

/// Set by SIGINT/SIGTERM; the training loop stops after the batch in progress.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

fn train_cmd(args: TrainArgs) -> Result<u8> {
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
            run_dir,
            epochs: args.epochs,
            device: args.device,
            precision: args.precision,
        });
    }
    let mut request = train::Request {
        data: data::resolve(args.data.as_deref())?,
        hyper: Hyper {
            epochs: args.epochs.unwrap_or(Hyper::default().epochs),
            batch_size: args.batch_size,
            lr: args.lr,
            weight_decay: args.weight_decay,
            dropout: args.dropout,
            seed: args.seed,
            augment: args.augment,
            balance: args.balance,
            schedule: args.schedule,
            label_smoothing: args.label_smoothing,
            early_stop: args.early_stop,
        },
        device: args.device,
        precision: args.precision,
        intensity: args.intensity,
        split: args.split,
        fold: None,
        exclude_flagged: args.exclude_flagged,
        name: args.run,
        runs_root: run::RUNS.into(),
        checkpoint_root: run::CHECKPOINTS.into(),
    };
    let Some(folds) = args.folds else {
        return train_headless(Start::New(request));
    };
    // Labels and groups are all the check needs: the pixels stay in the file.
    split::check_folds(folds, &reader::open(&request.data)?)?;
    // Cross-validation: the folds one after another, each an ordinary run under runs/NAME/.
    let name = request.name.take().unwrap_or_else(run::timestamp);
    let (runs_root, checkpoint_root) =
        cross_validation::roots(&request.runs_root, &request.checkpoint_root, &name);
    let cv_dir = runs_root.clone();
    request.runs_root = runs_root;
    request.checkpoint_root = checkpoint_root;
    for k in 1..=folds {
        match cross_validation::start(&request, k, folds) {
            None => println!("fold {k} of {folds} finished already"),
            Some(start) => {
                println!("fold {k} of {folds}");
                let code = train_headless(start)?;
                if code != 0 {
                    return Ok(code);
                }
            }
        }
    }
    let summary = cross_validation::summarise(&cv_dir, folds, args.device)?;
    println!(
        "{folds}-fold cross-validation ({} split) · {}",
        format!("{:?}", summary.split).to_lowercase(),
        cv_dir.join(run::CV_SUMMARY).display()
    );
    for (metric, mean) in &summary.mean {
        println!(
            "  {metric:<15} {mean:.4} ± {:.4} over folds",
            summary.sd[metric]
        );
    }
    let p = &summary.pooled;
    println!(
        "  out-of-fold     accuracy {:.4} [{:.4}, {:.4}] · f1 {:.4} · roc auc {:.4} [{:.4}, {:.4}] ({} patches)",
        p.metrics.accuracy, p.ci.accuracy[0], p.ci.accuracy[1], p.metrics.f1, p.metrics.auc, p.ci.auc[0], p.ci.auc[1], p.metrics.n
    );
    if let Some(n) = &p.nodule {
        println!(
            "  out-of-fold     {} nodules: accuracy {:.4} · f1 {:.4} · roc auc {:.4}",
            n.n, n.accuracy, n.f1, n.auc
        );
    }
    Ok(0)
}

/// Trains one run headless: the worker thread's events printed here, SIGINT/SIGTERM turned
/// into a stop. The exit code: 0 finished, 128 + signal when stopped.
fn train_headless(start: Start) -> Result<u8> {
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
    // Training runs in a worker; this thread is the headless front end of its event stream.
    let (tx, events) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        train::train(session, &control, &mut |e| {
            let _ = tx.send(e);
        })
    });
    events.into_iter().for_each(print_event);
    let outcome = worker
        .join()
        .map_err(|_| Error::runtime("the training thread panicked"))??;
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

fn eval_cmd(args: EvalArgs) -> Result<u8> {
    let request = evaluation::Request {
        checkpoint: args.checkpoint,
        data: args.data,
        all: matches!(args.split, EvalSplit::All),
        intensity: args.intensity,
        device: args.device,
        precision: args.precision,
        tta: args.tta,
    };
    let e = evaluation::evaluate(&request)?;
    let m = &e.metrics;
    let rate = m.n as f64 / e.inference_seconds.max(1e-9);
    if args.json {
        let mut json = serde_json::to_value(m).expect("json");
        json["inference_seconds"] = e.inference_seconds.into();
        json["samples_per_second"] = rate.into();
        json["split"] = e.split_name.clone().into();
        json["slice_level"] = e.slice_level.into();
        json["nodule"] = serde_json::to_value(&e.nodule).expect("json");
        json["ci"] = serde_json::to_value(&e.ci).expect("json");
        println!("{json}");
        return Ok(0);
    }
    println!("checkpoint {} ({})", request.checkpoint.display(), e.origin);
    println!(
        "data       {} ({} data) · {} · {} samples",
        e.data_path.display(),
        e.source_kind,
        e.split_name,
        m.n
    );
    println!(
        "inference  {:.2} s ({rate:.0} patches/s)",
        e.inference_seconds
    );
    if e.slice_level {
        println!("warning    {SLICE_LEVEL_WARNING}");
    }
    let interval = |name: &str| match name {
        "accuracy" => Some(e.ci.accuracy),
        "F1" => Some(e.ci.f1),
        "ROC AUC" => Some(e.ci.auc),
        _ => None,
    };
    for (name, value) in m.named() {
        match interval(name) {
            Some([lo, hi]) => println!("{:<12}{value:.4}  [{lo:.4}, {hi:.4}]", name.to_lowercase()),
            None => println!("{:<12}{value:.4}", name.to_lowercase()),
        }
    }
    println!(
        "            (95 % bootstrap intervals, {} resamples of {}s)",
        e.ci.resamples, e.ci.unit
    );
    println!(
        "imbalance   balanced accuracy {:.4} · PR AUC {:.4} · sensitivity at 90 % / 95 % specificity {:.4} / {:.4}",
        m.balanced_accuracy, m.pr_auc, m.sensitivity_at_specificity_90, m.sensitivity_at_specificity_95
    );
    if let Some(n) = &e.nodule {
        println!(
            "nodules     {} (mean probability of their slices): accuracy {:.4} f1 {:.4} roc auc {:.4}",
            n.n, n.accuracy, n.f1, n.auc
        );
    }
    let [[tn, fp], [fn_, tp]] = m.confusion;
    println!("confusion   {:>14} {:>14}", "pred benign", "pred malignant");
    println!("  benign    {tn:>14} {fp:>14}");
    println!("  malignant {fn_:>14} {tp:>14}");
    Ok(0)
}

fn export_cmd(args: ExportArgs) -> Result<u8> {
    use lnmc::compare::{self, ChartOptions, Metric, XAxis};
    use lnmc::run::catalog::{self, RunEntry};
    if args.csv.is_none() && args.plot.is_none() {
        return Err(Error::input(
            "lnmc export: say what to write: --csv FILE and/or --plot FILE.svg",
        ));
    }
    let metric = Metric::parse(&args.metric).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        Error::input(format!(
            "--metric {}: one of {}",
            args.metric,
            names.join(", ")
        ))
    })?;
    if let Some(w) = args.smooth.filter(|w| !(0.0..1.0).contains(w)) {
        return Err(Error::input(format!("--smooth {w}: must be in [0, 1)")));
    }
    let mut entries: Vec<RunEntry> = Vec::new();
    let found = match args.runs.is_empty() {
        true => catalog::runs(Path::new(run::RUNS)),
        false => args
            .runs
            .iter()
            .map(|p| {
                RunEntry::read(p)
                    .or_else(|| RunEntry::read_cross_validation(p))
                    .ok_or_else(|| Error::file(p, "not an lnmc run (no config.json, no folds)"))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    for entry in found {
        match entry.is_cross_validation() {
            true => entries.extend(entry.folds),
            false => entries.push(entry),
        }
    }
    let runs: Vec<&RunEntry> = entries.iter().collect();
    if let Some(path) = &args.csv {
        lnmc::files::check_output_dir(path)?;
    }
    if let Some(path) = &args.plot {
        lnmc::files::check_output_dir(path)?;
        if !path.extension().is_some_and(|e| e == "svg" || e == "png") {
            return Err(Error::file(
                path,
                "the chart is written as SVG or PNG: name it FILE.svg or FILE.png",
            ));
        }
    }
    if let Some(path) = &args.csv {
        lnmc::files::write_atomic(path, &compare::long_table(&runs))?;
        println!("wrote {} ({} runs)", path.display(), runs.len());
    }
    if let Some(path) = &args.plot {
        let chart = ChartOptions {
            metric,
            smoothing: args.smooth,
            log_y: args.log_y,
            x: if args.wall_time {
                XAxis::WallMinutes
            } else {
                XAxis::Epoch
            },
        };
        let bytes = match path.extension().is_some_and(|e| e == "png") {
            true => compare::png(&runs, &chart)?,
            false => compare::svg(&runs, &chart).into_bytes(),
        };
        lnmc::files::write_atomic(path, &bytes)?;
        println!(
            "wrote {} ({} of {} runs)",
            path.display(),
            metric.name(),
            runs.len()
        );
    }
    Ok(0)
}

/// `lnmc show`: one patch in a plain shell with viuer (kitty/iTerm2/sixel when the terminal has
/// them, coloured half blocks otherwise), or the list of flagged patches.
fn show_cmd(args: ShowArgs) -> Result<u8> {
    let path = data::resolve(args.data.as_deref())?;
    // One patch is read, not the file.
    let data = reader::open(&path)?;
    if args.flagged {
        let flags = review::read(&path, data.len())?;
        println!(
            "{} patches flagged in {}",
            flags.len(),
            review::path(&path).display()
        );
        for f in flags {
            println!(
                "{:>7}  label {}  {}  {}",
                f.index, data.labels[f.index], f.time, f.note
            );
        }
        return Ok(0);
    }
    let index = args.index.unwrap_or_default();
    if index >= data.len() {
        return Err(Error::file(
            &data.path,
            format!(
                "--index {index}: out of range, the file has patches 0…{}",
                data.len() - 1
            ),
        ));
    }
    println!("{}", patch_image::describe(&data, index)?);
    let grey = patch_image::image(&data, index, patch_image::LUNG)?;
    let mut picture = image::DynamicImage::ImageLuma8(grey.clone());
    if let Some(checkpoint) = &args.checkpoint {
        let explainer = Explainer::load(checkpoint)?;
        let e = explainer
            .explain(&[&data.patch(index)?], data.height, data.width)
            .remove(0);
        println!(
            "{} · P(malignant) {:.3} · logits benign {:.3} malignant {:.3}",
            checkpoint.display(),
            e.probability(),
            e.logits[0],
            e.logits[1]
        );
        if args.cam {
            let scale = e.scale();
            println!(
                "class-activation map: red towards malignant, blue towards benign, full colour at ±{scale:.3} log-odds per cell; mean {:+.3} + bias {:+.3} = logit difference {:+.3}",
                e.map.iter().map(|&v| v as f64).sum::<f64>() / e.map.len() as f64,
                e.bias_difference,
                e.logits[1] - e.logits[0]
            );
            picture = image::DynamicImage::ImageRgb8(patch_image::overlay(
                &grey, &e.map, e.height, e.width, scale,
            ));
        }
    }
    if let Some(out) = &args.out {
        let mut png = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| Error::runtime(format!("cannot encode the picture ({e})")))?;
        lnmc::files::check_output_dir(out)?;
        lnmc::files::write_atomic(out, &png)?;
        println!("wrote {}", out.display());
        return Ok(0);
    }
    let config = viuer::Config {
        absolute_offset: false,
        width: Some(data.width as u32),
        ..Default::default()
    };
    viuer::print(&picture, &config)
        .map_err(|e| Error::runtime(format!("cannot draw the patch ({e})")))?;
    Ok(0)
}
