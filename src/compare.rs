//! Runs side by side: which metric, over epochs or wall time, smoothed or raw, on a linear or
//! log scale; the hyper-parameters in which runs differ; and every epoch of every run as one
//! long table. What the Runs tab draws and `lnmc export` writes.

use crate::run::catalog::RunEntry;
use crate::run::system::Quantity;
use crate::settings::Settings;
use crate::types::{EpochRecord, Recorded, RunConfig};

/// Which of a metric's curves: the loss has two, every other metric one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Whole,
    Train,
    /// Drawn as the secondary (dashed) curve of its run.
    Val,
}

impl Part {
    /// What the legend adds to the run's name.
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            Part::Whole => None,
            Part::Train => Some("train"),
            Part::Val => Some("val"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Train and validation loss together.
    Loss,
    ValAcc,
    ValF1,
    ValAuc,
    NoduleAcc,
    NoduleAuc,
    Lr,
    /// What the machine did, from system.csv: always over wall time.
    System(Quantity),
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::Loss,
        Metric::ValAcc,
        Metric::ValF1,
        Metric::ValAuc,
        Metric::NoduleAcc,
        Metric::NoduleAuc,
        Metric::Lr,
        Metric::System(Quantity::Cpu),
        Metric::System(Quantity::Memory),
        Metric::System(Quantity::Gpu),
        Metric::System(Quantity::GpuMemory),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Loss => "loss",
            Metric::ValAcc => "val_acc",
            Metric::ValF1 => "val_f1",
            Metric::ValAuc => "val_auc",
            Metric::NoduleAcc => "val_nodule_acc",
            Metric::NoduleAuc => "val_nodule_auc",
            Metric::Lr => "lr",
            Metric::System(q) => q.name(),
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The column of metrics.csv it draws (None: the loss, drawn from two, or the machine's).
    fn recorded(self) -> Option<Recorded> {
        match self {
            Metric::ValAcc => Some(Recorded::ValAcc),
            Metric::ValF1 => Some(Recorded::ValF1),
            Metric::ValAuc => Some(Recorded::ValAuc),
            Metric::NoduleAcc => Some(Recorded::NoduleAcc),
            Metric::NoduleAuc => Some(Recorded::NoduleAuc),
            Metric::Lr => Some(Recorded::Lr),
            Metric::Loss | Metric::System(_) => None,
        }
    }

    /// The curves of a run for this metric: (part, points); two for the loss. A metric of
    /// the epochs is drawn over `x`, one of the machine over minutes since its first sample.
    pub fn curves(self, run: &RunEntry, x: XAxis) -> Vec<(Part, Vec<(f64, f64)>)> {
        let epochs = |column: Recorded| points(run.history(), column, x);
        match (self, self.recorded()) {
            (Metric::System(q), _) => vec![(Part::Whole, q.points(&run.system().rows))],
            (_, Some(column)) => vec![(Part::Whole, epochs(column))],
            (_, None) => vec![
                (Part::Train, epochs(Recorded::TrainLoss)),
                (Part::Val, epochs(Recorded::ValLoss)),
            ],
        }
    }

    /// The learning rate is a setting, not a noisy measurement: never smoothed.
    pub fn smoothable(self) -> bool {
        self != Metric::Lr
    }

    /// The x axis it is drawn over when `x` is asked for.
    pub fn x_axis(self, x: XAxis) -> XAxis {
        match self {
            Metric::System(_) => XAxis::WallMinutes,
            _ => x,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    #[default]
    Epoch,
    /// Minutes since the run started (the sum of its epochs' wall times).
    WallMinutes,
}

/// The points (x, value) of one curve of a history; epochs without a finite value are left out.
pub fn points(history: &[EpochRecord], value: Recorded, x: XAxis) -> Vec<(f64, f64)> {
    let mut minutes = 0.0;
    let mut out = Vec::with_capacity(history.len());
    for r in history {
        minutes += r.seconds / 60.0;
        let x = match x {
            XAxis::Epoch => r.epoch as f64,
            XAxis::WallMinutes => minutes,
        };
        if let Some(v) = value.of(r).filter(|v| v.is_finite()) {
            out.push((x, v));
        }
    }
    out
}

/// Exponential moving average with TensorBoard's debiasing (the first points are not pulled
/// towards zero); `weight` in [0, 1): 0 leaves the curve as it is.
pub fn ema(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    let mut last = 0.0;
    let mut debias = 1.0;
    points
        .iter()
        .map(|&(x, y)| {
            last = last * weight + (1.0 - weight) * y;
            debias *= weight;
            (x, last / (1.0 - debias).max(f64::MIN_POSITIVE))
        })
        .collect()
}

/// For each run, the settings in which the runs differ ("lr 0.001, seed 1"), empty when they
/// agree on everything or a run has no config.
pub fn differences(configs: &[Option<&RunConfig>]) -> Vec<String> {
    let described: Vec<Vec<(&'static str, String)>> = configs
        .iter()
        .map(|c| c.map(settings).unwrap_or_default())
        .collect();
    let keys: Vec<&'static str> = described
        .iter()
        .flat_map(|d| d.iter().map(|(k, _)| *k))
        .fold(Vec::new(), |mut keys, k| {
            if !keys.contains(&k) {
                keys.push(k);
            }
            keys
        });
    let value = |d: &Vec<(&'static str, String)>, key: &str| {
        d.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    };
    let differing: Vec<&str> = keys
        .into_iter()
        .filter(|k| {
            let first = value(&described[0], k);
            described.iter().any(|d| value(d, k) != first)
        })
        .collect();
    described
        .iter()
        .map(|d| {
            differing
                .iter()
                .filter_map(|k| value(d, k).map(|v| format!("{k} {v}")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// The settings a run is known by, as (name, value) texts: those of `settings::TABLE`.
pub fn settings(c: &RunConfig) -> Vec<(&'static str, String)> {
    Settings::of_run(c).described()
}

/// Every epoch of every run, one metric value a row (run, epoch, metric, value), then each
/// setting as a column of its own, the same on every row of a run.
pub fn long_table(runs: &[&RunEntry]) -> Vec<u8> {
    let setting_names: Vec<&'static str> = runs
        .iter()
        .find_map(|r| {
            r.config()
                .map(|c| settings(c).into_iter().map(|(k, _)| k).collect())
        })
        .unwrap_or_default();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["run", "epoch", "metric", "value"];
    header.extend(&setting_names);
    out.write_record(&header).expect("in-memory csv");
    for run in runs {
        let values: Vec<String> = match run.config() {
            Some(c) => settings(c).into_iter().map(|(_, v)| v).collect(),
            None => vec![String::new(); setting_names.len()],
        };
        for r in run.history() {
            for metric in Recorded::ALL {
                let Some(value) = metric.of(r).filter(|v| v.is_finite()) else {
                    continue;
                };
                let mut record = vec![
                    run.name.clone(),
                    r.epoch.to_string(),
                    metric.name().to_string(),
                    value.to_string(),
                ];
                record.extend(values.iter().cloned());
                out.write_record(&record).expect("in-memory csv");
            }
        }
    }
    out.into_inner().expect("in-memory csv")
}

/// Writes `runs.csv` (the long table) and `METRIC.svg` (the chart) of `runs` into a new
/// `dir/export-TIME/`, each file atomically; returns the folder.
pub fn export_to(
    dir: &std::path::Path,
    runs: &[&RunEntry],
    chart: &ChartOptions,
) -> crate::error::Result<std::path::PathBuf> {
    use crate::error::IoContext;
    let folder = dir.join(format!("export-{}", crate::files::timestamp()));
    std::fs::create_dir_all(&folder).at(&folder, "create directory")?;
    crate::files::write_atomic(&folder.join("runs.csv"), &long_table(runs))?;
    let svg_name = format!("{}.svg", chart.metric.name());
    crate::files::write_atomic(&folder.join(svg_name), svg(runs, chart).as_bytes())?;
    Ok(folder)
}

/// How a chart is drawn: the Runs tab's choices, and `lnmc export --plot`'s options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChartOptions {
    pub metric: Metric,
    /// EMA weight; never applied to the learning rate.
    pub smoothing: Option<f64>,
    pub log_y: bool,
    pub x: XAxis,
}

/// The chart as an SVG document: axes, a legend naming each run and what it differs in, a
/// title; the raw curve faint behind the smoothed one.
pub fn svg(runs: &[&RunEntry], options: &ChartOptions) -> String {
    svg_of(&chart(runs, options), SIZE)
}

/// Any chart as an SVG document of `size` pixels: what exports and the report draw with.
pub fn svg_of(chart: &Chart, size: (u32, u32)) -> String {
    use plotters::prelude::*;
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root, chart);
    }
    text
}

/// A chart of `curves` on the unit square with its diagonal (ROC curves, reliability
/// diagrams); each curve's colour is the palette's `run`.
pub fn unit_square(
    title: String,
    x_label: &'static str,
    y_label: &'static str,
    curves: Vec<Curve>,
) -> Chart {
    let diagonal = Curve {
        name: "diagonal".into(),
        run: GREY,
        secondary: true,
        raw: Vec::new(),
        shown: vec![(0.0, 0.0), (1.0, 1.0)],
    };
    Chart {
        title,
        x_label,
        y_label,
        x: [0.0, 1.0],
        y: [0.0, 1.0],
        log_y: false,
        smoothed: false,
        curves: [vec![diagonal], curves].concat(),
    }
}

/// The palette's grey (see `draw`).
pub const GREY: usize = 6;

/// The same chart as a PNG image (text in the embedded DejaVu Sans, so no system font is
/// needed).
pub fn png(runs: &[&RunEntry], options: &ChartOptions) -> crate::error::Result<Vec<u8>> {
    use plotters::prelude::*;
    register_font();
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        draw(&root, &chart(runs, options));
    }
    let image = image::RgbImage::from_raw(SIZE.0, SIZE.1, pixels).expect("size × 3 bytes");
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| crate::error::Error::runtime(format!("cannot encode the chart ({e})")))?;
    Ok(bytes)
}

const SIZE: (u32, u32) = (960, 600);

/// Text is laid out (and, in PNG, drawn) with the embedded DejaVu Sans, for SVG and PNG alike.
fn register_font() {
    static FONT: std::sync::Once = std::sync::Once::new();
    FONT.call_once(|| {
        let font = dejavu::sans::regular();
        let _ =
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, font);
    });
}

/// One curve of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The legend: the run, the part ("train", "val") and what the run differs in.
    pub name: String,
    /// The run it belongs to, by its place among the runs: its colour.
    pub run: usize,
    /// The validation half of the loss: drawn dashed or lighter.
    pub secondary: bool,
    /// As measured, epochs without a finite value left out.
    pub raw: Vec<(f64, f64)>,
    /// What is drawn bold: the EMA of `raw` when smoothing, else `raw` itself.
    pub shown: Vec<(f64, f64)>,
}

/// A comparison chart computed once; the terminal (the Runs tab) and plotters (`svg`, `png`)
/// only draw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: &'static str,
    pub y_label: &'static str,
    pub x: [f64; 2],
    /// In the metric's own units, padded; both positive on a log scale.
    pub y: [f64; 2],
    pub log_y: bool,
    /// The raw curves are drawn faint behind the smoothed ones.
    pub smoothed: bool,
    pub curves: Vec<Curve>,
}

/// The chart of `options.metric` over `runs`: curves, legend, title and ranges.
pub fn chart(runs: &[&RunEntry], options: &ChartOptions) -> Chart {
    let configs: Vec<_> = runs.iter().map(|r| r.config()).collect();
    let differences = differences(&configs);
    let smoothing = options.smoothing.filter(|_| options.metric.smoothable());
    let mut curves = Vec::new();
    for (k, run) in runs.iter().enumerate() {
        for (part, raw) in options.metric.curves(run, options.x) {
            let shown = smoothing.map_or_else(|| raw.clone(), |w| ema(&raw, w));
            let mut name = run.name.clone();
            if let Some(part) = part.suffix() {
                name = format!("{name} {part}");
            }
            if !differences[k].is_empty() {
                name = format!("{name} ({})", differences[k]);
            }
            curves.push(Curve {
                name,
                run: k,
                secondary: part == Part::Val,
                raw,
                shown,
            });
        }
    }
    let all = || curves.iter().flat_map(|c| c.raw.iter().chain(&c.shown));
    let x_axis = options.metric.x_axis(options.x);
    let x0 = if x_axis == XAxis::Epoch { 1.0 } else { 0.0 };
    let x1 = all().map(|p| p.0).fold(x0 + 1.0, f64::max);
    // The range is padded by 5 % on the scale it is drawn on.
    let scale = |y: f64| match options.log_y {
        true => y.max(1e-12).log10(),
        false => y,
    };
    let (lo, hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(scale(p.1)), hi.max(scale(p.1)))
    });
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let unscale = |v: f64| if options.log_y { 10f64.powf(v) } else { v };
    let title = format!(
        "{}{}{} · {} run{}",
        options.metric.name(),
        smoothing.map_or(String::new(), |w| format!(" · EMA {w:.2}")),
        if options.log_y { " · log y" } else { "" },
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    Chart {
        title,
        x_label: match x_axis {
            XAxis::Epoch => "epoch",
            XAxis::WallMinutes => "minutes",
        },
        y_label: options.metric.name(),
        x: [x0, x1],
        y: [unscale(lo - pad), unscale(hi + pad)],
        log_y: options.log_y,
        smoothed: smoothing.is_some(),
        curves,
    }
}

/// Plotters' renderer of a `Chart`, for SVG and PNG alike.
fn draw<DB: plotters::prelude::DrawingBackend>(
    root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart,
) {
    use plotters::prelude::*;
    let palette = [
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 158, 115),
        RGBColor(213, 94, 0),
        RGBColor(0, 114, 178),
        RGBColor(204, 121, 167),
        RGBColor(120, 120, 120),
        RGBColor(240, 228, 66),
    ];
    let _ = root.fill(&WHITE);
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60);
    // Both scales draw the same way; only the coordinate type differs.
    macro_rules! plot {
        ($plot:expr) => {{
            let mut plot = $plot;
            let _ = plot
                .configure_mesh()
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(210, 210, 210))
                .x_desc(chart.x_label)
                .y_desc(chart.y_label)
                .draw();
            for curve in &chart.curves {
                let c = palette[curve.run % palette.len()];
                if chart.smoothed {
                    let _ =
                        plot.draw_series(LineSeries::new(curve.raw.iter().copied(), c.mix(0.25)));
                }
                let points = curve.shown.iter().copied();
                let drawn = match curve.secondary {
                    true => {
                        plot.draw_series(DashedLineSeries::new(points, 8, 5, c.stroke_width(2)))
                    }
                    false => plot.draw_series(LineSeries::new(points, c.stroke_width(2))),
                };
                let _ = drawn.map(|s| {
                    s.label(curve.name.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c))
                });
            }
            let _ = plot
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw();
        }};
    }
    let ([x0, x1], [y0, y1]) = (chart.x, chart.y);
    if chart.log_y {
        if let Ok(plot) = builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()) {
            plot!(plot);
        }
    } else if let Ok(plot) = builder.build_cartesian_2d(x0..x1, y0..y1) {
        plot!(plot);
    }
    let _ = root.present();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_debiased_and_zero_weight_is_the_identity() {
        let pts = [(1.0, 1.0), (2.0, 0.0), (3.0, 1.0)];
        assert_eq!(ema(&pts, 0.0), pts.to_vec());
        let smooth = ema(&pts, 0.5);
        assert!(
            (smooth[0].1 - 1.0).abs() < 1e-12,
            "first point kept: {smooth:?}"
        );
        assert!((smooth[1].1 - 1.0 / 3.0).abs() < 1e-12, "{smooth:?}");
        // 0.5·(0.5·(0.5·1) + 0.5·0) + 0.5·1 = 0.625, over 1 − 0.5³.
        assert!((smooth[2].1 - 0.625 / 0.875).abs() < 1e-12, "{smooth:?}");
    }
}
