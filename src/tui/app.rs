//! The dashboard's state and the one step that changes it: `update(message) -> effect`. Keys,
//! worker events and the results of effects all arrive as a `Message`; whatever must happen
//! outside (start training, evaluate, read runs from disk) leaves as an `Effect` for the event
//! loop. No terminal and no I/O here, so all of it is testable.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::dataset_tab::DatasetTab;
use super::evaluate_tab::EvaluateTab;
use super::image::PatchImages;
use super::keys::{Key, Keys};
use super::message::{Effect, Message, Reply};
use super::panel::{Context, Notices, Panel};
use super::runs_tab::RunsTab;
use super::train_tab::TrainTab;
use crate::data::review::Flag;
use crate::data::split::{Split, SplitKind};
use crate::data::Dataset;
use crate::run::system::Samples;
use crate::run::Status;
use crate::train::Event;
use crate::types::Hyper;

pub use super::panel::{Tab, TABS};

/// What is drawn over the current tab and takes the next key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// Quitting would stop the run this dashboard trains.
    ConfirmQuit,
}

pub struct App {
    tab: Tab,
    overlay: Overlay,
    /// What the panels read through their context.
    shared: Shared,
    train: TrainTab,
    dataset: DatasetTab,
    evaluate: EvaluateTab,
    runs: RunsTab,
    /// Where the Runs tab lists runs from: runs/, or the directory `lnmc watch DIR` follows.
    runs_root: PathBuf,
    /// `lnmc watch DIR`: the runs in it are read again every second.
    watching_all: bool,
    /// When a running run counts as stalled (None: each run's own limit).
    stall_limit: Option<Duration>,
}

/// The app's state that every panel reads (through `Context`), apart from the panels so that
/// one of them can change while the context is held.
struct Shared {
    /// Shared with the workers that read its patches.
    data: Arc<Dataset>,
    /// Each nodule's rows (or why the file cannot tell them), built once: the Dataset tab's
    /// "trained as rows" line and the overlay's worker look neighbours up in it.
    nodules: Arc<crate::data::context::Lookup>,
    /// The split of the run shown (before any run: the split a new run would get).
    split: Split,
    /// Whether each row is on the split's validation side, for a lookup per frame.
    in_val: Vec<bool>,
    notices: RefCell<Notices>,
}

/// Switching tabs is hinted in the footer of the first tab only, the one a user sees first:
/// the other footers are full at 80 columns.
/// One key a tab, in `TABS`' order.
const SWITCH: Key = Key::new(
    &[
        KeyCode::Char('1'),
        KeyCode::Char('2'),
        KeyCode::Char('3'),
        KeyCode::Char('4'),
    ],
    "switch tab",
)
.help();
const CYCLE: Key = Key::pair(&[KeyCode::BackTab], &[KeyCode::Tab], "previous/next tab").help();
const HELP: Key = Key::new(&[KeyCode::Char('?')], "help");
const QUIT: Key = Key::new(&[KeyCode::Char('q')], "quit");
/// In the quit prompt while a run trains: quit all the same (the run is saved and stopped).
pub const QUIT_ANYWAY: Key = Key::new(&[KeyCode::Char('s'), KeyCode::Char('y')], "stop and quit");

impl App {
    pub fn new(data: Dataset, images: PatchImages, flags: Vec<Flag>) -> App {
        // The split a new run would get, shown by the Dataset tab's train/val filter until a
        // run brings its own.
        let kind = SplitKind::default_for(&data);
        let split = Split::new(kind, Hyper::default().seed, &data).unwrap_or(Split {
            kind,
            seed: 0,
            fold: None,
            about: None,
            train: (0..data.len()).collect(),
            val: Vec::new(),
        });
        App {
            tab: Tab::Train,
            overlay: Overlay::None,
            dataset: DatasetTab::new(&data, images, flags),
            train: TrainTab::new(),
            evaluate: EvaluateTab::default(),
            runs: RunsTab::default(),
            runs_root: PathBuf::from(crate::run::RUNS),
            watching_all: false,
            stall_limit: None,
            shared: Shared {
                in_val: in_val(&split, data.len()),
                nodules: Arc::new(crate::data::context::lookup(&data)),
                data: Arc::new(data),
                split,
                notices: RefCell::default(),
            },
        }
    }

    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn overlay(&self) -> Overlay {
        self.overlay
    }

    pub fn data(&self) -> &Dataset {
        &self.shared.data
    }

    /// The data file, for a worker to read from.
    pub fn shared_data(&self) -> Arc<Dataset> {
        Arc::clone(&self.shared.data)
    }

