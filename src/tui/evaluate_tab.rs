//! Evaluate tab: checkpoints on disk, and of the one evaluated last its metrics, the decision
//! at an operating point that keys move (the confusion matrix and rates follow), the ROC curve
//! and the reliability diagram; a second checkpoint compared on the same patches; a report.

use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::keys::{Key, Keys, RESCAN, SELECT};
use super::message::{Effect, Reply};
use super::panel::{Context, Tab};
use super::widgets::{axis_labels, panel, ACCENT, VAL_COLOUR};
use crate::data;
use crate::error::Result;
use crate::evaluation::{self, Evaluation};
use crate::metrics::{self, roc_curve};
use crate::operating_point::{self, OperatingPoint, Rule};
use crate::run::catalog::CheckpointEntry;

const EVALUATE: Key = Key::new(&[KeyCode::Enter], "evaluate");
const SCOPE: Key = Key::new(&[KeyCode::Char('a')], "val split / all");
const BROWSE_ERRORS: Key = Key::new(&[KeyCode::Char('m')], "browse misclassified");
const THRESHOLD: Key = Key::pair(
    &[KeyCode::Char('[')],
    &[KeyCode::Char(']')],
    "threshold −/+ 0.01",
)
.help();
const PRESET: Key = Key::new(
    &[KeyCode::Char('p')],
    "threshold presets: 0.5, Youden, sens 0.90/0.95, spec 0.95",
)
.help();
const AGAINST: Key = Key::new(
    &[KeyCode::Char('b')],
    "compare the evaluated checkpoint with the selected one",
)
.help();
const DISAGREE: Key = Key::new(
    &[KeyCode::Char('d')],
    "browse where the two compared disagree",
)
.help();
const REPORT: Key = Key::new(&[KeyCode::Char('w')], "write the report (HTML) into runs/").help();
/// How far one threshold key moves it.
const THRESHOLD_STEP: f64 = 0.01;

pub struct EvaluateTab {
    checkpoints: Vec<CheckpointEntry>,
    selected: usize,
    /// Evaluate on every patch instead of the validation split.
    all: bool,
    evaluating: bool,
    /// The last evaluation, with the checkpoint it was made with (shared with the other tabs
    /// through the panels' context).
    last: Option<std::rc::Rc<(String, Evaluation)>>,
    /// Where P(malignant) is cut, and the decision there on the last evaluation.
    rule: Rule,
    point: Option<std::result::Result<OperatingPoint, String>>,
    /// The last evaluation's ROC curves, computed when it arrives (drawing only draws them).
    roc: Roc,
}

/// The ROC curve of an evaluation, and of the checkpoint compared with it (with its AUC).
#[derive(Default)]
struct Roc {
    points: Vec<(f64, f64)>,
    against: Option<(Vec<(f64, f64)>, f64)>,
}

impl Roc {
    fn of(e: &Evaluation) -> Roc {
        Roc {
            points: roc_curve(&e.labels, &e.scores),
            against: e.against.as_ref().map(|a| {
                let auc = metrics::roc_auc(&e.labels, &a.scores);
                (roc_curve(&e.labels, &a.scores), auc)
            }),
        }
    }
}

impl Default for EvaluateTab {
    fn default() -> Self {
        EvaluateTab {
            checkpoints: Vec::new(),
            selected: 0,
            all: false,
            evaluating: false,
            last: None,
            rule: Rule::Fixed(metrics::THRESHOLD),
            point: None,
            roc: Roc::default(),
        }
    }
}

impl EvaluateTab {
    pub fn last(&self) -> Option<&(String, Evaluation)> {
        self.last.as_deref()
    }

    /// The last evaluation, shared.
    pub fn shared_last(&self) -> Option<std::rc::Rc<(String, Evaluation)>> {
        self.last.clone()
    }

