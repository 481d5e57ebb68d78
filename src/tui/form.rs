//! The Train tab's hyper-parameter form: named fields edited in place, read back as `Hyper`
//! with the CLI's own checks.

use crossterm::event::KeyCode;

use super::keys::{help, Key};
use crate::error::{Error, Result};
use crate::types::{DeviceChoice, Hyper, Precision};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Epochs,
    BatchSize,
    Lr,
    WeightDecay,
    Dropout,
    Seed,
    Augment,
    Schedule,
    Balance,
    LabelSmoothing,
    EarlyStop,
    Device,
    Precision,
}

impl Field {
    pub const ALL: [Field; 13] = [
        Field::Epochs,
        Field::BatchSize,
        Field::Lr,
        Field::WeightDecay,
        Field::Dropout,
        Field::Seed,
        Field::Augment,
        Field::Schedule,
        Field::Balance,
        Field::LabelSmoothing,
        Field::EarlyStop,
        Field::Device,
        Field::Precision,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Field::Epochs => "epochs",
            Field::BatchSize => "batch size",
            Field::Lr => "lr",
            Field::WeightDecay => "weight decay",
            Field::Dropout => "dropout",
            Field::Seed => "seed",
            Field::Augment => "augment",
            Field::Schedule => "schedule",
            Field::Balance => "balance",
            Field::LabelSmoothing => "smoothing",
            Field::EarlyStop => "early stop",
            Field::Device => "device",
            Field::Precision => "precision",
        }
    }

    /// The choices of a field picked with ←→; None for a field typed in.
    fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            Field::Augment => Some(&["none", "d4"]),
            Field::Schedule => Some(&["constant", "cosine"]),
            Field::Balance => Some(&["none", "weighted", "sample"]),
            Field::Device => Some(&["auto", "cpu", "cuda"]),
            Field::Precision => Some(&["auto", "fp32", "bf16"]),
            _ => None,
        }
    }

    fn index(self) -> usize {
        Field::ALL.iter().position(|&f| f == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    /// The text of each field, by `Field::index` (a choice field holds its choice's name).
    values: Vec<String>,
    selected: Field,
    /// The text being typed into the selected field, if editing.
    draft: Option<String>,
    error: Option<String>,
}

impl Form {
    pub fn new(h: Hyper) -> Form {
        let values = Field::ALL
            .iter()
            .map(|field| match field {
                Field::Epochs => h.epochs.to_string(),
                Field::BatchSize => h.batch_size.to_string(),
                Field::Lr => h.lr.to_string(),
                Field::WeightDecay => h.weight_decay.to_string(),
                Field::Dropout => h.dropout.to_string(),
                Field::Seed => h.seed.to_string(),
                Field::Augment => name_of(h.augment),
                Field::Schedule => name_of(h.schedule),
                Field::Balance => name_of(h.balance),
                Field::LabelSmoothing => h.label_smoothing.to_string(),
                Field::EarlyStop => h.early_stop.map_or("off".into(), |n| n.to_string()),
                Field::Device | Field::Precision => "auto".into(),
            })
            .collect();
        Form {
            values,
            selected: Field::Epochs,
            draft: None,
            error: None,
        }
    }

    /// The form's value of `field` as shown.
    pub fn value(&self, field: Field) -> &str {
        &self.values[field.index()]
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
        help("←→", "change augment, schedule, balance, device, precision"),
    ];

    pub fn on_key(&mut self, code: KeyCode) {
        if let Some(draft) = &mut self.draft {
            match code {
                KeyCode::Enter => {
                    self.values[self.selected.index()] = draft.trim().to_string();
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
        let choices = self.selected.choices();
        match (code, choices) {
            (KeyCode::Up | KeyCode::Char('k'), _) => {
                self.selected = Field::ALL[at.saturating_sub(1)]
            }
            (KeyCode::Down | KeyCode::Char('j'), _) => {
                self.selected = Field::ALL[(at + 1).min(Field::ALL.len() - 1)]
            }
            (KeyCode::Left | KeyCode::Right, Some(all)) => {
                let now = all.iter().position(|c| *c == self.values[at]).unwrap_or(0);
                let step = if code == KeyCode::Right {
                    1
                } else {
                    all.len() - 1
                };
                self.values[at] = all[(now + step) % all.len()].to_string();
            }
            (KeyCode::Enter | KeyCode::Char('e'), None) => {
                self.draft = Some(self.values[at].clone())
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
        let early_stop = match self.value(Field::EarlyStop) {
            "off" | "" => None,
            _ => Some(parse(self, Field::EarlyStop)?),
        };
        let hyper = Hyper {
            epochs: parse(self, Field::Epochs)?,
            batch_size: parse(self, Field::BatchSize)?,
            lr: parse(self, Field::Lr)?,
            weight_decay: parse(self, Field::WeightDecay)?,
            dropout: parse(self, Field::Dropout)?,
            seed: parse(self, Field::Seed)?,
            augment: choice(self.value(Field::Augment)),
            schedule: choice(self.value(Field::Schedule)),
            balance: choice(self.value(Field::Balance)),
            label_smoothing: parse(self, Field::LabelSmoothing)?,
            early_stop,
        };
        hyper.validate()?;
        Ok(hyper)
    }

    pub fn device(&self) -> DeviceChoice {
        choice(self.value(Field::Device))
    }

    pub fn precision(&self) -> Precision {
        choice(self.value(Field::Precision))
    }
}

/// The CLI's name of a choice (`d4`, `cosine`): the form shows what the options take.
fn name_of<T: ValueEnum>(value: T) -> String {
    value
        .to_possible_value()
        .map_or(String::new(), |v| v.get_name().to_string())
}

/// A choice from its name; the choices offered are exactly the names, so the default is only
/// reached for a value the form never holds.
fn choice<T: ValueEnum + Default>(name: &str) -> T {
    T::from_str(name, true).unwrap_or_default()
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
        for _ in 0..12 {
            form.on_key(KeyCode::Down);
        }
        assert_eq!(form.selected(), Field::Precision);
        form.on_key(KeyCode::Up);
        assert_eq!(form.selected(), Field::Device);
        form.on_key(KeyCode::Right);
        assert_eq!(form.device(), DeviceChoice::Cpu);
        form.on_key(KeyCode::Left);
        form.on_key(KeyCode::Left);
        assert_eq!(form.device(), DeviceChoice::Cuda);
        let mut form = Form::new(Hyper::default());
        for _ in 0..6 {
            form.on_key(KeyCode::Down);
        }
        assert_eq!(form.selected(), Field::Augment);
        form.on_key(KeyCode::Right);
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Left);
        form.on_key(KeyCode::Down);
        assert_eq!(form.selected(), Field::Balance);
        form.on_key(KeyCode::Right);
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Enter);
        form.on_key(KeyCode::Backspace);
        for c in "0.01".chars() {
            form.on_key(KeyCode::Char(c));
        }
        form.on_key(KeyCode::Enter);
        form.on_key(KeyCode::Down);
        form.on_key(KeyCode::Enter);
        for _ in 0..3 {
            form.on_key(KeyCode::Backspace);
        }
        form.on_key(KeyCode::Char('5'));
        form.on_key(KeyCode::Enter);
        let h = form.hyper().unwrap();
        assert_eq!(h.augment, crate::types::Augment::D4);
        assert_eq!(h.schedule, crate::types::Schedule::Cosine);
        assert_eq!(h.balance, crate::types::Balance::Weighted);
        assert_eq!(h.label_smoothing, 0.01);
        assert_eq!(h.early_stop, Some(5));
        assert_eq!(
            Form::new(h.clone()).hyper().unwrap(),
            h,
            "the form shows what it reads"
        );
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
