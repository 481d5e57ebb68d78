//! Train tab: the hyper-parameter form, live loss curves, progress, throughput and the log.
//! It shows one run: the one this dashboard trains, or the one `lnmc watch` follows.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, List, ListItem, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use super::form::Form;
use super::keys::{Key, Keys};
use super::machine;
use super::message::{Effect, Reply};
use super::panel::Context;
use super::widgets::{loss_chart, panel, ACCENT, TRAIN_COLOUR, VAL_COLOUR};
use crate::data::Dataset;
use crate::run::catalog::Followed;
use crate::run::system::{Samples, Stall};
use crate::run::{Status, CHECKPOINTS, RUNS};
use crate::settings::{Settings, TABLE};
use crate::train::{self, Event};
use crate::types::EpochRecord;

const START: Key = Key::new(&[KeyCode::Char('s')], "start");
const PAUSE: Key = Key::new(&[KeyCode::Char('p')], "pause/resume");
const STOP: Key = Key::new(&[KeyCode::Char('x')], "stop & save");

/// Batch losses kept for the sparkline.
pub const BATCH_LOSS_WINDOW: usize = 240;
/// Rows the status panel keeps below the form.
const STATUS_ROWS: u16 = 7;
/// The settings and status column: room for the machine's lines beside their labels.
const LEFT_WIDTH: u16 = 34;

/// The live view of one training run, fed by worker events or by a followed run's files.
#[derive(Debug, Default)]
pub struct RunProgress {
    /// None until a run starts or is followed.
    pub status: Option<Status>,
    pub paused: bool,
    pub run: Option<String>,
    pub device: String,
    pub first_epoch: usize,
    pub epochs: usize,
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub train_samples: usize,
    /// The run's split may hold slices of one nodule on both sides (slice-level, or groups
    /// judged uncertain): the two short lines that say so.
    pub caution: Option<[&'static str; 2]>,
    pub history: Vec<EpochRecord>,
    /// Recent per-batch losses, oldest first.
    pub batch_losses: Vec<f64>,
    pub samples_per_second: f64,
    /// `lnmc watch`: the followed run's directory, and how long ago its writer added a row.
    pub followed: Option<PathBuf>,
    pub since_update: Option<Duration>,
    /// Where the run shown is written, trained here or followed.
    pub run_dir: Option<PathBuf>,
    /// What the machine did for it (its system.csv), as last read.
    pub system: Samples,
    /// Running, but no batch finished for longer than its limit.
    pub stall: Option<Stall>,
}

impl RunProgress {
    /// Trained by this dashboard and not ended: keys that would disturb it are locked.
    pub fn is_active(&self) -> bool {
        self.status == Some(Status::Running) && self.followed.is_none()
    }

    pub fn best(&self) -> Option<&EpochRecord> {
        EpochRecord::best(&self.history)
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

    /// Seconds left while the run goes on: the mean epoch time of this session (its first
    /// epoch estimated from the training throughput), times the epochs left. Computed from the
    /// run's own numbers, not the wall clock, so a screen shows the same for the same events.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.status != Some(Status::Running) {
            return None;
        }
        let timed: Vec<f64> = self
            .history
            .iter()
            .filter(|r| r.epoch >= self.first_epoch)
            .map(|r| r.seconds)
            .collect();
        let per_epoch = if !timed.is_empty() {
            timed.iter().sum::<f64>() / timed.len() as f64
        } else if self.samples_per_second > 0.0 && self.train_samples > 0 {
            self.train_samples as f64 / self.samples_per_second
        } else {
            return None;
        };
        Some(per_epoch * self.epochs as f64 * (1.0 - self.progress()))
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Started {
                run,
                run_dir,
                device,
                split,
                first_epoch,
                epochs,
                batches,
                ..
            } => {
                self.status = Some(Status::Running);
                self.device = device;
                self.first_epoch = first_epoch;
                self.epochs = epochs;
                self.epoch = first_epoch;
                self.batch = 0;
                self.batches = batches;
                self.train_samples = split.train.len();
                self.caution = split.facts().caution();
                self.run = Some(run);
                self.run_dir = Some(run_dir);
                self.system = Samples::default();
                self.stall = None;
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
                samples_per_second,
            } => {
                self.epoch = epoch;
                self.batch = batch;
                self.batches = batches;
                self.samples_per_second = samples_per_second;
                self.batch_losses.push(loss);
                if self.batch_losses.len() > BATCH_LOSS_WINDOW {
                    self.batch_losses.remove(0);
                }
            }
            Event::Epoch { record, .. } => self.history.push(record),
            Event::CheckpointSaved { .. } => {}
            Event::Finished { .. } => self.status = Some(Status::Finished),
            Event::Stopped { .. } => self.status = Some(Status::Stopped),
            Event::Failed(message) => self.status = Some(Status::Failed(message)),
        }
        if self.status.as_ref().is_some_and(Status::has_ended) {
            self.stall = None;
        }
    }

    /// New samples of the run's system.csv; the stall decided again with `limit` (None: the
    /// run's own). Returns the stall when the run has just become stalled.
    pub fn set_system(&mut self, system: Samples, limit: Option<Duration>) -> Option<Stall> {
        self.system = system;
        let was = self.stall.is_some();
        self.stall = match self.status {
            Some(Status::Running) if !self.paused => self.system.stall(limit),
            _ => None,
        };
        self.stall.clone().filter(|_| !was)
    }
}