    /// Each nodule's rows, for a worker to find neighbouring slices in.
    pub fn shared_nodules(&self) -> Arc<crate::data::context::Lookup> {
        Arc::clone(&self.shared.nodules)
    }

    pub fn split(&self) -> &Split {
        &self.shared.split
    }

    pub fn train(&self) -> &TrainTab {
        &self.train
    }

    pub fn dataset(&self) -> &DatasetTab {
        &self.dataset
    }

    pub fn evaluate(&self) -> &EvaluateTab {
        &self.evaluate
    }

    pub fn runs(&self) -> &RunsTab {
        &self.runs
    }

    pub fn runs_root(&self) -> &Path {
        &self.runs_root
    }

    /// `--stall-after`: the same limit for every run instead of each run's own.
    pub fn set_stall_limit(&mut self, limit: Option<Duration>) {
        self.stall_limit = limit;
        self.runs.set_stall_limit(limit);
    }

    /// The app's log, oldest first.
    pub fn log_lines(&self) -> Vec<String> {
        self.shared.notices.borrow().lines().to_vec()
    }

    /// The current tab.
    pub fn panel(&self) -> &dyn Panel {
        match self.tab {
            Tab::Train => &self.train,
            Tab::Dataset => &self.dataset,
            Tab::Evaluate => &self.evaluate,
            Tab::Runs => &self.runs,
        }
    }

