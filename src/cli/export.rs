//! `lnmc export`: every epoch of chosen runs as one long CSV table, and their chart.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::compare::{self, ChartOptions, Metric, XAxis};
use crate::error::{Error, Result};
use crate::files;
use crate::run::{
    self,
    catalog::{self, RunEntry},
};

#[derive(Args)]
pub struct ExportArgs {
    /// runs/NAME directories or run names (a cross-validation stands for its folds, a sweep for
    /// its runs); default: every run under runs/.
    runs: Vec<PathBuf>,
    /// The long table (run, epoch, metric, value, then each setting as a column).
    #[arg(long, value_name = "FILE.csv")]
    csv: Option<PathBuf>,
    /// The chart of --metric over the runs.
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    plot: Option<PathBuf>,
    /// loss, val_acc, val_f1, val_auc, val_nodule_acc, val_nodule_auc or lr; or what the
    /// machine did, over wall time: cpu_percent, rss_mib, gpu_percent or gpu_memory_mib.
    #[arg(long, default_value = "loss")]
    metric: String,
    /// EMA smoothing weight in [0, 1) (never applied to lr).
    #[arg(long)]
    smooth: Option<f64>,
    #[arg(long)]
    log_y: bool,
    /// x by wall time (minutes) instead of epoch.
    #[arg(long)]
    wall_time: bool,
}

pub fn run(args: ExportArgs) -> Result<u8> {
    if args.csv.is_none() && args.plot.is_none() {
        return Err(Error::input(
            "lnmc export: say what to write: --csv FILE and/or --plot FILE.svg",
        ));
    }
    let metric = Metric::parse(&args.metric).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        Error::input(format!(
            "--metric {}: one of {}",
            args.metric,
            names.join(", ")
        ))
    })?;
    if let Some(w) = args.smooth.filter(|w| !(0.0..1.0).contains(w)) {
        return Err(Error::input(format!("--smooth {w}: must be in [0, 1)")));
    }
    let found = match args.runs.is_empty() {
        true => catalog::runs(Path::new(run::RUNS)),
        false => args
            .runs
            .iter()
            .map(|p| {
                let p = &run::resolve(p);
                RunEntry::read_any(p).ok_or_else(|| {
                    Error::file(
                        p,
                        "not an lnmc run (no config.json, no folds, no sweep.json)",
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    // A cross-validation stands for its folds, a sweep for its runs (and theirs).
    let entries: Vec<RunEntry> = found.into_iter().flat_map(RunEntry::into_runs).collect();
    let runs: Vec<&RunEntry> = entries.iter().collect();
    if let Some(path) = &args.csv {
        files::check_output_dir(path)?;
    }
    if let Some(path) = &args.plot {
        files::check_output_dir(path)?;
        if !path.extension().is_some_and(|e| e == "svg" || e == "png") {
            return Err(Error::file(
                path,
                "the chart is written as SVG or PNG: name it FILE.svg or FILE.png",
            ));
        }
    }
    if let Some(path) = &args.csv {
        files::write_atomic(path, &compare::long_table(&runs))?;
        println!("wrote {} ({} runs)", path.display(), runs.len());
    }
    if let Some(path) = &args.plot {
        let chart = ChartOptions {
            metric,
            smoothing: args.smooth,
            log_y: args.log_y,
            x: if args.wall_time {
                XAxis::WallMinutes
            } else {
                XAxis::Epoch
            },
        };
        let bytes = match path.extension().is_some_and(|e| e == "png") {
            true => compare::png(&runs, &chart)?,
            false => compare::svg(&runs, &chart).into_bytes(),
        };
        files::write_atomic(path, &bytes)?;
        println!(
            "wrote {} ({} of {} runs)",
            path.display(),
            metric.name(),
            runs.len()
        );
    }
    Ok(0)
}