pub struct TrainTab {
    form: Form,
    progress: RunProgress,
}

impl TrainTab {
    pub fn new() -> TrainTab {
        TrainTab {
            form: Form::new(&Settings::default()),
            progress: RunProgress::default(),
        }
    }

    pub fn progress(&self) -> &RunProgress {
        &self.progress
    }

    const KEYS: Keys = &[START, PAUSE, STOP];

    /// The context slices the form is set to (1 while its text is not a valid setting).
    pub fn context(&self) -> usize {
        self.form.settings().map_or(1, |s| s.hyper.context)
    }

    fn start(&mut self, settings: Settings, data: &Dataset) -> Effect {
        let request = train::Request {
            data: data.path.clone(),
            settings,
            fold: None,
            runs_root: RUNS.into(),
            checkpoint_root: CHECKPOINTS.into(),
        };
        self.progress = RunProgress {
            status: Some(Status::Running),
            ..RunProgress::default()
        };
        Effect::StartTraining(request)
    }

    /// New samples of the run shown; the stall when it has just become stalled.
    pub fn set_system(&mut self, system: Samples, limit: Option<Duration>) -> Option<Stall> {
        self.progress.set_system(system, limit)
    }

    /// Applies one event of the training worker (its line in the log is the app's).
    pub fn on_train_event(&mut self, event: Event) {
        self.progress.on_event(event);
    }

    /// Shows a run written by another process as last read: its settings, rows and log.
    pub fn follow(&mut self, followed: Followed) {
        let entry = followed.entry;
        let p = &mut self.progress;
        if let Some(config) = entry.config() {
            self.form = Form::new(&Settings::of_run(config));
            p.epochs = config.hyper.epochs;
            p.device = config.device.to_string();
            p.caution = config.facts().caution();
        }
        p.status = Some(entry.status.clone());
        p.run = Some(entry.name.clone());
        p.epoch = entry.history().len();
        p.batch = 0;
        p.batches = 0;
        p.samples_per_second = entry.history().last().map_or(0.0, |r| r.samples_per_s);
        p.history = entry.history().to_vec();
        p.followed = Some(entry.path.clone());
        p.run_dir = Some(entry.path.clone());
        p.since_update = followed.since_update;
        p.system = entry.system().clone();
    }