    /// The checkpoint other tabs explain with: the one evaluated last, else the one selected.
    pub fn checkpoint(&self) -> Option<&Path> {
        match self.last() {
            Some((_, e)) => Some(&e.checkpoint),
            None => self
                .checkpoints
                .get(self.selected)
                .map(|c| c.path.as_path()),
        }
    }

    pub fn set_checkpoints(&mut self, checkpoints: Vec<CheckpointEntry>) {
        self.selected = self.selected.min(checkpoints.len().saturating_sub(1));
        self.checkpoints = checkpoints;
    }

    /// Takes in the result of an evaluation; the line the log gets.
    pub fn evaluated(&mut self, checkpoint: String, result: Result<Evaluation>) -> String {
        self.evaluating = false;
        match result {
            Ok(e) => {
                let line = format!(
                    "evaluated {checkpoint}: accuracy {:.2} %",
                    100.0 * e.metrics.accuracy
                );
                self.roc = Roc::of(&e);
                self.last = Some(std::rc::Rc::new((checkpoint, e)));
                self.place_point();
                line
            }
            Err(e) => format!("evaluation failed: {e}"),
        }
    }

    /// The decision at the current rule on the last evaluation.
    fn place_point(&mut self) {
        self.point = self.last.as_deref().map(|(_, e)| {
            operating_point::choose(&e.labels, &e.scores, self.rule).map_err(|e| e.to_string())
        });
    }

    const KEYS: Keys = &[
        SELECT.doing("select checkpoint"),
        EVALUATE,
        SCOPE,
        BROWSE_ERRORS,
        THRESHOLD,
        PRESET,
        AGAINST,
        DISAGREE,
        REPORT,
        RESCAN,
    ];

    /// The request that evaluated the last result again, as the tab would make it.
    fn request(&self, checkpoint: PathBuf, data: &data::Dataset) -> evaluation::Request {
        evaluation::Request {
            data: Some(data.path.clone()),
            all: self.all,
            threshold: self.rule,
            ..evaluation::Request::new(checkpoint)
        }
    }
}

/// The ROC curve, and the second checkpoint's with the paired tests when one was compared.
fn draw_roc(frame: &mut Frame, area: Rect, e: &Evaluation, roc: &Roc) {
    let chance = [(0.0, 0.0), (1.0, 1.0)];
    let second = e.against.as_ref().zip(roc.against.as_ref());
    let mut datasets = vec![
        Dataset::default()
            .name("chance")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().dark_gray())
            .data(&chance),
        Dataset::default()
            .name(format!("AUC {:.3}", e.metrics.auc))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(VAL_COLOUR))
            .data(&roc.points),
    ];
    let mut title = "ROC curve".to_string();
    if let Some((a, (points, auc))) = second {
        datasets.push(
            Dataset::default()
                .name(format!("vs {auc:.3}"))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::LightBlue))
                .data(points),
        );
        title = match &a.comparison {
            Ok(c) => format!(
                "ROC · vs {} · per {} ΔAUC {:+.3} [{:+.3}, {:+.3}] DeLong p {:.1e} · McNemar {}:{} p {:.1e}",
                a.origin,
                c.unit,
                c.delta_auc,
                c.delta_interval[0],
                c.delta_interval[1],
                c.delong.p,
                c.mcnemar.only_a_right,
                c.mcnemar.only_b_right,
                c.mcnemar.p
            ),
            Err(why) => format!("ROC · vs {}: {why}", a.origin),
        };
    }
    frame.render_widget(unit_square(datasets, &title, "FPR", "TPR"), area);
}

