//! `lnmc sweep NAME KEY=V1,V2 … [train options]`: a grid of runs, run here N at a time or
//! submitted to Slurm as one job array. Every task is `lnmc sweep NAME --task K`, which starts,
//! resumes or leaves point K, so running the same command again continues a sweep and a
//! requeued Slurm task picks its run up from its last completed epoch.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use clap::{Args, ValueEnum};

use crate::error::{Error, Result};
use crate::run::catalog::RunEntry;
use crate::run::{self, Status};
use crate::settings::Settings;
use crate::slurm;
use crate::sweep::{self, Job, Sweep};
use crate::train::{self, Start};

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Where {
    Local,
    Slurm,
}

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep's name: its runs go under runs/NAME/.
    #[arg(value_name = "NAME")]
    sweep: String,
    /// The grid: KEY=V1,V2,… or KEY=range(A,B[,STEP]) for any training setting (lr, dropout,
    /// seed, batch_size, augment, …), every combination one run.
    #[arg(value_name = "KEY=VALUES")]
    axes: Vec<String>,
    /// HDF5 file (default: dataset/all_patches.hdf5, else the synthetic set).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Cross each point with K folds (whole nodules where known).
    #[arg(long, value_name = "K")]
    folds: Option<usize>,
    /// Where the runs train: here, or as a Slurm job array.
    #[arg(long, value_enum, default_value = "local")]
    on: Where,
    /// Runs at a time: here, dividing the cores among them; on Slurm, the array's throttle (%N).
    #[arg(short = 'j', long, default_value_t = 1)]
    jobs: usize,
    /// More options for sbatch (e.g. "--partition=gpu --gres=gpu:1 --time=4:00:00").
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    sbatch: Option<String>,
    /// Cancel what the sweep has queued or running on Slurm.
    #[arg(long)]
    cancel: bool,
    /// Train point K of the grid (what each task runs).
    #[arg(long, value_name = "K", hide = true)]
    task: Option<usize>,
    #[command(flatten)]
    settings: Settings,
}

impl SweepArgs {
    /// Only the controlling command and CPU tasks never need CUDA.
    pub fn cpu_only(&self) -> bool {
        self.task.is_none() || self.settings.device == crate::types::DeviceChoice::Cpu
    }
}

