//! Dashboard state and what each key does to it. No terminal here: `on_key` returns an
//! `Action` for the event loop to carry out (start a worker, quit), so all of it is testable.

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::data::split::{Split, SplitKind};
use crate::data::Dataset;
use crate::evaluate::Evaluation;
use crate::train::{EpochRecord, Event, Hyper};

use super::browser::Browser;
use super::catalog::{CheckpointEntry, RunEntry};
use super::form::Form;
use super::image::PatchImages;

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

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    StartTraining(Hyper),
    TogglePause,
    StopTraining,
    Evaluate { checkpoint: PathBuf, all: bool },
    RefreshCatalog,
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Idle,
    Running,
    Paused,
    Finished,
    Stopped,
    Failed(String),
    /// Following a run written by another process (`lnmc watch`).
    Watching,
}

/// The live view of one training run, fed by worker events or by a followed metrics.csv.
#[derive(Debug)]
pub struct Training {
    pub status: Status,
    pub run: Option<String>,
    pub device: String,
    pub first_epoch: usize,
    pub epochs: usize,
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub history: Vec<EpochRecord>,
    /// Recent per-batch losses, oldest first.
    pub batch_losses: Vec<f64>,
    pub samples_per_second: f64,
    pub started: Option<Instant>,
    /// Set when the followed run's writer is gone (or silent for two minutes): seconds since
    /// its metrics.csv last changed.
    pub stale_seconds: Option<u64>,
}

pub const BATCH_LOSS_WINDOW: usize = 240;

impl Default for Training {
    fn default() -> Training {
        Training {
            status: Status::Idle,
            run: None,
            device: String::new(),
            first_epoch: 1,
            epochs: 0,
            epoch: 0,
            batch: 0,
            batches: 0,
            history: Vec::new(),
            batch_losses: Vec::new(),
            samples_per_second: 0.0,
            started: None,
            stale_seconds: None,
        }
    }
}

impl Training {
    pub fn is_active(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
    }

    pub fn best(&self) -> Option<&EpochRecord> {
        self.history
            .iter()
            .reduce(|a, b| if b.val_acc > a.val_acc { b } else { a })
    }

    /// Fraction of the whole run done, counting partial epochs.
    pub fn progress(&self) -> f64 {
        if self.epochs == 0 {
            return 0.0;
        }
        let done = self.epoch.saturating_sub(1) as f64 + self.epoch_progress();
        (done / self.epochs as f64).clamp(0.0, 1.0)
    }

    pub fn epoch_progress(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.batch as f64 / self.batches as f64
        }
    }

    /// Seconds left, once an epoch of this session has been timed.
    pub fn eta_seconds(&self) -> Option<f64> {
        let started = self.started?;
        let done_here = self.progress() * self.epochs as f64 - (self.first_epoch - 1) as f64;
        if done_here < 0.5 {
            return None;
        }
        let per_epoch = started.elapsed().as_secs_f64() / done_here;
        Some(per_epoch * (self.epochs as f64 - self.progress() * self.epochs as f64))
    }
}

pub struct App {
    pub tab: Tab,
    pub help: bool,
    pub confirm_quit: bool,
    pub data: Dataset,
    pub split: Split,
    pub form: Form,
    pub training: Training,
    pub browser: Browser,
    pub checkpoints: Vec<CheckpointEntry>,
    pub checkpoint_selected: usize,
    pub eval_all: bool,
    pub evaluating: bool,
    pub evaluation: Option<(String, Evaluation)>,
    pub runs: Vec<RunEntry>,
    pub run_selected: usize,
    /// Runs marked with space for an overlay.
    pub run_marked: Vec<usize>,
    pub log: Vec<String>,
    pub images: PatchImages,
    /// Pixel counts per HU bin over the whole set.
    pub histogram: Vec<u64>,
    /// The run directory followed by `lnmc watch`.
    pub followed: Option<PathBuf>,
}

