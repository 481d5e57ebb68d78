//! `lnmc eval`: a checkpoint's metrics, with their intervals, as text or JSON.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::data::intensity::Intensity;
use crate::error::Result;
use crate::evaluation;
use crate::operating_point::Rule;
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
    #[command(flatten)]
    precision: Scoring,
    /// The operating point reported beside the metrics at 0.5: a threshold T in (0, 1), or
    /// chosen on the scored patches: youden, sens:S (the most specific reaching sensitivity
    /// S), spec:S (the most sensitive keeping specificity S). A chosen one is optimistic.
    #[arg(long, value_parser = Rule::parse, default_value = "0.5", value_name = "T|youden|sens:S|spec:S")]
    threshold: Rule,
    /// A second checkpoint (file or run) scored on the same patches: ΔAUC with DeLong's test
    /// and a paired bootstrap interval, McNemar's exact test.
    #[arg(long, value_name = "CHECKPOINT")]
    against: Option<PathBuf>,
    /// Upper edges of the nodule-size subgroups, in pixels of equivalent diameter, rising.
    #[arg(long, value_parser = parse_edges, default_value = "6,12,20", value_name = "D1,D2,…")]
    size_bins: Edges,
    /// Also write each scored patch as a CSV row: index, nodule, patient, label, p_malignant
    /// (`pd.read_csv`-ready; ids the file lacks are empty).
    #[arg(long, value_name = "FILE.csv")]
    predictions: Option<PathBuf>,
}

/// The precision every command that scores a checkpoint takes (eval, calibrate, report).
#[derive(Args, Clone, Copy)]
pub struct Scoring {
    /// What the network computes in: fp32 (the default: exact, the same scores on every
    /// machine), bf16, or auto (bf16 where the hardware has it natively, as training does).
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
}

/// Bin edges as one flag value (clap would take a bare Vec as repeated values).
#[derive(Clone)]
struct Edges(Vec<f64>);

/// `6,12,20`: positive, rising.
fn parse_edges(text: &str) -> std::result::Result<Edges, String> {
    let edges: Vec<f64> = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("{v:?} is not a number"))
        })
        .collect::<std::result::Result<_, _>>()?;
    match edges.windows(2).all(|w| w[0] < w[1]) && edges.iter().all(|&e| e > 0.0 && e.is_finite()) {
        true => Ok(Edges(edges)),
        false => Err("sizes must be positive and rising, e.g. 6,12,20".into()),
    }
}

pub fn run(args: EvalArgs) -> Result<u8> {
    let request = evaluation::Request {
        checkpoint: crate::run::checkpoint_of(&args.checkpoint),
        data: args.data,
        all: matches!(args.split, EvalSplit::All),
        intensity: args.intensity,
        device: args.device,
        precision: args.precision.precision,
        tta: args.tta,
        threshold: args.threshold,
        against: args.against.as_deref().map(crate::run::checkpoint_of),
        size_edges: args.size_bins.0,
    };
    if let Some(path) = &args.predictions {
        crate::files::check_output_dir(path)?;
    }
    let e = evaluation::evaluate(&request)?;
    if let Some(path) = &args.predictions {
        crate::predictions::write(path, &e.predictions(None))?;
    }
    match args.json {
        true => println!("{}", json(&e)),
        false => print_text(&e, &request),
    }
    Ok(0)
}

/// Patches scored a second.
fn rate(e: &evaluation::Evaluation) -> f64 {
    e.metrics.n as f64 / e.inference_seconds.max(1e-9)
}

/// `eval --json`: the metrics and every section of the text, as one object.
fn json(e: &evaluation::Evaluation) -> serde_json::Value {
    let m = &e.metrics;
    let rate = rate(e);
    let mut json = serde_json::to_value(m).expect("json");
    json["inference_seconds"] = e.inference_seconds.into();
    json["samples_per_second"] = rate.into();
    json["split"] = serde_json::to_value(&e.split).expect("json");
    json["scored_on"] = e.split_name.clone().into();
    json["numeric_precision"] = e.precision.clone().into();
    json["units"] = serde_json::to_value(e.units).expect("json");
    json["model"] = serde_json::json!({
        "architecture": e.model.architecture,
        "context": e.model.context,
    });
    json["baseline"] = serde_json::json!({
        "diameter": e.baseline.as_ref().ok(),
        "withheld": e.baseline.as_ref().err(),
    });
    json["nodule"] = serde_json::to_value(&e.nodule).expect("json");
    json["ci"] = serde_json::to_value(&e.ci).expect("json");
    json["calibration"] = serde_json::to_value(&e.calibration).expect("json");
    json["operating_point"] = serde_json::to_value(&e.operating_point).expect("json");
    json["subgroups"] = serde_json::json!({
        "binning": e.binning,
        "cases": if e.groups.is_some() { "nodules" } else { "patches" },
        "groups": e.subgroups,
    });
    if let Some(a) = &e.against {
        json["against"] = serde_json::json!({
            "checkpoint": a.checkpoint,
            "origin": a.origin,
            "comparison": a.comparison.as_ref().ok(),
            "withheld": a.comparison.as_ref().err(),
        });
    }
    json
}

