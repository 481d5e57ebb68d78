//! Keys as data: each component lists the keys it handles next to the `match` that handles
//! them, and the footer hints and the help overlay are drawn from those lists, so what the
//! screen says and what the keys do cannot drift apart.

use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};

use super::widgets::ACCENT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// How the key is written on screen ("↑↓/jk").
    pub keys: &'static str,
    pub does: &'static str,
    /// Shown in the footer too, not only in the help overlay.
    pub hint: bool,
}

/// A key shown in the footer and the help overlay.
pub const fn hint(keys: &'static str, does: &'static str) -> Key {
    Key {
        keys,
        does,
        hint: true,
    }
}

/// A key listed in the help overlay only.
pub const fn help(keys: &'static str, does: &'static str) -> Key {
    Key {
        keys,
        does,
        hint: false,
    }
}

/// The footer: a key and what it does, for each hinted key.
pub fn hint_line<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Line<'static> {
    let mut spans = Vec::new();
    for key in keys.into_iter().filter(|k| k.hint) {
        spans.push(Span::styled(
            format!(" {} ", key.keys),
            Style::new().fg(Color::Black).bg(Color::DarkGray),
        ));
        spans.push(Span::raw(format!(" {} ", key.does)));
    }
    Line::from(spans)
}

/// The help overlay's lines: every key, hinted or not.
pub fn help_lines<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Vec<Line<'static>> {
    keys.into_iter()
        .map(|k| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", k.keys), Style::new().fg(ACCENT)),
                Span::raw(k.does),
            ])
        })
        .chain([
            Line::from(""),
            Line::from("any key closes this help".italic()),
        ])
        .collect()
}
