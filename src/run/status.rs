//! What state a run is in, decided in one place from what its writer leaves on disk: a live
//! writer holds the lock; a writer that ends, however it ends, writes end.json first. A run
//! with neither was interrupted (killed, or the machine went down) and can be resumed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{is_locked, timestamp, END};
use crate::error::{IoContext, Result};
use crate::files::{read_json, write_json};

/// How a run ended, as its writer records it in end.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub enum Ending {
    /// Every planned epoch done.
    Finished,
    /// Stopped on request (a key, SIGINT, SIGTERM); resumable.
    Stopped,
    /// Ended by an error, with its one-line message.
    Failed { message: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct EndRecord {
    #[serde(flatten)]
    ending: Ending,
    /// Epochs completed when it ended.
    epoch: usize,
    time: String,
}

/// The state of a run on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// A live process holds the run's lock.
    Running,
    Finished,
    Stopped,
    Failed(String),
    /// No writer and no end record: the writer was killed. Resumable like a stopped run.
    Interrupted,
    /// An upstream loss file: read-only, no status.
    Imported,
}

impl Status {
    /// The run directory's status. `planned` and `completed` epochs only decide for runs
    /// written before end.json existed (lnmc 0.1.0): complete means finished.
    pub fn of(run_dir: &Path, planned: usize, completed: usize) -> Status {
        if is_locked(run_dir) {
            return Status::Running;
        }
        match read_json::<EndRecord>(&run_dir.join(END)) {
            Ok(record) => record.ending.into(),
            Err(_) if run_dir.join(END).exists() => Status::Interrupted,
            Err(_) if completed >= planned => Status::Finished,
            Err(_) => Status::Interrupted,
        }
    }

    /// The word tables and status lines show.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Stopped | Status::Interrupted => "stopped",
            Status::Failed(_) => "failed",
            Status::Imported => "read-only",
        }
    }

    pub fn has_ended(&self) -> bool {
        !matches!(self, Status::Running | Status::Imported)
    }
}

impl From<Ending> for Status {
    fn from(ending: Ending) -> Status {
        match ending {
            Ending::Finished => Status::Finished,
            Ending::Stopped => Status::Stopped,
            Ending::Failed { message } => Status::Failed(message),
        }
    }
}

pub(super) fn write_end(run_dir: &Path, ending: &Ending, epoch: usize) -> Result<()> {
    let record = EndRecord {
        ending: ending.clone(),
        epoch,
        time: timestamp(),
    };
    write_json(&run_dir.join(END), &record)
}

pub(super) fn clear_end(run_dir: &Path) -> Result<()> {
    match std::fs::remove_file(run_dir.join(END)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).at(&run_dir.join(END), "remove")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_comes_from_the_end_record_else_from_the_lock_else_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(Status::of(d, 3, 1), Status::Interrupted);
        assert_eq!(
            Status::of(d, 3, 3),
            Status::Finished,
            "a 0.1.0 run, complete"
        );
        write_end(d, &Ending::Stopped, 1).unwrap();
        assert_eq!(Status::of(d, 3, 1), Status::Stopped);
        let failed = Ending::Failed {
            message: "disk full".into(),
        };
        write_end(d, &failed, 1).unwrap();
        assert_eq!(Status::of(d, 3, 3), Status::Failed("disk full".into()));
        std::fs::write(d.join(super::super::LOCK), std::process::id().to_string()).unwrap();
        assert_eq!(Status::of(d, 3, 1), Status::Running, "live writer");
        std::fs::remove_file(d.join(super::super::LOCK)).unwrap();
        clear_end(d).unwrap();
        clear_end(d).unwrap();
        assert_eq!(Status::of(d, 3, 1), Status::Interrupted);
    }
}
