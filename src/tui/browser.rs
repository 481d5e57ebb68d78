//! The Dataset tab's cursor: which patches are listed (class, split and error filters), which
//! one is shown, and the CT window used to draw it.

use crossterm::event::KeyCode;

use super::keys::{help, hint, Key};
use crate::data::split::Split;
use crate::data::{Dataset, MALIGNANT};
use crate::evaluation::Evaluation;
use crate::patch_image::{Window, LUNG};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassFilter {
    All,
    Benign,
    Malignant,
    /// Wrong predictions of the last evaluation, most confident first.
    Misclassified,
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
            window: LUNG,
            jump: None,
        }
    }

    pub fn current(&self) -> Option<usize> {
        self.visible.get(self.cursor).copied()
    }

    pub fn prompting(&self) -> bool {
        self.jump.is_some()
    }

    pub const KEYS: &'static [Key] = &[
        hint("←→/jk", "previous/next"),
        help("pgup/pgdn", "±10"),
        help("g/G", "first/last"),
        hint("/", "jump to index"),
        hint("f", "filter class/errors/flagged"),
        hint("v", "train/val/all"),
        help("[ ]", "window level"),
        help("{ }", "window width"),
    ];

    pub fn on_key(&mut self, code: KeyCode, sets: &Sets) {
        if let Some(text) = &mut self.jump {
            match code {
                KeyCode::Char(c) if c.is_ascii_digit() => text.push(c),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Enter => {
                    if let Ok(index) = text.parse::<usize>() {
                        self.go_to(index, sets);
                    }
                    self.jump = None;
                }
                KeyCode::Esc => self.jump = None,
                _ => {}
            }
            return;
        }
        let last = self.visible.len().saturating_sub(1);
        match code {
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char('j') => {
                self.cursor = (self.cursor + 1).min(last)
            }
            KeyCode::Left | KeyCode::Char('h') | KeyCode::Char('k') => {
                self.cursor = self.cursor.saturating_sub(1)
            }
            KeyCode::PageDown => self.cursor = (self.cursor + 10).min(last),
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => self.cursor = 0,
            KeyCode::Char('G') | KeyCode::End => self.cursor = last,
            KeyCode::Char('/') => self.jump = Some(String::new()),
            KeyCode::Char('f') => {
                self.class = match self.class {
                    ClassFilter::All => ClassFilter::Benign,
                    ClassFilter::Benign => ClassFilter::Malignant,
                    ClassFilter::Malignant if sets.evaluation.is_some() => {
                        ClassFilter::Misclassified
                    }
                    ClassFilter::Malignant | ClassFilter::Misclassified
                        if !sets.flagged.is_empty() =>
                    {
                        ClassFilter::Flagged
                    }
                    _ => ClassFilter::All,
                };
                self.refilter(sets);
            }
            KeyCode::Char('v') => {
                self.split = match self.split {
                    SplitFilter::All => SplitFilter::Train,
                    SplitFilter::Train => SplitFilter::Val,
                    SplitFilter::Val => SplitFilter::All,
                };
                self.refilter(sets);
            }
            KeyCode::Char('[') => self.window.level -= 50.0,
            KeyCode::Char(']') => self.window.level += 50.0,
            KeyCode::Char('{') => self.window.width = (self.window.width - 100.0).max(100.0),
            KeyCode::Char('}') => self.window.width += 100.0,
            _ => {}
        }
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
