//! A run on disk: `runs/<name>/` holds config.json, split.json, metrics.csv and a lock;
//! `checkpoint/<name>/` holds best.safetensors and last.safetensors.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::intensity::Intensity;
use crate::data::split::{Split, SplitKind};
use crate::error::{Error, IoContext, Result};
use crate::train::{EpochRecord, Hyper};

/// Where runs and their checkpoints go, relative to the working directory.
pub const RUNS: &str = "runs";
pub const CHECKPOINTS: &str = "checkpoint";

pub const CONFIG: &str = "config.json";
pub const SPLIT: &str = "split.json";
pub const METRICS: &str = "metrics.csv";
pub const LOCK: &str = "lock";
pub const LOG: &str = "log.txt";
/// How log.txt's last line starts when the run ended in an error.
pub const FAILED: &str = "failed: ";
pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";

/// Everything needed to reproduce a run or to evaluate its checkpoints the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub lnmc_version: String,
    pub name: String,
    pub created: String,
    pub run_dir: PathBuf,
    pub checkpoint_dir: PathBuf,
    pub data: DataInfo,
    pub intensity: Intensity,
    pub split: SplitKind,
    pub split_seed: u64,
    pub train_samples: usize,
    pub val_samples: usize,
    pub hyper: Hyper,
    pub device: String,
    pub threads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub path: PathBuf,
    pub sha256: String,
    pub synthetic: bool,
    pub samples: usize,
    pub height: usize,
    pub width: usize,
    /// Mean and standard deviation of the normalised training pixels.
    pub normalised_mean: f64,
    pub normalised_std: f64,
}

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
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::input(format!(
                "--run {name:?}: a run name is one plain word"
            )));
        }
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
        let config: RunConfig = read_json(&dir.join(CONFIG))?;
        let lock = Lock::acquire(&dir.join(LOCK))?;
        for d in [dir, config.checkpoint_dir.as_path()] {
            probe_writable(d)?;
            remove_temporaries(d);
        }
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

/// Temporary files of a writer killed in the middle of `write_atomic`: the rename never
/// happened, so they hold nothing the run needs.
fn remove_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".tmp-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that a crash or a kill
/// leaves either the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let result = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.at(path, "write")
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    write_atomic(path, text.as_bytes())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read ({e})")))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(path, format!("not a valid lnmc file ({e})")))
}

/// metrics.csv: one row per completed epoch, flushed as soon as it is known.
pub struct MetricsLog {
    writer: csv::Writer<File>,
    path: PathBuf,
}

impl MetricsLog {
    /// Opens the log of `run_dir`, keeping only the rows of epochs 1..=`completed` (rows past a
    /// resumed checkpoint, or a torn last line from a killed writer, are dropped).
    pub fn open(run_dir: &Path, completed: usize) -> Result<MetricsLog> {
        let path = run_dir.join(METRICS);
        let kept: Vec<EpochRecord> = read_metrics(&path)
            .into_iter()
            .filter(|r| r.epoch <= completed)
            .collect();
        let mut rewrite = csv::Writer::from_writer(Vec::new());
        for row in &kept {
            rewrite.serialize(row).expect("in-memory csv");
        }
        let mut bytes = rewrite.into_inner().expect("in-memory csv");
        if kept.is_empty() {
            bytes = csv_header().into_bytes();
        }
        write_atomic(&path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .at(&path, "open")?;
        let writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(file);
        Ok(MetricsLog { writer, path })
    }

    pub fn append(&mut self, row: &EpochRecord) -> Result<()> {
        self.writer
            .serialize(row)
            .map_err(|e| Error::runtime(format!("{}: cannot write ({e})", self.path.display())))?;
        self.writer.flush().at(&self.path, "write")
    }
}

fn csv_header() -> String {
    "epoch,train_loss,train_acc,val_loss,val_acc,val_f1,val_auc,lr,seconds,samples_per_s\n"
        .to_string()
}

/// The complete rows of a metrics.csv; a partial or unparsable line ends the read.
pub fn read_metrics(path: &Path) -> Vec<EpochRecord> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line without its newline may still be being written.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    csv::Reader::from_reader(complete.as_bytes())
        .deserialize()
        .map_while(|r| r.ok())
        .collect()
}

/// Appends a timestamped line to a run's log.txt. Best effort: a log line is never worth
/// stopping a training run for.
pub fn append_log(path: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{} {line}", timestamp());
    }
}

/// runs/NAME/lock, holding the writer's pid. A lock left by a dead process is taken over.
#[derive(Debug)]
struct Lock(PathBuf);

impl Lock {
    fn acquire(path: &Path) -> Result<Lock> {
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut f) => {
                    write!(f, "{}", std::process::id()).at(path, "write")?;
                    return Ok(Lock(path.to_path_buf()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(path)
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok());
                    if let Some(pid) = pid.filter(|&p| process_alive(p)) {
                        return Err(Error::input(format!(
                            "{}: run is being written by process {pid}",
                            path.parent().unwrap_or(path).display()
                        )));
                    }
                    fs::remove_file(path).at(path, "remove stale lock")?;
                }
                Err(e) => {
                    return Err(Error::input(format!(
                        "{}: cannot lock ({e})",
                        path.display()
                    )))
                }
            }
        }
        Err(Error::runtime(format!(
            "{}: cannot take the lock",
            path.display()
        )))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether the run's log ends with a failure.
pub fn ended_in_failure(run_dir: &Path) -> bool {
    fs::read_to_string(run_dir.join(LOG))
        .ok()
        .and_then(|text| text.lines().last().map(|l| l.contains(FAILED)))
        .unwrap_or(false)
}

/// Whether a live process holds the run's lock (i.e. is training it now).
pub fn is_locked(run_dir: &Path) -> bool {
    fs::read_to_string(run_dir.join(LOCK))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .is_some_and(process_alive)
}

fn process_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// UTC time as `YYYYMMDD-HHMMSS`, for default run names and the config.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