/// `eval`'s text: what was scored, each metric with its interval, per nodule, the confusion
/// matrix, then the baseline, calibration, operating point, subgroups and any comparison.
fn print_text(e: &evaluation::Evaluation, request: &evaluation::Request) {
    let m = &e.metrics;
    let rate = rate(e);
    println!(
        "checkpoint {} ({}) · {}",
        request.checkpoint.display(),
        e.origin,
        e.model.describe()
    );
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
    println!("precision  {}", e.precision);
    if let Some(warning) = e.split.warning() {
        println!("warning    {warning}");
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
    print_baseline(&e.baseline);
    print_calibration(&e.calibration);
    print_operating_point(&e.operating_point);
    print_subgroups(e);
    if let Some(a) = &e.against {
        print_against(e, a);
    }
}

/// A p-value as a reader wants it: small ones in powers of ten, not as 0.0000.
fn p_value(p: f64) -> String {
    match p < 1e-4 {
        true => format!("{p:.1e}"),
        false => format!("{p:.4}"),
    }
}

fn interval(i: Option<[f64; 2]>) -> String {
    i.map_or(String::new(), |[lo, hi]| format!(" [{lo:.4}, {hi:.4}]"))
}

fn print_calibration(c: &crate::calibration::Assessment) {
    println!(
        "calibration ECE {:.4}{} · Brier {:.4}{} · NLL {:.4}",
        c.ece,
        interval(c.ece_interval),
        c.brier,
        interval(c.brier_interval),
        c.nll
    );
    let resampled = match c.ece_interval {
        Some(_) => format!("; intervals resample {}s", c.unit),
        None => "; no intervals: too few cases of a class".into(),
    };
    println!("            ({}{resampled})", c.binning);
    if let (Some(t), Some(s)) = (&c.temperature, &c.scaled) {
        println!(
            "            with temperature {:.3} (fitted on {}): ECE {:.4} · Brier {:.4} · NLL {:.4}",
            t.temperature, t.fitted_on, s.ece, s.brier, s.nll
        );
    }
}

fn print_baseline(b: &std::result::Result<crate::baseline::Baseline, String>) {
    match b {
        Ok(b) => println!(
            "baseline    per {}: network AUC {:.4} [{:.4}, {:.4}] vs diameter alone {:.4} [{:.4}, {:.4}] · DeLong z {:.3} p {} ({} benign, {} malignant; 95 % DeLong intervals)",
            b.unit,
            b.network_auc(),
            b.intervals[0][0],
            b.intervals[0][1],
            b.diameter_auc(),
            b.intervals[1][0],
            b.intervals[1][1],
            b.delong.z,
            p_value(b.delong.p),
            b.counts[0],
            b.counts[1]
        ),
        Err(why) => println!("baseline    diameter alone: {why}"),
    }
}

fn print_operating_point(p: &crate::operating_point::OperatingPoint) {
    let chosen = match p.chosen_on_scored_data {
        true => ", chosen on these patches: optimistic",
        false => "",
    };
    let [[tn, fp], [fn_, tp]] = p.confusion;
    println!(
        "operating   threshold {:.4} ({}{chosen}) · sensitivity {:.4} specificity {:.4} PPV {:.4} NPV {:.4} F1 {:.4} · tn {tn} fp {fp} fn {fn_} tp {tp}",
        p.threshold, p.rule, p.sensitivity, p.specificity, p.ppv, p.npv, p.f1
    );
}

fn print_subgroups(e: &crate::evaluation::Evaluation) {
    let cases = if e.groups.is_some() {
        "nodules"
    } else {
        "patches"
    };
    println!(
        "subgroups   ({cases}; size: equivalent diameter of the central region above {:.4} {}, no pixel spacing in the file; density: {}; — where too few cases stand behind a number)",
        e.binning.threshold,
        e.units.short(),
        e.binning.density_basis
    );
    let opt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
    for g in &e.subgroups {
        println!(
            "  {:<8}{:<22} {:>5} {cases} ({:>4} malignant) · errors {:>4} ({:>3.0} % of all) · acc {} sens {} spec {} AUC {}{}",
            g.by,
            g.name,
            g.cases,
            g.malignant,
            g.errors,
            100.0 * g.share_of_errors,
            opt(g.accuracy),
            opt(g.sensitivity),
            opt(g.specificity),
            opt(g.auc),
            interval(g.auc_interval),
        );
    }
}

fn print_against(e: &crate::evaluation::Evaluation, a: &crate::evaluation::Against) {
    println!(
        "against     {} ({}): patch AUC {:.4} vs {:.4}",
        a.checkpoint.display(),
        a.origin,
        e.metrics.auc,
        crate::metrics::roc_auc(&e.labels, &a.scores)
    );
    match &a.comparison {
        Ok(c) => println!(
            "            per {}: AUC {:.4} vs {:.4} · ΔAUC {:+.4} [{:+.4}, {:+.4}] (paired bootstrap, {} resamples) · DeLong z {:.3} p {} · McNemar {} vs {} right p {} ({} benign, {} malignant)",
            c.unit,
            c.delong.auc[0],
            c.delong.auc[1],
            c.delta_auc,
            c.delta_interval[0],
            c.delta_interval[1],
            c.resamples,
            c.delong.z,
            p_value(c.delong.p),
            c.mcnemar.only_a_right,
            c.mcnemar.only_b_right,
            p_value(c.mcnemar.p),
            c.counts[0],
            c.counts[1]
        ),
        Err(why) => println!("            no paired tests: {why}"),
    }
}

/// Why a number is withheld: "fewer than 10 nodules of a class".
fn too_few(nodules: bool) -> String {
    let unit = if nodules { "nodules" } else { "patches" };
    format!(
        "fewer than {} {unit} of a class",
        crate::metrics::MIN_PER_CLASS
    )
}