    fn draw_form(&self, frame: &mut Frame, area: Rect) {
        let form = &self.form;
        let locked = self.progress.is_active();
        let shown = (area.height.saturating_sub(3) as usize).max(1);
        // A window of fields that keeps the selected one in view.
        let first = (form.selected() + 1).saturating_sub(shown);
        let width = area.width.saturating_sub(17) as usize;
        let mut lines: Vec<Line> = form
            .fields()
            .enumerate()
            .skip(first)
            .take(shown)
            .map(|(at, (setting, value))| {
                let selected = at == form.selected() && !locked;
                let value = match (form.draft(), selected) {
                    (Some((draft, cursor)), true) => {
                        let (before, after) = draft.split_at(
                            draft
                                .char_indices()
                                .nth(cursor)
                                .map_or(draft.len(), |(i, _)| i),
                        );
                        format!("{before}▏{after}")
                    }
                    _ => value.to_string(),
                };
                let style = if selected {
                    Style::new().fg(Color::Black).bg(ACCENT)
                } else {
                    Style::new()
                };
                Line::from(vec![
                    Span::raw(format!("{:>13} ", setting.label)),
                    Span::styled(format!(" {value:<width$}"), style),
                ])
            })
            .collect();
        lines.push(match form.error() {
            Some(e) => Line::from(e.red()),
            None if locked => Line::from("locked while training".dark_gray()),
            None => Line::from(format!("{} to start", START.label()).dark_gray()),
        });
        let title = match TABLE.len() > shown {
            true => format!("settings {}/{}", form.selected() + 1, TABLE.len()),
            false => "settings".to_string(),
        };
        frame.render_widget(Paragraph::new(lines).block(panel(&title)), area);
    }
}

impl Default for TrainTab {
    fn default() -> Self {
        TrainTab::new()
    }
}

fn draw_status(frame: &mut Frame, area: Rect, t: &RunProgress) {
    let watching = t.followed.is_some();
    let status = match &t.status {
        None => "idle".to_string(),
        Some(Status::Running) if t.paused => "paused".to_string(),
        Some(Status::Running) if watching => "watching".to_string(),
        Some(Status::Failed(e)) => format!("failed: {e}"),
        Some(Status::Stopped | Status::Interrupted) if !watching => {
            "stopped (resumable)".to_string()
        }
        Some(s) => s.label().to_string(),
    };
    let status = match &t.stall {
        Some(_) => Span::styled("stalled", Style::new().fg(Color::Red).bold()),
        None => status.bold(),
    };
    let mut lines = vec![Line::from(vec!["status  ".dark_gray(), status])];
    if let Some(stall) = &t.stall {
        lines.extend(machine::stall_lines(stall));
    }
    let silent = watching && !matches!(t.status, Some(Status::Running | Status::Finished));
    if let (true, Some(age)) = (silent, t.since_update) {
        lines.push(Line::from(format!(
            "        (no update for {} s)",
            age.as_secs()
        )));
    }
    lines.extend([
        Line::from(vec![
            "device  ".dark_gray(),
            Span::raw(if t.device.is_empty() { "-" } else { &t.device }),
        ]),
        Line::from(vec![
            "speed   ".dark_gray(),
            Span::raw(format!("{:.0} samples/s", t.samples_per_second)),
        ]),
        Line::from(vec![
            "eta     ".dark_gray(),
            Span::raw(t.eta_seconds().map_or("-".into(), |s| {
                format!("{:.0} min {:02.0} s", (s / 60.0).floor(), s % 60.0)
            })),
        ]),
    ]);
    if let Some(b) = t.best() {
        lines.push(Line::from(vec![
            "best    ".dark_gray(),
            Span::styled(
                format!("{:.2} % acc", 100.0 * b.val_acc),
                Style::new().fg(Color::Green).bold(),
            ),
        ]));
        lines.push(Line::from(format!(
            "        F1 {:.4} · epoch {}",
            b.val_f1, b.epoch
        )));
        if let Some(caution) = t.caution {
            for line in caution {
                lines.push(Line::from(format!("        {line}").yellow()));
            }
        }
    }
    lines.extend(machine::status_lines(
        &t.system,
        area.width.saturating_sub(2) as usize,
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("status")),
        area,
    );
}

fn draw_gauges(frame: &mut Frame, area: Rect, t: &RunProgress) {
    let [epoch, total] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let epoch_label = format!(
        "epoch {}/{} · batch {}/{}",
        t.epoch, t.epochs, t.batch, t.batches
    );
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(TRAIN_COLOUR))
            .ratio(t.epoch_progress())
            .label(epoch_label),
        epoch,
    );
    let total_label = format!("run {:.0} %", 100.0 * t.progress());
    frame.render_widget(
        Gauge::default()
            .gauge_style(Style::new().fg(ACCENT))
            .ratio(t.progress())
            .label(total_label),
        total,
    );
}

