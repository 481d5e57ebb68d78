//! What every tab is to the app: a `Panel` — its keys, whether it takes every key, what a key
//! does (one `Reply`), and how it draws — all given one `Context`. Adding a tab is a file
//! with a struct that implements `Panel`, and its entry in `app::TABS` and `App::panel`.
//!
//! A tab's own methods may take less than the context (the Runs tab's `on_key` needs nothing
//! but the key, and the tests drive it so); its `Panel` impl adapts.

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
    /// The last evaluation, with the checkpoint it was made with.
    pub evaluation: Option<Rc<(String, Evaluation)>>,
    /// The checkpoint the overlay explains: the one last evaluated, else the one selected in
    /// the Evaluate tab.
    pub checkpoint: Option<PathBuf>,
    /// The slices a patch is trained with under the Train form's settings (`--context`).
    pub context: usize,
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
