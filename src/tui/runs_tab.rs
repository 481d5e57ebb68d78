//! Runs tab: every run on disk (and upstream loss files) in a table, filtered by name; any
//! number of them marked and laid over each other for one metric, by epoch or wall time,
//! smoothed or raw, on a linear or log scale, the legend naming what the runs differ in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input as LineEditor;

use super::keys::{Key, Keys, CANCEL, CONFIRM, RESCAN, SELECT};
use super::log_view::{LogView, LOG};
use super::machine;
use super::message::{Effect, Reply};
use super::panel::{Context, Tab};
use super::sweep_view::{SweepView, ANALYSE};
use super::widgets::{axis_labels, panel, sparkline, ACCENT};
use crate::compare::{self, ChartOptions, Metric, XAxis};
use crate::run::catalog::{Kind, Point, RunEntry};
use crate::run::Status;

/// Colours of the marked runs, in marking order.
const PALETTE: [Color; 8] = [
    Color::Yellow,
    Color::Magenta,
    Color::LightGreen,
    Color::LightBlue,
    Color::LightRed,
    Color::Cyan,
    Color::White,
    Color::LightYellow,
];

pub struct RunsTab {
    runs: Vec<RunEntry>,
    /// Cross-validations opened into their folds.
    expanded: HashSet<PathBuf>,
    /// Position among the visible rows.
    selected: usize,
    /// Runs marked for the overlay, by directory (rows move when a cross-validation opens).
    marked: Vec<PathBuf>,
    metric: Metric,
    /// EMA weight when smoothing is on.
    smoothing: Option<f64>,
    log_y: bool,
    x: XAxis,
    /// Only runs whose name contains this; `typing` while it is typed.
    filter: LineEditor,
    typing: bool,
    /// `lnmc watch DIR`: a live table, where Enter follows a run in the Train tab.
    live: bool,
    /// The log of a run, open over the chart.
    log: Option<LogView>,
    /// A sweep's table, parallel coordinates and ranking, open over the chart.
    sweep_view: Option<SweepView>,
    /// When a running run counts as stalled (None: each run's own limit).
    stall_limit: Option<Duration>,
    /// The runs found stalled at the last read, by directory.
    stalled: HashSet<PathBuf>,
    /// The marked runs' chart, computed when the runs, the marks or the options change (drawing
    /// only draws it); None while nothing is marked.
    chart: Option<compare::Chart>,
}

impl Default for RunsTab {
    fn default() -> Self {
        RunsTab {
            runs: Vec::new(),
            expanded: HashSet::new(),
            selected: 0,
            marked: Vec::new(),
            metric: Metric::Loss,
            smoothing: None,
            log_y: false,
            x: XAxis::Epoch,
            filter: LineEditor::default(),
            typing: false,
            live: false,
            log: None,
            sweep_view: None,
            stall_limit: None,
            stalled: HashSet::new(),
            chart: None,
        }
    }
}

const SHOW: Key = Key::new(&[KeyCode::Enter], "show curves");
const MARK: Key = Key::new(&[KeyCode::Char(' ')], "mark for overlay");
const METRIC: Key = Key::new(&[KeyCode::Char('m')], "metric");
const SMOOTH: Key = Key::new(&[KeyCode::Char('s')], "smooth");
const SMOOTHING_KEYS: Key = Key::pair(
    &[KeyCode::Char('-')],
    &[KeyCode::Char('+')],
    "less/more smoothing",
)
.help();
const LOG_Y: Key = Key::new(&[KeyCode::Char('l')], "log y").help();
const WALL_TIME: Key = Key::new(&[KeyCode::Char('w')], "x: epoch/time");
const FILTER: Key = Key::new(&[KeyCode::Char('/')], "filter");
const EXPORT: Key = Key::new(&[KeyCode::Char('e')], "export marked");
const FOLDS: Key = Key::new(
    &[KeyCode::Enter],
    "open/close a cross-validation's folds or a sweep's runs",
)
.help();
const FOLLOW: Key = Key::new(
    &[KeyCode::Char('o')],
    "follow in the Train tab (lnmc watch DIR: enter)",
)
.help();

/// The EMA weight smoothing starts at, and its steps.
const SMOOTHING: f64 = 0.6;
const SMOOTHING_STEP: f64 = 0.1;

