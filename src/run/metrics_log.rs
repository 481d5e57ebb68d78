//! metrics.csv: one row per completed epoch, flushed as soon as it is known, read back by
//! anyone while the writer is still appending.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::METRICS;
use crate::error::{Error, IoContext, Result};
use crate::files::write_atomic;
use crate::types::EpochRecord;

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
    "epoch,train_loss,train_acc,val_loss,val_acc,val_f1,val_auc,val_bal_acc,val_pr_auc,val_nodule_acc,val_nodule_f1,val_nodule_auc,lr,seconds,samples_per_s\n"
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
