//! The runs and checkpoints found on disk, as the Runs and Evaluate tabs and `lnmc watch`
//! list them: read-only views, never a writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::system::{self, Samples};
use super::{read_config, read_metrics, read_split, Status, CONFIG, CV_SUMMARY, LOG, METRICS};
use crate::checkpoint;
use crate::data::split::Split;
use crate::files::{stamp, ReadCache};
use crate::sweep::Sweep;
use crate::types::{EpochRecord, RunConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointEntry {
    pub path: PathBuf,
    /// Run name, or the file name for a PyTorch file.
    pub label: String,
    pub val_accuracy: Option<f64>,
    pub modified: SystemTime,
}

/// `checkpoint/*/{best,last}.safetensors` and any `.pth`/`.pt` under `checkpoint/`, newest first.
pub fn checkpoints(root: &Path) -> Vec<CheckpointEntry> {
    let mut found = Vec::new();
    let mut visit = |path: PathBuf| {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "safetensors" | "pth" | "pt") {
            return;
        }
        let (name, modified) = name_and_time(&path);
        let (label, val_accuracy) = match ext {
            "safetensors" => match checkpoint::read_info(&path) {
                Some(info) => (
                    format!("{} · {name} · epoch {}", info.config.name, info.epoch),
                    Some(info.val_accuracy),
                ),
                None => (name, None),
            },
            _ => (format!("{name} (PyTorch)"), None),
        };
        found.push(CheckpointEntry {
            path,
            label,
            val_accuracy,
            modified,
        });
    };
    for entry in read_dir(root) {
        if entry.is_dir() {
            read_dir(&entry).into_iter().for_each(&mut visit);
        } else {
            visit(entry);
        }
    }
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)));
    found
}

/// One row of the Runs tab and of `lnmc watch DIR`: what is found at `path`.
#[derive(Debug, Clone)]
pub struct RunEntry {
    pub name: String,
    pub path: PathBuf,
    pub status: Status,
    pub modified: SystemTime,
    pub kind: Kind,
}

/// What a catalog entry is. Readers match on it; nothing is inferred from what is empty.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `runs/NAME/` with config.json: one training run.
    Run(Run),
    /// `runs/NAME/fold-K/`: a cross-validation's folds, in order.
    CrossValidation { folds: Vec<RunEntry> },
    /// `runs/NAME/sweep.json`: the grid, and each of its points in the grid's order.
    Sweep {
        sweep: Arc<Sweep>,
        points: Vec<Point>,
    },
    /// `runs/*.csv`: upstream's losses (columns `,train,val`), read-only.
    Imported { history: Arc<Vec<EpochRecord>> },
}

/// A run's own files.
#[derive(Debug, Clone)]
pub struct Run {
    pub config: RunConfig,
    /// Shared with the cache of unchanged files (see `read_unchanged`).
    pub history: Arc<Vec<EpochRecord>>,
    /// What the machine did while it trained (system.csv); empty for runs without one.
    pub system: Samples,
}

/// One point of a sweep's grid: `runs/SWEEP/ID/` once its run has started.
#[derive(Debug, Clone)]
pub struct Point {
    pub name: String,
    pub path: PathBuf,
    pub state: PointState,
}

/// Where a sweep's point stands.
#[derive(Debug, Clone)]
pub enum PointState {
    /// No run yet, and no scheduler holds it (not submitted, or dropped by the queue).
    NotStarted,
    /// No run yet; the scheduler holds it, in its word ("pending").
    Queued(String),
    /// Its run (a cross-validation with --folds) has begun; the scheduler's word while it
    /// still holds it ("running", or "pending" again once requeued).
    Started {
        run: Box<RunEntry>,
        queue: Option<String>,
    },
}

impl Point {
    /// Its run, once started.
    pub fn run(&self) -> Option<&RunEntry> {
        match &self.state {
            PointState::Started { run, .. } => Some(run),
            _ => None,
        }
    }

    /// The scheduler's word for it, or "not started".
    pub fn queue(&self) -> Option<&str> {
        match &self.state {
            PointState::NotStarted => Some(NOT_STARTED),
            PointState::Queued(state) => Some(state),
            PointState::Started { queue, .. } => queue.as_deref(),
        }
    }
}