impl RunsTab {
    pub fn runs(&self) -> &[RunEntry] {
        &self.runs
    }

    /// The runs as read again; returns what is to be announced of the runs that have become
    /// stalled since the last read.
    pub fn set_runs(&mut self, runs: Vec<RunEntry>) -> Vec<String> {
        // Watching one sweep or cross-validation: it opens at once.
        if let ([only], true, true) = (&runs[..], self.live, self.expanded.is_empty()) {
            if opens(only) {
                self.expanded.insert(only.path.clone());
            }
        }
        self.runs = runs;
        if let Some(view) = &mut self.sweep_view {
            if let Some(entry) = self.runs.iter().find(|r| r.path == view.path()) {
                view.refresh(entry);
            }
        }
        self.selected = self.selected.min(self.rows().len().saturating_sub(1));
        let mut stalled = HashSet::new();
        let mut news = Vec::new();
        for run in &self.runs {
            if let Some(stall) = run.stall(self.stall_limit) {
                if !self.stalled.contains(&run.path) {
                    news.push(format!("lnmc: {} {}", run.name, stall.describe()));
                }
                stalled.insert(run.path.clone());
            }
        }
        self.stalled = stalled;
        self.compute_chart();
        news
    }

    pub fn set_stall_limit(&mut self, limit: Option<Duration>) {
        self.stall_limit = limit;
    }

    /// The run whose log is open, to be read again while it grows.
    pub fn log_dir(&self) -> Option<&Path> {
        self.log.as_ref().map(LogView::run_dir)
    }

    pub fn set_log(&mut self, run_dir: &Path, lines: Vec<String>) {
        if let Some(log) = self.log.as_mut().filter(|l| l.run_dir() == run_dir) {
            log.set_lines(lines);
        }
    }

    /// The rows shown: every entry the filter lets through, and under each opened
    /// cross-validation its folds, under each opened sweep its points (depth 1).
    pub fn rows(&self) -> Vec<(Listed<'_>, usize)> {
        let mut rows = Vec::new();
        for run in self
            .runs
            .iter()
            .filter(|r| r.name.contains(self.filter.value()))
        {
            rows.push((Listed::Entry(run), 0));
            if !self.expanded.contains(&run.path) {
                continue;
            }
            match &run.kind {
                Kind::CrossValidation { folds } => {
                    rows.extend(folds.iter().map(|f| (Listed::Entry(f), 1)))
                }
                Kind::Sweep { points, .. } => {
                    rows.extend(points.iter().map(|p| (Listed::Point(p), 1)))
                }
                Kind::Run(_) | Kind::Imported { .. } => {}
            }
        }
        rows
    }

    /// The marked runs, in marking order.
    pub fn marked(&self) -> Vec<&RunEntry> {
        let all: Vec<&RunEntry> = self
            .runs
            .iter()
            .flat_map(|r| std::iter::once(r).chain(r.members()))
            .collect();
        self.marked
            .iter()
            .filter_map(|p| all.iter().find(|r| &r.path == p).copied())
            .collect()
    }

    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    const KEYS: Keys = &[
        SELECT.doing("select run"),
        SHOW,
        MARK,
        METRIC,
        SMOOTH,
        SMOOTHING_KEYS,
        LOG_Y,
        WALL_TIME,
        FILTER,
        EXPORT,
        FOLDS,
        FOLLOW,
        LOG,
        ANALYSE.help(),
        RESCAN,
    ];

    /// The chart of the marked runs with the chosen options.
    fn compute_chart(&mut self) {
        let runs = self.marked();
        let chart = (!runs.is_empty()).then(|| compare::chart(&runs, &self.chart_options()));
        self.chart = chart;
    }

