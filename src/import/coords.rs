//! The coordinates file of a volume import: one row per patch, in its order, as LUNA16's
//! `annotations.csv` (`seriesuid,coordX,coordY,coordZ,diameter_mm`) and `candidates_V2.csv`
//! (`seriesuid,coordX,coordY,coordZ,class`) hold them: world millimetres, LPS.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One patch to cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub series: String,
    pub world: [f64; 3],
    pub label: u8,
    /// From a nodule column, if one was named; else each row is its own nodule.
    pub nodule: Option<i64>,
    /// Its line in the file, for messages.
    pub line: usize,
}

/// Where labels come from.
#[derive(Debug, Clone)]
pub struct Columns<'a> {
    pub label: &'a str,
    pub nodule: Option<&'a str>,
    /// A second CSV (`seriesuid,coordX,coordY,coordZ,LABEL`) joined on the series and the
    /// coordinates, for a coordinates file without labels (LUNA16's annotations).
    pub labels_from: Option<&'a Path>,
}

const SERIES: &str = "seriesuid";
const XYZ: [&str; 3] = ["coordX", "coordY", "coordZ"];
/// Coordinates that differ by less than this (mm) are the same point when joining two files.
const SAME_POINT_MM: f64 = 1e-3;

/// A CSV read whole: its header and rows.
struct Table {
    header: Vec<String>,
    rows: Vec<(usize, csv::StringRecord)>,
}

fn table(path: &Path) -> Result<Table> {
    let fail = |msg: String| Error::file(path, msg);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail(format!("cannot be read: {e}")))?;
    let header = reader
        .headers()
        .map_err(|_| fail("has no readable header".into()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for (k, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            fail(match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    pos,
                    expected_len,
                    len,
                } => format!(
                    "line {} has {len} fields where the header has {expected_len}",
                    pos.as_ref().map_or(k + 2, |p| p.line() as usize)
                ),
                _ => "is not a readable CSV file".into(),
            })
        })?;
        rows.push((k + 2, record));
    }
    Ok(Table { header, rows })
}

impl Table {
    fn column(&self, path: &Path, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            Error::file(
                path,
                format!(
                    "has no {name:?} column (its columns: {})",
                    self.header.join(", ")
                ),
            )
        })
    }

    /// (series, world) of every row.
    fn points(&self, path: &Path) -> Result<Vec<(usize, String, [f64; 3])>> {
        let series = self.column(path, SERIES)?;
        let xyz = [
            self.column(path, XYZ[0])?,
            self.column(path, XYZ[1])?,
            self.column(path, XYZ[2])?,
        ];
        self.rows
            .iter()
            .map(|(line, r)| {
                let mut world = [0.0; 3];
                for (a, &c) in xyz.iter().enumerate() {
                    let text = r.get(c).unwrap_or("");
                    world[a] = text
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| {
                            Error::file(
                                path,
                                format!(
                                    "line {line}: {} {text:?} is not a coordinate in mm",
                                    XYZ[a]
                                ),
                            )
                        })?;
                }
                let uid = r.get(series).unwrap_or("").to_string();
                if uid.is_empty() {
                    return Err(Error::file(path, format!("line {line}: no seriesuid")));
                }
                Ok((*line, uid, world))
            })
            .collect()
    }
}

fn class_of(path: &Path, line: usize, text: &str, column: &str) -> Result<u8> {
    match text.trim() {
        "0" | "0.0" => Ok(0),
        "1" | "1.0" => Ok(1),
        other => Err(Error::file(
            path,
            format!("line {line}: {column} {other:?} is not 0 or 1"),
        )),
    }
}

/// The rows of `path`, with labels from its own column or joined from `columns.labels_from`.
pub fn read(path: &Path, columns: &Columns) -> Result<Vec<Row>> {
    let t = table(path)?;
    let points = t.points(path)?;
    if points.is_empty() {
        return Err(Error::file(path, "has no rows"));
    }
    let nodule = columns.nodule.map(|n| t.column(path, n)).transpose()?;
    let labels: Vec<u8> = match (columns.labels_from, t.header.iter().position(|h| h == columns.label)) {
        (None, Some(c)) => t
            .rows
            .iter()
            .map(|(line, r)| class_of(path, *line, r.get(c).unwrap_or(""), columns.label))
            .collect::<Result<_>>()?,
        (None, None) => {
            return Err(Error::file(
                path,
                format!(
                    "has no {:?} column for the labels (its columns: {}): name one with --label-column, or join another file with --labels-from",
                    columns.label,
                    t.header.join(", ")
                ),
            ))
        }
        (Some(other), _) => join(path, &points, other, columns.label)?,
    };
    points
        .into_iter()
        .zip(labels)
        .enumerate()
        .map(|(k, ((line, series, world), label))| {
            let nodule = match nodule {
                Some(c) => {
                    let text = t.rows[k].1.get(c).unwrap_or("");
                    Some(
                        text.parse::<i64>()
                            .ok()
                            .filter(|&v| v >= 0)
                            .ok_or_else(|| {
                                Error::file(
                                    path,
                                    format!(
                                        "line {line}: nodule id {text:?} is not a whole number ≥ 0"
                                    ),
                                )
                            })?,
                    )
                }
                None => None,
            };
            Ok(Row {
                series,
                world,
                label,
                nodule,
                line,
            })
        })
        .collect()
}

/// The label of each point from `other`'s rows at the same series and coordinates.
fn join(
    path: &Path,
    points: &[(usize, String, [f64; 3])],
    other: &Path,
    label: &str,
) -> Result<Vec<u8>> {
    let t = table(other)?;
    let column = t.column(other, label)?;
    let theirs = t.points(other)?;
    let mut by_series: HashMap<&str, Vec<([f64; 3], u8)>> = HashMap::new();
    for ((line, series, world), (_, r)) in theirs.iter().zip(&t.rows) {
        let class = class_of(other, *line, r.get(column).unwrap_or(""), label)?;
        by_series
            .entry(series.as_str())
            .or_default()
            .push((*world, class));
    }
    points
        .iter()
        .map(|(line, series, world)| {
            by_series
                .get(series.as_str())
                .and_then(|candidates| {
                    candidates
                        .iter()
                        .find(|(w, _)| w.iter().zip(world).all(|(a, b)| (a - b).abs() < SAME_POINT_MM))
                })
                .map(|&(_, class)| class)
                .ok_or_else(|| {
                    Error::file(path, format!("line {line}: no row of {} at the same series and coordinates gives its label", other.display()))
                })
        })
        .collect()
}
