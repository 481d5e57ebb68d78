//! Review flags: patches a user marked as doubtful labels, kept in `<data file>.review.csv`
//! beside the data (`index,flag,note,time`), never inside the user's HDF5. Every change
//! re-reads the file under a short lock and writes it atomically, so two dashboards flagging
//! at once lose nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Error, IoContext, Result};
use crate::files::write_atomic;

const HEADER: [&str; 4] = ["index", "flag", "note", "time"];
/// The one kind of flag there is so far.
pub const DOUBTFUL: &str = "doubtful label";

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub index: usize,
    pub note: String,
    /// UTC `YYYYMMDD-HHMMSS`.
    pub time: String,
}

/// `dataset/all_patches.hdf5` → `dataset/all_patches.hdf5.review.csv`.
pub fn path(data: &Path) -> PathBuf {
    let mut name = data.file_name().unwrap_or_default().to_os_string();
    name.push(".review.csv");
    data.with_file_name(name)
}

/// The flags of the data file with `rows` patches, by index; none while there is no file.
pub fn read(data: &Path, rows: usize) -> Result<Vec<Flag>> {
    let path = path(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::file(&path, format!("cannot read ({e})"))),
    };
    let fail = |msg: String| Error::file(&path, msg);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| fail(format!("not an lnmc review file ({e})")))?;
    if header.iter().ne(HEADER) {
        return Err(fail(format!(
            "not an lnmc review file (header {:?}, expected {})",
            header.iter().collect::<Vec<_>>(),
            HEADER.join(",")
        )));
    }
    let mut flags: Vec<Flag> = Vec::new();
    for (k, record) in reader.records().enumerate() {
        let line = k + 2;
        let record = record.map_err(|e| fail(format!("line {line} is corrupt ({e})")))?;
        let index = record[0]
            .parse::<usize>()
            .ok()
            .filter(|&i| i < rows)
            .ok_or_else(|| {
                fail(format!(
                    "line {line}: index {:?} is not a patch of the data (0…{})",
                    &record[0],
                    rows.saturating_sub(1)
                ))
            })?;
        flags.retain(|f| f.index != index);
        flags.push(Flag {
            index,
            note: record[2].to_string(),
            time: record[3].to_string(),
        });
    }
    flags.sort_by_key(|f| f.index);
    Ok(flags)
}

/// Flags patch `index` with `note`, or takes its flag away (`note` None), and returns every
/// flag as the file now holds them.
pub fn set(data: &Path, rows: usize, index: usize, note: Option<&str>) -> Result<Vec<Flag>> {
    let _lock = FileLock::take(&path(data))?;
    // Read again under the lock: another dashboard may have flagged since this one read.
    let mut flags = read(data, rows)?;
    flags.retain(|f| f.index != index);
    if let Some(note) = note {
        flags.push(Flag {
            index,
            note: note.replace(['\n', '\r'], " "),
            time: crate::files::timestamp(),
        });
        flags.sort_by_key(|f| f.index);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let at = |e: csv::Error| Error::runtime(format!("cannot encode flags ({e})"));
    writer.write_record(HEADER).map_err(at)?;
    for f in &flags {
        writer
            .write_record([f.index.to_string().as_str(), DOUBTFUL, &f.note, &f.time])
            .map_err(at)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::runtime(e.to_string()))?;
    write_atomic(&path(data), &bytes)?;
    Ok(flags)
}

/// `FILE.lock` beside the flags while one process changes them. Changes take milliseconds, so
/// a lock older than 10 s was left by a process that died and is taken over.
struct FileLock(PathBuf);

impl FileLock {
    fn take(file: &Path) -> Result<FileLock> {
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock = file.with_file_name(name);
        for _ in 0..200 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(_) => return Ok(FileLock(lock)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&lock)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|m| SystemTime::now().duration_since(m).ok());
                    if age.is_some_and(|a| a > Duration::from_secs(10)) {
                        let _ = std::fs::remove_file(&lock);
                    } else {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                Err(e) => return Err(e).at(&lock, "create"),
            }
        }
        Err(Error::runtime(format!(
            "{}: held too long by another process",
            lock.display()
        )))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_added_replaced_removed_and_merged_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.h5");
        assert!(read(&data, 10).unwrap().is_empty());
        set(&data, 10, 4, Some("looks benign, \"calcified\"")).unwrap();
        // A second writer that read before the first wrote still keeps the first's flag.
        let flags = set(&data, 10, 2, Some("blurred\nslice")).unwrap();
        assert_eq!(
            flags.iter().map(|f| f.index).collect::<Vec<_>>(),
            vec![2, 4]
        );
        assert_eq!(flags[0].note, "blurred slice");
        assert_eq!(read(&data, 10).unwrap(), flags);
        assert_eq!(
            read(&data, 10).unwrap()[1].note,
            "looks benign, \"calcified\""
        );
        let flags = set(&data, 10, 4, None).unwrap();
        assert_eq!(flags.len(), 1);
        let text = std::fs::read_to_string(path(&data)).unwrap();
        assert!(text.starts_with("index,flag,note,time\n2,doubtful label,blurred slice,"));
    }

    #[test]
    fn a_file_that_is_not_ours_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.h5");
        std::fs::write(path(&data), "a,b\n1,2\n").unwrap();
        let err = read(&data, 10).unwrap_err().to_string();
        assert!(
            err.contains("d.h5.review.csv: not an lnmc review file"),
            "{err}"
        );
        assert!(set(&data, 10, 1, Some("x")).is_err());
        assert_eq!(std::fs::read_to_string(path(&data)).unwrap(), "a,b\n1,2\n");
        std::fs::write(path(&data), "index,flag,note,time\n99,doubtful label,,t\n").unwrap();
        let err = read(&data, 10).unwrap_err().to_string();
        assert!(err.contains("line 2: index \"99\" is not a patch"), "{err}");
    }
}
