//! Keys as data, as gitui's key list: one constant per action holds the key codes it answers
//! to, and its label is written from those codes. Handlers match through the constant
//! (`START.matches(code)`), and the footer hints, the help overlay and any text that names a key
//! ("s to start") are drawn from the same constant, so what the screen says and what the keys do
//! cannot drift apart.

use crossterm::event::KeyCode;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};

use super::widgets::ACCENT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The codes of the action; of a pair's forward step ("next", "more").
    pub codes: &'static [KeyCode],
    /// A pair's backward step ("previous", "less"), one for each of `codes`; else empty.
    pub back: &'static [KeyCode],
    pub does: &'static str,
    /// Shown in the footer too, not only in the help overlay.
    pub hint: bool,
}

/// The keys of a component, in the order help lists them.
pub type Keys = &'static [Key];

impl Key {
    /// An action on these keys, shown in the footer and the help overlay.
    pub const fn new(codes: &'static [KeyCode], does: &'static str) -> Key {
        Key {
            codes,
            back: &[],
            does,
            hint: true,
        }
    }

    /// A step back and forth: `back[i]` undoes `forward[i]`.
    pub const fn pair(
        back: &'static [KeyCode],
        forward: &'static [KeyCode],
        does: &'static str,
    ) -> Key {
        Key {
            codes: forward,
            back,
            does,
            hint: true,
        }
    }

    /// The same key, listed in the help overlay only.
    pub const fn help(self) -> Key {
        Key {
            hint: false,
            ..self
        }
    }

    /// The same key with another description (a component's own use of a shared key).
    pub const fn doing(self, does: &'static str) -> Key {
        Key { does, ..self }
    }

    pub fn matches(&self, code: KeyCode) -> bool {
        self.codes.contains(&code) || self.back.contains(&code)
    }

    /// +1 for a forward key, −1 for a backward one, None for another key.
    pub fn step(&self, code: KeyCode) -> Option<i64> {
        match (self.codes.contains(&code), self.back.contains(&code)) {
            (true, _) => Some(1),
            (_, true) => Some(-1),
            _ => None,
        }
    }

    /// How the key is written on screen: "s", "↑↓/kj", "1-4", "enter/e".
    pub fn label(&self) -> String {
        if self.back.is_empty() {
            return compact(self.codes.iter().map(|&c| name(c)).collect());
        }
        let pairs: Vec<String> = self
            .back
            .iter()
            .zip(self.codes)
            .map(|(&b, &f)| {
                let (b, f) = (name(b), name(f));
                // Symbols and letters pair up as "←→", "hl"; words as "pgup pgdn".
                match b.chars().count() == 1 && f.chars().count() == 1 {
                    true => format!("{b}{f}"),
                    false => format!("{b} {f}"),
                }
            })
            .collect();
        pairs.join("/")
    }
}

/// The name of one key code.
fn name(code: KeyCode) -> String {
    match code {
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "S-tab".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Backspace => "bksp".into(),
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Names joined by "/", a run of consecutive digits written as a range ("1-4").
fn compact(names: Vec<String>) -> String {
    let digit = |s: &str| s.len() == 1 && s.as_bytes()[0].is_ascii_digit();
    let mut out: Vec<String> = Vec::new();
    let mut k = 0;
    while k < names.len() {
        let mut end = k;
        while end + 1 < names.len()
            && digit(&names[end])
            && digit(&names[end + 1])
            && names[end + 1].as_bytes()[0] == names[end].as_bytes()[0] + 1
        {
            end += 1;
        }
        match end > k + 1 {
            true => out.push(format!("{}-{}", names[k], names[end])),
            false => out.extend(names[k..=end].iter().cloned()),
        }
        k = end + 1;
    }
    out.join("/")
}

// Keys several components share.
pub const SELECT: Key = Key::pair(
    &[KeyCode::Up, KeyCode::Char('k')],
    &[KeyCode::Down, KeyCode::Char('j')],
    "select",
);
pub const CONFIRM: Key = Key::new(&[KeyCode::Enter], "done");
pub const CANCEL: Key = Key::new(&[KeyCode::Esc], "cancel");
pub const RESCAN: Key = Key::new(&[KeyCode::Char('r')], "rescan").help();

/// The footer: a key and what it does, for each hinted key.
pub fn hint_line<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Line<'static> {
    let mut spans = Vec::new();
    for key in keys.into_iter().filter(|k| k.hint) {
        spans.push(Span::styled(
            format!(" {} ", key.label()),
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
                Span::styled(format!("{:>14}  ", k.label()), Style::new().fg(ACCENT)),
                Span::raw(k.does),
            ])
        })
        .chain([
            Line::from(""),
            Line::from("any key closes this help".italic()),
        ])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_written_from_the_codes() {
        assert_eq!(SELECT.label(), "↑↓/kj");
        assert_eq!(SELECT.step(KeyCode::Char('k')), Some(-1));
        assert_eq!(SELECT.step(KeyCode::Down), Some(1));
        assert_eq!(SELECT.step(KeyCode::Char('x')), None);
        let switch = Key::new(
            &[
                KeyCode::Char('1'),
                KeyCode::Char('2'),
                KeyCode::Char('3'),
                KeyCode::Char('4'),
            ],
            "tab",
        );
        assert_eq!(switch.label(), "1-4");
        assert_eq!(
            Key::new(&[KeyCode::Enter, KeyCode::Char('e')], "").label(),
            "enter/e"
        );
        assert!(!RESCAN.hint && RESCAN.matches(KeyCode::Char('r')));
    }
}
