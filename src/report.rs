//! One self-contained HTML page of an evaluation, as a study reports it: the data and how it
//! was split, the training configuration, every metric with its interval, ROC and reliability
//! diagrams (inline SVG), operating points, subgroups, the paired comparison when asked, and a
//! gallery of the most confident errors with their class-activation maps (inline PNG). No
//! network, no file beside it: it can be mailed or attached to a paper's supplement.

use std::fmt::Write as _;
use std::path::Path;

use crate::compare::{svg_of, unit_square};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::evaluation::Evaluation;
use crate::explain::Explainer;
use crate::operating_point::{self, Rule};
use crate::patch_image;
use crate::types::RunConfig;

/// Patches in each gallery.
pub const GALLERY: usize = 8;
/// Pixels a side of a gallery picture.
const PICTURE: u32 = 128;

/// What the report says besides the evaluation itself.
pub struct Context<'a> {
    pub data: &'a Dataset,
    pub data_sha256: String,
    /// The run the checkpoint comes from, when it is lnmc's.
    pub config: Option<RunConfig>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648) of `bytes`, for data: URIs.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            match k <= chunk.len() {
                true => out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char),
                false => out.push('='),
            }
        }
    }
    out
}

fn interval(i: Option<[f64; 2]>) -> String {
    i.map_or("—".into(), |[lo, hi]| format!("{lo:.3} – {hi:.3}"))
}

fn opt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

/// One curve of a report figure: its legend, its colour in the export's palette, its points.
fn curve(name: &str, run: usize, points: Vec<(f64, f64)>) -> crate::compare::Curve {
    crate::compare::Curve {
        name: name.into(),
        run,
        secondary: false,
        raw: Vec::new(),
        shown: points,
    }
}

/// A figure of the report: `curves` on the unit square with its diagonal, as inline SVG.
fn figure(
    title: String,
    (x, y): (&'static str, &'static str),
    curves: Vec<crate::compare::Curve>,
) -> String {
    svg_of(&unit_square(title, x, y, curves), (440, 440))
}

