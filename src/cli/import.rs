//! `lnmc import`: an image tree, or CT volumes with a list of nodule centres, into an HDF5
//! every lnmc command opens, with the ids that make a split honest.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::import::{coords, output, tree, volumes};

#[derive(Args)]
pub struct ImportArgs {
    /// The folder to import: an image tree, or (with --coords) the CT volumes: MetaImage
    /// (.mhd/.mha), NIfTI (.nii/.nii.gz) or DICOM series (a folder each), found by series uid.
    dir: PathBuf,
    /// Volumes: the nodule centres, one patch per row in its order
    /// (seriesuid,coordX,coordY,coordZ in world mm, LPS, as LUNA16's CSVs).
    #[arg(long, value_name = "CSV")]
    coords: Option<PathBuf>,
    /// Volumes: millimetres a pixel, in-plane and between context slices.
    #[arg(long, value_name = "MM", default_value_t = volumes::DEFAULT_SPACING_MM)]
    spacing: f64,
    /// Volumes: pixels a side.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Volumes: slices a patch (odd): the one through the centre and (K−1)/2 either side,
    /// kept as context_slices beside ct_slices.
    #[arg(long, value_name = "K", default_value_t = 1)]
    context: usize,
    /// Volumes: the coordinates' column holding the label (0 benign, 1 malignant).
    #[arg(long, value_name = "NAME", default_value = "class")]
    label_column: String,
    /// Volumes: labels from a second CSV joined on the series and coordinates (for LUNA16's
    /// annotations.csv, which has none).
    #[arg(long, value_name = "CSV")]
    labels_from: Option<PathBuf>,
    /// Volumes: the coordinates' column holding a nodule id (default: each row its own).
    #[arg(long, value_name = "NAME")]
    nodule_column: Option<String>,
    /// What each folder level names, top down, the last being the file: label, patient,
    /// nodule, slice, or _ to ignore.
    // Parsed in `run`, not by clap, so that a mistake is one line like every other refusal.
    #[arg(
        long,
        value_name = "LEVELS",
        default_value = "label/patient/nodule/slice"
    )]
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
    if let Some(csv) = &args.coords {
        return run_volumes(&args, csv);
    }
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

/// Volumes and a coordinates file.
fn run_volumes(args: &ImportArgs, csv: &std::path::Path) -> Result<u8> {
    if !(args.spacing.is_finite() && args.spacing > 0.0) {
        return Err(Error::input(format!(
            "--spacing {}: millimetres a pixel must be a positive number",
            args.spacing
        )));
    }
    if !(16..=1024).contains(&args.size) {
        return Err(Error::input(format!(
            "--size {}: from 16 to 1024 pixels a side",
            args.size
        )));
    }
    if args.context.is_multiple_of(2) || args.context > 63 {
        return Err(Error::input(format!(
            "--context {}: an odd number of slices (1, 3, 5, …)",
            args.context
        )));
    }
    if !args.dir.is_dir() {
        return Err(Error::file(&args.dir, "is not a folder"));
    }
    let columns = coords::Columns {
        label: &args.label_column,
        nodule: args.nodule_column.as_deref(),
        labels_from: args.labels_from.as_deref(),
    };
    let rows = coords::read(csv, &columns)?;
    let plan = volumes::Plan {
        coords_sha256: crate::data::sha256(csv)?,
        size: args.size,
        spacing: args.spacing,
        context: args.context,
        label_column: args.label_column.clone(),
        nodule_column: args.nodule_column.clone(),
        labels_from: args.labels_from.as_ref().map(|p| p.display().to_string()),
    };
    let what = format!(
        "volumes {} with coordinates {}",
        args.dir.display(),
        csv.display()
    );
    let s = volumes::import(&args.dir, csv, &rows, &plan, &args.out, &what)?;
    let malignant = rows.iter().filter(|r| r.label == 1).count();
    println!(
        "wrote {}: {} patches of {}×{} at {} mm a pixel ({}), {malignant} malignant, from {} series{} in {:.1}s ({:.2} series/s){}",
        args.out.display(),
        s.rows,
        args.size,
        args.size,
        args.spacing,
        if s.integer { "int16 HU" } else { "float32" },
        s.series,
        match s.resumed {
            0 => String::new(),
            k => format!(" ({k} done by an earlier run)"),
        },
        s.seconds,
        (s.series - s.resumed) as f64 / s.seconds.max(1e-9),
        match s.outside_rows {
            0 => String::new(),
            k => format!("; {k} patches reach outside their volume (filled with air, −1024 HU, counted in outside_pixels)"),
        }
    );
    Ok(0)
}
