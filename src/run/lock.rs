//! runs/NAME/lock: one writer per run, and a way for readers to tell whether it is alive.
//!
//! The lock holds the writer's pid and host ("4242 node17"). On the writer's own host a reader
//! asks the kernel whether that pid lives. A run written on another machine (a cluster job on
//! a shared filesystem, watched from the login node) cannot be asked: there the writer's
//! heartbeat decides, the lock's modification time, which the writer renews as it trains.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::LOCK;
use crate::error::{Error, IoContext, Result};

/// A remote writer whose heartbeat is older than this is taken for dead. Training renews it
/// every few batches; preparing a very large data set can take longer, hence the margin.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(600);

/// runs/NAME/lock. A lock left by a dead process is taken over.
#[derive(Debug)]
pub(super) struct Lock(PathBuf);

/// Who holds a lock, as written in it.
struct Holder {
    pid: i32,
    /// None in the locks of lnmc 0.1.0, which wrote the pid alone.
    host: Option<String>,
}

impl Lock {
    pub(super) fn acquire(path: &Path) -> Result<Lock> {
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut f) => {
                    write!(f, "{} {}", std::process::id(), hostname()).at(path, "write")?;
                    return Ok(Lock(path.to_path_buf()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(holder) = alive_holder(path) {
                        let host = holder.host.map_or(String::new(), |h| format!(" on {h}"));
                        return Err(Error::input(format!(
                            "{}: run is being written by process {}{host}",
                            path.parent().unwrap_or(path).display(),
                            holder.pid
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

    /// Renews the heartbeat that readers on other machines go by.
    pub(super) fn beat(&self) {
        if let Ok(f) = OpenOptions::new().append(true).open(&self.0) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Whether a live process holds the run's lock (i.e. is training it now).
pub fn is_locked(run_dir: &Path) -> bool {
    alive_holder(&run_dir.join(LOCK)).is_some()
}

fn alive_holder(lock: &Path) -> Option<Holder> {
    let text = fs::read_to_string(lock).ok()?;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse::<i32>().ok()?;
    let host = words.next().map(str::to_owned);
    let alive = match &host {
        Some(h) if *h != hostname() => fs::metadata(lock)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age < HEARTBEAT_TIMEOUT),
        _ => process_alive(pid),
    };
    alive.then_some(Holder { pid, host })
}

fn process_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// This machine's name, as the kernel reports it.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "localhost".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_writer_is_alive_while_its_heartbeat_is_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK);
        fs::write(&lock, "4242 some-other-node").unwrap();
        assert!(is_locked(dir.path()), "fresh heartbeat from another host");
        let backdate = || {
            let old = SystemTime::now() - HEARTBEAT_TIMEOUT - Duration::from_secs(5);
            let file = OpenOptions::new().append(true).open(&lock).unwrap();
            file.set_modified(old).unwrap();
        };
        backdate();
        assert!(!is_locked(dir.path()), "stale heartbeat");
        let taken = Lock::acquire(&lock).unwrap();
        let text = fs::read_to_string(&lock).unwrap();
        assert_eq!(text, format!("{} {}", std::process::id(), hostname()));
        backdate();
        taken.beat();
        assert!(is_locked(dir.path()), "own pid, own host");
        drop(taken);
        assert!(!lock.exists());
        // lnmc 0.1.0's locks: the pid alone, checked on this host.
        fs::write(&lock, std::process::id().to_string()).unwrap();
        assert!(is_locked(dir.path()));
    }
}
