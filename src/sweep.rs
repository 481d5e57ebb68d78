//! A sweep: a grid over training settings (`lr=1e-3,5e-4 seed=range(0,3)`), optionally crossed
//! with K folds, each point one run under `runs/NAME/<readable-id>/`. The grid is kept in
//! `runs/NAME/sweep.json`; every way of running it (here, N at a time, or a Slurm job array)
//! trains point K with the same `lnmc sweep NAME --task K`, which starts the run, resumes it
//! when it was stopped (a preempted or requeued task), or leaves it when it has finished.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{read_json, write_json};
use crate::settings::{Setting, Settings};

pub const SWEEP: &str = "sweep.json";

/// One swept setting and its values, as typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// A submission of the sweep to a scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub scheduler: String,
    pub id: String,
    pub script: PathBuf,
    pub submitted: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub name: String,
    pub data: PathBuf,
    /// The training options every run shares; a swept setting overrides its own.
    pub base: Settings,
    pub axes: Vec<Axis>,
    pub folds: Option<usize>,
    pub created: String,
    #[serde(default)]
    pub jobs: Vec<Job>,
}

/// One run of the grid: a value of each axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub values: Vec<(String, String)>,
}

impl Point {
    /// A run name that says what the run is: `lr-0.001_dropout-0.3_seed-0`.
    pub fn id(&self) -> String {
        let id: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| {
                let v: String = v
                    .chars()
                    .map(|c| match c.is_ascii_alphanumeric() || ".+-".contains(c) {
                        true => c,
                        false => '~',
                    })
                    .collect();
                format!("{k}-{v}")
            })
            .collect();
        match id.is_empty() {
            true => "base".into(),
            false => id.join("_"),
        }
    }
}

/// `KEY=V1,V2,…` or `KEY=range(A,B[,STEP])` (B excluded, as Python's range): one axis, every
/// value checked against the setting before anything starts.
pub fn parse_axis(text: &str) -> Result<Axis> {
    let bad = |why: String| Error::input(format!("{text}: {why}"));
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| bad("a swept setting is KEY=V1,V2 or KEY=range(A,B)".into()))?;
    let key = key.trim();
    let setting = Setting::find(key).filter(|s| s.key != "name");
    if setting.is_none() {
        let keys: Vec<&str> = crate::settings::TABLE
            .iter()
            .filter(|s| s.key != "name")
            .map(|s| s.key)
            .collect();
        return Err(bad(format!("no such setting (one of {})", keys.join(", "))));
    }
    let values: Vec<String> = match values
        .trim()
        .strip_prefix("range(")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(args) => {
            let n: Vec<i64> = args
                .split(',')
                .map(|a| a.trim().parse::<i64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| {
                    bad("range takes whole numbers: range(A,B) or range(A,B,STEP)".into())
                })?;
            let (start, stop, step) = match n[..] {
                [a, b] => (a, b, 1),
                [a, b, s] if s > 0 => (a, b, s),
                _ => {
                    return Err(bad(
                        "range takes whole numbers: range(A,B) or range(A,B,STEP)".into(),
                    ))
                }
            };
            (start..stop)
                .step_by(step as usize)
                .map(|v| v.to_string())
                .collect()
        }
        None => values.split(',').map(|v| v.trim().to_string()).collect(),
    };
    if values.is_empty() || values.iter().any(String::is_empty) {
        return Err(bad("no values: give at least one, e.g. lr=1e-3,5e-4".into()));
    }
    for v in &values {
        let mut probe = Settings::default();
        probe.set(key, v)?;
        probe.validate()?;
    }
    let mut unique = values.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        return Err(bad("a value is given twice".into()));
    }
    Ok(Axis {
        key: key.into(),
        values,
    })
}

impl Sweep {
    /// A new sweep, checked whole: its axes distinct and every run's settings valid.
    pub fn new(
        name: &str,
        data: PathBuf,
        base: Settings,
        axes: Vec<Axis>,
        folds: Option<usize>,
    ) -> Result<Sweep> {
        crate::run::check_name(name)?;
        for (k, a) in axes.iter().enumerate() {
            if axes[..k].iter().any(|b| b.key == a.key) {
                return Err(Error::input(format!("{}: swept twice", a.key)));
            }
        }
        let sweep = Sweep {
            name: name.into(),
            data: std::fs::canonicalize(&data).unwrap_or(data),
            base,
            axes,
            folds,
            created: crate::files::timestamp(),
            jobs: Vec::new(),
        };
        for point in sweep.points() {
            sweep.settings(&point)?.validate()?;
        }
        Ok(sweep)
    }