impl App {
    pub fn new(data: Dataset, split: Split, images: PatchImages) -> App {
        let browser = Browser::new(&data);
        App {
            images,
            histogram: super::dataset_tab::histogram(&data),
            followed: None,
            tab: Tab::Train,
            help: false,
            confirm_quit: false,
            form: Form::new(Hyper::default()),
            training: Training::default(),
            browser,
            data,
            split,
            checkpoints: Vec::new(),
            checkpoint_selected: 0,
            eval_all: false,
            evaluating: false,
            evaluation: None,
            runs: Vec::new(),
            run_selected: 0,
            run_marked: Vec::new(),
            log: Vec::new(),
        }
    }

    pub fn log(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
        if self.log.len() > 500 {
            self.log.remove(0);
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.request_quit();
        }
        if self.confirm_quit {
            return match key.code {
                KeyCode::Char('s') | KeyCode::Char('y') => Action::Quit,
                _ => {
                    self.confirm_quit = false;
                    Action::None
                }
            };
        }
        if self.help {
            self.help = false;
            return Action::None;
        }
        // Typing into a field or the jump prompt takes every key.
        if self.tab == Tab::Train && self.form.editing() {
            self.form.on_key(key.code);
            return Action::None;
        }
        if self.tab == Tab::Dataset && self.browser.prompting() {
            self.browser.on_key(
                key.code,
                &self.data,
                &self.split,
                self.evaluation.as_ref().map(|e| &e.1),
            );
            return Action::None;
        }
        match key.code {
            KeyCode::Char('q') => return self.request_quit(),
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('1') => self.tab = Tab::Train,
            KeyCode::Char('2') => self.tab = Tab::Dataset,
            KeyCode::Char('3') => self.tab = Tab::Evaluate,
            KeyCode::Char('4') => self.tab = Tab::Runs,
            KeyCode::Tab => self.tab = TABS[(self.tab_index() + 1) % TABS.len()].0,
            KeyCode::BackTab => self.tab = TABS[(self.tab_index() + TABS.len() - 1) % TABS.len()].0,
            code => return self.on_tab_key(code),
        }
        if matches!(self.tab, Tab::Evaluate | Tab::Runs) {
            return Action::RefreshCatalog;
        }
        Action::None
    }

    fn request_quit(&mut self) -> Action {
        if self.training.is_active() {
            self.confirm_quit = true;
            Action::None
        } else {
            Action::Quit
        }
    }

    pub fn tab_index(&self) -> usize {
        TABS.iter().position(|(t, _)| *t == self.tab).unwrap_or(0)
    }

