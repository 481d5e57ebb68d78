//! A sweep in the Runs tab: its runs as a table (one column per swept setting and the best value
//! of a metric, sorted by any column), the same runs as parallel coordinates in the terminal
//! (one axis per setting and the metric, one line per run coloured by the metric; an axis's
//! range narrowed by keys leaves the runs inside it bright and the others faint), and the
//! settings ranked by their rank correlation with the metric. The numbers are `sweep::Analysis`.

use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment};
use ratatui::widgets::{Clear, Paragraph, Row, Table};
use ratatui::Frame;

use super::keys::{Key, Keys, CANCEL};
use super::message::Reply;
use super::widgets::{panel, ACCENT};
use crate::run::catalog::{Kind, RunEntry};
use crate::sweep::Analysis;
use crate::types::{EpochRecord, Recorded};

/// Opens the view on a sweep's row (the Runs tab's key) and closes it.
pub const ANALYSE: Key = Key::new(&[KeyCode::Char('p')], "sweep: parallel coordinates");
const AXIS: Key = Key::pair(
    &[KeyCode::Left, KeyCode::Char('h')],
    &[KeyCode::Right, KeyCode::Char('l')],
    "axis",
);
const LOW: Key = Key::pair(
    &[KeyCode::Char('{')],
    &[KeyCode::Char('}')],
    "axis range: low −/+",
);
const HIGH: Key = Key::pair(
    &[KeyCode::Char('[')],
    &[KeyCode::Char(']')],
    "axis range: high −/+",
);
const CLEAR: Key = Key::new(&[KeyCode::Char('0')], "clear the ranges").help();
const SORT: Key = Key::new(&[KeyCode::Char('s')], "sort by the axis");
const METRIC: Key = Key::new(&[KeyCode::Char('m')], "metric");

/// The metrics a sweep is judged by, and whether higher is better.
const METRICS: [Recorded; 6] = [
    Recorded::ValAcc,
    Recorded::ValAuc,
    Recorded::ValF1,
    Recorded::NoduleAcc,
    Recorded::NoduleAuc,
    Recorded::ValLoss,
];
/// How far one range key moves a bound, on the axis's [0, 1].
const RANGE_STEP: f64 = 0.1;

pub struct SweepView {
    path: PathBuf,
    name: String,
    metric: usize,
    analysis: Analysis,
    /// The axis the keys act on (settings, then the metric).
    axis: usize,
    /// Each axis's kept range, on its [0, 1].
    ranges: Vec<[f64; 2]>,
    /// Sorted by this column, descending when true.
    sort: Option<(usize, bool)>,
}

/// A run's best value of `metric` over its epochs; a cross-validation's, the mean over folds.
fn best(entry: &RunEntry, metric: Recorded) -> Option<f64> {
    let of = |history: &[EpochRecord]| {
        let values = history
            .iter()
            .filter_map(|r| metric.of(r))
            .filter(|v| v.is_finite());
        match metric.higher_is_better() {
            true => values.fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.max(v)))),
            false => values.fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.min(v)))),
        }
    };
    match &entry.kind {
        Kind::CrossValidation { folds } => {
            let folds: Vec<f64> = folds.iter().filter_map(|f| of(f.history())).collect();
            (!folds.is_empty()).then(|| folds.iter().sum::<f64>() / folds.len() as f64)
        }
        _ => of(entry.history()),
    }
}

fn analyse(entry: &RunEntry, metric: usize) -> Option<Analysis> {
    let Kind::Sweep { sweep, points } = &entry.kind else {
        return None;
    };
    // The grid's points are in the grid's order.
    let best: Vec<Option<f64>> = points
        .iter()
        .map(|p| p.run().and_then(|run| best(run, METRICS[metric])))
        .collect();
    Some(Analysis::new(sweep, &best, METRICS[metric].name()))
}