    fn handle_key(&mut self, key: KeyEvent, cx: &Context) -> Reply {
        let code = key.code;
        if let Some(view) = &mut self.sweep_view {
            let entry = self.runs.iter().find(|r| r.path == view.path());
            if view.on_key(code, entry) == Reply::Close {
                self.sweep_view = None;
            }
            return Reply::Done;
        }
        if let Some(log) = &mut self.log {
            if log.on_key(code) == Reply::Close {
                self.log = None;
            }
            return Reply::Done;
        }
        if self.typing {
            match CONFIRM.matches(code) || CANCEL.matches(code) {
                true => self.typing = false,
                false => {
                    self.filter.handle_event(&TermEvent::Key(key));
                }
            }
            self.selected = self.selected.min(self.rows().len().saturating_sub(1));
            return Reply::Done;
        }
        let rows = self.rows();
        // A cross-validation or a sweep: a row that opens into its members.
        let selected = rows
            .get(self.selected)
            .map(|(r, _)| (r.path().to_path_buf(), r.entry().is_some_and(opens)));
        if ANALYSE.matches(code) {
            self.sweep_view = rows
                .get(self.selected)
                .and_then(|(r, _)| r.entry())
                .and_then(SweepView::new);
            if self.sweep_view.is_none() {
                let notice = format!("{} opens on a sweep's row", ANALYSE.label());
                cx.notices.borrow_mut().notify(Tab::Runs, notice);
            }
            return Reply::Done;
        }
        let last = rows.len().saturating_sub(1) as i64;
        if let Some(step) = SELECT.step(code) {
            self.selected = (self.selected as i64 + step).clamp(0, last) as usize;
            return Reply::Done;
        }
        if let Some((path, opens)) = selected {
            if let Some(reply) = self.on_row_key(code, path, opens) {
                return reply;
            }
        }
        self.on_chart_key(code)
    }

    /// A key acting on the selected row (`opens`: a cross-validation or a sweep); None when
    /// the key is not one of these.
    fn on_row_key(&mut self, code: KeyCode, path: PathBuf, opens: bool) -> Option<Reply> {
        match opens {
            true if FOLDS.matches(code) => {
                if !self.expanded.remove(&path) {
                    self.expanded.insert(path);
                }
            }
            true => return None,
            false if SHOW.matches(code) && self.live => return Some(Reply::Open(path)),
            false if FOLLOW.matches(code) => return Some(Reply::Open(path)),
            false if SHOW.matches(code) => self.marked = vec![path],
            false if LOG.matches(code) => {
                let name = path
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                self.log = Some(LogView::new(path.clone(), name));
                return Some(Reply::Effect(Effect::ReadLog(path)));
            }
            false if MARK.matches(code) => match self.marked.iter().position(|m| *m == path) {
                Some(pos) => {
                    self.marked.remove(pos);
                }
                None => self.marked.push(path),
            },
            false => return None,
        }
        Some(Reply::Done)
    }

    /// The chart's keys (metric, smoothing, axes), the filter, export and rescan.
    fn on_chart_key(&mut self, code: KeyCode) -> Reply {
        if METRIC.matches(code) {
            let at = Metric::ALL
                .iter()
                .position(|&m| m == self.metric)
                .unwrap_or(0);
            self.metric = Metric::ALL[(at + 1) % Metric::ALL.len()];
        } else if SMOOTH.matches(code) {
            self.smoothing = match self.smoothing {
                Some(_) => None,
                None => Some(SMOOTHING),
            }
        } else if let Some(step) = SMOOTHING_KEYS.step(code) {
            let w = self.smoothing.unwrap_or(0.0) + SMOOTHING_STEP * step as f64;
            self.smoothing = Some(w.min(0.95)).filter(|&w| w > 0.01);
        } else if LOG_Y.matches(code) {
            self.log_y = !self.log_y;
        } else if WALL_TIME.matches(code) {
            self.x = match self.x {
                XAxis::Epoch => XAxis::WallMinutes,
                XAxis::WallMinutes => XAxis::Epoch,
            }
        } else if FILTER.matches(code) {
            self.typing = true;
            self.filter.reset();
        } else if EXPORT.matches(code) && !self.marked.is_empty() {
            return Reply::Effect(Effect::Export {
                runs: self.marked.clone(),
                chart: self.chart_options(),
            });
        } else if RESCAN.matches(code) {
            return Reply::Effect(Effect::Rescan);
        }
        Reply::Done
    }

    fn chart_options(&self) -> ChartOptions {
        ChartOptions {
            metric: self.metric,
            smoothing: self.smoothing,
            log_y: self.log_y,
            x: self.x,
        }
    }

