//! Runs tab: every run on disk (and upstream loss files) in a table; the curves of the
//! selected one, or of two marked ones laid over each other.

use std::collections::HashSet;
use std::path::PathBuf;

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::widgets::{Row, Table, TableState};
use ratatui::Frame;

use super::keys::{help, hint, Key};
use super::message::{Effect, Reply};
use super::widgets::{loss_chart, panel, ACCENT};
use crate::run::catalog::RunEntry;
use crate::types::EpochRecord;

#[derive(Default)]
pub struct RunsTab {
    runs: Vec<RunEntry>,
    /// Cross-validations opened into their folds.
    expanded: HashSet<PathBuf>,
    /// Position among the visible rows.
    selected: usize,
    /// Runs marked for the overlay, by directory (rows move when a cross-validation opens).
    marked: Vec<PathBuf>,
}

impl RunsTab {
    pub fn runs(&self) -> &[RunEntry] {
        &self.runs
    }

    pub fn set_runs(&mut self, runs: Vec<RunEntry>) {
        self.runs = runs;
        self.selected = self.selected.min(self.rows().len().saturating_sub(1));
    }

    /// The rows shown: every run, and under each opened cross-validation its folds (depth 1).
    pub fn rows(&self) -> Vec<(&RunEntry, usize)> {
        let mut rows = Vec::new();
        for run in &self.runs {
            rows.push((run, 0));
            if self.expanded.contains(&run.path) {
                rows.extend(run.folds.iter().map(|f| (f, 1)));
            }
        }
        rows
    }

    pub fn keys(&self) -> Vec<Key> {
        Self::KEYS.to_vec()
    }

    const KEYS: &'static [Key] = &[
        hint("↑↓/jk", "select run"),
        hint("enter", "show curves"),
        hint("space", "overlay (two runs)"),
        help("enter", "open/close a cross-validation's folds"),
        help("r", "rescan"),
    ];

    pub fn on_key(&mut self, code: KeyCode) -> Reply {
        let rows = self.rows();
        let selected = rows
            .get(self.selected)
            .map(|(r, _)| (r.path.clone(), r.is_cross_validation()));
        let count = rows.len();
        match (code, selected) {
            (KeyCode::Up | KeyCode::Char('k'), _) => {
                self.selected = self.selected.saturating_sub(1)
            }
            (KeyCode::Down | KeyCode::Char('j'), _) => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1))
            }
            (KeyCode::Enter, Some((path, true))) => {
                if !self.expanded.remove(&path) {
                    self.expanded.insert(path);
                }
            }
            (KeyCode::Enter, Some((path, false))) => self.marked = vec![path],
            (KeyCode::Char(' '), Some((path, false))) => {
                if let Some(pos) = self.marked.iter().position(|m| *m == path) {
                    self.marked.remove(pos);
                } else {
                    self.marked.push(path);
                    if self.marked.len() > 2 {
                        self.marked.remove(0);
                    }
                }
            }
            (KeyCode::Char('r'), _) => return Reply::Effect(Effect::Rescan),
            _ => {}
        }
        Reply::Done
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let shown = self.rows();
        let table_height = (shown.len() as u16 + 3).clamp(4, area.height / 2);
        let [table, chart] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
        let rows: Vec<Row> = shown
            .iter()
            .map(|&(r, depth)| {
                let mark = if self.marked.contains(&r.path) {
                    "●"
                } else {
                    " "
                };
                let best = r.best();
                let pct = |v: Option<f64>| {
                    v.filter(|v| v.is_finite())
                        .map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
                };
                let f1 = |v: Option<f64>| {
                    v.filter(|v| v.is_finite())
                        .map_or("-".into(), |v| format!("{v:.4}"))
                };
                let (date, device) = match &r.config {
                    Some(c) => (c.created.clone(), c.device.clone()),
                    None => ("-".into(), "upstream".into()),
                };
                let status = r.status.label().to_string();
                let minutes = r.duration().as_secs_f64() / 60.0;
                // A cross-validation shows its folds' mean, and opens into them.
                let (name, epochs, acc, f1) = if r.is_cross_validation() {
                    let open = if self.expanded.contains(&r.path) {
                        "▾"
                    } else {
                        "▸"
                    };
                    let means = r.fold_means();
                    (
                        format!("{open} {} · {}-fold CV", r.name, r.folds.len()),
                        format!("{} f", r.folds.len()),
                        pct(means.map(|m| m.0)),
                        f1(means.map(|m| m.1)),
                    )
                } else {
                    (
                        format!("{}{mark} {}", "  ".repeat(depth), r.name),
                        r.history.len().to_string(),
                        pct(best.map(|b| b.val_acc)),
                        f1(best.map(|b| b.val_f1)),
                    )
                };
                Row::new(vec![
                    name,
                    date,
                    epochs,
                    acc,
                    f1,
                    device,
                    format!("{minutes:.1} min"),
                    status,
                ])
            })
            .collect();
        let widths = [
            Constraint::Min(14),
            Constraint::Length(15),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(9),
        ];
        let header = Row::new(vec![
            "run", "date", "epochs", "best acc", "F1", "device", "duration", "status",
        ])
        .style(Style::new().fg(ACCENT).bold());
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .header(header)
                .block(panel("runs"))
                .row_highlight_style(Style::new().fg(Color::Black).bg(ACCENT)),
            table,
            &mut state,
        );
        let everything = self
            .runs
            .iter()
            .flat_map(|r| std::iter::once(r).chain(&r.folds));
        let chosen: Vec<(&str, &[EpochRecord])> = everything
            .filter(|r| self.marked.contains(&r.path))
            .map(|r| (r.name.as_str(), &r.history[..]))
            .collect();
        if chosen.is_empty() {
            frame.render_widget(
                ratatui::widgets::Paragraph::new(
                    "enter shows a run's curves, space marks two to overlay".dark_gray(),
                )
                .block(panel("curves")),
                chart,
            );
        } else {
            loss_chart(frame, chart, "loss per epoch", &chosen);
        }
    }
}
