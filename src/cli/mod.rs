//! The `lnmc` command line: the schema of every command, and `main`, which hands each to its
//! own file here. Headless front ends over the ML core, as the dashboard (`tui`) is the other.

mod calibrate;
mod eval;
mod export;
mod groups;
mod import;
mod predict;
mod report;
mod show;
mod sweep;
mod synth;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::tui::image::ProtocolChoice;
use crate::types::DeviceChoice;

pub use calibrate::CalibrateArgs;
pub use eval::EvalArgs;
pub use export::ExportArgs;
pub use import::ImportArgs;
pub use report::ReportArgs;
pub use show::ShowArgs;
pub use sweep::SweepArgs;
pub use synth::SynthArgs;
pub use train::TrainArgs;

#[derive(Parser)]
#[command(
    name = "lnmc",
    version,
    about = "Lung-nodule malignancy classification: train, evaluate and browse CT patches"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// HDF5 file for the dashboard (default: dataset/all_patches.hdf5, else the synthetic set).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// How the dashboard draws images.
    #[arg(long, value_enum, default_value_t = ProtocolChoice::Auto)]
    pub image_protocol: ProtocolChoice,
    #[command(flatten)]
    pub stall: StallArgs,
}

/// When a running run counts as stalled, for the dashboard and for `watch`.
#[derive(clap::Args, Clone, Copy)]
pub struct StallArgs {
    /// Mark a running run stalled (bell and notification) when it has finished no batch for
    /// this many seconds (default: 10 × its median batch time, at least 60).
    #[arg(long, value_name = "SECONDS")]
    stall_after: Option<f64>,
}

