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
    pub scheduler: Scheduler,
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

/// The schedulers a sweep can be submitted to (written as `"slurm"` in sweep.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    Slurm,
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
        crate::files::check_run_name(name)?;
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

    /// The ids of the Slurm jobs the sweep was submitted as.
    pub fn slurm_jobs(&self) -> Vec<&str> {
        self.jobs
            .iter()
            .filter(|j| j.scheduler == Scheduler::Slurm)
            .map(|j| j.id.as_str())
            .collect()
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        write_json(&dir.join(SWEEP), self)
    }
}

/// What Slurm says of the sweep's tasks still queued or running, by point (empty where
/// nothing was submitted or squeue cannot be asked).
pub fn queue_states(sweep: &Sweep) -> std::collections::HashMap<usize, String> {
    crate::slurm::queue_states(&sweep.slurm_jobs())
}

/// A sweep's runs as one table: each run's position on each swept setting and its best value
/// of a metric, what parallel coordinates draw, and each setting's rank correlation with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The swept settings, then the metric: the columns and the axes.
    pub columns: Vec<String>,
    pub rows: Vec<AnalysisRow>,
    /// Each swept setting's Spearman correlation with the metric over the runs that have it,
    /// strongest first (NaN where it cannot be computed).
    pub ranking: Vec<(String, f64)>,
    /// The metric's range over the runs, for the colour scale.
    pub metric_range: [f64; 2],
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRow {
    pub id: String,
    /// The run's value of each swept setting, as typed.
    pub values: Vec<String>,
    /// Its position on each axis in [0, 1] (settings by the rank of their value, the metric
    /// on its range); the metric's is None for a run without a finished epoch.
    pub positions: Vec<Option<f64>>,
    pub metric: Option<f64>,
}

/// The values of an axis in order: numerically where all are numbers, else as given.
fn ordered(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    if v.iter().all(|x| x.parse::<f64>().is_ok()) {
        v.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap()
                .total_cmp(&b.parse::<f64>().unwrap())
        });
    }
    v
}

/// Spearman's rank correlation: Pearson's of the midranks; NaN for fewer than 3 pairs or a
/// constant side.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < 3 {
        return f64::NAN;
    }
    let (ra, rb) = (crate::metrics::midranks(a), crate::metrics::midranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    match va > 0.0 && vb > 0.0 {
        true => cov / (va * vb).sqrt(),
        false => f64::NAN,
    }
}

impl Analysis {
    /// `best[k]`: point k's best value of `metric` (None: not started or no epoch yet).
    pub fn new(sweep: &Sweep, best: &[Option<f64>], metric: &str) -> Analysis {
        let points = sweep.points();
        let orders: Vec<Vec<String>> = sweep.axes.iter().map(|a| ordered(&a.values)).collect();
        let finite: Vec<f64> = best
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let rows: Vec<AnalysisRow> = points
            .iter()
            .zip(best)
            .map(|(p, &m)| {
                let m = m.filter(|v| v.is_finite());
                let mut positions: Vec<Option<f64>> = p
                    .values
                    .iter()
                    .zip(&orders)
                    .map(|((_, v), order)| {
                        let at = order.iter().position(|o| o == v).unwrap_or(0);
                        Some(match order.len() {
                            1 => 0.5,
                            n => at as f64 / (n - 1) as f64,
                        })
                    })
                    .collect();
                positions.push(m.map(|v| match hi > lo {
                    true => (v - lo) / (hi - lo),
                    false => 0.5,
                }));
                AnalysisRow {
                    id: p.id(),
                    values: p.values.iter().map(|(_, v)| v.clone()).collect(),
                    positions,
                    metric: m,
                }
            })
            .collect();
        let with_metric: Vec<&AnalysisRow> = rows.iter().filter(|r| r.metric.is_some()).collect();
        let metric_values: Vec<f64> = with_metric.iter().filter_map(|r| r.metric).collect();
        let mut ranking: Vec<(String, f64)> = sweep
            .axes
            .iter()
            .enumerate()
            .map(|(k, a)| {
                let xs: Vec<f64> = with_metric
                    .iter()
                    .map(|r| r.positions[k].unwrap_or(0.0))
                    .collect();
                (a.key.clone(), spearman(&xs, &metric_values))
            })
            .collect();
        ranking.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        let mut columns: Vec<String> = sweep.axes.iter().map(|a| a.key.clone()).collect();
        columns.push(metric.to_string());
        Analysis {
            columns,
            rows,
            ranking,
            metric_range: [lo, hi],
        }
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
        crate::files::check_run_name(&windows.id()).unwrap();
    }

    #[test]
    fn spearman_by_hand_and_ties() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4): 0.9486833.
        let r = spearman(&[5.0, 5.0, 6.0, 7.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-12, "{r}");
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn the_analysis_places_runs_on_their_axes_and_ranks_the_settings() {
        let axes = vec![
            parse_axis("lr=1e-3,5e-4,1e-4").unwrap(),
            parse_axis("seed=0,1").unwrap(),
        ];
        let s = Sweep::new("s", "d.h5".into(), Settings::default(), axes, None).unwrap();
        // The metric falls with lr and ignores the seed; the last point has not run.
        let best = [
            Some(0.9),
            Some(0.91),
            Some(0.8),
            Some(0.79),
            Some(0.7),
            None,
        ];
        let a = Analysis::new(&s, &best, "val_acc");
        assert_eq!(a.columns, ["lr", "seed", "val_acc"]);
        assert_eq!(a.metric_range, [0.7, 0.91]);
        // lr 1e-3 is the largest value: the top of its axis; 1e-4 the bottom.
        assert_eq!(a.rows[0].positions[0], Some(1.0));
        assert_eq!(a.rows[4].positions[0], Some(0.0));
        assert_eq!(a.rows[1].positions[2], Some(1.0));
        assert_eq!(a.rows[5].positions[2], None);
        assert_eq!(a.ranking[0].0, "lr");
        assert!(a.ranking[0].1 > 0.8, "{:?}", a.ranking);
        assert!(a.ranking[1].1.abs() < 0.5, "{:?}", a.ranking);
    }
}
