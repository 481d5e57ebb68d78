//! A run's log.txt over the Runs tab: its tail, scrollable, following while it grows (read
//! again every second), so nobody needs a second SSH session to read it.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::keys::{Key, Keys, CANCEL};
use super::message::Reply;
use super::widgets::panel;

/// Opens and closes the log of the selected run (the Runs tab's key, and this view's).
pub const LOG: Key = Key::new(&[KeyCode::Char('v')], "view log");
const SCROLL: Key = Key::pair(
    &[KeyCode::Up, KeyCode::Char('k')],
    &[KeyCode::Down, KeyCode::Char('j')],
    "scroll",
);
const PAGE: Key = Key::pair(&[KeyCode::PageUp], &[KeyCode::PageDown], "page").help();
const FOLLOW: Key = Key::new(&[KeyCode::End, KeyCode::Char('G')], "follow");

pub struct LogView {
    run_dir: PathBuf,
    name: String,
    lines: Vec<String>,
    /// Lines scrolled back from the end; 0 follows the end as the log grows.
    back: usize,
    /// Rows the last frame showed, for a page's step (drawing only reads the state).
    page: Cell<usize>,
}

impl LogView {
    pub fn new(run_dir: PathBuf, name: String) -> LogView {
        LogView {
            run_dir,
            name,
            lines: Vec::new(),
            back: 0,
            page: Cell::new(10),
        }
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn following(&self) -> bool {
        self.back == 0
    }

    /// The log as read again. Scrolled back, the same lines stay in view as new ones arrive.
    pub fn set_lines(&mut self, lines: Vec<String>) {
        if self.back > 0 {
            self.back += lines.len().saturating_sub(self.lines.len());
        }
        self.lines = lines;
        self.back = self.back.min(self.lines.len().saturating_sub(1));
    }

    pub const KEYS: Keys = &[
        SCROLL,
        PAGE,
        FOLLOW,
        CANCEL.doing("close"),
        LOG.doing("close").help(),
    ];

    pub fn on_key(&mut self, code: KeyCode) -> Reply {
        let last = self.lines.len().saturating_sub(1) as i64;
        let mut scroll = |by: i64| {
            self.back = (self.back as i64 - by).clamp(0, last) as usize;
        };
        if LOG.matches(code) || CANCEL.matches(code) {
            return Reply::Close;
        } else if let Some(step) = SCROLL.step(code) {
            scroll(step);
        } else if let Some(step) = PAGE.step(code) {
            let page = self.page.get() as i64;
            scroll(step * page);
        } else if FOLLOW.matches(code) {
            self.back = 0;
        }
        Reply::Done
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect) {
        let rows = area.height.saturating_sub(2) as usize;
        self.page.set(rows.max(1));
        let end = self.lines.len() - self.back.min(self.lines.len());
        let start = end.saturating_sub(rows);
        let shown: Vec<Line> = match self.lines.is_empty() {
            true => vec![Line::from("(no log.txt yet)".dark_gray())],
            false => self.lines[start..end]
                .iter()
                .map(|l| Line::from(l.as_str().to_owned()))
                .collect(),
        };
        let state = match self.back {
            0 => "following".to_string(),
            n => format!("{n} lines back · {} to follow", FOLLOW.label()),
        };
        frame.render_widget(Clear, area);
        frame.render_widget(
            Paragraph::new(shown).block(panel(&format!("log · {} · {state}", self.name))),
            area,
        );
    }
}