/// A patch and its class-activation map as an inline PNG.
fn picture(data: &Dataset, index: usize, explainer: &Explainer) -> Result<(String, f64)> {
    let grey = patch_image::image(data, index, patch_image::Window::for_scale(data.scale))?;
    let e = explainer.explain_at(data, &[index])?.remove(0);
    let rgb = patch_image::overlay(&grey, &e.map, e.height, e.width, e.scale());
    let big = image::imageops::resize(&rgb, PICTURE, PICTURE, image::imageops::FilterType::Nearest);
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(big)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::runtime(format!("cannot encode a picture ({e})")))?;
    Ok((
        format!(
            r#"<img src="data:image/png;base64,{}" width="{PICTURE}" height="{PICTURE}" alt="patch {index}">"#,
            base64(&png)
        ),
        e.probability(),
    ))
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:24px auto;color:#222}\
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
th{background:#f2f2f2}.num{text-align:right;font-variant-numeric:tabular-nums}.warn{color:#a60}\
.figs{display:flex;gap:16px;flex-wrap:wrap}.gallery{display:flex;flex-wrap:wrap;gap:12px}\
figure{margin:0;font-size:12px}h2{border-bottom:1px solid #ddd;padding-bottom:2px}";

/// What the report shows that is computed rather than read off the evaluation: the ROC curves
/// and the decision at each preset rule, apart from the HTML that lays them out.
struct Numbers {
    roc: Vec<(f64, f64)>,
    roc_against: Option<Vec<(f64, f64)>>,
    operating_points: Vec<(Rule, Result<operating_point::OperatingPoint>)>,
}

impl Numbers {
    fn of(e: &Evaluation) -> Numbers {
        let roc = |scores: &[f64]| crate::metrics::roc_curve(&e.labels, scores);
        Numbers {
            roc: roc(&e.scores),
            roc_against: e.against.as_ref().map(|a| roc(&a.scores)),
            operating_points: Rule::PRESETS
                .into_iter()
                .map(|rule| (rule, operating_point::choose(&e.labels, &e.scores, rule)))
                .collect(),
        }
    }
}

/// The report of `e` as one HTML page, a section at a time.
pub fn html(e: &Evaluation, cx: &Context) -> Result<String> {
    let n = Numbers::of(e);
    let mut h = String::new();
    head(&mut h, e);
    data_and_split(&mut h, e, cx);
    metrics(&mut h, e);
    figures(&mut h, e, &n);
    operating_points(&mut h, &n);
    subgroups(&mut h, e);
    let explainer = Explainer::load(&e.checkpoint)?;
    against(&mut h, e, cx, &explainer)?;
    confident_errors(&mut h, e, cx, &explainer)?;
    Ok(h)
}

/// The page's head and title.
fn head(h: &mut String, e: &Evaluation) {
    let name = e
        .checkpoint
        .file_name()
        .map_or("checkpoint".into(), |n| n.to_string_lossy().into_owned());
    let _ = write!(
        *h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>lnmc report · {}</title><style>{STYLE}</style></head><body>",
        escape(&e.origin)
    );
    let _ = write!(
        *h,
        "<h1>Evaluation of {} ({})</h1>",
        escape(&name),
        escape(&e.origin)
    );
}

/// The data, the split and the training configuration.
fn data_and_split(h: &mut String, e: &Evaluation, cx: &Context) {
    let groups = nodule_groups(cx);
    let rows = [
        ("checkpoint", e.checkpoint.display().to_string()),
        ("data file", e.data_path.display().to_string()),
        ("data SHA-256", cx.data_sha256.clone()),
        (
            "data",
            format!(
                "{} data in {}, {} patches of {}×{}",
                e.source_kind,
                e.units.name(),
                cx.data.len(),
                cx.data.height,
                cx.data.width
            ),
        ),
        ("nodule groups", groups),
        (
            "scored on",
            format!("{} · {} patches", e.split_name, e.metrics.n),
        ),
        ("network", e.model.describe()),
        ("numeric precision", e.precision.clone()),
        (
            "split",
            format!(
                "{} · groups: {} · {}: {}",
                serde_json::to_value(e.split.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                e.split.groups.name(),
                match e.split.optimistic {
                    true => "possibly optimistic",
                    false => "not optimistic",
                },
                e.split.why
            ),
        ),
    ];
    h.push_str("<h2>Data and split</h2><table>");
    for (k, v) in rows {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    h.push_str("</table>");
    if let Some(warning) = e.split.warning() {
        let _ = write!(h, "<p class=\"warn\">{}</p>", escape(&warning));
    }
    training_configuration(h, cx);
}

/// How the nodules are known, for the "nodule groups" row.
fn nodule_groups(cx: &Context) -> String {
    match (&cx.data.groups, cx.data.group_source) {
        (Some(ids), source) => {
            let n: std::collections::HashSet<_> = ids.iter().collect();
            let from = match source {
                crate::data::groups::Source::Inferred => match &cx.data.group_doubt {
                    Some(doubt) => {
                        format!("inferred from neighbouring rows (lnmc groups), uncertain: {doubt}")
                    }
                    None => "inferred from neighbouring rows (lnmc groups), judged reliable".into(),
                },
                crate::data::groups::Source::User => {
                    "from the user's CSV (lnmc groups --from)".into()
                }
                _ => "from the file's ids".into(),
            };
            format!("{} nodules, {from}", n.len())
        }
        (None, _) => "none known: slices of one nodule may sit on both sides of the split".into(),
    }
}

/// The run's settings, where the checkpoint came from an lnmc run.
fn training_configuration(h: &mut String, cx: &Context) {
    let Some(c) = &cx.config else {
        return;
    };
    h.push_str("<h2>Training configuration</h2><table>");
    let split = format!(
        "{} (seed {}): {} train / {} val",
        crate::choice::name(c.split),
        c.split_seed,
        c.train_samples,
        c.val_samples
    );
    let _ = write!(
        h,
        "<tr><th>run</th><td>{}</td></tr><tr><th>split</th><td>{}</td></tr>",
        escape(&c.name),
        escape(&split)
    );
    for (k, v) in crate::compare::settings(c) {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    h.push_str("</table>");
}

/// The metrics at 0.5 with their intervals, per nodule, and the diameter baseline.
fn metrics(h: &mut String, e: &Evaluation) {
    let unit = e.ci.as_ref().map_or("—".to_string(), |ci| {
        format!("{} resamples of {}s", ci.resamples, ci.unit)
    });
    let _ = write!(h, "<h2>Metrics at 0.5</h2><table><tr><th>metric</th><th>value</th><th>95 % interval ({})</th></tr>", escape(&unit));
    for row in e.metrics.rows(e.ci.as_ref()) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td></tr>",
            row.name,
            row.value,
            interval(row.interval)
        );
    }
    let m = &e.metrics;
    let _ = write!(
        h,
        "<tr><td>balanced accuracy</td><td class=\"num\">{:.4}</td><td></td></tr><tr><td>PR AUC</td><td class=\"num\">{:.4}</td><td></td></tr></table>",
        m.balanced_accuracy, m.pr_auc
    );
    match &e.nodule {
        Some(n) => {
            let _ = write!(
                h,
                "<p>Per nodule ({} nodules, each the mean probability of its slices): accuracy {:.4}, F1 {:.4}, ROC AUC {:.4}.</p>",
                n.n, n.accuracy, n.f1, n.auc
            );
        }
        None if e.groups.is_some() => h.push_str(&format!(
            "<p>No nodule-level metrics: fewer than {} nodules of a class.</p>",
            crate::metrics::MIN_PER_CLASS
        )),
        None => {}
    }
    if e.ci.is_none() {
        h.push_str("<p>No intervals: too few cases of a class to resample.</p>");
    }
    match &e.baseline {
        Ok(b) => {
            let _ = write!(
                h,
                "<h2>Against the diameter alone</h2><table><tr><th>per {}</th><th>ROC AUC</th><th>95 % interval (DeLong)</th></tr><tr><td>this network</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4} – {:.4}</td></tr><tr><td>nodule diameter alone</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4} – {:.4}</td></tr></table><p>The diameter is the equivalent diameter of the central region (the subgroups' size; a nodule takes its largest slice). DeLong's test of the difference: z = {:.3}, p = {:.3e} ({} benign, {} malignant {}s). A network that does not beat it has learnt little beyond size.</p>",
                b.unit, b.network_auc(), b.intervals[0][0], b.intervals[0][1], b.diameter_auc(), b.intervals[1][0], b.intervals[1][1], b.delong.z, b.delong.p, b.counts[0], b.counts[1], b.unit
            );
        }
        Err(why) => {
            let _ = write!(
                h,
                "<h2>Against the diameter alone</h2><p>No comparison: {}.</p>",
                escape(why)
            );
        }
    }
}

/// The ROC and reliability figures and the calibration table.
fn figures(h: &mut String, e: &Evaluation, n: &Numbers) {
    let (c, m) = (&e.calibration, &e.metrics);
    // Colours of the export's palette: vermillion, blue, green.
    let mut series = vec![curve("this checkpoint", 3, n.roc.clone())];
    if let Some(roc) = &n.roc_against {
        series.push(curve("second checkpoint", 4, roc.clone()));
    }
    let roc_svg = figure(
        format!("ROC · AUC {:.3}", m.auc),
        ("false positive rate", "true positive rate"),
        series,
    );
    let bins = |b: &[crate::calibration::Bin]| -> Vec<(f64, f64)> {
        b.iter()
            .filter(|b| b.count > 0)
            .map(|b| (b.predicted, b.observed))
            .collect()
    };
    let mut cal = vec![curve("as scored", 3, bins(&c.bins))];
    if let Some(s) = &c.scaled {
        cal.push(curve("with temperature", 2, bins(&s.bins)));
    }
    let rel_svg = figure(
        format!("Reliability · ECE {:.3}", c.ece),
        ("mean P(malignant) in bin", "share malignant in bin"),
        cal,
    );
    let _ = write!(
        h,
        "<h2>ROC and calibration</h2><div class=\"figs\">{roc_svg}{rel_svg}</div>"
    );
    let _ = write!(
        h,
        "<table><tr><th></th><th>ECE</th><th>Brier</th><th>NLL</th></tr><tr><td>as scored</td><td class=\"num\">{:.4} ({})</td><td class=\"num\">{:.4} ({})</td><td class=\"num\">{:.4}</td></tr>",
        c.ece, interval(c.ece_interval), c.brier, interval(c.brier_interval), c.nll
    );
    if let (Some(t), Some(s)) = (&c.temperature, &c.scaled) {
        let _ = write!(
            h,
            "<tr><td>temperature {:.3} (fitted on {})</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td></tr>",
            t.temperature, escape(&t.fitted_on), s.ece, s.brier, s.nll
        );
    }
    let _ = write!(h, "</table><p>Binning: {}; intervals resample {}s. A temperature fitted on the patches scored here makes its row optimistic.</p>", escape(&c.binning), c.unit);
}

/// The decision at each preset rule.
fn operating_points(h: &mut String, n: &Numbers) {
    h.push_str("<h2>Operating points</h2><table><tr><th>rule</th><th>threshold</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>F1</th><th>tn fp fn tp</th></tr>");
    for (rule, point) in &n.operating_points {
        let line = match point {
            Ok(p) => {
                let [[tn, fp], [fn_, tp]] = p.confusion;
                format!(
                    "<td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{tn} {fp} {fn_} {tp}</td>",
                    p.threshold, p.sensitivity, p.specificity, p.ppv, p.npv, p.f1
                )
            }
            Err(why) => format!("<td colspan=\"7\">{}</td>", escape(&why.to_string())),
        };
        let _ = write!(h, "<tr><td>{}</td>{line}</tr>", rule.name());
    }
    h.push_str("</table><p class=\"warn\">Every threshold but 0.5 is chosen on the patches it is scored on: its numbers are optimistic; choose it on other data for a claim.</p>");
}

/// The subgroups by size and density.
fn subgroups(h: &mut String, e: &Evaluation) {
    let cases = crate::metrics::Unit::of(e.groups.as_deref()).plural();
    let _ = write!(
        h,
        "<h2>Subgroups</h2><p>Cases are {cases}. Size: equivalent diameter of the central region above {:.prec$} {} (pixels: the file carries no spacing). Density: {}. — marks a number withheld: fewer than {} cases stand behind it.</p><table><tr><th>by</th><th>group</th><th>{cases}</th><th>malignant</th><th>errors</th><th>share of errors</th><th>accuracy</th><th>sensitivity</th><th>specificity</th><th>AUC (95 %)</th></tr>",
        e.binning.threshold,
        e.units.short(),
        escape(&e.binning.density_basis),
        crate::metrics::MIN_PER_CLASS,
        prec = e.units.decimals()
    );
    for g in &e.subgroups {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0} %</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            g.by, escape(&g.name), g.cases, g.malignant, g.errors, 100.0 * g.share_of_errors,
            opt(g.accuracy), opt(g.sensitivity), opt(g.specificity),
            match (g.auc, g.auc_interval) {
                (Some(a), Some(i)) => format!("{a:.3} ({})", interval(Some(i))),
                _ => "—".into(),
            }
        );
    }
    h.push_str("</table>");
}

/// The paired comparison with a second checkpoint and where the two disagree.
fn against(h: &mut String, e: &Evaluation, cx: &Context, explainer: &Explainer) -> Result<()> {
    if let Some(a) = &e.against {
        let _ = write!(
            h,
            "<h2>Against {}</h2>",
            escape(&format!("{} ({})", a.checkpoint.display(), a.origin))
        );
        match &a.comparison {
            Ok(c) => {
                let _ = write!(
                    h,
                    "<table><tr><th>per {}</th><th>this</th><th>second</th></tr><tr><td>ROC AUC</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td></tr></table><p>ΔAUC {:+.4}, 95 % paired bootstrap interval {:+.4} to {:+.4} ({} resamples); DeLong's test z = {:.3}, p = {:.3e}. McNemar's exact test: {} cases only this one gets right, {} only the second, p = {:.3e}. ({} benign, {} malignant {}s.)</p>",
                    c.unit, c.delong.auc[0], c.delong.auc[1], c.delta_auc, c.delta_interval[0], c.delta_interval[1], c.resamples,
                    c.delong.z, c.delong.p, c.mcnemar.only_a_right, c.mcnemar.only_b_right, c.mcnemar.p, c.counts[0], c.counts[1], c.unit
                );
            }
            Err(why) => {
                let _ = write!(h, "<p>No paired tests: {}.</p>", escape(why));
            }
        }
        let second = Explainer::load(&a.checkpoint)?;
        let disagree = e.disagreements();
        let _ = write!(h, "<h3>Where they disagree ({} patches; largest difference in P(malignant) first)</h3><div class=\"gallery\">", disagree.len());
        for &index in disagree.iter().take(GALLERY) {
            let k = e.position(index).expect("an evaluated patch");
            let (ours, p) = picture(cx.data, index, explainer)?;
            let (theirs, q) = picture(cx.data, index, &second)?;
            let _ = write!(
                h,
                "<figure>{ours}{theirs}<figcaption>patch {index} · label {} · P {:.3} vs {:.3}</figcaption></figure>",
                label(e.labels[k]), p, q
            );
        }
        h.push_str("</div>");
    }
    Ok(())
}

/// The gallery of the most confident errors, and the footer.
fn confident_errors(
    h: &mut String,
    e: &Evaluation,
    cx: &Context,
    explainer: &Explainer,
) -> Result<()> {
    let errors = e.misclassified();
    let _ = write!(
        h,
        "<h2>Most confident errors ({} of {})</h2><p>Each patch in the lung window with its class-activation map: red pushes towards malignant, blue towards benign.</p><div class=\"gallery\">",
        errors.len().min(GALLERY),
        errors.len()
    );
    for &index in errors.iter().take(GALLERY) {
        let (img, p) = picture(cx.data, index, explainer)?;
        let k = e.position(index).expect("an evaluated patch");
        let _ = write!(
            h,
            "<figure>{img}<figcaption>patch {index} · label {} · P(malignant) {p:.3}</figcaption></figure>",
            label(e.labels[k])
        );
    }
    let _ = write!(
        h,
        "</div><p style=\"color:#888;font-size:12px\">lnmc {} · written {}</p></body></html>",
        env!("CARGO_PKG_VERSION"),
        crate::files::timestamp()
    );
    Ok(())
}

fn label(l: u8) -> &'static str {
    match l {
        crate::data::MALIGNANT => "malignant",
        _ => "benign",
    }
}

