//! A run on disk, the one home of its layout: `runs/<name>/` holds config.json, split.json,
//! metrics.csv, system.csv, log.txt, a lock while a process writes it and end.json once it has ended;
//! `checkpoint/<name>/` holds best.safetensors and last.safetensors. Training writes runs
//! through `RunDir`; everything else (the Runs tab, `lnmc watch`, evaluation) only reads them,
//! through `catalog` and `status`.

pub mod catalog;
mod lock;
mod metrics_log;
pub mod status;
pub mod system;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::data::split::Split;
use crate::error::{Error, Result};
pub use crate::files::timestamp;
use crate::files::{read_json, remove_temporaries, write_json};
use crate::types::RunConfig;

pub use lock::is_locked;
use lock::Lock;
pub use metrics_log::{read_metrics, MetricsLog};
pub use status::{Ending, Status};

/// Where runs and their checkpoints go, relative to the working directory.
pub const RUNS: &str = "runs";
pub const CHECKPOINTS: &str = "checkpoint";

pub const CONFIG: &str = "config.json";
pub const SPLIT: &str = "split.json";
pub const METRICS: &str = "metrics.csv";
/// What the machine did while the run trained (see `system`).
pub const SYSTEM: &str = "system.csv";
pub const LOCK: &str = "lock";
pub const LOG: &str = "log.txt";
pub const END: &str = "end.json";
/// Beside the folds of a cross-validation, `runs/NAME/fold-K/`: its summary.
pub const CV_SUMMARY: &str = "cv.json";
pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";

/// An open run directory, locked against a second writer for as long as this lives.
#[derive(Debug)]
pub struct RunDir {
    pub name: String,
    pub dir: PathBuf,
    pub checkpoints: PathBuf,
    _lock: Lock,
}

impl RunDir {
    /// A new run `runs_root/name`; refuses an existing one (resume it instead).
    pub fn create(runs_root: &Path, checkpoint_root: &Path, name: &str) -> Result<RunDir> {
        crate::files::check_run_name(name)?;
        let dir = runs_root.join(name);
        if dir.join(CONFIG).exists() {
            return Err(Error::input(format!(
                "{}: run exists already (resume it with --resume {0}, or pick another --run)",
                dir.display()
            )));
        }
        let checkpoints = checkpoint_root.join(name);
        for d in [&dir, &checkpoints] {
            fs::create_dir_all(d)
                .map_err(|e| Error::file(d, format!("cannot create directory ({e})")))?;
            probe_writable(d)?;
        }
        let lock = Lock::acquire(&dir.join(LOCK))?;
        Ok(RunDir {
            name: name.to_string(),
            dir,
            checkpoints,
            _lock: lock,
        })
    }

    /// An existing run, to resume: reads its config and locks it.
    pub fn open(dir: &Path) -> Result<(RunDir, RunConfig)> {
        crate::files::refuse_link(dir, "a run folder")?;
        let config: RunConfig = read_json(&dir.join(CONFIG))?;
        // A run folder copied from elsewhere carries a config.json that names its checkpoint
        // folder: resuming writes there and clears its temporaries, so it must be this run's
        // own (checkpoint/…/NAME beside runs/…/NAME), not a link, not any other folder.
        crate::files::refuse_link(&config.checkpoint_dir, "a checkpoint folder")?;
        if config.checkpoint_dir.file_name() != dir.file_name() {
            return Err(Error::file(
                &dir.join(CONFIG),
                format!(
                    "names {} as its checkpoint folder, which is not this run's (…/{}): refused, lnmc writes only into a run's own folders",
                    config.checkpoint_dir.display(),
                    dir.file_name().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
        let lock = Lock::acquire(&dir.join(LOCK))?;
        for d in [dir, config.checkpoint_dir.as_path()] {
            probe_writable(d)?;
            remove_temporaries(d);
        }
        // The run goes on: how it ended last time is no longer true.
        status::clear_end(dir)?;
        let run = RunDir {
            name: config.name.clone(),
            dir: dir.to_path_buf(),
            checkpoints: config.checkpoint_dir.clone(),
            _lock: lock,
        };
        Ok((run, config))
    }

    pub fn best(&self) -> PathBuf {
        self.checkpoints.join(BEST)
    }

    pub fn last(&self) -> PathBuf {
        self.checkpoints.join(LAST)
    }

    pub fn write_config(&self, config: &RunConfig) -> Result<()> {
        write_json(&self.dir.join(CONFIG), config)
    }

    pub fn write_split(&self, split: &Split) -> Result<()> {
        write_json(&self.dir.join(SPLIT), split)
    }

    /// Tells readers on other machines that the writer is alive (see `lock`).
    pub fn heartbeat(&self) {
        self._lock.beat();
    }

    /// Records how the run ended, for every reader of the run (see `status`).
    pub fn end(&self, ending: &Ending, epoch: usize) -> Result<()> {
        status::write_end(&self.dir, ending, epoch)
    }
}

/// Where a command's run argument points: the path as given when it exists, else the run of
/// that name under runs/ (`--run bar-1` made `runs/bar-1`, and `bar-1` names it).
pub fn resolve(given: &Path) -> PathBuf {
    let bare = given.components().count() == 1;
    let named = Path::new(RUNS).join(given);
    match !given.exists() && bare && named.exists() {
        true => named,
        false => given.to_path_buf(),
    }
}

/// The checkpoint a `--checkpoint` names: a file as given, else the best checkpoint of the run
/// given by its directory or its bare name.
pub fn checkpoint_of(given: &Path) -> PathBuf {
    if given.is_file() {
        return given.to_path_buf();
    }
    match read_config(&resolve(given)) {
        Ok(config) => config.checkpoint_dir.join(BEST),
        Err(_) => given.to_path_buf(),
    }
}

pub fn read_split(run_dir: &Path) -> Result<Split> {
    read_json(&run_dir.join(SPLIT))
}

pub fn read_config(run_dir: &Path) -> Result<RunConfig> {
    read_json(&run_dir.join(CONFIG))
}

/// A clear error now rather than a failed save after an hour of training.
fn probe_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    let result = File::create(&probe).and_then(|mut f| f.write_all(&[0u8; 4096]).and(f.sync_all()));
    let _ = fs::remove_file(&probe);
    result.map_err(|e| Error::input(format!("{}: not writable ({e})", dir.display())))
}

/// Appends a timestamped line to a run's log.txt. Best effort: a log line is never worth
/// stopping a training run for.
pub fn append_log(path: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{} {line}", timestamp());
    }
}
