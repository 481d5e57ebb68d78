//! Runs tab: every run on disk (and upstream loss files) in a table; the curves of the
//! selected one, or of two marked ones laid over each other.

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
    selected: usize,
    /// Runs marked with space for an overlay.
    marked: Vec<usize>,
}

impl RunsTab {
    pub fn runs(&self) -> &[RunEntry] {
        &self.runs
    }

    pub fn set_runs(&mut self, runs: Vec<RunEntry>) {
        self.selected = self.selected.min(runs.len().saturating_sub(1));
        self.runs = runs;
    }

    pub fn keys(&self) -> Vec<Key> {
        Self::KEYS.to_vec()
    }

    const KEYS: &'static [Key] = &[
        hint("↑↓/jk", "select run"),
        hint("enter", "show curves"),
        hint("space", "overlay (two runs)"),
        help("r", "rescan"),
    ];

    pub fn on_key(&mut self, code: KeyCode) -> Reply {
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.runs.len().saturating_sub(1))
            }
            KeyCode::Enter => self.marked = vec![self.selected],
            KeyCode::Char(' ') => {
                let i = self.selected;
                if let Some(pos) = self.marked.iter().position(|&m| m == i) {
                    self.marked.remove(pos);
                } else {
                    self.marked.push(i);
                    if self.marked.len() > 2 {
                        self.marked.remove(0);
                    }
                }
            }
            KeyCode::Char('r') => return Reply::Effect(Effect::Rescan),
            _ => {}
        }
        Reply::Done
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let table_height = (self.runs.len() as u16 + 3).clamp(4, area.height / 2);
        let [table, chart] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
        let rows: Vec<Row> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mark = if self.marked.contains(&i) { "●" } else { " " };
                let best = r.best();
                let pct = |v: Option<f64>| {
                    v.filter(|v| v.is_finite())
                        .map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
                };
                let (date, device) = match &r.config {
                    Some(c) => (c.created.clone(), c.device.clone()),
                    None => ("-".into(), "upstream".into()),
                };
                let status = r.status.label().to_string();
                let minutes = r.duration().as_secs_f64() / 60.0;
                Row::new(vec![
                    format!("{mark} {}", r.name),
                    date,
                    r.history.len().to_string(),
                    pct(best.map(|b| b.val_acc)),
                    best.map(|b| b.val_f1)
                        .filter(|v| v.is_finite())
                        .map_or("-".into(), |v| format!("{v:.4}")),
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
        let chosen: Vec<(&str, &[EpochRecord])> = self
            .marked
            .iter()
            .filter_map(|&i| self.runs.get(i))
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
