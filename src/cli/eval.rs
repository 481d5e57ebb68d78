//! `lnmc eval`: a checkpoint's metrics, with their intervals, as text or JSON.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::data::intensity::Intensity;
use crate::data::split::SLICE_LEVEL_WARNING;
use crate::error::Result;
use crate::evaluation;
use crate::types::{DeviceChoice, Precision};

#[derive(Clone, Copy, ValueEnum)]
enum EvalSplit {
    Val,
    All,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A checkpoint file, or a run (runs/NAME or NAME) for its best checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// HDF5 file (default: the checkpoint's own data, else the default data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// `val`: the run's validation split (upstream's split for a .pth file); `all`: every patch.
    #[arg(long, value_enum, default_value_t = EvalSplit::Val)]
    split: EvalSplit,
    #[arg(long)]
    json: bool,
    /// Override the checkpoint's intensity rescaling.
    #[arg(long, value_parser = Intensity::parse_flag)]
    intensity: Option<Intensity>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Test-time augmentation: each patch scored as the mean probability over the square's 8
    /// symmetries.
    #[arg(long)]
    tta: bool,
    #[arg(long, value_enum, default_value_t = Precision::Auto)]
    precision: Precision,
}

pub fn run(args: EvalArgs) -> Result<u8> {
    let request = evaluation::Request {
        checkpoint: crate::run::checkpoint_of(&args.checkpoint),
        data: args.data,
        all: matches!(args.split, EvalSplit::All),
        intensity: args.intensity,
        device: args.device,
        precision: args.precision,
        tta: args.tta,
    };
    let e = evaluation::evaluate(&request)?;
    let m = &e.metrics;
    let rate = m.n as f64 / e.inference_seconds.max(1e-9);
    if args.json {
        let mut json = serde_json::to_value(m).expect("json");
        json["inference_seconds"] = e.inference_seconds.into();
        json["samples_per_second"] = rate.into();
        json["split"] = e.split_name.clone().into();
        json["slice_level"] = e.slice_level.into();
        json["units"] = serde_json::to_value(e.units).expect("json");
        json["nodule"] = serde_json::to_value(&e.nodule).expect("json");
        json["ci"] = serde_json::to_value(&e.ci).expect("json");
        println!("{json}");
        return Ok(0);
    }
    println!("checkpoint {} ({})", request.checkpoint.display(), e.origin);
    println!(
        "data       {} ({} data, {}) · {} · {} samples",
        e.data_path.display(),
        e.source_kind,
        e.units.name(),
        e.split_name,
        m.n
    );
    println!(
        "inference  {:.2} s ({rate:.0} patches/s)",
        e.inference_seconds
    );
    if e.slice_level {
        println!("warning    {SLICE_LEVEL_WARNING}");
    }
    for row in m.rows(e.ci.as_ref()) {
        let (name, value) = (row.name.to_lowercase(), row.value);
        match row.interval {
            Some([lo, hi]) => println!("{name:<12}{value:.4}  [{lo:.4}, {hi:.4}]"),
            None => println!("{name:<12}{value:.4}"),
        }
    }
    match &e.ci {
        Some(ci) => println!(
            "            (95 % bootstrap intervals, {} resamples of {}s)",
            ci.resamples, ci.unit
        ),
        None => println!(
            "            (no intervals: {})",
            too_few(e.groups.is_some())
        ),
    }
    println!(
        "imbalance   balanced accuracy {:.4} · PR AUC {:.4} · sensitivity at 90 % / 95 % specificity {:.4} / {:.4}",
        m.balanced_accuracy, m.pr_auc, m.sensitivity_at_specificity_90, m.sensitivity_at_specificity_95
    );
    match (&e.nodule, e.groups.is_some()) {
        (Some(n), _) => println!(
            "nodules     {} (mean probability of their slices): accuracy {:.4} f1 {:.4} roc auc {:.4}",
            n.n, n.accuracy, n.f1, n.auc
        ),
        (None, true) => println!("nodules     no nodule-level metrics: {}", too_few(true)),
        (None, false) => {}
    }
    let [[tn, fp], [fn_, tp]] = m.confusion;
    println!("confusion   {:>14} {:>14}", "pred benign", "pred malignant");
    println!("  benign    {tn:>14} {fp:>14}");
    println!("  malignant {fn_:>14} {tp:>14}");
    Ok(0)
}

/// Why a number is withheld: "fewer than 10 nodules of a class".
fn too_few(nodules: bool) -> String {
    let unit = if nodules { "nodules" } else { "patches" };
    format!(
        "fewer than {} {unit} of a class",
        crate::metrics::MIN_PER_CLASS
    )
}
