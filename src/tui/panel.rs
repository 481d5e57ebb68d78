//! What every tab is to the app: a `Panel` — its keys, whether it takes every key, what a key
//! does (one `Reply`), and how it draws — all given one `Context`, which also carries the one
//! place for the app's log and the tabs' notices. Adding a tab is a file with a struct that
//! implements `Panel`, its entry in `Tab` and `TABS`, and its arm in `App::panel` and
//! `App::on_tab_key`.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::keys::Key;
use super::message::Reply;
use crate::data::split::Split;
use crate::data::Dataset;
use crate::evaluation::Evaluation;

/// The tabs, in their order on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Train,
    Dataset,
    Evaluate,
    Runs,
}

pub const TABS: [(Tab, &str); 4] = [
    (Tab::Train, "Train"),
    (Tab::Dataset, "Dataset"),
    (Tab::Evaluate, "Evaluate"),
    (Tab::Runs, "Runs"),
];

/// Lines kept in the log.
const LOG_LINES: usize = 500;

/// The app's log (drawn in the Train tab) and each tab's latest notice, in one place: panels
/// and the app write to it, panels read what they show from it.
#[derive(Debug, Default)]
pub struct Notices {
    log: Vec<String>,
    notices: Vec<(Tab, String)>,
}

impl Notices {
    pub fn log(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
        if self.log.len() > LOG_LINES {
            self.log.remove(0);
        }
    }

    pub fn lines(&self) -> &[String] {
        &self.log
    }

    /// A followed run's own log instead, so the panel reads as it would in the writer's
    /// dashboard.
    pub fn replace_log(&mut self, lines: Vec<String>) {
        self.log = lines;
    }

    /// What `tab` shows as the outcome of its last action (an export, a report).
    pub fn notify(&mut self, tab: Tab, text: impl Into<String>) {
        self.notices.retain(|(t, _)| *t != tab);
        self.notices.push((tab, text.into()));
    }

    pub fn notice(&self, tab: Tab) -> Option<&str> {
        self.notices
            .iter()
            .find(|(t, _)| *t == tab)
            .map(|(_, text)| text.as_str())
    }
}

pub trait Panel {
    /// Its keys, the footer's and help's.
    fn keys(&self) -> Vec<Key>;
    /// Whether it takes every key (a field or a prompt being typed into).
    fn captures_input(&self) -> bool {
        false
    }
    fn on_key(&mut self, key: KeyEvent, cx: &Context) -> Reply;
    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context);
}

/// What a panel reads besides its own state. It borrows no tab (the evaluation is shared, the
/// checkpoint a copy), so the app can hand it to any tab while that tab changes.
pub struct Context<'a> {
    pub data: &'a Dataset,
    pub split: &'a Split,
    /// Whether each row is on the split's validation side.
    pub in_val: &'a [bool],
    /// Each nodule's rows in order, or why the file cannot tell them.
    pub nodules: &'a crate::data::context::Lookup,
    /// The last evaluation, with the checkpoint it was made with.
    pub evaluation: Option<Rc<(String, Evaluation)>>,
    /// The checkpoint the overlay explains: the one last evaluated, else the one selected in
    /// the Evaluate tab.
    pub checkpoint: Option<PathBuf>,
    /// The slices a patch is trained with under the Train form's settings (`--context`).
    pub context: usize,
    /// The app's log and the tabs' notices: panels write what they have to say here.
    pub notices: &'a RefCell<Notices>,
}

impl Context<'_> {
    /// The last evaluation, if any.
    pub fn evaluation(&self) -> Option<&(String, Evaluation)> {
        self.evaluation.as_deref()
    }

    /// The second checkpoint the last evaluation was compared with.
    pub fn second(&self) -> Option<&Path> {
        self.evaluation()?
            .1
            .against
            .as_ref()
            .map(|a| a.checkpoint.as_path())
    }
}
