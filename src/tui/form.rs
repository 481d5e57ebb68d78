//! The Train tab's hyper-parameter form: a list of fields edited in place.

use crossterm::event::KeyCode;

use crate::error::Result;
use crate::train::{DeviceChoice, Hyper};

pub const FIELDS: [&str; 7] = [
    "epochs",
    "batch size",
    "lr",
    "weight decay",
    "dropout",
    "seed",
    "device",
];
const DEVICE: usize = 6;

#[derive(Debug, Clone)]
pub struct Form {
    /// Field texts, in FIELDS order (the device as its name).
    pub values: Vec<String>,
    pub selected: usize,
    /// The text being typed into the selected field, if editing.
    pub draft: Option<String>,
    pub error: Option<String>,
}

impl Form {
    pub fn new(h: Hyper) -> Form {
        let values = vec![
            h.epochs.to_string(),
            h.batch_size.to_string(),
            h.lr.to_string(),
            h.weight_decay.to_string(),
            h.dropout.to_string(),
            h.seed.to_string(),
            "auto".to_string(),
        ];
        Form {
            values,
            selected: 0,
            draft: None,
            error: None,
        }
    }

    pub fn editing(&self) -> bool {
        self.draft.is_some()
    }

    pub fn on_key(&mut self, code: KeyCode) {
        if let Some(draft) = &mut self.draft {
            match code {
                KeyCode::Enter => {
                    self.values[self.selected] = draft.trim().to_string();
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
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(FIELDS.len() - 1)
            }
            KeyCode::Left | KeyCode::Right if self.selected == DEVICE => {
                let order = ["auto", "cpu", "cuda"];
                let at = order
                    .iter()
                    .position(|d| *d == self.values[DEVICE])
                    .unwrap_or(0);
                let step = if code == KeyCode::Right {
                    1
                } else {
                    order.len() - 1
                };
                self.values[DEVICE] = order[(at + step) % order.len()].to_string();
            }
            KeyCode::Enter | KeyCode::Char('e') if self.selected != DEVICE => {
                self.draft = Some(self.values[self.selected].clone())
            }
            _ => {}
        }
    }

    /// The hyper-parameters typed so far, checked as the CLI checks them.
    pub fn hyper(&self) -> Result<Hyper> {
        let bad = |i: usize| {
            crate::error::Error::input(format!(
                "{}: '{}' is not a number",
                FIELDS[i], self.values[i]
            ))
        };
        let int = |i: usize| self.values[i].parse::<usize>().map_err(|_| bad(i));
        let float = |i: usize| self.values[i].parse::<f64>().map_err(|_| bad(i));
        let hyper = Hyper {
            epochs: int(0)?,
            batch_size: int(1)?,
            lr: float(2)?,
            weight_decay: float(3)?,
            dropout: float(4)?,
            seed: self.values[5].parse().map_err(|_| bad(5))?,
        };
        hyper.validate()?;
        Ok(hyper)
    }

    pub fn device(&self) -> DeviceChoice {
        match self.values[DEVICE].as_str() {
            "cpu" => DeviceChoice::Cpu,
            "cuda" => DeviceChoice::Cuda,
            _ => DeviceChoice::Auto,
        }
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
            form.error.as_deref().unwrap().contains("--batch-size 0"),
            "{:?}",
            form.error
        );
        for _ in 0..9 {
            form.on_key(KeyCode::Down);
        }
        form.on_key(KeyCode::Right);
        assert_eq!(form.device(), DeviceChoice::Cpu);
    }
}