/// Mean P(malignant) against the share malignant in each of the 15 bins, and the diagonal a
/// calibrated model follows; ECE and Brier in the title.
fn draw_reliability(frame: &mut Frame, area: Rect, e: &Evaluation) {
    let c = &e.calibration;
    let bins = |bins: &[crate::calibration::Bin]| -> Vec<(f64, f64)> {
        bins.iter()
            .filter(|b| b.count > 0)
            .map(|b| (b.predicted, b.observed))
            .collect()
    };
    let scored = bins(&c.bins);
    let scaled = c.scaled.as_ref().map(|s| bins(&s.bins));
    let diagonal = [(0.0, 0.0), (1.0, 1.0)];
    let mut datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().dark_gray())
            .data(&diagonal),
        Dataset::default()
            .name(format!("ECE {:.3}", c.ece))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(VAL_COLOUR))
            .data(&scored),
    ];
    if let (Some(points), Some(s)) = (&scaled, &c.scaled) {
        datasets.push(
            Dataset::default()
                .name(format!("T: ECE {:.3}", s.ece))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(Color::LightGreen))
                .data(points),
        );
    }
    let title = format!(
        "reliability · 15 bins · ECE {:.3} · Brier {:.3}",
        c.ece, c.brier
    );
    frame.render_widget(unit_square(datasets, &title, "mean P", "malignant"), area);
}

/// A chart on [0, 1]² with its axes named, the legend at the lower right.
fn unit_square<'a>(datasets: Vec<Dataset<'a>>, title: &str, x: &'a str, y: &'a str) -> Chart<'a> {
    let axis = |name: &'a str| {
        Axis::default()
            .title(name)
            .bounds([0.0, 1.0])
            .labels(axis_labels(0.0, 1.0, 1))
    };
    Chart::new(datasets)
        .block(panel(title))
        .x_axis(axis(x))
        .y_axis(axis(y))
        .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
}

/// The decision at the operating point: the confusion matrix and its rates, the threshold and
/// the rule that placed it (said optimistic when chosen on these patches), and how to move it.
fn draw_operating_point(
    frame: &mut Frame,
    area: Rect,
    point: Option<&std::result::Result<OperatingPoint, String>>,
    notice: Option<&str>,
) {
    let p = match point {
        Some(Ok(p)) => p,
        Some(Err(why)) => {
            frame.render_widget(
                Paragraph::new(why.as_str()).block(panel("operating point")),
                area,
            );
            return;
        }
        None => return,
    };
    let c = p.confusion;
    let cell = |count: u64, good: bool| {
        let colour = if good { Color::Green } else { Color::Red };
        Span::styled(
            format!("{count:^7}"),
            Style::new().fg(Color::Black).bg(colour).bold(),
        )
    };
    let mut lines = vec![
        Line::from("        benign  malig.".dark_gray()),
        Line::from(vec![
            Span::raw("benign "),
            cell(c[0][0], true),
            Span::raw(" "),
            cell(c[0][1], false),
        ]),
        Line::from(vec![
            Span::raw("malig. "),
            cell(c[1][0], false),
            Span::raw(" "),
            cell(c[1][1], true),
        ]),
        Line::from(format!(
            "sens {:.3} spec {:.3}",
            p.sensitivity, p.specificity
        )),
        Line::from(format!("PPV {:.3} NPV {:.3} F1 {:.3}", p.ppv, p.npv, p.f1)),
    ];
    if p.chosen_on_scored_data {
        lines.push(Line::from("chosen on these patches: optimistic".yellow()));
    }
    lines.push(Line::from(
        format!(
            "{} threshold · {} presets · {} errors",
            THRESHOLD.label(),
            PRESET.label(),
            BROWSE_ERRORS.label()
        )
        .dark_gray(),
    ));
    lines.push(Line::from(
        format!(
            "{} compare · {} disagreements · {} report",
            AGAINST.label(),
            DISAGREE.label(),
            REPORT.label()
        )
        .dark_gray(),
    ));
    if let Some(n) = notice {
        lines.push(Line::from(n.to_string().italic()));
    }
    let title = match p.rule {
        Rule::Fixed(t) if t == crate::metrics::THRESHOLD => format!("at {t} (rows: truth)"),
        rule => format!("at {:.3} ({rule})", p.threshold),
    };
    frame.render_widget(Paragraph::new(lines).block(panel(&title)), area);
}

impl super::panel::Panel for EvaluateTab {
    fn keys(&self) -> Vec<Key> {
        Self::KEYS.to_vec()
    }