impl RunEntry {
    /// An lnmc run directory (None for anything else).
    pub fn read(path: &Path) -> Option<RunEntry> {
        let (config, history) = read_unchanged(path)?;
        let status = Status::of(path, config.hyper.epochs, history.len());
        let system = system::read(path);
        Some(RunEntry::of_run(
            path,
            status,
            Run {
                config,
                history,
                system,
            },
        ))
    }

    /// The entry of a run at `path` from its parts.
    pub fn of_run(path: impl Into<PathBuf>, status: Status, run: Run) -> RunEntry {
        let path = path.into();
        let (name, modified) = name_and_time(&path);
        RunEntry {
            name,
            path,
            status,
            modified,
            kind: Kind::Run(run),
        }
    }

    /// A cross-validation directory: one entry whose `folds` are its fold runs. Finished when
    /// every fold has and the summary is written; running while any fold is.
    pub fn read_cross_validation(path: &Path) -> Option<RunEntry> {
        let folds: Vec<RunEntry> = (1..)
            .map(|k| path.join(format!("fold-{k}")))
            .take_while(|dir| dir.is_dir())
            .filter_map(|dir| RunEntry::read(&dir))
            .collect();
        folds.first()?;
        let (name, modified) = name_and_time(path);
        let members: Vec<&RunEntry> = folds.iter().collect();
        let status = group_status(&members, path.join(CV_SUMMARY).exists());
        Some(RunEntry {
            name,
            path: path.to_path_buf(),
            status,
            modified,
            kind: Kind::CrossValidation { folds },
        })
    }

    /// A sweep (`runs/NAME/sweep.json`): one entry holding every point of its grid, each its
    /// run once started (a run, or a cross-validation with --folds), else what the scheduler
    /// says of it.
    pub fn read_sweep(path: &Path) -> Option<RunEntry> {
        let sweep = Sweep::read(path).ok()?;
        let ids: Vec<String> = sweep.points().iter().map(|p| p.id()).collect();
        let runs: Vec<Option<RunEntry>> = ids
            .iter()
            .map(|id| {
                let dir = path.join(id);
                RunEntry::read(&dir).or_else(|| RunEntry::read_cross_validation(&dir))
            })
            .collect();
        // The scheduler is asked only while some run is still to finish.
        let finished =
            |r: &Option<RunEntry>| r.as_ref().is_some_and(|r| r.status == Status::Finished);
        let mut queue = match runs.iter().all(finished) {
            true => Default::default(),
            false => crate::sweep::queue_states(&sweep),
        };
        let points: Vec<Point> = ids
            .into_iter()
            .zip(runs)
            .enumerate()
            .map(|(k, (id, run))| {
                let queued = queue.remove(&k);
                let state = match (run, queued) {
                    (Some(run), queue) => PointState::Started {
                        run: Box::new(run),
                        queue,
                    },
                    (None, Some(state)) => PointState::Queued(state),
                    (None, None) => PointState::NotStarted,
                };
                Point {
                    path: path.join(&id),
                    name: id,
                    state,
                }
            })
            .collect();
        let started: Vec<&RunEntry> = points.iter().filter_map(Point::run).collect();
        let (name, modified) = name_and_time(path);
        let complete =
            started.len() == points.len() && started.iter().all(|m| m.status == Status::Finished);
        let status = group_status(&started, complete);
        Some(RunEntry {
            name,
            path: path.to_path_buf(),
            status,
            modified,
            kind: Kind::Sweep {
                sweep: Arc::new(sweep),
                points,
            },
        })
    }

    /// A run, a cross-validation or a sweep: whatever `path` holds (None: none of them).
    pub fn read_any(path: &Path) -> Option<RunEntry> {
        RunEntry::read(path)
            .or_else(|| RunEntry::read_sweep(path))
            .or_else(|| RunEntry::read_cross_validation(path))
    }

    /// The run's config: a run's own, a cross-validation's first fold's, a sweep's first
    /// started run's (None for an imported file or a sweep with none started).
    pub fn config(&self) -> Option<&RunConfig> {
        match &self.kind {
            Kind::Run(run) => Some(&run.config),
            Kind::Imported { .. } => None,
            Kind::CrossValidation { .. } | Kind::Sweep { .. } => {
                self.members().iter().find_map(|m| m.config())
            }
        }
    }