    /// The row of a run, a cross-validation or a sweep; `queue`: what the scheduler says of it
    /// (a sweep's point it still holds).
    fn entry_row(&self, r: &RunEntry, depth: usize, queue: Option<&str>) -> Row<'static> {
        let (date, device) = match (&r.kind, r.config()) {
            (Kind::Imported { .. }, _) => ("-".into(), "upstream".into()),
            (_, Some(c)) => (c.created.clone(), c.device.to_string()),
            (_, None) => ("-".into(), "-".into()),
        };
        let status = match (self.stalled.contains(&r.path), queue) {
            (true, _) => "stalled".to_string(),
            // Held by the cluster and not running (requeued): the scheduler's word.
            (false, Some(state)) if r.status != Status::Running => state.to_string(),
            (false, _) => r.status.label().to_string(),
        };
        let minutes = r.duration().as_secs_f64() / 60.0;
        let [name, epochs, acc, f1] = self.summary_cells(r, depth);
        // Live, a run's recent validation loss and its progress matter more than its date.
        // A sweep or a cross-validation has no curve of its own: its column stays empty
        // rather than holding a date under "recent val loss".
        let (date, epochs) = match (self.live, &r.kind) {
            (true, Kind::Run(run)) => (
                sparkline(run.history.iter().map(|h| h.val_loss), 15, None),
                format!("{}/{}", run.history.len(), run.config.hyper.epochs),
            ),
            (true, Kind::Sweep { .. } | Kind::CrossValidation { .. }) => (String::new(), epochs),
            _ => (date, epochs),
        };
        let row = match self.live {
            // Live, what the machine does for a running run matters more than where
            // and how long.
            true => {
                let [cpu, gpu, memory] = match r.status {
                    Status::Running => machine::cells(r.system()),
                    _ => ["".into(), "".into(), "".into()],
                };
                vec![name, date, epochs, acc, cpu, gpu, memory, status]
            }
            false => vec![
                name,
                date,
                epochs,
                acc,
                f1,
                device,
                format!("{minutes:.1} min"),
                status,
            ],
        };
        let row = Row::new(row);
        match self.stalled.contains(&r.path) {
            true => row.style(Style::new().fg(Color::Red)),
            false => row,
        }
    }

    /// Name, epochs, best val accuracy and F1 of an entry: a sweep shows its best run and opens
    /// into its runs; a cross-validation shows its folds' mean and opens into them.
    fn summary_cells(&self, r: &RunEntry, depth: usize) -> [String; 4] {
        let mark = if self.marked.contains(&r.path) {
            "●"
        } else {
            " "
        };
        let mark_optimistic = match possibly_optimistic(r) {
            true => OPTIMISTIC_MARK,
            false => "",
        };
        let pct = |v: Option<f64>| {
            v.filter(|v| v.is_finite()).map_or("-".into(), |v| {
                format!("{:.2}%{mark_optimistic}", 100.0 * v)
            })
        };
        let f1 = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or("-".into(), |v| format!("{v:.4}"))
        };
        let open = if self.expanded.contains(&r.path) {
            "▾"
        } else {
            "▸"
        };
        match &r.kind {
            Kind::Sweep { points, .. } => {
                let started = r.members();
                let best = started
                    .iter()
                    .filter_map(|m| m.best())
                    .max_by(|a, b| a.val_acc.total_cmp(&b.val_acc));
                [
                    format!(
                        "{open} {} · sweep, {}/{} runs",
                        r.name,
                        started.len(),
                        points.len()
                    ),
                    format!("{} r", points.len()),
                    pct(best.map(|b| b.val_acc)),
                    f1(best.map(|b| b.val_f1)),
                ]
            }
            Kind::CrossValidation { folds } => {
                let means = r.fold_means();
                [
                    format!("{open} {} · {}-fold CV", r.name, folds.len()),
                    format!("{} f", folds.len()),
                    pct(means.map(|m| m.0)),
                    f1(means.map(|m| m.1)),
                ]
            }
            Kind::Run(_) | Kind::Imported { .. } => {
                let best = r.best();
                [
                    format!("{}{mark} {}", "  ".repeat(depth), r.name),
                    r.history().len().to_string(),
                    pct(best.map(|b| b.val_acc)),
                    f1(best.map(|b| b.val_f1)),
                ]
            }
        }
    }

    /// The row of a sweep's point whose run has not started: the scheduler's word for it.
    fn point_row(&self, point: &Point, depth: usize) -> Row<'static> {
        let mark = match self.marked.contains(&point.path) {
            true => "●",
            false => " ",
        };
        let name = format!("{}{mark} {}", "  ".repeat(depth), point.name);
        let status = point.queue().unwrap_or_default().to_string();
        let dash = || "-".to_string();
        Row::new(match self.live {
            true => vec![
                name,
                dash(),
                "0".into(),
                dash(),
                "".into(),
                "".into(),
                "".into(),
                status,
            ],
            false => vec![
                name,
                dash(),
                "0".into(),
                dash(),
                dash(),
                dash(),
                "0.0 min".into(),
                status,
            ],
        })
    }

    fn draw_chart(&self, frame: &mut Frame, area: Rect) {
        let Some(chart) = &self.chart else {
            frame.render_widget(
                Paragraph::new(
                    format!(
                        "{} shows a run's curves, {} marks more to lay over it",
                        SHOW.label(),
                        MARK.label()
                    )
                    .dark_gray(),
                )
                .block(panel("curves")),
                area,
            );
            return;
        };
        // The terminal chart has no log axis: a log scale is drawn as log10 of the values, and
        // its labels say the values again.
        let scale = |y: f64| if chart.log_y { y.max(1e-12).log10() } else { y };
        let to_scale = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
            pts.iter().map(|&(x, y)| (x, scale(y))).collect()
        };
        // Every raw curve behind the smoothed ones as one layer of faint dots: each dataset is
        // a canvas layer of its own, and 20 runs' raw curves as 40 layers took 3 ms a frame.
        let raw: Vec<(f64, f64)> = match chart.smoothed {
            true => chart.curves.iter().flat_map(|c| to_scale(&c.raw)).collect(),
            false => Vec::new(),
        };
        let shown: Vec<Vec<(f64, f64)>> = chart.curves.iter().map(|c| to_scale(&c.shown)).collect();
        let mut datasets: Vec<Dataset> = Vec::new();
        if !raw.is_empty() {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Scatter)
                    .style(Style::new().fg(Color::DarkGray))
                    .data(&raw),
            );
        }
        for (curve, points) in chart.curves.iter().zip(&shown) {
            let colour = PALETTE[curve.run % PALETTE.len()];
            let colour = if curve.secondary {
                lighter(colour)
            } else {
                colour
            };
            datasets.push(
                Dataset::default()
                    .name(curve.name.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(colour))
                    .data(points),
            );
        }
        let y = [scale(chart.y[0]), scale(chart.y[1])];
        let y_labels: Vec<Line> = match chart.log_y {
            true => [y[0], (y[0] + y[1]) / 2.0, y[1]]
                .iter()
                .map(|v| Line::from(format!("{:.3}", 10f64.powf(*v))))
                .collect(),
            false => axis_labels(y[0], y[1], 3),
        };
        let [x_min, x_max] = chart.x;
        let widget = Chart::new(datasets)
            .block(panel(&chart.title))
            .x_axis(
                Axis::default()
                    .title(chart.x_label)
                    .bounds(chart.x)
                    .labels([
                        Line::from(format!("{x_min:.0}")),
                        Line::from(format!("{x_max:.0}")),
                    ]),
            )
            .y_axis(Axis::default().bounds(y).labels(y_labels))
            .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
            .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(60)));
        frame.render_widget(widget, area);
    }
}

