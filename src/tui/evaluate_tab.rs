//! Evaluate tab: checkpoints on disk, and the metrics, confusion matrix and ROC curve of the
//! one evaluated last.

use std::path::Path;

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::keys::{Key, Keys, RESCAN, SELECT};
use super::message::{Effect, Reply};
use super::widgets::{axis_labels, panel, ACCENT, VAL_COLOUR};
use crate::data;
use crate::data::split::SLICE_LEVEL_WARNING;
use crate::error::Result;
use crate::evaluation::{self, Evaluation};
use crate::metrics::roc_curve;
use crate::run::catalog::CheckpointEntry;

const EVALUATE: Key = Key::new(&[KeyCode::Enter], "evaluate");
const SCOPE: Key = Key::new(&[KeyCode::Char('a')], "val split / all");
const BROWSE_ERRORS: Key = Key::new(&[KeyCode::Char('m')], "browse misclassified");

#[derive(Default)]
pub struct EvaluateTab {
    checkpoints: Vec<CheckpointEntry>,
    selected: usize,
    /// Evaluate on every patch instead of the validation split.
    all: bool,
    evaluating: bool,
    /// The last evaluation, with the checkpoint it was made with.
    last: Option<(String, Evaluation)>,
}

impl EvaluateTab {
    pub fn last(&self) -> Option<&(String, Evaluation)> {
        self.last.as_ref()
    }

    /// The checkpoint other tabs explain with: the one evaluated last, else the one selected.
    pub fn checkpoint(&self) -> Option<&Path> {
        match &self.last {
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
                self.last = Some((checkpoint, e));
                line
            }
            Err(e) => format!("evaluation failed: {e}"),
        }
    }

    pub fn keys(&self) -> Vec<Key> {
        Self::KEYS.to_vec()
    }

    const KEYS: Keys = &[
        SELECT.doing("select checkpoint"),
        EVALUATE,
        SCOPE,
        BROWSE_ERRORS,
        RESCAN,
    ];

    pub fn on_key(&mut self, code: KeyCode, data: &data::Dataset) -> Reply {
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
                return Reply::Effect(Effect::Evaluate(evaluation::Request {
                    data: Some(data.path.clone()),
                    all: self.all,
                    ..evaluation::Request::new(entry.path.clone())
                }));
            }
        } else if BROWSE_ERRORS.matches(code) && self.last.is_some() {
            return Reply::BrowseMisclassified;
        }
        Reply::Done
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let [list, result] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Min(0)]).areas(area);
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
            list,
            &mut state,
        );

        let Some((name, e)) = &self.last else {
            let text = match self.evaluating {
                true => "evaluating…".to_string(),
                false => format!("select a checkpoint and press {}", EVALUATE.label()),
            };
            frame.render_widget(Paragraph::new(text).block(panel("result")), result);
            return;
        };
        let [numbers, roc] =
            Layout::vertical([Constraint::Length(13), Constraint::Min(0)]).areas(result);
        // Wide screens give the metrics room for their intervals; narrow ones keep the
        // confusion matrix whole.
        let share = if result.width >= 100 { 60 } else { 50 };
        let [metrics, confusion] =
            Layout::horizontal([Constraint::Percentage(share), Constraint::Min(0)]).areas(numbers);
        let m = &e.metrics;
        let mut lines: Vec<Line> = vec![
            Line::from(name.as_str().bold()),
            Line::from(format!("{} · n {}", e.split_name, m.n).dark_gray()),
        ];
        for row in m.rows(e.ci.as_ref()) {
            let mut spans = vec![
                Span::raw(format!("{:<12}", row.name)),
                format!("{:.4}", row.value).bold(),
            ];
            // The intervals where there is room for them: 80 columns show the values alone.
            if let (Some([lo, hi]), true) = (row.interval, metrics.width >= 36) {
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
        if e.slice_level {
            lines.push(Line::from(SLICE_LEVEL_WARNING.yellow()));
        }
        if self.evaluating {
            lines.push(Line::from("evaluating…".italic()));
        }
        frame.render_widget(
            Paragraph::new(lines).block(panel(match (metrics.width >= 36, &e.ci) {
                (true, Some(_)) => "metrics (95 % CI)",
                // Withheld, not missing: say so where there is room.
                (true, None) => "metrics (too few for a CI)",
                (false, _) => "metrics",
            })),
            metrics,
        );
        draw_confusion(frame, confusion, m.confusion);

        let points = roc_curve(&e.labels, &e.scores);
        let chance = [(0.0, 0.0), (1.0, 1.0)];
        let chart = Chart::new(vec![
            Dataset::default()
                .name("chance")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().dark_gray())
                .data(&chance),
            Dataset::default()
                .name(format!("AUC {:.3}", m.auc))
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(VAL_COLOUR))
                .data(&points),
        ])
        .block(panel("ROC curve"))
        .x_axis(
            Axis::default()
                .title("FPR")
                .bounds([0.0, 1.0])
                .labels(axis_labels(0.0, 1.0, 1)),
        )
        .y_axis(
            Axis::default()
                .title("TPR")
                .bounds([0.0, 1.0])
                .labels(axis_labels(0.0, 1.0, 1)),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight));
        frame.render_widget(chart, roc);
    }
}

fn draw_confusion(frame: &mut Frame, area: Rect, c: [[u64; 2]; 2]) {
    let cell = |count: u64, good: bool| {
        let colour = if good { Color::Green } else { Color::Red };
        Span::styled(
            format!("{count:^7}"),
            Style::new().fg(Color::Black).bg(colour).bold(),
        )
    };
    let lines = vec![
        Line::from("    predicted".dark_gray()),
        Line::from("        benign  malig.".dark_gray()),
        Line::from(vec![
            Span::raw("benign "),
            cell(c[0][0], true),
            Span::raw(" "),
            cell(c[0][1], false),
        ]),
        Line::from(""),
        Line::from(vec![
            Span::raw("malig. "),
            cell(c[1][0], false),
            Span::raw(" "),
            cell(c[1][1], true),
        ]),
        Line::from(""),
        Line::from(format!("{}: browse errors", BROWSE_ERRORS.label()).dark_gray()),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(panel("confusion (rows: truth)")),
        area,
    );
}
