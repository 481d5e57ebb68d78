//! The Train tab's hyper-parameter form: named fields edited in place, read back as `Hyper`
//! with the CLI's own checks.

use crossterm::event::KeyCode;

use super::keys::{help, Key};
use crate::error::{Error, Result};
use crate::types::{DeviceChoice, Hyper};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Epochs,
    BatchSize,
    Lr,
    WeightDecay,
    Dropout,
    Seed,
    Device,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Epochs,
        Field::BatchSize,
        Field::Lr,
        Field::WeightDecay,
        Field::Dropout,
        Field::Seed,
        Field::Device,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Epochs => "epochs",
            Field::BatchSize => "batch size",
            Field::Lr => "lr",
            Field::WeightDecay => "weight decay",
            Field::Dropout => "dropout",
            Field::Seed => "seed",
            Field::Device => "device",
        }
    }

    fn index(self) -> usize {
        Field::ALL.iter().position(|&f| f == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    /// The typed text of each numeric field, by `Field::index`; the device is a choice.
    texts: [String; 6],
    device: DeviceChoice,
    selected: Field,
    /// The text being typed into the selected field, if editing.
    draft: Option<String>,
    error: Option<String>,
}

impl Form {
    pub fn new(h: Hyper) -> Form {
        Form {
            texts: [
                h.epochs.to_string(),
                h.batch_size.to_string(),
                h.lr.to_string(),
                h.weight_decay.to_string(),
                h.dropout.to_string(),
                h.seed.to_string(),
            ],
            device: DeviceChoice::Auto,
            selected: Field::Epochs,
            draft: None,
            error: None,
        }
    }

    /// The form's value of `field` as shown.
    pub fn value(&self, field: Field) -> &str {
        match field {
            Field::Device => self.device.name(),
            f => &self.texts[f.index()],
        }
    }

    pub fn selected(&self) -> Field {
        self.selected
    }

    pub fn draft(&self) -> Option<&str> {
        self.draft.as_deref()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn editing(&self) -> bool {
        self.draft.is_some()
    }

    pub const KEYS: &'static [Key] = &[
        help("↑↓/jk", "select field"),
        help("enter/e", "edit field"),
        help("←→", "change device"),
    ];

    pub fn on_key(&mut self, code: KeyCode) {
        if let Some(draft) = &mut self.draft {
            match code {
                KeyCode::Enter => {
                    self.texts[self.selected.index()] = draft.trim().to_string();
                    self.draft = None;
                    self.error = self.hyper().err().map(|e| e.to_string());
                }
                KeyCode::Esc => self.draft = None,
                KeyCode::Backspace => {
                    draft.pop();
                }
                KeyCode::Char(c) if c.is_ascii_alphanumeric() || ".-+e".contains(c) => {
                    draft.push(c)
                }
                _ => {}
            }
            return;
        }
        let at = self.selected.index();
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = Field::ALL[at.saturating_sub(1)],
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = Field::ALL[(at + 1).min(Field::ALL.len() - 1)]
            }
            KeyCode::Left | KeyCode::Right if self.selected == Field::Device => {
                let all = DeviceChoice::ALL;
                let now = all.iter().position(|&d| d == self.device).unwrap_or(0);
                let step = if code == KeyCode::Right {
                    1
                } else {
                    all.len() - 1
                };
                self.device = all[(now + step) % all.len()];
            }
            KeyCode::Enter | KeyCode::Char('e') if self.selected != Field::Device => {
                self.draft = Some(self.texts[at].clone())
            }
            _ => {}
        }
    }

    /// The hyper-parameters typed so far, checked as the CLI checks them.
    pub fn hyper(&self) -> Result<Hyper> {
        fn parse<T: std::str::FromStr>(form: &Form, field: Field) -> Result<T> {
            let text = form.value(field);
            text.parse()
                .map_err(|_| Error::input(format!("{}: '{text}' is not a number", field.label())))
        }
        let hyper = Hyper {
            epochs: parse(self, Field::Epochs)?,
            batch_size: parse(self, Field::BatchSize)?,
            lr: parse(self, Field::Lr)?,
            weight_decay: parse(self, Field::WeightDecay)?,
            dropout: parse(self, Field::Dropout)?,
            seed: parse(self, Field::Seed)?,
        };
        hyper.validate()?;
        Ok(hyper)
    }

    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_a_field_and_validates_it() {
        let mut form = Form::new(Hyper::default());
        form.on_key(KeyCode::Enter);
        for _ in 0..3 {
            form.on_key(KeyCode::Backspace);
        }
        for c in "12".chars() {
            form.on_key(KeyCode::Char(c));
        }
        form.on_key(KeyCode::Enter);
        assert_eq!(form.hyper().unwrap().epochs, 12);
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Enter);
        form.on_key(KeyCode::Backspace);
        form.on_key(KeyCode::Backspace);
        form.on_key(KeyCode::Char('0'));
        form.on_key(KeyCode::Enter);
        assert!(
            form.error().unwrap().contains("--batch-size 0"),
            "{:?}",
            form.error()
        );
        for _ in 0..9 {
            form.on_key(KeyCode::Down);
        }
        assert_eq!(form.selected(), Field::Device);
        form.on_key(KeyCode::Right);
        assert_eq!(form.device(), DeviceChoice::Cpu);
        form.on_key(KeyCode::Left);
        form.on_key(KeyCode::Left);
        assert_eq!(form.device(), DeviceChoice::Cuda);
    }

    #[test]
    fn a_field_that_is_not_a_number_is_named() {
        let mut form = Form::new(Hyper::default());
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Enter);
        form.on_key(KeyCode::Char('x'));
        form.on_key(KeyCode::Enter);
        assert_eq!(form.error(), Some("lr: '0.001x' is not a number"));
    }
}