fn draw_sparklines(frame: &mut Frame, area: Rect, t: &RunProgress) {
    let [losses, accs] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let loss_values = newest(&t.batch_losses, losses);
    let max_loss = loss_values.iter().copied().fold(1e-9, f64::max);
    let loss_bars: Vec<u64> = loss_values
        .iter()
        .map(|l| (l / max_loss * 100.0) as u64)
        .collect();
    let last = t
        .batch_losses
        .last()
        .map_or("-".into(), |l| format!("{l:.3}"));
    frame.render_widget(
        Sparkline::default()
            .block(panel(&format!("batch loss {last}")))
            .style(Style::new().fg(TRAIN_COLOUR))
            .data(&loss_bars),
        losses,
    );
    let accs_values: Vec<f64> = t.history.iter().map(|r| r.val_acc).collect();
    let acc_bars: Vec<u64> = newest(&accs_values, accs)
        .iter()
        .map(|a| (a * 100.0) as u64)
        .collect();
    let last = accs_values
        .last()
        .map_or("-".into(), |a| format!("{:.1}%", 100.0 * a));
    frame.render_widget(
        Sparkline::default()
            .block(panel(&format!("val acc {last}")))
            .style(Style::new().fg(VAL_COLOUR))
            .max(100)
            .data(&acc_bars),
        accs,
    );
}

/// The most recent values that fit inside a bordered `area`, oldest first.
fn newest(values: &[f64], area: Rect) -> &[f64] {
    let fit = area.width.saturating_sub(2) as usize;
    &values[values.len().saturating_sub(fit)..]
}

impl super::panel::Panel for TrainTab {
    fn keys(&self) -> Vec<Key> {
        [Self::KEYS, Form::KEYS].concat()
    }

    /// Typing into a form field takes every key.
    fn captures_input(&self) -> bool {
        self.form.editing()
    }

    fn on_key(&mut self, key: KeyEvent, cx: &Context) -> Reply {
        let log = |line: String| cx.notices.borrow_mut().log(line);
        let active = self.progress.is_active();
        let code = key.code;
        if self.form.editing() || (!active && !START.matches(code)) {
            self.form.on_key(key);
        } else if START.matches(code) && self.progress.followed.is_some() {
            log(format!(
                "watching another process's run: {} a new one from a plain `lnmc`",
                START.label()
            ));
        } else if START.matches(code) && !active {
            match self.form.settings() {
                Ok(settings) => return Reply::Effect(self.start(settings, cx.data)),
                Err(e) => log(format!("cannot start: {e}")),
            }
        } else if PAUSE.matches(code) && active {
            let paused = !self.progress.paused;
            self.progress.paused = paused;
            log(if paused { "paused" } else { "resumed" }.into());
            return Reply::Effect(Effect::SetPaused(paused));
        } else if STOP.matches(code) && active {
            log("stopping after the current batch…".into());
            return Reply::Effect(Effect::StopTraining);
        }
        Reply::Done
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context) {
        let [left, right] =
            Layout::horizontal([Constraint::Length(LEFT_WIDTH), Constraint::Min(0)]).areas(area);
        // The form takes what the status panel leaves, and scrolls when that is short of a row
        // a setting.
        let form_rows = (TABLE.len() as u16 + 3).min(left.height.saturating_sub(STATUS_ROWS));
        let [form, status] =
            Layout::vertical([Constraint::Length(form_rows), Constraint::Min(0)]).areas(left);
        self.draw_form(frame, form);
        draw_status(frame, status, &self.progress);
        let log_height = if area.height >= 36 { 8 } else { 5 };
        let [chart, gauges, sparks, log] = Layout::vertical([
            Constraint::Min(6),
            Constraint::Length(2),
            Constraint::Length(4),
            Constraint::Length(log_height),
        ])
        .areas(right);
        let title = match &self.progress.run {
            Some(run) => format!("loss per epoch · run {run}"),
            None => "loss per epoch".to_string(),
        };
        loss_chart(frame, chart, &title, &self.progress.history);
        draw_gauges(frame, gauges, &self.progress);
        draw_sparklines(frame, sparks, &self.progress);
        let notices = cx.notices.borrow();
        let items: Vec<ListItem> = notices
            .lines()
            .iter()
            .rev()
            .take(log.height as usize)
            .rev()
            .map(|l| ListItem::new(l.as_str()))
            .collect();
        frame.render_widget(List::new(items).block(panel("log")), log);
    }
}
