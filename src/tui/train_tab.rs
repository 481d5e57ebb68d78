//! Train tab: the hyper-parameter form, live loss curves, progress, throughput and the log.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Chart, Dataset, Gauge, GraphType, List, ListItem, Paragraph, Sparkline, Wrap,
};
use ratatui::Frame;

use super::app::{App, Status, Training};
use super::form::FIELDS;
use super::ui::{axis_labels, bounds, panel, ACCENT, TRAIN_COLOUR, VAL_COLOUR};
use crate::train::EpochRecord;

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(area);
    let [form, status] = Layout::vertical([
        Constraint::Length(FIELDS.len() as u16 + 3),
        Constraint::Min(0),
    ])
    .areas(left);
    draw_form(frame, form, app);
    draw_status(frame, status, &app.training);
    let log_height = if area.height >= 36 { 8 } else { 5 };
    let [chart, gauges, sparks, log] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Length(log_height),
    ])
    .areas(right);
    let title = match &app.training.run {
        Some(run) => format!("loss per epoch · run {run}"),
        None => "loss per epoch".to_string(),
    };
    loss_chart(frame, chart, &title, &[("", &app.training.history)]);
    draw_gauges(frame, gauges, &app.training);
    draw_sparklines(frame, sparks, &app.training);
    let items: Vec<ListItem> = app
        .log
        .iter()
        .rev()
        .take(log.height as usize)
        .rev()
        .map(|l| ListItem::new(l.as_str()))
        .collect();
    frame.render_widget(List::new(items).block(panel("log")), log);
}

fn draw_form(frame: &mut Frame, area: Rect, app: &App) {
    let form = &app.form;
    let locked = app.training.is_active();
    let mut lines: Vec<Line> = FIELDS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let selected = i == form.selected && !locked;
            let value = match (&form.draft, selected) {
                (Some(draft), true) => format!("{draft}▏"),
                _ => form.values[i].clone(),
            };
            let style = if selected {
                Style::new().fg(Color::Black).bg(ACCENT)
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::raw(format!("{name:>13} ")),
                Span::styled(format!(" {value:<11}"), style),
            ])
        })
        .collect();
    lines.push(match &form.error {
        Some(e) => Line::from(e.as_str().red()),
        None if locked => Line::from("locked while training".dark_gray()),
        None => Line::from("s to start".dark_gray()),
    });
    frame.render_widget(Paragraph::new(lines).block(panel("hyper-parameters")), area);
}

fn draw_status(frame: &mut Frame, area: Rect, t: &Training) {
    let status = match &t.status {
        Status::Idle => "idle".to_string(),
        Status::Running => "running".to_string(),
        Status::Paused => "paused".to_string(),
        Status::Finished => "finished".to_string(),
        Status::Stopped => "stopped (resumable)".to_string(),
        Status::Failed(e) => format!("failed: {e}"),
        Status::Watching if t.stale_seconds.is_some() => "stopped".to_string(),
        Status::Watching => "watching".to_string(),
    };
    let mut lines = vec![Line::from(vec!["status  ".dark_gray(), status.bold()])];
    if let (Status::Watching, Some(s)) = (&t.status, t.stale_seconds) {
        lines.push(Line::from(format!("        (no update for {s} s)")));
    }
    lines.extend([
        Line::from(vec![
            "device  ".dark_gray(),
            Span::raw(if t.device.is_empty() { "-" } else { &t.device }),
        ]),
        Line::from(vec![
            "speed   ".dark_gray(),
            Span::raw(format!("{:.0} samples/s", t.samples_per_second)),
        ]),
        Line::from(vec![
            "eta     ".dark_gray(),
            Span::raw(t.eta_seconds().map_or("-".into(), |s| {
                format!("{:.0} min {:02.0} s", (s / 60.0).floor(), s % 60.0)
            })),
        ]),
    ]);
    if let Some(b) = t.best() {
        lines.push(Line::from(vec![
            "best    ".dark_gray(),
            Span::styled(
                format!("{:.2} % acc", 100.0 * b.val_acc),
                Style::new().fg(Color::Green).bold(),
            ),
        ]));
        lines.push(Line::from(format!(
            "        F1 {:.4} · epoch {}",
            b.val_f1, b.epoch
        )));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("status")),
        area,
    );
}