pub fn run(args: SweepArgs) -> Result<u8> {
    let dir = Path::new(run::RUNS).join(&args.sweep);
    if let Some(k) = args.task {
        return run_task(&Sweep::read(&dir)?, k);
    }
    if args.cancel {
        return cancel(&Sweep::read(&dir)?);
    }
    if args.settings.name.is_some() {
        return Err(Error::input(
            "lnmc sweep: --run is not for a sweep: its runs are named by their settings",
        ));
    }
    if args.jobs == 0 {
        return Err(Error::input("-j 0: at least one run at a time"));
    }
    let axes = args
        .axes
        .iter()
        .map(|a| sweep::parse_axis(a))
        .collect::<Result<Vec<_>>>()?;
    let data = crate::data::resolve(args.data.as_deref())?;
    // Readable, and able to carry the folds, before any run starts (labels only: lazy).
    let opened = crate::data::reader::open(&data)?;
    if let Some(k) = args.folds {
        crate::data::split::check_folds(k, &opened)?;
    }
    let mut sweep = Sweep::new(&args.sweep, data, args.settings, axes, args.folds)?;
    let fresh = match Sweep::read(&dir) {
        Ok(old) if !old.same_grid(&sweep) => return Err(Error::file(
            &dir.join(sweep::SWEEP),
            "is another grid (other settings, values, data or folds): give the sweep another name",
        )),
        Ok(old) => {
            sweep = old;
            false
        }
        Err(_) if dir.exists() => {
            return Err(Error::file(
                &dir,
                "exists and is not a sweep: give another name",
            ))
        }
        Err(_) => true,
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, format!("cannot create ({e})")))?;
    sweep.write(&dir)?;
    let outcome = match args.on {
        Where::Local => run_here(&sweep, &dir, args.jobs),
        Where::Slurm => submit(&mut sweep, &dir, args.jobs, args.sbatch.as_deref()),
    };
    // A sweep that never started leaves nothing behind.
    if outcome.is_err() && fresh {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

/// Trains point `k`: starts it, resumes it, or leaves it when it has finished.
fn run_task(sweep: &Sweep, k: usize) -> Result<u8> {
    let points = sweep.points();
    let point = points.get(k).ok_or_else(|| {
        Error::input(format!(
            "--task {k}: the sweep has points 0…{}",
            points.len().saturating_sub(1)
        ))
    })?;
    let settings = sweep.settings(point)?;
    let (runs_root, checkpoint_root) =
        sweep.roots(Path::new(run::RUNS), Path::new(run::CHECKPOINTS));
    let request = train::Request {
        data: sweep.data.clone(),
        fold: None,
        runs_root,
        checkpoint_root,
        settings,
    };
    if let Some(folds) = sweep.folds {
        return super::train::folds_headless(request, folds);
    }
    let run_dir = request.runs_root.join(point.id());
    match RunEntry::read(&run_dir).map(|e| e.status) {
        Some(Status::Finished) => {
            println!("{}: finished already", run_dir.display());
            Ok(0)
        }
        Some(_) => super::train::train_headless(Start::Resume {
            run_dir,
            epochs: None,
            device: request.settings.device,
            precision: request.settings.precision,
        }),
        None => super::train::train_headless(Start::New(request)),
    }
}

/// Runs the sweep here, `jobs` tasks at a time, each on its share of the cores, each task's
/// output in `runs/NAME/task-K.out`. Exit 0 when every task finished.
fn run_here(sweep: &Sweep, dir: &Path, jobs: usize) -> Result<u8> {
    let exe =
        std::env::current_exe().map_err(|e| Error::runtime(format!("cannot find lnmc ({e})")))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / jobs).max(1);
    let points = sweep.points();
    println!(
        "sweep {}: {} runs{}, {jobs} at a time on {threads} of {cores} cores each",
        sweep.name,
        points.len(),
        sweep
            .folds
            .map_or(String::new(), |k| format!(" × {k} folds"))
    );
    let mut running: Vec<(usize, Child)> = Vec::new();
    let mut failed = 0;
    let mut next = 0;
    while next < points.len() || !running.is_empty() {
        while running.len() < jobs && next < points.len() {
            let out = std::fs::File::create(dir.join(format!("task-{next}.out")))
                .map_err(|e| Error::file(dir, format!("cannot write ({e})")))?;
            let child = Command::new(&exe)
                .args(["sweep", &sweep.name, "--task", &next.to_string()])
                .env(crate::cli::THREADS_VARIABLE, threads.to_string())
                .stdout(Stdio::from(
                    out.try_clone().map_err(|e| Error::runtime(e.to_string()))?,
                ))
                .stderr(Stdio::from(out))
                .spawn()
                .map_err(|e| Error::runtime(format!("cannot start a task ({e})")))?;
            running.push((next, child));
            next += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut k = 0;
        while k < running.len() {
            match running[k].1.try_wait() {
                Ok(Some(status)) => {
                    let (task, _) = running.remove(k);
                    let ok = status.success();
                    failed += (!ok) as usize;
                    println!(
                        "{}: {} ({})",
                        points[task].id(),
                        if ok { "done" } else { "did not finish" },
                        dir.join(format!("task-{task}.out")).display()
                    );
                }
                _ => k += 1,
            }
        }
    }
    match failed {
        0 => {
            println!(
                "sweep {}: every run finished · lnmc watch {}",
                sweep.name,
                dir.display()
            );
            Ok(0)
        }
        n => {
            eprintln!(
                "sweep {}: {n} runs did not finish; run the same command again to go on",
                sweep.name
            );
            Ok(1)
        }
    }
}

/// Writes the job-array script into the sweep's folder, submits it, records the job id.
fn submit(sweep: &mut Sweep, dir: &Path, throttle: usize, sbatch_args: Option<&str>) -> Result<u8> {
    let exe =
        std::env::current_exe().map_err(|e| Error::runtime(format!("cannot find lnmc ({e})")))?;
    let here = std::env::current_dir().map_err(|e| Error::runtime(e.to_string()))?;
    let n = sweep.points().len();
    let script = dir.join("sweep.sbatch");
    let text = slurm::script(&sweep.name, n, throttle, &exe, &here, &here.join(dir));
    crate::files::write_atomic(&script, text.as_bytes())?;
    let id = slurm::submit(&script, sbatch_args)?;
    sweep.jobs.push(Job {
        scheduler: sweep::Scheduler::Slurm,
        id: id.clone(),
        script: script.clone(),
        submitted: crate::files::timestamp(),
    });
    sweep.write(dir)?;
    println!(
        "submitted sweep {} as Slurm job array {id} ({n} tasks, {throttle} at a time): {} · lnmc watch {}",
        sweep.name,
        script.display(),
        dir.display()
    );
    Ok(0)
}

/// Cancels the sweep's Slurm jobs.
fn cancel(sweep: &Sweep) -> Result<u8> {
    let ids = sweep.slurm_jobs();
    if ids.is_empty() {
        return Err(Error::input(format!(
            "sweep {}: nothing submitted to Slurm to cancel",
            sweep.name
        )));
    }
    slurm::cancel(&ids)?;
    println!(
        "cancelled Slurm job {} of sweep {}",
        ids.join(", "),
        sweep.name
    );
    Ok(0)
}
