//! runs/NAME/lock: one writer per run, and a way for readers to tell whether it is alive.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::LOCK;
use crate::error::{Error, IoContext, Result};

/// runs/NAME/lock, holding the writer's pid. A lock left by a dead process is taken over.
#[derive(Debug)]
pub(super) struct Lock(PathBuf);

impl Lock {
    pub(super) fn acquire(path: &Path) -> Result<Lock> {
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
