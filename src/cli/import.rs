//! `lnmc import`: an image tree (or, later, CT volumes with a list of nodule centres) into an
//! HDF5 every lnmc command opens, with the ids that make a split honest.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::import::{output, tree};

#[derive(Args)]
pub struct ImportArgs {
    /// The folder to import: an image tree.
    dir: PathBuf,
    /// What each folder level names, top down, the last being the file: label, patient,
    /// nodule, slice, or _ to ignore.
    // Parsed in `run`, not by clap, so that a mistake is one line like every other refusal.
    #[arg(long, value_name = "LEVELS", default_value = "label/patient/nodule/slice")]
    layout: String,
    /// Label folder names and their classes, e.g. benigno=0,maligno=1.
    #[arg(long, value_name = "NAME=0,NAME=1", conflicts_with = "labels_csv")]
    labels: Option<String>,
    /// Labels by path instead: a CSV `path,label`, paths below DIR (a file or a folder above it).
    #[arg(long, value_name = "CSV")]
    labels_csv: Option<PathBuf>,
    /// The HDF5 file to write.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ImportArgs) -> Result<u8> {
    output::check_out(&args.out, args.force)?;
    let layout = tree::Layout::parse(&args.layout)
        .map_err(|why| Error::input(format!("--layout {}: {why}", args.layout)))?;
    let labels = match (args.labels, &args.labels_csv) {
        (Some(l), _) => tree::Labels::parse_names(&l)
            .map_err(|why| Error::input(format!("--labels {l}: {why}")))?,
        (None, Some(csv)) => tree::Labels::read_csv(csv)?,
        (None, None) => {
            return Err(Error::input(
                "import of an image tree needs --labels NAME=0,NAME=1 (the label folders) or --labels-csv",
            ))
        }
    };
    let started = std::time::Instant::now();
    let set = tree::read(&args.dir, &layout, &labels)?;
    let what = format!("image tree {}", args.dir.display());
    output::write(&args.out, &set, &what)?;
    let count = |ids: &[i64]| ids.iter().collect::<std::collections::HashSet<_>>().len();
    let malignant = set.labels.iter().filter(|&&l| l == 1).count();
    println!(
        "wrote {}: {} patches of {}×{} ({} pixels), {malignant} malignant, {} nodules of {} patients, in {:.1}s",
        args.out.display(),
        set.len(),
        set.height,
        set.width,
        set.pixels.kind(),
        count(&set.nodule_id),
        count(&set.patient_id),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}