    /// Its own epochs: a run's or an imported file's (none for a group).
    pub fn history(&self) -> &[EpochRecord] {
        match &self.kind {
            Kind::Run(run) => &run.history,
            Kind::Imported { history } => history,
            Kind::CrossValidation { .. } | Kind::Sweep { .. } => &[],
        }
    }

    /// What the machine did while it trained (empty but for a run that recorded it).
    pub fn system(&self) -> &Samples {
        static NONE: std::sync::OnceLock<Samples> = std::sync::OnceLock::new();
        match &self.kind {
            Kind::Run(run) => &run.system,
            _ => NONE.get_or_init(Samples::default),
        }
    }

    /// The runs it holds: a cross-validation's folds, a sweep's started runs (none for a run).
    pub fn members(&self) -> Vec<&RunEntry> {
        match &self.kind {
            Kind::CrossValidation { folds } => folds.iter().collect(),
            Kind::Sweep { points, .. } => points.iter().filter_map(Point::run).collect(),
            Kind::Run(_) | Kind::Imported { .. } => Vec::new(),
        }
    }

    /// Every run it stands for, itself for a run: what `export` and `watch` take apart.
    pub fn into_runs(self) -> Vec<RunEntry> {
        match self.kind {
            Kind::CrossValidation { folds } => {
                folds.into_iter().flat_map(Self::into_runs).collect()
            }
            Kind::Sweep { points, .. } => points
                .into_iter()
                .filter_map(|p| match p.state {
                    PointState::Started { run, .. } => Some(*run),
                    _ => None,
                })
                .flat_map(Self::into_runs)
                .collect(),
            Kind::Run(_) | Kind::Imported { .. } => vec![self],
        }
    }

    /// Mean over the folds of their best epoch's (val accuracy, val F1).
    pub fn fold_means(&self) -> Option<(f64, f64)> {
        let bests: Vec<&EpochRecord> = self
            .members()
            .into_iter()
            .filter_map(|f| f.best())
            .collect();
        if bests.is_empty() {
            return None;
        }
        let n = bests.len() as f64;
        Some((
            bests.iter().map(|b| b.val_acc).sum::<f64>() / n,
            bests.iter().map(|b| b.val_f1).sum::<f64>() / n,
        ))
    }

    pub fn best(&self) -> Option<&EpochRecord> {
        EpochRecord::best(self.history())
    }

    /// A running run (or a cross-validation's or sweep's running member) that has finished no
    /// batch for longer than `limit` (None: its own limit, see `system::stall_limit`).
    pub fn stall(&self, limit: Option<Duration>) -> Option<system::Stall> {
        if self.status != Status::Running {
            return None;
        }
        match &self.kind {
            Kind::Run(run) => run.system.stall(limit),
            Kind::Imported { .. } => None,
            _ => self.members().into_iter().find_map(|m| m.stall(limit)),
        }
    }

    pub fn duration(&self) -> Duration {
        let own: f64 = self.history().iter().map(|r| r.seconds).sum();
        Duration::from_secs_f64(own)
            + self
                .members()
                .into_iter()
                .map(RunEntry::duration)
                .sum::<Duration>()
    }
}

/// The state of a cross-validation or a sweep from its members': running while any runs,
/// failed when any failed, else finished when `complete`, else stopped (resumable).
fn group_status(members: &[&RunEntry], complete: bool) -> Status {
    if members.iter().any(|m| m.status == Status::Running) {
        Status::Running
    } else if let Some(m) = members
        .iter()
        .find(|m| matches!(m.status, Status::Failed(_)))
    {
        m.status.clone()
    } else if complete {
        Status::Finished
    } else {
        Status::Stopped
    }
}

/// The state of a sweep's point whose run has not started and that no queue holds.
pub const NOT_STARTED: &str = "not started";

/// Each run's config and metrics, read again only when config.json or metrics.csv changes.
static CACHE: ReadCache<(RunConfig, Arc<Vec<EpochRecord>>), 2> = ReadCache::new();

