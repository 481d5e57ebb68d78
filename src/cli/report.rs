//! `lnmc report`: one self-contained HTML page of a checkpoint's evaluation (see `report`).

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::types::DeviceChoice;
use crate::{evaluation, report};

#[derive(Args)]
pub struct ReportArgs {
    /// A checkpoint file, or a run (runs/NAME or NAME) for its best checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// A second checkpoint scored on the same patches: the paired comparison and the patches
    /// where the two disagree, with both maps.
    #[arg(long, value_name = "CHECKPOINT")]
    against: Option<PathBuf>,
    /// HDF5 file (default: the checkpoint's own data, else the default data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The folder to write report.html into: a new one, or an earlier report (replaced).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    #[command(flatten)]
    scoring: super::eval::Scoring,
}

pub fn run(args: ReportArgs) -> Result<u8> {
    let request = evaluation::Request {
        data: args.data,
        device: args.device,
        precision: args.scoring.precision,
        against: args.against.as_deref().map(crate::run::checkpoint_of),
        ..evaluation::Request::new(crate::run::checkpoint_of(&args.checkpoint))
    };
    let bytes = report::evaluate_and_write(&request, &args.out)?;
    println!(
        "wrote {} ({} KB, self-contained)",
        args.out.join(report::PAGE).display(),
        bytes / 1024
    );
    Ok(0)
}