impl SweepView {
    /// The view of a sweep's entry (None for anything else).
    pub fn new(entry: &RunEntry) -> Option<SweepView> {
        let analysis = analyse(entry, 0)?;
        Some(SweepView {
            path: entry.path.clone(),
            name: entry.name.clone(),
            metric: 0,
            ranges: vec![[0.0, 1.0]; analysis.columns.len()],
            axis: 0,
            sort: Some((analysis.columns.len() - 1, true)),
            analysis,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sweep as read again (runs finish while it is watched).
    pub fn refresh(&mut self, entry: &RunEntry) {
        if let Some(a) = analyse(entry, self.metric) {
            self.analysis = a;
        }
    }

    pub const KEYS: Keys = &[
        AXIS,
        LOW,
        HIGH,
        SORT,
        METRIC,
        CLEAR,
        CANCEL.doing("close"),
        ANALYSE.doing("close").help(),
    ];

    pub fn on_key(&mut self, code: KeyCode, entry: Option<&RunEntry>) -> Reply {
        let columns = self.analysis.columns.len();
        if CANCEL.matches(code) || ANALYSE.matches(code) {
            return Reply::Close;
        } else if let Some(step) = AXIS.step(code) {
            self.axis = (self.axis as i64 + step).rem_euclid(columns as i64) as usize;
        } else if let Some(step) = LOW.step(code) {
            let [lo, hi] = self.ranges[self.axis];
            self.ranges[self.axis][0] = (lo + step as f64 * RANGE_STEP).clamp(0.0, hi);
        } else if let Some(step) = HIGH.step(code) {
            let [lo, hi] = self.ranges[self.axis];
            self.ranges[self.axis][1] = (hi + step as f64 * RANGE_STEP).clamp(lo, 1.0);
        } else if CLEAR.matches(code) {
            self.ranges = vec![[0.0, 1.0]; columns];
        } else if SORT.matches(code) {
            self.sort = match self.sort {
                Some((c, down)) if c == self.axis => Some((c, !down)),
                _ => Some((self.axis, true)),
            };
        } else if METRIC.matches(code) {
            self.metric = (self.metric + 1) % METRICS.len();
            if let Some(entry) = entry {
                self.refresh(entry);
            }
        }
        Reply::Done
    }

    /// Whether row `k` lies inside every narrowed range.
    fn inside(&self, k: usize) -> bool {
        let row = &self.analysis.rows[k];
        self.ranges
            .iter()
            .zip(&row.positions)
            .all(|(&[lo, hi], p)| match p {
                Some(p) => *p >= lo - 1e-9 && *p <= hi + 1e-9,
                None => lo <= 0.0 && hi >= 1.0,
            })
    }

    /// The rows in the chosen order.
    fn order(&self) -> Vec<usize> {
        let rows = &self.analysis.rows;
        let mut order: Vec<usize> = (0..rows.len()).collect();
        if let Some((c, down)) = self.sort {
            let key = |k: usize| rows[k].positions[c].unwrap_or(f64::NEG_INFINITY);
            order.sort_by(|&a, &b| match down {
                true => key(b).total_cmp(&key(a)),
                false => key(a).total_cmp(&key(b)),
            });
        }
        order
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        frame.render_widget(Clear, area);
        let [main, ranking] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(3)]).areas(area);
        let [table, chart] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Min(0)]).areas(main);
        self.draw_table(frame, table);
        self.draw_chart(frame, chart);
        let metric = METRICS[self.metric].name();
        let mut spans = vec![Span::raw(format!("rank correlation with {metric}: "))];
        for (k, (key, rho)) in self.analysis.ranking.iter().enumerate() {
            if k > 0 {
                spans.push(Span::raw(" · "));
            }
            spans.push(Span::styled(
                match rho.is_finite() {
                    true => format!("{key} {rho:+.2}"),
                    false => format!("{key} —"),
                },
                match k {
                    0 => Style::new().bold(),
                    _ => Style::new(),
                },
            ));
        }
        frame.render_widget(
            Paragraph::new(Line::from(spans)).block(panel("settings ranked (Spearman ρ)")),
            ranking,
        );
    }

    fn draw_table(&self, frame: &mut Frame, area: Rect) {
        let a = &self.analysis;
        let shown = area.height.saturating_sub(3) as usize;
        let rows: Vec<Row> = self
            .order()
            .into_iter()
            .take(shown)
            .map(|k| {
                let r = &a.rows[k];
                let mut cells: Vec<String> = r.values.clone();
                cells.push(r.metric.map_or("—".into(), |m| format!("{m:.4}")));
                let style = match self.inside(k) {
                    true => Style::new(),
                    false => Style::new().dark_gray(),
                };
                Row::new(cells).style(style)
            })
            .collect();
        let header: Vec<Span> = a
            .columns
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let arrow = match self.sort {
                    Some((s, true)) if s == c => "▼",
                    Some((s, false)) if s == c => "▲",
                    _ => "",
                };
                let style = match c == self.axis {
                    true => Style::new().fg(Color::Black).bg(ACCENT),
                    false => Style::new().fg(ACCENT).bold(),
                };
                Span::styled(format!("{name}{arrow}"), style)
            })
            .collect();
        let widths = vec![Constraint::Fill(1); a.columns.len()];
        let inside = (0..a.rows.len()).filter(|&k| self.inside(k)).count();
        let title = format!(
            "sweep {} · {} runs, {} inside the ranges",
            self.name,
            a.rows.len(),
            inside
        );
        frame.render_widget(
            Table::new(rows, widths)
                .header(Row::new(header))
                .block(panel(&title)),
            area,
        );
    }

    fn draw_chart(&self, frame: &mut Frame, area: Rect) {
        let a = &self.analysis;
        let axes = a.columns.len();
        let x_of = |c: usize| c as f64;
        let [lo, hi] = a.metric_range;
        let higher = METRICS[self.metric].higher_is_better();
        // The metric's colour in COLOURS steps: thousands of runs share few distinct segments
        // once each is snapped to the canvas's dots, and each is drawn once.
        let bucket = |m: Option<f64>| match m {
            Some(m) if hi > lo => 1 + (((m - lo) / (hi - lo)) * (COLOURS - 1) as f64).round() as u8,
            Some(_) => 1 + (COLOURS / 2) as u8,
            None => 0,
        };
        // Data units a terminal cell spans, to centre the axis names under their axes (the
        // last one ends at its axis).
        let cell = ((axes - 1) as f64 + 0.1) / area.width.saturating_sub(2).max(1) as f64;
        // Braille dots down the canvas (4 a cell) per unit of an axis.
        let dots_y = area.height.saturating_sub(2).max(1) as f64 * 4.0 / 1.1;
        let snap = |v: f64| (v * dots_y).round() as i32;
        let mut segments: Vec<std::collections::HashSet<(usize, i32, i32)>> =
            vec![Default::default(); COLOURS + 2];
        for (k, r) in a.rows.iter().enumerate() {
            // Faint runs in the last set, drawn first.
            let set = match self.inside(k) {
                true => bucket(r.metric) as usize,
                false => COLOURS + 1,
            };
            for w in 0..axes - 1 {
                if let (Some(y1), Some(y2)) = (r.positions[w], r.positions[w + 1]) {
                    segments[set].insert((w, snap(y1), snap(y2)));
                }
            }
        }
        let colour_of = |set: usize| match set {
            0 => Color::DarkGray,
            s if s == COLOURS + 1 => Color::DarkGray,
            s => gradient((s - 1) as f64 / (COLOURS - 1) as f64, higher),
        };
        let canvas = Canvas::default()
            .block(panel(&format!(
                "parallel coordinates · colour: {} ({lo:.3} … {hi:.3})",
                METRICS[self.metric].name()
            )))
            .marker(Marker::Braille)
            .x_bounds([-0.05, (axes - 1) as f64 + 0.05])
            .y_bounds([-0.08, 1.02])
            .paint(|ctx| {
                for set in std::iter::once(COLOURS + 1).chain(0..=COLOURS) {
                    let c = colour_of(set);
                    for &(w, y1, y2) in &segments[set] {
                        let (y1, y2) = (y1 as f64 / dots_y, y2 as f64 / dots_y);
                        ctx.draw(&Segment::new(x_of(w), y1, x_of(w + 1), y2, c));
                    }
                    if set == COLOURS + 1 {
                        ctx.layer();
                    }
                }
                ctx.layer();
                for c in 0..axes {
                    let selected = c == self.axis;
                    let axis_colour = if selected { ACCENT } else { Color::Gray };
                    ctx.draw(&Segment::new(x_of(c), 0.0, x_of(c), 1.0, axis_colour));
                    let [rlo, rhi] = self.ranges[c];
                    if rlo > 0.0 || rhi < 1.0 {
                        ctx.draw(&Segment::new(x_of(c), rlo, x_of(c), rhi, Color::White));
                    }
                    let label = match selected {
                        true => format!("[{}]", a.columns[c]),
                        false => a.columns[c].clone(),
                    };
                    let width = label.chars().count() as f64 * cell;
                    let x = match c + 1 == axes {
                        true => x_of(c) - width,
                        false => (x_of(c) - width / 2.0).max(-0.05),
                    };
                    ctx.print(x, -0.07, Line::from(label).fg(axis_colour));
                }
            });
        frame.render_widget(canvas, area);
    }
}

/// Steps of the metric's colour scale.
const COLOURS: usize = 8;

/// A colour from red (worst) through yellow to green (best), for t in [0, 1].
fn gradient(t: f64, higher_is_better: bool) -> Color {
    let t = if higher_is_better { t } else { 1.0 - t }.clamp(0.0, 1.0);
    let (r, g) = match t < 0.5 {
        true => (230.0, 60.0 + 340.0 * t),
        false => (230.0 - 380.0 * (t - 0.5), 230.0),
    };
    Color::Rgb(r as u8, g as u8, 70)
}