    fn on_tab_key(&mut self, code: KeyCode) -> Action {
        match self.tab {
            Tab::Train => match code {
                KeyCode::Char('s') if self.training.status == Status::Watching => {
                    self.log("watching another process's run: start a new one from a plain `lnmc`")
                }
                KeyCode::Char('s') if !self.training.is_active() => match self.form.hyper() {
                    Ok(hyper) => return Action::StartTraining(hyper),
                    Err(e) => self.log(format!("cannot start: {e}")),
                },
                KeyCode::Char('p') if self.training.is_active() => return Action::TogglePause,
                KeyCode::Char('x') if self.training.is_active() => return Action::StopTraining,
                code if !self.training.is_active() => self.form.on_key(code),
                _ => {}
            },
            Tab::Dataset => self.browser.on_key(
                code,
                &self.data,
                &self.split,
                self.evaluation.as_ref().map(|e| &e.1),
            ),
            Tab::Evaluate => match code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.checkpoint_selected = self.checkpoint_selected.saturating_sub(1)
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    self.checkpoint_selected =
                        (self.checkpoint_selected + 1).min(self.checkpoints.len().saturating_sub(1))
                }
                KeyCode::Char('a') => self.eval_all = !self.eval_all,
                KeyCode::Char('r') => return Action::RefreshCatalog,
                KeyCode::Enter if !self.evaluating => {
                    if let Some(entry) = self.checkpoints.get(self.checkpoint_selected) {
                        self.evaluating = true;
                        return Action::Evaluate {
                            checkpoint: entry.path.clone(),
                            all: self.eval_all,
                        };
                    }
                }
                KeyCode::Char('m') => {
                    if let Some((_, evaluation)) = &self.evaluation {
                        self.browser.show_misclassified(evaluation);
                        self.tab = Tab::Dataset;
                    }
                }
                _ => {}
            },
            Tab::Runs => match code {
                KeyCode::Up | KeyCode::Char('k') => {
                    self.run_selected = self.run_selected.saturating_sub(1)
                }
                KeyCode::Down | KeyCode::Char('j') => {
                    self.run_selected =
                        (self.run_selected + 1).min(self.runs.len().saturating_sub(1))
                }
                KeyCode::Char(' ') | KeyCode::Enter => {
                    let i = self.run_selected;
                    if code == KeyCode::Enter {
                        self.run_marked = vec![i];
                    } else if let Some(pos) = self.run_marked.iter().position(|&m| m == i) {
                        self.run_marked.remove(pos);
                    } else {
                        self.run_marked.push(i);
                        if self.run_marked.len() > 2 {
                            self.run_marked.remove(0);
                        }
                    }
                }
                KeyCode::Char('r') => return Action::RefreshCatalog,
                _ => {}
            },
        }
        Action::None
    }

    /// Applies one event of the training worker.
    pub fn on_train_event(&mut self, event: Event) {
        if let Some(line) = event.line() {
            self.log(line);
        }
        let t = &mut self.training;
        match event {
            Event::Started {
                run,
                device,
                first_epoch,
                epochs,
                batches,
                ..
            } => {
                t.status = Status::Running;
                t.device = device;
                t.first_epoch = first_epoch;
                t.epochs = epochs;
                t.epoch = first_epoch;
                t.batch = 0;
                t.batches = batches;
                t.started = Some(Instant::now());
                t.run = Some(run);
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
                samples_per_second,
            } => {
                t.epoch = epoch;
                t.batch = batch;
                t.batches = batches;
                t.samples_per_second = samples_per_second;
                t.batch_losses.push(loss);
                if t.batch_losses.len() > BATCH_LOSS_WINDOW {
                    t.batch_losses.remove(0);
                }
            }
            Event::Epoch { record, .. } => t.history.push(record),
            Event::CheckpointSaved { .. } => {}
            Event::Finished { .. } => t.status = Status::Finished,
            Event::Stopped { .. } => t.status = Status::Stopped,
            Event::Failed(message) => t.status = Status::Failed(message),
        }
    }

    /// Reads a run written by another process again (`lnmc watch`): its rows so far, and how
    /// long ago the writer last added one.
    pub fn follow(&mut self, dir: &std::path::Path) {
        let t = &mut self.training;
        t.status = Status::Watching;
        t.run = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Ok(config) = crate::run::read_config(dir) {
            self.form = Form::new(config.hyper.clone());
            t.epochs = config.hyper.epochs;
            t.device = config.device;
            if let Ok(split) = crate::run::read_split(dir) {
                self.split = split;
            }
        }
        let metrics = dir.join(crate::run::METRICS);
        t.history = crate::run::read_metrics(&metrics);
        t.epoch = t.history.len();
        t.batch = 0;
        t.batches = 0;
        t.samples_per_second = t.history.last().map_or(0.0, |r| r.samples_per_s);
        let age = metrics
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok());
        let finished = t.history.len() >= t.epochs && t.epochs > 0;
        t.stale_seconds =
            if finished || crate::run::is_locked(dir) && age.is_none_or(|a| a.as_secs() < 120) {
                None
            } else {
                Some(age.map_or(0, |a| a.as_secs()))
            };
        if finished {
            t.status = Status::Finished;
        }
        // The writer's own log, so the panel reads as it would in the writer's dashboard.
        if let Ok(text) = std::fs::read_to_string(dir.join(crate::run::LOG)) {
            self.log = text.lines().map(str::to_owned).collect();
        }
        self.followed = Some(dir.to_path_buf());
    }

    /// The split shown by the Dataset tab's train/val filter after a new run starts.
    pub fn default_split(data: &Dataset) -> Split {
        Split::new(SplitKind::Stratified, Hyper::default().seed, data).unwrap_or(Split {
            kind: SplitKind::Stratified,
            seed: 0,
            train: (0..data.len()).collect(),
            val: Vec::new(),
        })
    }
}