/// The validation curve's shade of a run's colour.
fn lighter(c: Color) -> Color {
    match c {
        Color::Yellow => Color::LightYellow,
        Color::Magenta => Color::LightMagenta,
        Color::LightGreen => Color::Green,
        Color::LightBlue => Color::Blue,
        Color::LightRed => Color::Red,
        Color::Cyan => Color::LightCyan,
        Color::White => Color::Gray,
        other => other,
    }
}

/// What marks the accuracy of a run (or a sweep or cross-validation holding one) whose split may
/// leak: slice-level, or on groups judged uncertain.
const OPTIMISTIC_MARK: &str = "*";

fn possibly_optimistic(r: &RunEntry) -> bool {
    std::iter::once(r)
        .chain(r.members())
        .any(|e| e.config().is_some_and(|c| c.facts().optimistic))
}

/// A cross-validation or a sweep: a row that opens into its members.
fn opens(r: &RunEntry) -> bool {
    matches!(r.kind, Kind::CrossValidation { .. } | Kind::Sweep { .. })
}

/// A row of the table: a catalog entry, or one point of an opened sweep.
#[derive(Debug, Clone, Copy)]
pub enum Listed<'a> {
    Entry(&'a RunEntry),
    Point(&'a Point),
}

impl<'a> Listed<'a> {
    pub fn path(&self) -> &'a Path {
        match self {
            Listed::Entry(r) => &r.path,
            Listed::Point(p) => &p.path,
        }
    }

    /// The entry behind it (none for a sweep's point not started).
    pub fn entry(&self) -> Option<&'a RunEntry> {
        match self {
            Listed::Entry(r) => Some(r),
            Listed::Point(p) => p.run(),
        }
    }
}

