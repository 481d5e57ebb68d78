//! Per-patch predictions as a CSV table a notebook reads as it is (`pd.read_csv(path)`):
//! `index,nodule,patient,label,p_malignant` and `fold` where cross-validated. An id the file
//! does not have is left empty (NaN in pandas); `label` is empty for `lnmc predict` on a file
//! without labels. Written whole or not at all.

use std::path::Path;

use crate::error::{Error, Result};
use crate::files::write_atomic;

/// One scored patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The patch's row in the data file.
    pub index: usize,
    pub nodule: Option<i64>,
    pub patient: Option<i64>,
    pub label: Option<u8>,
    /// P(malignant), from the logits in fp32 unless the scoring says otherwise.
    pub p_malignant: f64,
    /// The cross-validation fold whose model scored it (1-based).
    pub fold: Option<usize>,
}

/// Writes `rows` to `path`; the `fold` column only when some row has one.
pub fn write(path: &Path, rows: &[Prediction]) -> Result<()> {
    let folds = rows.iter().any(|r| r.fold.is_some());
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["index", "nodule", "patient", "label", "p_malignant"];
    if folds {
        header.push("fold");
    }
    let fail = |e: csv::Error| Error::file(path, format!("cannot write ({e})"));
    out.write_record(&header).map_err(fail)?;
    let text = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let mut record = vec![
            r.index.to_string(),
            text(r.nodule.map(|v| v.to_string())),
            text(r.patient.map(|v| v.to_string())),
            text(r.label.map(|v| v.to_string())),
            // Shortest text that reads back as the same f64.
            r.p_malignant.to_string(),
        ];
        if folds {
            record.push(text(r.fold.map(|f| f.to_string())));
        }
        out.write_record(&record).map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::file(path, format!("cannot write ({e})")))?;
    write_atomic(path, &bytes)
}

/// Reads a table `write` wrote (for tests and for checking a file handed over).
pub fn read(path: &Path) -> Result<Vec<Prediction>> {
    let fail = |why: String| Error::file(path, why);
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| fail(format!("cannot read ({e})")))?;
    let header = reader
        .headers()
        .map_err(|e| fail(format!("cannot read ({e})")))?
        .clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let need = |name: &str| column(name).ok_or_else(|| fail(format!("has no '{name}' column")));
    let (index, p) = (need("index")?, need("p_malignant")?);
    let (nodule, patient, label, fold) = (
        column("nodule"),
        column("patient"),
        column("label"),
        column("fold"),
    );
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| fail(format!("row {}: {e}", line + 1)))?;
        let bad = |what: &str| fail(format!("row {}: {what} is not a number", line + 1));
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).filter(|v| !v.is_empty());
        let parse = |c: Option<usize>, what: &str| -> Result<Option<i64>> {
            get(c).map(|v| v.parse().map_err(|_| bad(what))).transpose()
        };
        rows.push(Prediction {
            index: get(Some(index))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("index"))?,
            nodule: parse(nodule, "nodule")?,
            patient: parse(patient, "patient")?,
            label: parse(label, "label")?.map(|v| v as u8),
            p_malignant: get(Some(p))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("p_malignant"))?,
            fold: parse(fold, "fold")?.map(|v| v as usize),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_empty_ids_and_folds_only_when_given() {
        let dir = std::env::temp_dir().join(format!("lnmc-pred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.csv");
        let rows = vec![
            Prediction {
                index: 3,
                nodule: Some(7),
                patient: None,
                label: Some(1),
                p_malignant: 0.123456789012345,
                fold: None,
            },
            Prediction {
                index: 9,
                nodule: None,
                patient: None,
                label: None,
                p_malignant: 1e-9,
                fold: None,
            },
        ];
        write(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("index,nodule,patient,label,p_malignant\n3,7,,1,0.123456789012345\n")
        );
        assert_eq!(read(&path).unwrap(), rows);
        let folded: Vec<Prediction> = rows
            .iter()
            .map(|r| Prediction {
                fold: Some(2),
                ..r.clone()
            })
            .collect();
        write(&path, &folded).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("index,nodule,patient,label,p_malignant,fold\n"));
        assert_eq!(read(&path).unwrap(), folded);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