    fn on_key(&mut self, key: crossterm::event::KeyEvent, cx: &Context) -> Reply {
        let (code, data) = (key.code, cx.data);
        let last = self.checkpoints.len().saturating_sub(1) as i64;
        if let Some(step) = SELECT.step(code) {
            self.selected = (self.selected as i64 + step).clamp(0, last) as usize;
        } else if SCOPE.matches(code) {
            self.all = !self.all;
        } else if RESCAN.matches(code) {
            return Reply::Effect(Effect::Rescan);
        } else if EVALUATE.matches(code) && !self.evaluating {
            if let Some(entry) = self.checkpoints.get(self.selected) {
                self.evaluating = true;
                let request = self.request(entry.path.clone(), data);
                return Reply::Effect(Effect::Evaluate(request));
            }
        } else if BROWSE_ERRORS.matches(code) && self.last.is_some() {
            return Reply::BrowseMisclassified;
        } else if let Some(step) = THRESHOLD.step(code) {
            let now = match &self.point {
                Some(Ok(p)) => p.threshold,
                _ => metrics::THRESHOLD,
            };
            let t =
                (now + step as f64 * THRESHOLD_STEP).clamp(THRESHOLD_STEP, 1.0 - THRESHOLD_STEP);
            self.rule = Rule::Fixed((t / THRESHOLD_STEP).round() * THRESHOLD_STEP);
            self.place_point();
        } else if PRESET.matches(code) {
            let at = Rule::PRESETS.iter().position(|&r| r == self.rule);
            self.rule = Rule::PRESETS[at.map_or(0, |k| (k + 1) % Rule::PRESETS.len())];
            self.place_point();
        } else if AGAINST.matches(code) && !self.evaluating {
            let second = self.checkpoints.get(self.selected).map(|c| c.path.clone());
            if let (Some((_, e)), Some(second)) = (self.last.as_deref(), second) {
                self.evaluating = true;
                let request = evaluation::Request {
                    against: Some(second),
                    ..self.request(e.checkpoint.clone(), data)
                };
                return Reply::Effect(Effect::Evaluate(request));
            }
        } else if DISAGREE.matches(code)
            && self
                .last
                .as_deref()
                .is_some_and(|(_, e)| e.against.is_some())
        {
            return Reply::BrowseDisagreements;
        } else if REPORT.matches(code) {
            if let Some((_, e)) = self.last.as_deref() {
                let request = evaluation::Request {
                    against: e.against.as_ref().map(|a| a.checkpoint.clone()),
                    ..self.request(e.checkpoint.clone(), data)
                };
                let out = Path::new(crate::run::RUNS)
                    .join(format!("report-{}", crate::files::timestamp()));
                let notice = format!("writing {}…", out.display());
                cx.notices.borrow_mut().notify(Tab::Evaluate, notice);
                return Reply::Effect(Effect::Report { request, out });
            }
        }
        Reply::Done
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context) {
        let [list, result] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Min(0)]).areas(area);
        self.draw_checkpoints(frame, list);
        let Some((name, e)) = self.last.as_deref() else {
            let text = match self.evaluating {
                true => "evaluating…".to_string(),
                false => format!("select a checkpoint and press {}", EVALUATE.label()),
            };
            frame.render_widget(Paragraph::new(text).block(panel("result")), result);
            return;
        };
        let [numbers, curves] =
            Layout::vertical([Constraint::Length(13), Constraint::Min(0)]).areas(result);
        // Wide screens give the metrics room for their intervals; narrow ones keep the
        // confusion matrix whole.
        let share = if result.width >= 100 { 60 } else { 50 };
        let [metrics, confusion] =
            Layout::horizontal([Constraint::Percentage(share), Constraint::Min(0)]).areas(numbers);
        // The intervals where there is room for them: 80 columns show the values alone.
        let intervals = metrics.width >= 36;
        let mut lines = metric_lines(name, e, intervals);
        if self.evaluating {
            lines.push(Line::from("evaluating…".italic()));
        }
        frame.render_widget(
            Paragraph::new(lines).block(panel(match (intervals, &e.ci) {
                (true, Some(_)) => "metrics (95 % CI)",
                // Withheld, not missing: say so where there is room.
                (true, None) => "metrics (too few for a CI)",
                (false, _) => "metrics",
            })),
            metrics,
        );
        draw_operating_point(
            frame,
            confusion,
            self.point.as_ref(),
            cx.notices.borrow().notice(Tab::Evaluate),
        );
        let [roc, reliability] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Min(0)]).areas(curves);
        draw_roc(frame, roc, e, &self.roc);
        draw_reliability(frame, reliability, e);
    }
}

