//! Drawing the whole screen from the app's state: tab bar, the current tab, the key hints and
//! the overlays. Only reads the state.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Overlay, QUIT_ANYWAY, TABS};
use super::keys::{help_lines, hint_line};
use super::widgets::{popup, ACCENT};

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
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
    app.panel().draw(frame, body, &app.context());
    let keys = app.keys();
    frame.render_widget(Paragraph::new(hint_line(&keys)), footer);
    if app.overlay() == Overlay::Help {
        let name = TABS
            .iter()
            .find(|(t, _)| *t == app.tab())
            .map_or("", |(_, n)| *n);
        popup(frame, area, &format!("keys: {name}"), help_lines(&keys), 64);
    }
    if app.overlay() == Overlay::ConfirmQuit {
        let text = vec![
            Line::from("Training is running.".bold()),
            Line::from(""),
            Line::from(format!(
                "{}  stop, save the last completed epoch and quit",
                QUIT_ANYWAY.label()
            )),
            Line::from("any other key  cancel"),
        ];
        popup(frame, area, "quit?", text, 52);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![
        Span::styled(" lnmc ", Style::new().fg(Color::Black).bg(ACCENT).bold()),
        Span::raw(" "),
    ];
    for (i, (tab, name)) in TABS.iter().enumerate() {
        let style = if *tab == app.tab() {
            Style::new()
                .fg(ACCENT)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!("{} {name}", i + 1), style));
        spans.push(Span::raw("  "));
    }
    let source = if app.data().synthetic {
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
        .data()
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    spans.push(Span::raw(format!(" {name} · {} patches", app.data().len())));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