    /// Every point of the grid, the first axis varying slowest.
    pub fn points(&self) -> Vec<Point> {
        let mut points = vec![Point { values: Vec::new() }];
        for axis in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    axis.values.iter().map(move |v| {
                        let mut values = p.values.clone();
                        values.push((axis.key.clone(), v.clone()));
                        Point { values }
                    })
                })
                .collect();
        }
        points
    }

    /// The settings of one point: the base with the point's values, named by the point.
    pub fn settings(&self, point: &Point) -> Result<Settings> {
        let mut s = self.base.clone();
        for (k, v) in &point.values {
            s.set(k, v)?;
        }
        s.name = Some(point.id());
        Ok(s)
    }

    /// Where the sweep's runs and checkpoints go: `runs/NAME/`, `checkpoint/NAME/`.
    pub fn roots(&self, runs: &Path, checkpoints: &Path) -> (PathBuf, PathBuf) {
        (runs.join(&self.name), checkpoints.join(&self.name))
    }

    /// Whether `other` is the same grid on the same data with the same options (the time it
    /// was made and its submissions aside).
    pub fn same_grid(&self, other: &Sweep) -> bool {
        (&self.data, &self.base, &self.axes, self.folds)
            == (&other.data, &other.base, &other.axes, other.folds)
    }

    pub fn read(dir: &Path) -> Result<Sweep> {
        read_json(&dir.join(SWEEP))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(SWEEP), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_lists_and_ranges_and_refuse_what_cannot_run() {
        let a = parse_axis("lr=1e-3, 5e-4").unwrap();
        assert_eq!(
            (a.key.as_str(), a.values.clone()),
            ("lr", vec!["1e-3".into(), "5e-4".into()])
        );
        assert_eq!(
            parse_axis("seed=range(0,5)").unwrap().values,
            ["0", "1", "2", "3", "4"]
        );
        assert_eq!(
            parse_axis("seed=range(1,8,3)").unwrap().values,
            ["1", "4", "7"]
        );
        assert_eq!(
            parse_axis("augment=none,d4").unwrap().values,
            ["none", "d4"]
        );
        for (bad, why) in [
            ("learning_rate=1", "no such setting"),
            ("name=a,b", "no such setting"),
            ("lr=", "no values"),
            ("lr=1e-3,,2e-3", "no values"),
            ("lr=-1", "lr"),
            ("dropout=0.3,x", "is not a number"),
            ("augment=none,spin", "is not one of"),
            ("seed=range(0)", "range takes whole numbers"),
            ("seed=range(0,5,0)", "range takes whole numbers"),
            ("seed=1,1", "given twice"),
            ("lr", "KEY=V1,V2"),
        ] {
            let e = parse_axis(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_grid_is_every_combination_with_readable_names() {
        let axes = vec![
            parse_axis("lr=1e-3,5e-4").unwrap(),
            parse_axis("seed=range(0,3)").unwrap(),
        ];
        let s = Sweep::new("s", "d.h5".into(), Settings::default(), axes, None).unwrap();
        let ids: Vec<String> = s.points().iter().map(Point::id).collect();
        assert_eq!(
            ids,
            [
                "lr-1e-3_seed-0",
                "lr-1e-3_seed-1",
                "lr-1e-3_seed-2",
                "lr-5e-4_seed-0",
                "lr-5e-4_seed-1",
                "lr-5e-4_seed-2"
            ]
        );
        let settings = s.settings(&s.points()[4]).unwrap();
        assert_eq!((settings.hyper.lr, settings.hyper.seed), (5e-4, 1));
        assert_eq!(settings.name.as_deref(), Some("lr-5e-4_seed-1"));
        let twice = vec![parse_axis("lr=1").unwrap(), parse_axis("lr=2").unwrap()];
        let e = Sweep::new("s", "d.h5".into(), Settings::default(), twice, None).unwrap_err();
        assert!(e.to_string().contains("swept twice"));
        let windows = Point {
            values: vec![("intensity".into(), "window:-1000;400".into())],
        };
        crate::run::check_name(&windows.id()).unwrap();
    }
}