/// A run's config.json and metrics.csv, parsed again only when either has changed.
fn read_unchanged(path: &Path) -> Option<(RunConfig, Arc<Vec<EpochRecord>>)> {
    let metrics = path.join(METRICS);
    let stamps = [stamp(&path.join(CONFIG)), stamp(&metrics)];
    stamps[0]?;
    let read = CACHE.get(path, stamps, || {
        Some((read_config(path).ok()?, Arc::new(read_metrics(&metrics))))
    })?;
    Some((read.0.clone(), Arc::clone(&read.1)))
}

/// lnmc runs (`runs/NAME/`) and upstream loss files (`runs/*.csv`, columns `,train,val`).
pub fn runs(root: &Path) -> Vec<RunEntry> {
    // `lnmc watch runs/NAME` on a sweep: the sweep as its one row.
    if let Some(sweep) = RunEntry::read_sweep(root) {
        return vec![sweep];
    }
    let mut found = Vec::new();
    for path in read_dir(root) {
        let (name, modified) = name_and_time(&path);
        if path.is_dir() {
            found.extend(RunEntry::read_any(&path));
        } else if path.extension().is_some_and(|e| e == "csv") {
            if let Some(history) = upstream_losses(&path) {
                found.push(RunEntry {
                    name,
                    path,
                    status: Status::Imported,
                    modified,
                    kind: Kind::Imported {
                        history: Arc::new(history),
                    },
                });
            }
        }
    }
    found.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    found
}

/// Upstream's `losses_*.csv`: a header `,train,val` and rows `epoch,train_loss,val_loss`.
pub fn upstream_losses(path: &Path) -> Option<Vec<EpochRecord>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim() != ",train,val" {
        return None;
    }
    lines
        .map(|line| {
            let mut cols = line.split(',').map(str::trim);
            let epoch: usize = cols.next()?.parse().ok()?;
            let train_loss = cols.next()?.parse().ok()?;
            let val_loss = cols.next()?.parse().ok()?;
            Some(EpochRecord {
                epoch: epoch + 1,
                train_loss,
                train_acc: f64::NAN,
                val_loss,
                val_acc: f64::NAN,
                val_f1: f64::NAN,
                val_auc: f64::NAN,
                val_bal_acc: f64::NAN,
                val_pr_auc: f64::NAN,
                val_nodule_acc: None,
                val_nodule_f1: None,
                val_nodule_auc: None,
                lr: f64::NAN,
                seconds: 0.0,
                samples_per_s: 0.0,
            })
        })
        .collect()
}

/// One run as `lnmc watch` follows it: the catalog's view plus its split, its log and how long
/// ago its writer last added a row.
#[derive(Debug, Clone)]
pub struct Followed {
    pub entry: RunEntry,
    pub split: Option<Split>,
    pub log: Vec<String>,
    pub since_update: Option<Duration>,
}

impl Followed {
    pub fn read(path: &Path) -> Option<Followed> {
        let entry = RunEntry::read(path)?;
        let since_update = path
            .join(METRICS)
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok());
        let log = log_tail(path);
        Some(Followed {
            split: read_split(path).ok(),
            entry,
            log,
            since_update,
        })
    }
}

/// The log.txt of a run is read from its end, at most this much of it.
const LOG_TAIL_BYTES: u64 = 256 * 1024;

/// The last lines of a run's log.txt (all of a short one), oldest first.
pub fn log_tail(run_dir: &Path) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(run_dir.join(LOG)) else {
        return Vec::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // Read from the middle of a line: that line is not whole.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

fn name_and_time(path: &Path) -> (String, SystemTime) {
    let name = path
        .file_name()
        .map_or("?".into(), |n| n.to_string_lossy().into_owned());
    let modified = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    (name, modified)
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_upstream_loss_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("losses.csv");
        std::fs::write(&path, ",train,val\n0,0.66,0.65\n1,0.64,0.63\n").unwrap();
        let rows = upstream_losses(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].epoch, rows[1].train_loss, rows[1].val_loss),
            (2, 0.64, 0.63)
        );
        std::fs::write(&path, "epoch,loss\n1,2\n").unwrap();
        assert!(upstream_losses(&path).is_none());
        let listed = runs(dir.path());
        assert!(listed.is_empty());
    }
}
