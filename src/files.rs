//! Writing and reading lnmc's own files so that a crash or a kill leaves either the old file or
//! the new one, never half of one; and checking a user's path before a library sees it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// A file's size and modification time (None: no such file): while both stay the same, so does
/// what was read of it.
pub type Stamp = Option<(u64, std::time::SystemTime)>;

pub fn stamp(path: &Path) -> Stamp {
    let m = fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// What was read from files, by key, kept while the `N` files' stamps stay the same: `watch`
/// reads every run each second, and all but the running ones never change. At most
/// `CACHED_FILES` keys are kept (a folder of runs followed for days, each run read once); the
/// one used longest ago makes room.
pub struct ReadCache<T, const N: usize>(Mutex<Option<Entries<T, N>>>);

pub const CACHED_FILES: usize = 4096;

/// What was read for each key, with the stamps it was read at and when it was last used.
struct Entries<T, const N: usize> {
    map: HashMap<PathBuf, Entry<T, N>>,
    uses: u64,
}

struct Entry<T, const N: usize> {
    stamps: [Stamp; N],
    value: Arc<T>,
    used: u64,
}

impl<T, const N: usize> Default for ReadCache<T, N> {
    fn default() -> Self {
        ReadCache::new()
    }
}

impl<T, const N: usize> ReadCache<T, N> {
    pub const fn new() -> Self {
        ReadCache(Mutex::new(None))
    }

    /// What `read` gives for `key`, read again only when `stamps` differ from those of the last
    /// read; a failed read (None) is not kept.
    pub fn get(
        &self,
        key: &Path,
        stamps: [Stamp; N],
        read: impl FnOnce() -> Option<T>,
    ) -> Option<Arc<T>> {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entries = entries.get_or_insert_with(|| Entries {
            map: HashMap::new(),
            uses: 0,
        });
        entries.uses += 1;
        let now = entries.uses;
        if let Some(entry) = entries.map.get_mut(key) {
            if entry.stamps == stamps {
                entry.used = now;
                return Some(Arc::clone(&entry.value));
            }
        }
        let value = Arc::new(read()?);
        if entries.map.len() >= CACHED_FILES && !entries.map.contains_key(key) {
            let oldest = entries.map.iter().min_by_key(|(_, e)| e.used);
            let oldest = oldest.map(|(k, _)| k.clone()).expect("the cache is full");
            entries.map.remove(&oldest);
        }
        let entry = Entry {
            stamps,
            value: Arc::clone(&value),
            used: now,
        };
        entries.map.insert(key.to_path_buf(), entry);
        Some(value)
    }

    /// How many keys are kept.
    pub fn len(&self) -> usize {
        let entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        entries.as_ref().map_or(0, |e| e.map.len())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
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

/// Temporary files of a writer killed in the middle of `write_atomic`: the rename never
/// happened, so they hold nothing anyone needs.
pub fn remove_temporaries(dir: &Path) {
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

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    write_atomic(path, text.as_bytes())
}

/// The most deflate (zip, gzip, zlib) expands its input: 258 bytes from 2 bits, ≈ 1032:1. A
/// compressed file claiming more than this many times its size is refused before anything
/// that size is allocated.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read ({e})")))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(path, format!("not a valid lnmc file ({})", json_reason(&e))))
}

/// serde_json's complaint in a user's words: where the text stops being JSON, or which field
/// holds what; Rust's type names (`expected struct RunConfig`) become what they are in JSON.
pub fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Io => format!("cannot be read: {e}"),
        Category::Eof => format!("the text ends early, at {at}: cut short?"),
        Category::Syntax => format!("not JSON at {at}"),
        Category::Data => {
            let text = e.to_string();
            let text = text.split(" at line ").next().unwrap_or(&text);
            let words: Vec<String> = text
                .split(' ')
                .scan(None::<&str>, |before, word| {
                    let out = match *before {
                        Some("struct") | Some("enum") => None,
                        _ => Some(match word {
                            "struct" => "an object".to_string(),
                            "enum" => "a name".to_string(),
                            w => w.to_string(),
                        }),
                    };
                    *before = Some(word);
                    Some(out)
                })
                .flatten()
                .collect();
            format!("{} ({at})", words.join(" "))
        }
    }
}

/// A run's name becomes a folder under runs/ and checkpoint/: one plain word, so that it can
/// neither escape them nor hide (no separator, no leading dot). Here, among the leaves, so
/// that settings and sweeps check it without depending on `run`.
pub fn check_run_name(name: &str) -> Result<()> {
    match name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        true => Err(Error::input(format!(
            "--run {name:?}: a run name is one plain word"
        ))),
        false => Ok(()),
    }
}

/// Refuses an output path whose directory does not exist, before anything is computed for it.
pub fn check_output_dir(path: &Path) -> Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => {
            Err(Error::file(path, "its directory does not exist"))
        }
        _ => Ok(()),
    }
}

/// Refuses `path` (`kind`, "a run folder") where it is a symbolic link: lnmc writes into such
/// folders and replaces files there, and follows no link to somewhere else to do it.
pub fn refuse_link(path: &Path, kind: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::file(
            path,
            format!(
                "is {kind} that is a symbolic link (to {}): refused, lnmc writes only into real folders",
                fs::read_link(path).map_or("?".into(), |t| t.display().to_string())
            ),
        )),
        _ => Ok(()),
    }
}

/// Makes sure `path` can be opened as a `kind` file ("an HDF5 file", "a checkpoint") before a
/// library whose own messages are long and not about the user's mistake gets it. `missing`
/// tells the user where such files come from.
pub fn check_is_file(path: &Path, kind: &str, missing: &str) -> Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::file(
            path,
            format!("is a directory, expected {kind}"),
        )),
        Ok(_) => Ok(()),
        Err(_) if path.symlink_metadata().is_ok() => {
            Err(Error::file(path, "is a dangling symbolic link"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::file(path, format!("no such file ({missing})")))
        }
        Err(e) => Err(Error::file(path, format!("cannot open ({e})"))),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_cache_keeps_at_most_its_bound_and_drops_the_least_recently_used() {
        let cache: ReadCache<usize, 1> = ReadCache::new();
        let stamp = [None];
        let key = |k: usize| PathBuf::from(format!("run-{k}"));
        let first = key(0);
        for k in 0..CACHED_FILES {
            cache.get(&key(k), stamp, || Some(k));
        }
        // Used again, the first is now the newest; the second is the oldest.
        assert_eq!(cache.get(&first, stamp, || None).as_deref(), Some(&0));
        cache.get(&key(CACHED_FILES), stamp, || Some(CACHED_FILES));
        assert_eq!(cache.len(), CACHED_FILES);
        assert_eq!(cache.get(&first, stamp, || Some(99)).as_deref(), Some(&0));
        assert_eq!(cache.get(&key(1), stamp, || Some(99)).as_deref(), Some(&99));
        // A changed stamp reads again.
        let changed = [Some((1, std::time::SystemTime::UNIX_EPOCH))];
        assert_eq!(cache.get(&first, changed, || Some(7)).as_deref(), Some(&7));
    }
}
