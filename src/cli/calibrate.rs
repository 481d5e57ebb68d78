//! `lnmc calibrate`: fits one temperature for a checkpoint on its validation split (Guo et al.
//! 2017) and keeps it beside the checkpoint, so that `eval` and the report give calibration
//! before and after. The ranking, hence the AUC and the decision at 0.5, does not change.

use std::path::PathBuf;

use clap::Args;

use crate::calibration::{self, Temperature};
use crate::error::{Error, Result};
use crate::evaluation;
use crate::metrics::{self, MIN_PER_CLASS};
use crate::types::DeviceChoice;

#[derive(Args)]
pub struct CalibrateArgs {
    /// A checkpoint file, or a run (runs/NAME or NAME) for its best checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// HDF5 file (default: the checkpoint's own data, else the default data).
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    #[command(flatten)]
    scoring: super::eval::Scoring,
}

pub fn run(args: CalibrateArgs) -> Result<u8> {
    let checkpoint = crate::run::checkpoint_of(&args.checkpoint);
    let e = evaluation::evaluate(&evaluation::Request {
        data: args.data,
        device: args.device,
        precision: args.scoring.precision,
        ..evaluation::Request::new(checkpoint.clone())
    })?;
    let units = metrics::resampling_units(e.labels.len(), e.groups.as_deref());
    if !metrics::enough_units(&e.labels, &units) {
        return Err(Error::input(format!(
            "{}: its {} has fewer than {MIN_PER_CLASS} {} of a class: too few to fit a temperature on",
            checkpoint.display(),
            e.split_name,
            if e.groups.is_some() { "nodules" } else { "patches" }
        )));
    }
    let t = calibration::fit_temperature(&e.labels, &e.scores);
    let scaled = calibration::scale(&e.scores, t);
    let record = Temperature {
        temperature: t,
        fitted_on: format!("{} ({} patches)", e.split_name, e.labels.len()),
        cases: e.labels.len(),
        nll: [
            calibration::nll(&e.labels, &e.scores),
            calibration::nll(&e.labels, &scaled),
        ],
        ece: [
            calibration::ece(&e.labels, &e.scores),
            calibration::ece(&e.labels, &scaled),
        ],
        checkpoint_sha256: crate::data::sha256(&checkpoint)?,
    };
    calibration::save(&checkpoint, &record)?;
    println!(
        "temperature {t:.4} for {} ({}), fitted on {}",
        checkpoint.display(),
        e.origin,
        record.fitted_on
    );
    println!(
        "NLL {:.4} → {:.4} · ECE {:.4} → {:.4} · AUC {:.4} either way (the ranking is the same)",
        record.nll[0], record.nll[1], record.ece[0], record.ece[1], e.metrics.auc
    );
    println!(
        "wrote {}; eval reports with it from now on. Fitted on the patches eval scores by default: the calibrated numbers there are optimistic, other data (--data) tells honestly.",
        calibration::sidecar(&checkpoint).display()
    );
    Ok(0)
}