/// Train and val loss of one or more runs; the legend names each curve.
pub fn loss_chart(frame: &mut Frame, area: Rect, title: &str, runs: &[(&str, &[EpochRecord])]) {
    let points: Vec<(String, Color, Vec<(f64, f64)>)> = runs
        .iter()
        .enumerate()
        .flat_map(|(k, (name, history))| {
            let dim = if k == 0 { "" } else { " ²" };
            let prefix = if name.is_empty() {
                String::new()
            } else {
                format!("{name} ")
            };
            let train: Vec<(f64, f64)> = history
                .iter()
                .map(|r| (r.epoch as f64, r.train_loss))
                .collect();
            let val: Vec<(f64, f64)> = history
                .iter()
                .map(|r| (r.epoch as f64, r.val_loss))
                .collect();
            let (tc, vc) = if k == 0 {
                (TRAIN_COLOUR, VAL_COLOUR)
            } else {
                (Color::LightGreen, Color::LightBlue)
            };
            [
                (format!("{prefix}train{dim}"), tc, train),
                (format!("{prefix}val{dim}"), vc, val),
            ]
        })
        .collect();
    let max_epoch = points
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|(x, _)| *x))
        .fold(2.0, f64::max);
    let y = bounds(
        points
            .iter()
            .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y)),
    );
    let datasets = points
        .iter()
        .map(|(name, colour, data)| {
            Dataset::default()
                .name(name.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(*colour))
                .data(data)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(panel(title))
        .x_axis(
            Axis::default()
                .title("epoch")
                .bounds([1.0, max_epoch])
                .labels([Line::from("1"), Line::from(format!("{max_epoch:.0}"))]),
        )
        .y_axis(
            Axis::default()
                .title("loss")
                .bounds(y)
                .labels(axis_labels(y[0], y[1], 3)),
        )
        .legend_position(Some(ratatui::widgets::LegendPosition::TopRight))
        .hidden_legend_constraints((Constraint::Percentage(50), Constraint::Percentage(50)));
    frame.render_widget(chart, area);
}

fn draw_gauges(frame: &mut Frame, area: Rect, t: &Training) {
    let [epoch, total] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let epoch_label = format!(
        "epoch {}/{} · batch {}/{}",
        t.epoch, t.epochs, t.batch, t.batches
    );
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(TRAIN_COLOUR))
            .ratio(t.epoch_progress())
            .label(epoch_label),
        epoch,
    );
    let total_label = format!("run {:.0} %", 100.0 * t.progress());
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(ACCENT))
            .ratio(t.progress())
            .label(total_label),
        total,
    );
}

fn draw_sparklines(frame: &mut Frame, area: Rect, t: &Training) {
    let [losses, accs] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let loss_values = newest(&t.batch_losses, losses);
    let max_loss = loss_values.iter().copied().fold(1e-9, f64::max);
    let loss_bars: Vec<u64> = loss_values
        .iter()
        .map(|l| (l / max_loss * 100.0) as u64)
        .collect();
    let last = t
        .batch_losses
        .last()
        .map_or("-".into(), |l| format!("{l:.3}"));
    frame.render_widget(
        Sparkline::default()
            .block(panel(&format!("batch loss {last}")))
            .style(Style::new().fg(TRAIN_COLOUR))
            .data(&loss_bars),
        losses,
    );
    let accs_values: Vec<f64> = t.history.iter().map(|r| r.val_acc).collect();
    let acc_bars: Vec<u64> = newest(&accs_values, accs)
        .iter()
        .map(|a| (a * 100.0) as u64)
        .collect();
    let last = accs_values
        .last()
        .map_or("-".into(), |a| format!("{:.1}%", 100.0 * a));
    frame.render_widget(
        Sparkline::default()
            .block(panel(&format!("val acc {last}")))
            .style(Style::new().fg(VAL_COLOUR))
            .max(100)
            .data(&acc_bars),
        accs,
    );
}

/// The most recent values that fit inside a bordered `area`, oldest first.
fn newest(values: &[f64], area: Rect) -> &[f64] {
    let fit = area.width.saturating_sub(2) as usize;
    &values[values.len().saturating_sub(fit)..]
}