    /// What the panels read besides their own state.
    pub fn context(&self) -> Context<'_> {
        context(&self.shared, &self.evaluate, &self.train)
    }

    /// What the dashboard does first: read the runs, and count the histogram of a file left
    /// on disk.
    pub fn start(&self) -> Effect {
        match self.dataset.start() {
            Effect::None => Effect::Rescan,
            count => Effect::All(vec![Effect::Rescan, count]),
        }
    }

    /// The one place the dashboard's state changes.
    pub fn update(&mut self, message: Message) -> Effect {
        let effect = self.handle(message);
        // Whatever moved the Dataset tab's cursor (a key, a filter, a new split), the patches
        // it shows next are read now, before a frame needs them.
        if self.tab != Tab::Dataset || effect == Effect::Quit {
            return effect;
        }
        let cx = context(&self.shared, &self.evaluate, &self.train);
        match (effect, self.dataset.read_ahead(&cx)) {
            (effect, Effect::None) => effect,
            (Effect::None, read) => read,
            (effect, read) => Effect::All(vec![effect, read]),
        }
    }

    fn handle(&mut self, message: Message) -> Effect {
        match message {
            Message::Key(key) => self.on_key(key),
            Message::Train(event) => {
                let last = event.is_last();
                if let Event::Started { split, .. } = &event {
                    self.set_split(split.clone());
                }
                if let Some(line) = event.line() {
                    self.shared.notices.get_mut().log(line);
                }
                self.train.on_train_event(event);
                // A run that ended changed runs/ and checkpoint/, and its user wants to know.
                match last {
                    true => Effect::All(vec![Effect::Rescan, self.ended_notice()]),
                    false => Effect::None,
                }
            }
            Message::Evaluated { checkpoint, result } => {
                let line = self.evaluate.evaluated(checkpoint, result);
                self.shared.notices.get_mut().log(line);
                Effect::None
            }
            Message::Catalog { runs, checkpoints } => {
                let stalled = self.runs.set_runs(runs);
                self.evaluate.set_checkpoints(checkpoints);
                for line in &stalled {
                    self.shared.notices.get_mut().log(line.clone());
                }
                match stalled.is_empty() {
                    true => Effect::None,
                    false => Effect::All(stalled.into_iter().map(Effect::Notify).collect()),
                }
            }
            Message::Followed(Some(followed)) => self.on_followed(followed),
            Message::Followed(None) => Effect::None,
            Message::System(dir, samples) => {
                match self.train.progress().run_dir.as_deref() == Some(dir.as_path()) {
                    true => self.set_system(samples).unwrap_or(Effect::None),
                    false => Effect::None,
                }
            }
            Message::Log(dir, lines) => {
                self.runs.set_log(&dir, lines);
                Effect::None
            }
            Message::FollowTick => self.on_follow_tick(),
            Message::WatchAll(dir) => {
                self.runs_root = dir;
                self.watching_all = true;
                self.runs.set_live(true);
                self.tab = Tab::Runs;
                Effect::Rescan
            }
            Message::Explained { checkpoint, result } => match result {
                Ok(maps) => {
                    self.dataset.explained(checkpoint, maps);
                    // The user may have paged on while these were computed.
                    let cx = context(&self.shared, &self.evaluate, &self.train);
                    match self.dataset.explain_missing(&cx) {
                        Reply::Effect(effect) => effect,
                        _ => Effect::None,
                    }
                }
                Err(e) => {
                    self.dataset.explain_failed(e.to_string());
                    self.shared.notices.get_mut().log(format!("overlay: {e}"));
                    Effect::None
                }
            },
            Message::Note(line) => {
                self.shared.notices.get_mut().log(line);
                Effect::None
            }
            Message::Reported(line) => {
                self.shared
                    .notices
                    .get_mut()
                    .notify(Tab::Evaluate, line.clone());
                self.shared.notices.get_mut().log(line);
                Effect::None
            }
            Message::Exported(line) => {
                self.shared
                    .notices
                    .get_mut()
                    .notify(Tab::Runs, line.clone());
                self.shared.notices.get_mut().log(line);
                Effect::None
            }
            Message::Histogram(counts) => {
                self.dataset.counted(counts);
                Effect::None
            }
            Message::Patches(patches) => {
                self.dataset.loaded(patches);
                Effect::None
            }
            Message::Flags(result) => {
                match result {
                    Ok(flags) => {
                        let cx = context(&self.shared, &self.evaluate, &self.train);
                        self.dataset.set_flags(flags, &cx);
                    }
                    Err(e) => {
                        self.dataset.set_problem(format!("flag not saved: {e}"));
                        self.shared
                            .notices
                            .get_mut()
                            .log(format!("flag not saved: {e}"));
                    }
                }
                Effect::None
            }
        }
    }

    /// A run followed from disk, read again: its split, log, curves and machine; the bell when
    /// it has just ended or stalled.
    fn on_followed(&mut self, followed: crate::run::catalog::Followed) -> Effect {
        if let Some(split) = &followed.split {
            self.set_split(split.clone());
        }
        let was_running = self.train.progress().status == Some(Status::Running);
        let system = followed.entry.system().clone();
        // The writer's own log, so the panel reads as it would in the writer's dashboard.
        let log = followed.log.clone();
        self.shared.notices.get_mut().replace_log(log);
        self.train.follow(followed);
        let stalled = self.set_system(system);
        let ended = self
            .train
            .progress()
            .status
            .as_ref()
            .is_some_and(Status::has_ended);
        match (was_running && ended, stalled) {
            (true, _) => self.ended_notice(),
            (false, Some(stalled)) => stalled,
            (false, None) => Effect::None,
        }
    }

    /// Every second: read again what is followed (a run written elsewhere, the system.csv
    /// of the one trained here, the directory watched, the log open in the Runs tab).
    fn on_follow_tick(&self) -> Effect {
        let progress = self.train.progress();
        // A followed run is read whole again; the one trained here is drawn from its
        // events, and only its system.csv is read.
        let own = progress
            .run_dir
            .clone()
            .filter(|_| progress.is_active())
            .map(Effect::ReadSystem);
        let effects: Vec<Effect> = [
            progress.followed.clone().map(Effect::Follow),
            own,
            self.watching_all.then_some(Effect::Rescan),
            self.runs
                .log_dir()
                .map(|d| Effect::ReadLog(d.to_path_buf())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match effects.len() {
            0 => Effect::None,
            1 => effects.into_iter().next().expect("one"),
            _ => Effect::All(effects),
        }
    }

    /// New samples of the Train tab's run: the bell and a notification when it has just
    /// become stalled.
    fn set_system(&mut self, samples: Samples) -> Option<Effect> {
        let stall = self.train.set_system(samples, self.stall_limit)?;
        let run = self.train.progress().run.clone().unwrap_or_default();
        let line = format!("lnmc: {run} {}", stall.describe());
        self.shared.notices.get_mut().log(line.clone());
        Some(Effect::Notify(line))
    }

    /// The bell and a desktop notification for the run that just ended.
    fn ended_notice(&self) -> Effect {
        let p = self.train.progress();
        let run = p.run.as_deref().unwrap_or("run");
        let how = match &p.status {
            Some(Status::Failed(message)) => format!("failed: {message}"),
            Some(status) => status.label().to_string(),
            None => "ended".to_string(),
        };
        let best = p.best().map_or(String::new(), |b| {
            format!(" · best val acc {:.2} %", 100.0 * b.val_acc)
        });
        Effect::Notify(format!("lnmc: {run} {how}{best}"))
    }

    fn set_split(&mut self, split: Split) {
        if split != self.shared.split {
            self.shared.in_val = in_val(&split, self.shared.data.len());
            self.shared.split = split;
            let cx = context(&self.shared, &self.evaluate, &self.train);
            self.dataset.refilter(&cx);
        }
    }

    /// Every key of the current tab and the global ones, in the order help lists them; the
    /// hinted ones make the footer.
    pub fn keys(&self) -> Vec<Key> {
        let mut keys = self.panel().keys();
        keys.extend(Self::KEYS.iter().map(|&k| Key {
            hint: k.hint || (k == SWITCH && self.tab == Tab::Train),
            ..k
        }));
        keys
    }

    const KEYS: Keys = &[SWITCH, CYCLE, HELP, QUIT];

    fn on_key(&mut self, key: KeyEvent) -> Effect {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.request_quit();
        }
        match self.overlay {
            Overlay::ConfirmQuit => {
                if QUIT_ANYWAY.matches(key.code) {
                    return Effect::Quit;
                }
                self.overlay = Overlay::None;
                return Effect::None;
            }
            Overlay::Help => {
                self.overlay = Overlay::None;
                return Effect::None;
            }
            Overlay::None => {}
        }
        // Typing into a field or the jump prompt takes every key.
        if self.panel().captures_input() {
            return self.on_tab_key(key);
        }
        let count = TABS.len();
        let at = TABS.iter().position(|(t, _)| *t == self.tab).unwrap_or(0);
        let code = key.code;
        if QUIT.matches(code) {
            self.request_quit()
        } else if HELP.matches(code) {
            self.overlay = Overlay::Help;
            Effect::None
        } else if let Some(k) = SWITCH.codes.iter().position(|&c| c == code) {
            self.switch(TABS[k].0)
        } else if let Some(step) = CYCLE.step(code) {
            self.switch(TABS[(at as i64 + step).rem_euclid(count as i64) as usize].0)
        } else {
            self.on_tab_key(key)
        }
    }

    fn request_quit(&mut self) -> Effect {
        if self.train.progress().is_active() {
            self.overlay = Overlay::ConfirmQuit;
            Effect::None
        } else {
            Effect::Quit
        }
    }

    fn switch(&mut self, tab: Tab) -> Effect {
        self.tab = tab;
        // What these tabs list may have changed on disk since they were last shown.
        match tab {
            Tab::Evaluate | Tab::Runs => Effect::Rescan,
            _ => Effect::None,
        }
    }

    fn on_tab_key(&mut self, key: KeyEvent) -> Effect {
        let cx = context(&self.shared, &self.evaluate, &self.train);
        let panel: &mut dyn Panel = match self.tab {
            Tab::Train => &mut self.train,
            Tab::Dataset => &mut self.dataset,
            Tab::Evaluate => &mut self.evaluate,
            Tab::Runs => &mut self.runs,
        };
        let reply = panel.on_key(key, &cx);
        match reply {
            // A tab closes its own views; nothing is open over the app itself.
            Reply::Done | Reply::Close => Effect::None,
            Reply::Effect(effect) => effect,
            Reply::Open(run) => {
                self.tab = Tab::Train;
                Effect::Follow(run)
            }
            reply @ (Reply::BrowseMisclassified | Reply::BrowseDisagreements) => {
                let Some((_, evaluation)) = self.evaluate.last() else {
                    return Effect::None;
                };
                self.tab = Tab::Dataset;
                let cx = context(&self.shared, &self.evaluate, &self.train);
                let shown = match reply {
                    Reply::BrowseMisclassified => self.dataset.show_misclassified(evaluation, &cx),
                    _ => self.dataset.show_disagreements(evaluation, &cx),
                };
                match shown {
                    Reply::Effect(effect) => effect,
                    _ => Effect::None,
                }
            }
        }
    }
}

/// What the Dataset tab reads besides its own state, from the app's other parts.
/// Each of `rows` rows: on `split`'s validation side or not.
fn in_val(split: &Split, rows: usize) -> Vec<bool> {
    let mut mask = vec![false; rows];
    for &i in split.val.iter().filter(|&&i| i < rows) {
        mask[i] = true;
    }
    mask
}

/// What the panels read besides their own state; it borrows no tab, so any tab may change
/// while it holds it.
fn context<'a>(shared: &'a Shared, evaluate: &EvaluateTab, train: &TrainTab) -> Context<'a> {
    Context {
        data: &shared.data,
        split: &shared.split,
        in_val: &shared.in_val,
        nodules: &shared.nodules,
        notices: &shared.notices,
        evaluation: evaluate.shared_last(),
        checkpoint: evaluate.checkpoint().map(Path::to_path_buf),
        context: train.context(),
    }
}
