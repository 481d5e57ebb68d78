//! `lnmc predict` and `lnmc export-model`: a trained model applied to a file that may have no
//! labels, and the model itself handed to PyTorch.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::evaluation;
use crate::types::DeviceChoice;

#[derive(Args)]
pub struct PredictArgs {
    /// A checkpoint file, or a run (runs/NAME or NAME) for its best checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// HDF5 file of patches (`ct_slices`); `slice_class` and ids are optional.
    #[arg(long)]
    data: PathBuf,
    /// The CSV to write: index, nodule, patient, label, p_malignant.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Each patch scored as the mean probability over the square's 8 symmetries.
    #[arg(long)]
    tta: bool,
    #[command(flatten)]
    precision: super::eval::Scoring,
}

pub fn predict(args: PredictArgs) -> Result<u8> {
    crate::files::check_output_dir(&args.out)?;
    let checkpoint = crate::run::checkpoint_of(&args.checkpoint);
    let request = evaluation::Request {
        device: args.device,
        precision: args.precision.precision,
        tta: args.tta,
        ..evaluation::Request::new(checkpoint.clone())
    };
    let scored = evaluation::predict_file(&request, &args.data)?;
    crate::predictions::write(&args.out, &scored.rows)?;
    let malignant = scored.rows.iter().filter(|r| r.p_malignant >= 0.5).count();
    println!(
        "{} patches of {} scored by {} ({}, {}): {} at P(malignant) ≥ 0.5{} → {}",
        scored.rows.len(),
        args.data.display(),
        checkpoint.display(),
        scored.model.describe(),
        scored.precision,
        malignant,
        if scored.labelled {
            ""
        } else {
            "; the file has no labels, the label column is empty"
        },
        args.out.display()
    );
    Ok(0)
}

#[derive(Args)]
pub struct ExportModelArgs {
    /// A checkpoint file, or a run (runs/NAME or NAME) for its best checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The TorchScript file to write (its description goes beside it as .json).
    #[arg(long, value_name = "model.pt")]
    out: PathBuf,
}

pub fn export_model(args: ExportModelArgs) -> Result<u8> {
    crate::files::check_output_dir(&args.out)?;
    if args.out.extension().is_some_and(|e| e == "json") {
        return Err(Error::file(
            &args.out,
            "is where the description goes: name the model file model.pt",
        ));
    }
    let checkpoint = crate::run::checkpoint_of(&args.checkpoint);
    let ckpt = crate::checkpoint::load(&checkpoint)?;
    let d = crate::checkpoint::torchscript::export(&checkpoint, &ckpt, &args.out)?;
    println!(
        "{} → {} (TorchScript, {} on {} slice(s) of {}×{}, intensity {}) and {}",
        checkpoint.display(),
        args.out.display(),
        crate::choice::name(d.architecture),
        d.context,
        d.height,
        d.width,
        d.intensity,
        crate::checkpoint::torchscript::description_path(&args.out).display()
    );
    Ok(0)
}
