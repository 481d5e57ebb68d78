//! Drawing the whole screen: tab bar, the current tab, key hints, overlays.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Tab, TABS};
use super::{dataset_tab, evaluate_tab, runs_tab, train_tab};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
pub const ACCENT: Color = Color::Cyan;
pub const TRAIN_COLOUR: Color = Color::Yellow;
pub const VAL_COLOUR: Color = Color::Magenta;

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small: need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app);
    match app.tab {
        Tab::Train => train_tab::draw(frame, body, app),
        Tab::Dataset => dataset_tab::draw(frame, body, app),
        Tab::Evaluate => evaluate_tab::draw(frame, body, app),
        Tab::Runs => runs_tab::draw(frame, body, app),
    }
    let hints: Vec<(&str, &str)> = keys(app.tab)
        .iter()
        .filter(|(_, _, short)| *short)
        .map(|(k, d, _)| (*k, *d))
        .collect();
    frame.render_widget(Paragraph::new(hint_line(&hints)), footer);
    if app.help {
        draw_help(frame, area, app.tab);
    }
    if app.confirm_quit {
        let text = vec![
            Line::from("Training is running.".bold()),
            Line::from(""),
            Line::from("s  stop, save the last completed epoch and quit"),
            Line::from("any other key  cancel"),
        ];
        popup(frame, area, "quit?", text, 50, 6);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![
        Span::styled(" lnmc ", Style::new().fg(Color::Black).bg(ACCENT).bold()),
        Span::raw(" "),
    ];
    for (i, (tab, name)) in TABS.iter().enumerate() {
        let style = if *tab == app.tab {
            Style::new()
                .fg(ACCENT)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!("{} {name}", i + 1), style));
        spans.push(Span::raw("  "));
    }
    let source = if app.data.synthetic {
        Span::styled(
            " SYNTHETIC data ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        )
    } else {
        Span::styled(
            " real data ",
            Style::new().fg(Color::Black).bg(Color::Green),
        )
    };
    spans.push(source);
    let name = app
        .data
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    spans.push(Span::raw(format!(" {name} · {} patches", app.data.len())));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Keys of each tab: (key, what it does, shown in the footer).
pub fn keys(tab: Tab) -> &'static [(&'static str, &'static str, bool)] {
    match tab {
        Tab::Train => &[
            ("↑↓/jk", "select field", false),
            ("enter/e", "edit field", false),
            ("←→", "change device", false),
            ("s", "start", true),
            ("p", "pause/resume", true),
            ("x", "stop & save", true),
            ("1-4/tab", "switch tab", true),
            ("?", "help", true),
            ("q", "quit", true),
        ],
        Tab::Dataset => &[
            ("←→/jk", "previous/next", true),
            ("pgup/pgdn", "±10", false),
            ("g/G", "first/last", false),
            ("/", "jump to index", true),
            ("f", "filter class/errors", true),
            ("v", "train/val/all", true),
            ("[ ]", "window level", false),
            ("{ }", "window width", false),
            ("?", "help", true),
            ("q", "quit", true),
        ],
        Tab::Evaluate => &[
            ("↑↓/jk", "select checkpoint", true),
            ("enter", "evaluate", true),
            ("a", "val split / all", true),
            ("m", "browse misclassified", true),
            ("r", "rescan", false),
            ("?", "help", true),
            ("q", "quit", true),
        ],
        Tab::Runs => &[
            ("↑↓/jk", "select run", true),
            ("enter", "show curves", true),
            ("space", "overlay (two runs)", true),
            ("r", "rescan", false),
            ("?", "help", true),
            ("q", "quit", true),
        ],
    }
}

fn hint_line(hints: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, what) in hints {
        spans.push(Span::styled(
            format!(" {key} "),
            Style::new().fg(Color::Black).bg(Color::DarkGray),
        ));
        spans.push(Span::raw(format!(" {what} ")));
    }
    Line::from(spans)
}

fn draw_help(frame: &mut Frame, area: Rect, tab: Tab) {
    let name = TABS.iter().find(|(t, _)| *t == tab).map_or("", |(_, n)| *n);
    let lines: Vec<Line> = keys(tab)
        .iter()
        .map(|(k, d, _)| {
            Line::from(vec![
                Span::styled(format!("{k:>12}  "), Style::new().fg(ACCENT)),
                Span::raw(*d),
            ])
        })
        .chain([
            Line::from(""),
            Line::from("any key closes this help".italic()),
        ])
        .collect();
    let height = lines.len() as u16 + 2;
    popup(frame, area, &format!("keys: {name}"), lines, 46, height);
}

pub fn popup(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line>,
    width: u16,
    height: u16,
) {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, cell);
    frame.render_widget(
        Paragraph::new(lines).block(
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