impl StallArgs {
    fn limit(self) -> crate::error::Result<Option<std::time::Duration>> {
        match self.stall_after {
            Some(s) if !(s.is_finite() && s > 0.0) => Err(crate::error::Error::input(format!(
                "--stall-after {s}: must be a number of seconds above 0"
            ))),
            s => Ok(s.map(std::time::Duration::from_secs_f64)),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a deterministic synthetic nodule set with the upstream schema.
    Synth(SynthArgs),
    /// Import real data with its ids: an image tree (label/patient/nodule/slice folders) into
    /// an HDF5 every command opens.
    Import(ImportArgs),
    /// Infer which rows are slices of one nodule (for files without nodule ids), with a verdict
    /// on how far they can be trusted, or take them from your CSV (--from); written beside the
    /// data as FILE.groups.csv, splits then hold out whole nodules.
    Groups {
        /// HDF5 file (default: dataset/all_patches.hdf5, else the synthetic set).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Join neighbouring rows of one label whose 4×4-pixel block means differ by at most
        /// this on average, in the file's units (default: the threshold learnt from rows far
        /// apart in the file).
        #[arg(long, conflicts_with = "from")]
        max_difference: Option<f64>,
        /// Your own ids instead of inferred ones: a CSV with a header, `index,nodule[,patient]`
        /// (or rows in patch order without `index`); a label column, if any, must agree.
        #[arg(long, value_name = "CSV")]
        from: Option<PathBuf>,
        /// The column of --from that holds the nodule id (default: nodule or nodule_id).
        #[arg(long, requires = "from", value_name = "NAME")]
        column: Option<String>,
        /// Write groups that fail the plausibility checks (a group longer than any nodule, far
        /// fewer groups than a CT set has nodules).
        #[arg(long)]
        force: bool,
    },
    /// Train a network (upstream's ConvNet unless --model).
    // A negative number is a value to check (`--lr -1` is out of range), not a flag.
    #[command(allow_negative_numbers = true)]
    Train(TrainArgs),
    /// A grid of runs over training settings (KEY=V1,V2 … or KEY=range(A,B)), run here N at a
    /// time or as a Slurm job array; the same command again continues it.
    #[command(allow_negative_numbers = true)]
    Sweep(SweepArgs),
    /// Exact dataset-level metrics of a checkpoint (lnmc .safetensors or PyTorch .pth).
    Eval(EvalArgs),
    /// P(malignant) of every patch of a file, labelled or not, as a CSV table.
    Predict(predict::PredictArgs),
    /// A checkpoint as TorchScript (model.pt, loaded by `torch.jit.load` without lnmc) and a
    /// description of the input it takes (model.json).
    ExportModel(predict::ExportModelArgs),
    /// Fit one temperature for a checkpoint on its validation split and keep it beside the
    /// checkpoint (CHECKPOINT.calibration.json): eval then reports calibration before and after.
    Calibrate(CalibrateArgs),
    /// One self-contained HTML page of a checkpoint's evaluation, as a study reports it.
    Report(ReportArgs),
    /// Open the dashboard on a run written by another process (e.g. `train --headless`).
    /// A directory of runs (runs/, a sweep's folder) shows them all as a live table; Enter
    /// follows one.
    Watch {
        /// runs/NAME or NAME, or a directory of runs (default: the newest run under runs/).
        run: Option<PathBuf>,
        #[command(flatten)]
        stall: StallArgs,
    },
    /// Every epoch of chosen runs as one long CSV table, and/or their chart as SVG.
    Export(ExportArgs),
    /// Print one patch in the terminal, with its label.
    Show(ShowArgs),
}

/// The threads a task of `lnmc sweep --on local -j N` trains with: its share of the cores.
pub const THREADS_VARIABLE: &str = "LNMC_THREADS";

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

pub fn main() -> ExitCode {
    // A closed pipe (`lnmc eval | head -1`) ends the program quietly, as it does other Unix
    // tools, instead of a panic in println!.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    keep_freed_memory_for_reuse();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    prepare_cuda(cli.command.as_ref());
    use_every_core();
    let dashboard = |watch, stall: StallArgs| {
        crate::tui::dashboard(crate::tui::Options {
            data: cli.data.clone(),
            protocol: cli.image_protocol,
            stall_after: stall.limit()?,
            watch,
        })
        .map(|()| 0)
    };
    let result = match cli.command {
        None => dashboard(None, cli.stall),
        Some(Command::Watch { ref run, stall }) => dashboard(
            Some(match run {
                Some(dir) => crate::tui::Watch::Run(crate::run::resolve(dir)),
                None => crate::tui::Watch::Newest,
            }),
            stall,
        ),
        Some(Command::Synth(ref args)) => synth::run(args),
        Some(Command::Import(args)) => import::run(args),
        Some(Command::Groups {
            ref data,
            max_difference,
            ref from,
            ref column,
            force,
        }) => groups::run(
            data.as_deref(),
            max_difference,
            from.as_deref(),
            column.as_deref(),
            force,
        ),
        Some(Command::Train(args)) => {
            // `--resume` keeps the run's own epochs unless --epochs is given.
            let epochs_given = matches
                .subcommand_matches("train")
                .and_then(|m| m.value_source("epochs"))
                == Some(clap::parser::ValueSource::CommandLine);
            train::run(args, epochs_given)
        }
        Some(Command::Eval(args)) => eval::run(args),
        Some(Command::Sweep(args)) => sweep::run(args),
        Some(Command::Calibrate(args)) => calibrate::run(args),
        Some(Command::Report(args)) => report::run(args),
        Some(Command::Show(args)) => show::run(args),
        Some(Command::Predict(args)) => predict::predict(args),
        Some(Command::ExportModel(args)) => predict::export_model(args),
        Some(Command::Export(args)) => export::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lnmc: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// CUDA only for what may train or evaluate, and before any tensor work (see cuda.rs):
/// `--version`, `watch`, `synth`, `groups` and `show` never map the CUDA libraries.
fn prepare_cuda(command: Option<&Command>) {
    match command {
        None => crate::cuda::prepare(false),
        Some(Command::Train(args)) => {
            crate::cuda::prepare(args.settings.device == DeviceChoice::Cpu)
        }
        Some(Command::Eval(args)) => crate::cuda::prepare(args.device == DeviceChoice::Cpu),
        Some(Command::Predict(args)) => crate::cuda::prepare(args.device == DeviceChoice::Cpu),
        Some(Command::Sweep(args)) => crate::cuda::prepare(args.cpu_only()),
        Some(Command::Calibrate(args)) => crate::cuda::prepare(args.device == DeviceChoice::Cpu),
        Some(_) => {}
    }
}

/// Every core it may use, unless a sweep run here divided them among its tasks.
fn use_every_core() {
    let threads = std::env::var(THREADS_VARIABLE)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|&t| t > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
    if let Some(threads) = threads {
        tch::set_num_threads(threads as i32);
    }
}
