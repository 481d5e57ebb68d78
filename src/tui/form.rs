//! The Train tab's settings form: one field per row of `settings::TABLE` (so the form offers
//! every setting a run records), edited in place with a line editor, read back as `Settings`
//! with the CLI's own checks.

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input as LineEditor;

use super::keys::{Key, Keys, CANCEL, CONFIRM, SELECT};
use crate::error::Result;
use crate::settings::{Input, Setting, Settings, TABLE};

const EDIT: Key = Key::new(&[KeyCode::Enter, KeyCode::Char('e')], "edit field");
const CHANGE: Key = Key::pair(&[KeyCode::Left], &[KeyCode::Right], "change a choice");

#[derive(Debug, Clone)]
pub struct Form {
    /// The text of each field, by its row in `TABLE` (a choice field holds its choice's name).
    values: Vec<String>,
    selected: usize,
    /// The line being typed into the selected field, if editing.
    editor: Option<LineEditor>,
    error: Option<String>,
}

impl Form {
    pub fn new(settings: &Settings) -> Form {
        Form {
            values: TABLE.iter().map(|s| (s.get)(settings)).collect(),
            selected: 0,
            editor: None,
            error: None,
        }
    }

    /// Each field's setting and its value as shown, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static Setting, &str)> {
        TABLE.iter().zip(self.values.iter().map(String::as_str))
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The line being typed, with its cursor (in characters).
    pub fn draft(&self) -> Option<(&str, usize)> {
        self.editor.as_ref().map(|e| (e.value(), e.visual_cursor()))
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn editing(&self) -> bool {
        self.editor.is_some()
    }

    pub const KEYS: Keys = &[
        SELECT.doing("select field").help(),
        EDIT.help(),
        CHANGE.help(),
    ];

    pub fn on_key(&mut self, key: KeyEvent) {
        if let Some(editor) = &mut self.editor {
            if CONFIRM.matches(key.code) {
                self.values[self.selected] = editor.value().trim().to_string();
                self.editor = None;
                self.error = self.settings().err().map(|e| e.to_string());
            } else if CANCEL.matches(key.code) {
                self.editor = None;
            } else {
                editor.handle_event(&TermEvent::Key(key));
            }
            return;
        }
        let setting = &TABLE[self.selected];
        if let Some(step) = SELECT.step(key.code) {
            self.selected = (self.selected as i64 + step).clamp(0, TABLE.len() as i64 - 1) as usize;
        } else if let (Some(step), Input::Choice(_)) = (CHANGE.step(key.code), setting.input) {
            let all = setting.choices();
            let value = &mut self.values[self.selected];
            let now = all.iter().position(|c| c == value).unwrap_or(0) as i64;
            *value = all[(now + step).rem_euclid(all.len() as i64) as usize].clone();
            self.error = self.settings().err().map(|e| e.to_string());
        } else if let (true, Input::Text) = (EDIT.matches(key.code), setting.input) {
            self.editor = Some(LineEditor::new(self.values[self.selected].clone()));
        }
    }

    /// The settings typed so far, checked as the CLI checks them.
    pub fn settings(&self) -> Result<Settings> {
        let mut settings = Settings::default();
        for (setting, value) in self.fields() {
            settings.set(setting.key, value)?;
        }
        settings.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn press(form: &mut Form, code: KeyCode) {
        form.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn ctrl(form: &mut Form, c: char) {
        form.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
    }

    fn type_in(form: &mut Form, text: &str) {
        text.chars().for_each(|c| press(form, KeyCode::Char(c)));
    }

    fn select(form: &mut Form, key: &str) {
        while TABLE[form.selected()].key != key {
            press(form, KeyCode::Down);
        }
    }

    #[test]
    fn edits_fields_with_shell_keys_and_validates_them() {
        let mut form = Form::new(&Settings::default());
        press(&mut form, KeyCode::Enter);
        ctrl(&mut form, 'u');
        type_in(&mut form, "12");
        press(&mut form, KeyCode::Enter);
        assert_eq!(
            form.settings().unwrap().hyper.epochs,
            12,
            "Ctrl-U cleared the line"
        );
        press(&mut form, KeyCode::Down);
        press(&mut form, KeyCode::Enter);
        // Home, then a digit before the old value: the cursor moves as in a shell.
        press(&mut form, KeyCode::Home);
        type_in(&mut form, "1");
        assert_eq!(form.draft(), Some(("164", 1)));
        press(&mut form, KeyCode::End);
        ctrl(&mut form, 'w');
        type_in(&mut form, "0");
        press(&mut form, KeyCode::Enter);
        assert!(
            form.error().unwrap().contains("--batch-size 0"),
            "{:?}",
            form.error()
        );
        press(&mut form, KeyCode::Enter);
        ctrl(&mut form, 'u');
        type_in(&mut form, "64");
        press(&mut form, KeyCode::Enter);
        assert_eq!(form.error(), None);

        select(&mut form, "augment");
        press(&mut form, KeyCode::Right);
        select(&mut form, "split");
        press(&mut form, KeyCode::Right);
        select(&mut form, "intensity");
        press(&mut form, KeyCode::Enter);
        ctrl(&mut form, 'u');
        type_in(&mut form, "hu:-1000,400");
        press(&mut form, KeyCode::Enter);
        select(&mut form, "excluded_flagged");
        press(&mut form, KeyCode::Left);
        select(&mut form, "device");
        press(&mut form, KeyCode::Right);
        select(&mut form, "name");
        press(&mut form, KeyCode::Enter);
        type_in(&mut form, "baseline");
        press(&mut form, KeyCode::Enter);
        press(&mut form, KeyCode::Down);
        assert_eq!(
            TABLE[form.selected()].key,
            "name",
            "the last field stays selected"
        );
        let s = form.settings().unwrap();
        assert_eq!(s.hyper.augment, crate::types::Augment::D4);
        assert_eq!(s.split, Some(crate::data::split::SplitKind::Upstream));
        assert_eq!(
            s.intensity,
            crate::data::intensity::Intensity::Fixed {
                low: -1000.0,
                high: 400.0
            }
        );
        assert!(s.exclude_flagged);
        assert_eq!(s.device, crate::types::DeviceChoice::Cpu);
        assert_eq!(s.name.as_deref(), Some("baseline"));
        assert_eq!(
            Form::new(&s).settings().unwrap(),
            s,
            "the form shows what it reads"
        );
    }

    #[test]
    fn a_field_that_is_not_a_number_is_named() {
        let mut form = Form::new(&Settings::default());
        select(&mut form, "lr");
        press(&mut form, KeyCode::Enter);
        type_in(&mut form, "x");
        press(&mut form, KeyCode::Enter);
        assert_eq!(form.error(), Some("lr: '0.001x' is not a number"));
        let mut form = Form::new(&Settings::default());
        select(&mut form, "name");
        press(&mut form, KeyCode::Enter);
        type_in(&mut form, "a/b");
        press(&mut form, KeyCode::Enter);
        assert!(
            form.error().unwrap().contains("one plain word"),
            "{:?}",
            form.error()
        );
    }
}
