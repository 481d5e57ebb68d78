//! `lnmc synth`: a deterministic synthetic nodule set with the upstream schema.

use std::path::PathBuf;

use clap::Args;

use crate::data::synth;
use crate::error::Result;

#[derive(Args)]
pub struct SynthArgs {
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: synth::Options,
}

pub fn run(args: &SynthArgs) -> Result<u8> {
    let SynthArgs { out, options } = args;
    options.validate()?;
    let started = std::time::Instant::now();
    synth::write(out, options)?;
    println!(
        "wrote {} synthetic patches ({} malignant) to {} (seed {}) in {:.1}s",
        options.n,
        options.malignant(),
        out.display(),
        options.seed,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
