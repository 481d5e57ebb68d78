//! A run's system.csv read back: its complete rows, and how long ago the writer last wrote.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{stall, Sample, Stall};
use crate::files::{stamp, ReadCache};
use crate::run::SYSTEM;

/// The complete rows of a system.csv, oldest first; unparsable lines (a torn row of a killed
/// writer) are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    // A line without its newline may still be being written.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(complete.as_bytes())
        .deserialize()
        .filter_map(|r| r.ok())
        .collect()
}

/// The samples of a run and how long ago its writer last wrote one.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub rows: Arc<Vec<Sample>>,
    /// Since the file was last written (None: no file).
    pub age: Option<Duration>,
}

impl Samples {
    pub fn last(&self) -> Option<&Sample> {
        self.rows.last()
    }

    /// The stall of a run known to be running.
    pub fn stall(&self, given: Option<Duration>) -> Option<Stall> {
        stall(self.last()?, self.age?, given)
    }
}

/// Each run's samples, read again only when its system.csv changes.
static CACHE: ReadCache<Vec<Sample>, 1> = ReadCache::new();

/// The samples of `run_dir`, read again only when the file has changed.
pub fn read(run_dir: &Path) -> Samples {
    let path = run_dir.join(SYSTEM);
    let stamp = stamp(&path);
    let Some((_, modified)) = stamp else {
        return Samples::default();
    };
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    let rows = CACHE.get(&path, [stamp], || {
        Some(fs::read_to_string(&path).map_or_else(|_| Vec::new(), |t| parse(&t)))
    });
    Samples {
        rows: rows.unwrap_or_default(),
        age: Some(age),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_sample as sample;
    use super::*;
    #[test]
    fn rows_round_trip_and_torn_lines_are_skipped() {
        let rows = [sample(1.0, Some(0.1)), sample(2.0, None)];
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &rows {
            w.serialize(r).unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let header = text.lines().next().unwrap().to_string();
        assert!(
            header.starts_with("time,cpu_percent,cores,rss_mib"),
            "{header}"
        );
        assert_eq!(parse(&text), rows);
        // A writer killed mid-row, then resumed: the torn row is lost, the rest kept.
        let body: Vec<&str> = text.lines().skip(1).collect();
        let torn = format!("{header}\n{}\n{}\n{}\n", body[0], &body[1][..9], body[1]);
        assert_eq!(parse(&torn), rows);
        assert_eq!(parse(&text[..text.len() - 3]), rows[..1]);
    }
}