/// Evaluates as `request` asks and writes the report into `out` (see `write`): what both
/// `lnmc report` and the Evaluate tab's key do. Returns the page's size in bytes.
pub fn evaluate_and_write(request: &crate::evaluation::Request, out: &Path) -> Result<usize> {
    check_out(out)?;
    let e = crate::evaluation::evaluate(request)?;
    let data = crate::data::reader::open(&e.data_path)?;
    let cx = Context {
        data_sha256: crate::data::sha256(&e.data_path)?,
        config: crate::checkpoint::read_info(&request.checkpoint).map(|i| i.config),
        data: &data,
    };
    let page = html(&e, &cx)?;
    write(out, &page)?;
    Ok(page.len())
}

/// The marker that tells a report folder from any other: a folder holding it may be replaced.
pub const MARKER: &str = ".lnmc-report";
pub const PAGE: &str = "report.html";

/// Writes `page` as `dir/report.html`: into a new folder beside, renamed into place, so a
/// failure leaves no half-written report; an existing folder is replaced only if it is one.
pub fn write(dir: &Path, page: &str) -> Result<()> {
    check_out(dir)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let name = dir
        .file_name()
        .map_or("report".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(tmp.join(PAGE), page)?;
        std::fs::write(tmp.join(MARKER), "written by lnmc report\n")?;
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::rename(&tmp, dir)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(Error::file(dir, format!("cannot write the report ({e})")));
    }
    Ok(())
}