impl EvaluateTab {
    /// The checkpoints found, each with its validation accuracy, the selected one marked.
    fn draw_checkpoints(&self, frame: &mut Frame, area: Rect) {
        let items: Vec<ListItem> = self
            .checkpoints
            .iter()
            .map(|c| {
                let acc = c
                    .val_accuracy
                    .map_or("      ".into(), |a| format!("{:5.1}%", 100.0 * a));
                ListItem::new(Line::from(vec![
                    Span::styled(acc, Style::new().fg(Color::Green)),
                    Span::raw(format!(" {}", c.label)),
                ]))
            })
            .collect();
        let scope = if self.all { "all patches" } else { "val split" };
        let title = format!(
            "checkpoints · {} evaluates on the {scope}",
            EVALUATE.label()
        );
        let list_widget = if items.is_empty() {
            List::new(vec![ListItem::new(
                "none yet: train a run, or copy a .pth into checkpoint/",
            )])
        } else {
            List::new(items)
        };
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            list_widget
                .block(panel(&title))
                .highlight_style(Style::new().fg(Color::Black).bg(ACCENT)),
            area,
            &mut state,
        );
    }
}

/// The evaluation's numbers: what was scored, each metric (with its interval where there is
/// room), per nodule, the diameter baseline and the split's warning.
fn metric_lines<'a>(name: &'a str, e: &Evaluation, intervals: bool) -> Vec<Line<'a>> {
    let m = &e.metrics;
    // The network is named where it is not upstream's.
    let network = match e.model == crate::model::Spec::UPSTREAM {
        true => String::new(),
        false => format!(" · {}", e.model.describe()),
    };
    let mut lines: Vec<Line> = vec![
        Line::from(name.bold()),
        Line::from(
            format!(
                "{} · n {} · {}{network}",
                e.split_name,
                m.n,
                e.precision_short()
            )
            .dark_gray(),
        ),
    ];
    for row in m.rows(e.ci.as_ref()) {
        let mut spans = vec![
            Span::raw(format!("{:<12}", row.name)),
            format!("{:.4}", row.value).bold(),
        ];
        if let (Some([lo, hi]), true) = (row.interval, intervals) {
            spans.push(format!(" [{lo:.3}, {hi:.3}]").dark_gray());
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from(vec![
        Span::raw(format!("{:<12}", "bal. acc")),
        format!("{:.4}", m.balanced_accuracy).bold(),
        format!(" · PR AUC {:.3}", m.pr_auc).dark_gray(),
    ]));
    if let Some(n) = &e.nodule {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<12}", format!("{} nodules", n.n))),
            format!("acc {:.3} F1 {:.3} AUC {:.3}", n.accuracy, n.f1, n.auc).bold(),
        ]));
    }
    if let Ok(b) = &e.baseline {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<12}", "size alone")),
            format!("AUC {:.3}", b.diameter_auc()).bold(),
            format!(
                " vs {:.3} per {} · DeLong p {:.1e}",
                b.network_auc(),
                b.unit,
                b.delong.p
            )
            .dark_gray(),
        ]));
    }
    if let Some(warning) = e.split.warning() {
        lines.push(Line::from(warning.yellow()));
    }
    lines
}
