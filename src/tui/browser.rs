//! The Dataset tab's cursor: which patches are listed (class, split and error filters), which
//! one is shown, and the CT window used to draw it.

use crossterm::event::KeyCode;

use super::keys::{Key, Keys, CANCEL, CONFIRM};
use crate::data::split::Split;
use crate::data::{Dataset, MALIGNANT};
use crate::evaluation::Evaluation;
use crate::patch_image::Window;

const STEP: Key = Key::pair(
    &[KeyCode::Left, KeyCode::Char('h'), KeyCode::Char('k')],
    &[KeyCode::Right, KeyCode::Char('l'), KeyCode::Char('j')],
    "previous/next",
);
const PAGE: Key = Key::pair(&[KeyCode::PageUp], &[KeyCode::PageDown], "±10").help();
const ENDS: Key = Key::pair(
    &[KeyCode::Char('g'), KeyCode::Home],
    &[KeyCode::Char('G'), KeyCode::End],
    "first/last",
)
.help();
const JUMP: Key = Key::new(&[KeyCode::Char('/')], "jump to index");
const FILTER: Key = Key::new(&[KeyCode::Char('f')], "filter class/errors/flagged");
const SIDE: Key = Key::new(&[KeyCode::Char('v')], "train/val/all");
const LEVEL: Key = Key::pair(&[KeyCode::Char('[')], &[KeyCode::Char(']')], "window level").help();
const WIDTH: Key = Key::pair(&[KeyCode::Char('{')], &[KeyCode::Char('}')], "window width").help();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassFilter {
    All,
    Benign,
    Malignant,
    /// Wrong predictions of the last evaluation, most confident first.
    Misclassified,
    /// Where the last evaluation's two checkpoints decide differently, largest difference in
    /// P(malignant) first.
    Disagreements,
    /// Patches flagged as doubtful labels.
    Flagged,
}

/// What the filters choose among.
pub struct Sets<'a> {
    pub data: &'a Dataset,
    pub split: &'a Split,
    pub evaluation: Option<&'a Evaluation>,
    /// Flagged patches, in index order.
    pub flagged: &'a [usize],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitFilter {
    All,
    Train,
    Val,
}

#[derive(Debug, Clone)]
pub struct Browser {
    pub class: ClassFilter,
    pub split: SplitFilter,
    /// Patch indices passing the filters, in browsing order.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub cursor: usize,
    pub window: Window,
    /// What one press of the level and width keys changes (`Window::steps`).
    steps: (f64, f64),
    /// The `/` prompt's text while typing an index.
    pub jump: Option<String>,
}

impl Browser {
    pub fn new(data: &Dataset) -> Browser {
        Browser {
            class: ClassFilter::All,
            split: SplitFilter::All,
            visible: (0..data.len()).collect(),
            cursor: 0,
            window: Window::for_scale(data.scale),
            steps: Window::steps(data.scale),
            jump: None,
        }
    }

    pub fn current(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    pub fn prompting(&self) -> bool {
        self.jump.is_some()
    }

    pub const KEYS: Keys = &[STEP, PAGE, ENDS, JUMP, FILTER, SIDE, LEVEL, WIDTH];

    pub fn on_key(&mut self, code: KeyCode, sets: &Sets) {
        if let Some(text) = &mut self.jump {
            match code {
                KeyCode::Char(c) if c.is_ascii_digit() => text.push(c),
                KeyCode::Backspace => {
                    text.pop();
                }
                code if CONFIRM.matches(code) => {
                    if let Ok(index) = text.parse::<usize>() {
                        self.go_to(index, sets);
                    }
                    self.jump = None;
                }
                code if CANCEL.matches(code) => self.jump = None,
                _ => {}
            }
            return;
        }
        let last = self.visible.len().saturating_sub(1) as i64;
        let move_by = |cursor: usize, by: i64| (cursor as i64 + by).clamp(0, last) as usize;
        if let Some(step) = STEP.step(code) {
            self.cursor = move_by(self.cursor, step);
        } else if let Some(step) = PAGE.step(code) {
            self.cursor = move_by(self.cursor, 10 * step);
        } else if let Some(step) = ENDS.step(code) {
            self.cursor = move_by(self.cursor, step * (last + 1));
        } else if JUMP.matches(code) {
            self.jump = Some(String::new());
        } else if FILTER.matches(code) {
            self.class = match self.class {
                ClassFilter::All => ClassFilter::Benign,
                ClassFilter::Benign => ClassFilter::Malignant,
                ClassFilter::Malignant if sets.evaluation.is_some() => ClassFilter::Misclassified,
                ClassFilter::Malignant | ClassFilter::Misclassified if !sets.flagged.is_empty() => {
                    ClassFilter::Flagged
                }
                _ => ClassFilter::All,
            };
            self.refilter(sets);
        } else if SIDE.matches(code) {
            self.split = match self.split {
                SplitFilter::All => SplitFilter::Train,
                SplitFilter::Train => SplitFilter::Val,
                SplitFilter::Val => SplitFilter::All,
            };
            self.refilter(sets);
        } else if let Some(step) = LEVEL.step(code) {
            self.window.level += self.steps.0 * step as f64;
        } else if let Some(step) = WIDTH.step(code) {
            let width = self.window.width + self.steps.1 * step as f64;
            self.window.width = width.max(self.steps.1);
        }
    }

    /// Shows where the two checkpoints of `evaluation` disagree, largest difference first.
    pub fn show_disagreements(&mut self, evaluation: &Evaluation) {
        self.class = ClassFilter::Disagreements;
        self.split = SplitFilter::All;
        self.visible = evaluation.disagreements();
        self.cursor = 0;
    }

    /// Shows the misclassified patches of `evaluation`, most confidently wrong first.
    pub fn show_misclassified(&mut self, evaluation: &Evaluation) {
        self.class = ClassFilter::Misclassified;
        self.split = SplitFilter::All;
        self.visible = evaluation.misclassified();
        self.cursor = 0;
    }

    fn go_to(&mut self, index: usize, sets: &Sets) {
        if !self.visible.contains(&index) && index < sets.data.len() {
            self.class = ClassFilter::All;
            self.split = SplitFilter::All;
            self.refilter(sets);
        }
        if let Some(pos) = self.visible.iter().position(|&i| i == index) {
            self.cursor = pos;
        }
    }

    pub fn refilter(&mut self, sets: &Sets) {
        let (data, split) = (sets.data, sets.split);
        let current = self.current();
        let mut in_split = vec![self.split == SplitFilter::All; data.len()];
        let side = match self.split {
            SplitFilter::All => &[][..],
            SplitFilter::Train => &split.train[..],
            SplitFilter::Val => &split.val[..],
        };
        for &i in side.iter().filter(|&&i| i < data.len()) {
            in_split[i] = true;
        }
        self.visible = match (self.class, sets.evaluation) {
            (ClassFilter::Misclassified, Some(e)) => e.misclassified(),
            (ClassFilter::Disagreements, Some(e)) => e.disagreements(),
            (ClassFilter::Flagged, _) => sets.flagged.to_vec(),
            (class, _) => (0..data.len())
                .filter(|&i| match class {
                    ClassFilter::Benign => data.labels[i] != MALIGNANT,
                    ClassFilter::Malignant => data.labels[i] == MALIGNANT,
                    _ => true,
                })
                .collect(),
        };
        self.visible.retain(|&i| in_split[i]);
        self.cursor = current
            .and_then(|c| self.visible.iter().position(|&i| i >= c))
            .unwrap_or(0);
    }
}