impl super::panel::Panel for RunsTab {
    fn keys(&self) -> Vec<Key> {
        match (&self.sweep_view, &self.log) {
            (Some(_), _) => SweepView::KEYS.to_vec(),
            (None, Some(_)) => LogView::KEYS.to_vec(),
            (None, None) => Self::KEYS.to_vec(),
        }
    }

    /// The name filter takes every key while it is typed. (An open log takes the keys the
    /// app leaves to the tab; quitting, help and tabs still work.)
    fn captures_input(&self) -> bool {
        self.typing
    }

    fn on_key(&mut self, key: KeyEvent, cx: &Context) -> Reply {
        let reply = self.handle_key(key, cx);
        self.compute_chart();
        reply
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context) {
        let shown = self.rows();
        let table_height = (shown.len() as u16 + 3).clamp(4, area.height / 2);
        let [table, chart] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
        let filter = self.filter.value();
        let mut title = match (self.typing, filter.is_empty()) {
            (true, _) => format!("runs · filter: {filter}▏"),
            (false, false) => format!("runs · filter: {filter}"),
            (false, true) => "runs".to_string(),
        };
        if let Some(notice) = cx.notices.borrow().notice(Tab::Runs) {
            title = format!("{title} · {notice}");
        }
        if shown
            .iter()
            .any(|(r, _)| r.entry().is_some_and(possibly_optimistic))
        {
            title = format!("{title} · {OPTIMISTIC_MARK} possibly optimistic split");
        }
        let rows: Vec<Row> = shown
            .iter()
            .map(|(r, depth)| match r {
                Listed::Entry(entry) => self.entry_row(entry, *depth, None),
                Listed::Point(point) => match point.run() {
                    Some(run) => self.entry_row(run, *depth, point.queue()),
                    None => self.point_row(point, *depth),
                },
            })
            .collect();
        let (widths, header) = columns(self.live);
        let header = Row::new(header.to_vec()).style(Style::new().fg(ACCENT).bold());
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .header(header)
                .block(panel(&title))
                .row_highlight_style(Style::new().fg(Color::Black).bg(ACCENT)),
            table,
            &mut state,
        );
        match (&self.sweep_view, &self.log) {
            (Some(view), _) => view.draw(frame, chart),
            (None, Some(log)) => log.draw(frame, chart),
            (None, None) => self.draw_chart(frame, chart),
        }
    }
}

/// The table's column widths and headers: live (`lnmc watch DIR`), what a running run does;
/// else where and how long each ran.
fn columns(live: bool) -> ([Constraint; 8], [&'static str; 8]) {
    match live {
        true => (
            [
                Constraint::Min(14),
                Constraint::Length(15),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(4),
                Constraint::Length(9),
                Constraint::Length(8),
            ],
            [
                "run",
                "recent val loss",
                "epochs",
                "best acc",
                "cpu",
                "gpu",
                "memory",
                "status",
            ],
        ),
        false => (
            [
                Constraint::Min(14),
                Constraint::Length(16),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(9),
                Constraint::Length(9),
            ],
            [
                "run", "date", "epochs", "best acc", "F1", "device", "duration", "status",
            ],
        ),
    }
}
