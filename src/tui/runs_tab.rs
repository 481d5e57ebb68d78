//! Runs tab: every run on disk (and upstream loss files) in a table; the curves of the
//! selected one, or of two marked ones laid over each other.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::widgets::{Row, Table, TableState};
use ratatui::Frame;

use super::app::App;
use super::catalog::RunStatus;
use super::train_tab::loss_chart;
use super::ui::{panel, ACCENT};

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let table_height = (app.runs.len() as u16 + 3).clamp(4, area.height / 2);
    let [table, chart] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
    let rows: Vec<Row> = app
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mark = if app.run_marked.contains(&i) {
                "●"
            } else {
                " "
            };
            let best = r.best();
            let pct = |v: Option<f64>| {
                v.filter(|v| v.is_finite())
                    .map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
            };
            let (date, device) = match &r.config {
                Some(c) => (c.created.clone(), c.device.clone()),
                None => ("-".into(), "upstream".into()),
            };
            let status = match r.status {
                RunStatus::Running => "running".to_string(),
                RunStatus::Finished => "finished".to_string(),
                RunStatus::Stopped => "stopped".to_string(),
                RunStatus::Failed => "failed".to_string(),
                RunStatus::Imported => "read-only".to_string(),
            };
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
    let mut state = TableState::default().with_selected(Some(app.run_selected));
    frame.render_stateful_widget(
        Table::new(rows, widths)
            .header(header)
            .block(panel("runs"))
            .row_highlight_style(Style::new().fg(Color::Black).bg(ACCENT)),
        table,
        &mut state,
    );
    let chosen: Vec<(&str, &[crate::train::EpochRecord])> = app
        .run_marked
        .iter()
        .filter_map(|&i| app.runs.get(i))
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
