//! Evaluate tab: checkpoints on disk, and the metrics, confusion matrix and ROC curve of the
//! one evaluated last.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::app::App;
use super::ui::{axis_labels, panel, ACCENT, VAL_COLOUR};
use crate::eval::roc_curve;

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [list, result] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Min(0)]).areas(area);
    let items: Vec<ListItem> = app
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
    let scope = if app.eval_all {
        "all patches"
    } else {
        "val split"
    };
    let title = format!("checkpoints · enter evaluates on the {scope}");
    let list_widget = if items.is_empty() {
        List::new(vec![ListItem::new(
            "none yet: train a run, or copy a .pth into checkpoint/",
        )])
    } else {
        List::new(items)
    };
    let mut state = ListState::default().with_selected(Some(app.checkpoint_selected));
    frame.render_stateful_widget(
        list_widget
            .block(panel(&title))
            .highlight_style(Style::new().fg(Color::Black).bg(ACCENT)),
        list,
        &mut state,
    );

    let Some((name, e)) = &app.evaluation else {
        let text = if app.evaluating {
            "evaluating…"
        } else {
            "select a checkpoint and press enter"
        };
        frame.render_widget(Paragraph::new(text).block(panel("result")), result);
        return;
    };
    let [numbers, roc] =
        Layout::vertical([Constraint::Length(12), Constraint::Min(0)]).areas(result);
    let [metrics, confusion] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Min(0)]).areas(numbers);
    let m = &e.metrics;
    let mut lines: Vec<Line> = vec![
        Line::from(name.as_str().bold()),
        Line::from(format!("{} · n {}", e.split_name, m.n).dark_gray()),
    ];
    for (label, value) in [
        ("accuracy", m.accuracy),
        ("precision", m.precision),
        ("recall", m.recall),
        ("specificity", m.specificity),
        ("F1", m.f1),
        ("ROC AUC", m.auc),
    ] {
        lines.push(Line::from(vec![
            Span::raw(format!("{label:<12}")),
            format!("{value:.4}").bold(),
        ]));
    }
    if app.evaluating {
        lines.push(Line::from("evaluating…".italic()));
    }
    frame.render_widget(Paragraph::new(lines).block(panel("metrics")), metrics);
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
        Line::from("m: browse errors".dark_gray()),
    ];
    frame.render_widget(
        Paragraph::new(lines).block(panel("confusion (rows: truth)")),
        area,
    );
}