/// Refuses an output folder that exists and is not a report, before anything is computed.
pub fn check_out(dir: &Path) -> Result<()> {
    // `.`, `..` or `/` would make the report replace the folder it stands in.
    if !matches!(
        dir.components().next_back(),
        Some(std::path::Component::Normal(_))
    ) {
        return Err(Error::file(
            dir,
            "is not a folder name to write a report into: name a new folder (a report folder is replaced)",
        ));
    }
    crate::files::refuse_link(dir, "a report folder")?;
    if dir.exists() && !(dir.is_dir() && dir.join(MARKER).exists()) {
        return Err(Error::file(
            dir,
            "exists and is not an lnmc report: give a new folder (a report folder is replaced)",
        ));
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(Error::file(dir, "its parent folder does not exist"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn a_folder_that_is_not_a_report_is_refused_and_a_report_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r");
        write(&out, "<p>one</p>").unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(PAGE)).unwrap(),
            "<p>one</p>"
        );
        write(&out, "<p>two</p>").unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(PAGE)).unwrap(),
            "<p>two</p>"
        );
        let other = dir.path().join("mine");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "keep").unwrap();
        let e = write(&other, "<p/>").unwrap_err().to_string();
        assert!(e.contains("exists and is not an lnmc report"), "{e}");
        assert_eq!(
            std::fs::read_to_string(other.join("notes.txt")).unwrap(),
            "keep"
        );
        assert!(check_out(&dir.path().join("no/such/r")).is_err());
        // Nothing left behind but the two folders.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
