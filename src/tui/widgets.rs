//! What every panel shares: colours, the bordered panel, pop-ups, chart axes and the loss chart
//! that the Train and Runs tabs both draw.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Clear, Dataset, GraphType, Paragraph, Wrap};
use ratatui::Frame;

use crate::types::EpochRecord;

pub const ACCENT: Color = Color::Cyan;
pub const TRAIN_COLOUR: Color = Color::Yellow;
pub const VAL_COLOUR: Color = Color::Magenta;

pub fn popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, width: u16) {
    // As wide as asked where the screen allows; lines longer than that wrap, and the box grows
    // to hold them.
    let width = width.min(area.width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (rows as u16 + 2).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, cell);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .title(title.to_string())
                .border_style(Style::new().fg(ACCENT)),
        ),
        cell,
    );
}

/// A bordered block with a title, the look of every panel.
pub fn panel(title: &str) -> Block<'static> {
    Block::bordered().title(Span::styled(
        format!(" {title} "),
        Style::new().fg(ACCENT).bold(),
    ))
}

/// Axis labels: min, middle, max.
pub fn axis_labels(lo: f64, hi: f64, decimals: usize) -> Vec<Line<'static>> {
    [lo, (lo + hi) / 2.0, hi]
        .iter()
        .map(|v| Line::from(format!("{v:.decimals$}")))
        .collect()
}

/// Bounds that contain every value with a little room, never empty.
pub fn bounds(values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        return [0.0, 1.0];
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    [(lo - pad).max(0.0), hi + pad]
}

/// Train and val loss of one run over its epochs.
pub fn loss_chart(frame: &mut Frame, area: Rect, title: &str, history: &[EpochRecord]) {
    let curve = |loss: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|r| (r.epoch as f64, loss(r))).collect()
    };
    let points = [
        ("train".to_string(), TRAIN_COLOUR, curve(|r| r.train_loss)),
        ("val".to_string(), VAL_COLOUR, curve(|r| r.val_loss)),
    ];
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

/// The last `width` values as a line of block characters, lowest ▁ to highest █: on `range`
/// where given (a percentage on 0–100), else on their own lowest and highest.
pub fn sparkline(
    values: impl Iterator<Item = f64>,
    width: usize,
    range: Option<[f64; 2]>,
) -> String {
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let recent = &values[values.len().saturating_sub(width)..];
    let [lo, hi] = range.unwrap_or_else(|| {
        let (lo, hi) = recent
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        [lo, hi]
    });
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    recent
        .iter()
        .map(|&v| {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            BARS[((t.clamp(0.0, 1.0) * 7.0).round() as usize).min(7)]
        })
        .collect()
}
