//! `lnmc synth`: a deterministic synthetic nodule set with the upstream schema.

use std::path::PathBuf;

use clap::Args;

use crate::data::{self, synth};
use crate::error::{Error, Result};

#[derive(Args)]
pub struct SynthArgs {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = data::UPSTREAM_N)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write a per-patch `nodule_id` dataset (enables --split group).
    #[arg(long)]
    with_ids: bool,
    /// Share of malignant patches (default: upstream's 2526/6691 ≈ 0.378; ≈ 0.002 is like a
    /// LUNA16 candidate file).
    #[arg(long, default_value_t = synth::Options::default().positive_rate)]
    positive_rate: f64,
    /// The units of the pixels: the same nodules as HU int16, 0–255 greys (uint8), floats in
    /// [0, 1] or z-scores.
    #[arg(long, value_enum, default_value_t)]
    units: synth::Convention,
    /// Everything but the nodule set to air (black), as in files of segmented nodules.
    #[arg(long)]
    segmented: bool,
    /// Each nodule gets 1…N neighbouring slices.
    #[arg(long, value_name = "N", default_value_t = synth::Options::default().max_slices)]
    max_slices: usize,
}

pub fn run(args: &SynthArgs) -> Result<u8> {
    let SynthArgs {
        ref out,
        n,
        seed,
        with_ids,
        positive_rate,
        units,
        segmented,
        max_slices,
    } = *args;
    if max_slices == 0 {
        return Err(Error::input(
            "--max-slices 0: a nodule has at least 1 slice",
        ));
    }
    if n < 2 {
        return Err(Error::input(
            "--n: need at least 2 patches (one of each class)",
        ));
    }
    if !(positive_rate > 0.0 && positive_rate < 1.0) {
        return Err(Error::input(format!(
            "--positive-rate {positive_rate}: must be between 0 and 1 (exclusive)"
        )));
    }
    let options = synth::Options {
        n,
        seed,
        with_ids,
        positive_rate,
        units,
        segmented,
        max_slices,
    };
    let started = std::time::Instant::now();
    synth::write(out, &options)?;
    println!(
        "wrote {n} synthetic patches ({} malignant) to {} (seed {seed}) in {:.1}s",
        options.malignant(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
