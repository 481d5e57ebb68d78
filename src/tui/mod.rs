//! The dashboard: one tokio `select!` loop over key input, a 100 ms render tick and the
//! workers' events. The ML core runs in worker threads and knows nothing of this.

pub mod app;
pub mod browser;
pub mod catalog;
pub mod dataset_tab;
pub mod evaluate_tab;
pub mod form;
pub mod image;
pub mod runs_tab;
pub mod train_tab;
pub mod ui;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::data::intensity::Intensity;
use crate::data::split::{Split, SplitKind};
use crate::data::{self, reader};
use crate::error::{Error, Result};
use crate::evaluate::{self, Evaluation};
use crate::run::{CHECKPOINTS, RUNS};
use crate::train::{self, Control, DeviceChoice};
use app::{Action, App, Status};

/// Redraw at most this often while only worker events arrive.
const FRAME: Duration = Duration::from_millis(100);
/// How often a followed run's metrics.csv is read again.
const FOLLOW: Duration = Duration::from_secs(1);

pub struct Options {
    pub data: Option<PathBuf>,
    pub protocol: image::ProtocolChoice,
    /// `lnmc watch`: follow this run directory instead of training.
    pub watch: Option<PathBuf>,
}

/// What the workers send back to the loop.
pub enum Message {
    Train(train::Event),
    Evaluated(String, Result<Evaluation>),
}

pub fn run(options: Options) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::input(
            "not a terminal: the dashboard needs one; to train without a screen use `lnmc train --headless` (e.g. under nohup)",
        ));
    }
    let watch = match options.watch {
        Some(dir) => Some(resolve_watch(&dir)?),
        None => None,
    };
    // Read everything that can fail before the screen changes, so errors print normally.
    let path = match (&options.data, &watch) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => crate::run::read_config(dir)?.data.path,
        (None, None) => data::resolve(None)?,
    };
    let data = reader::read(&path)?;
    let split = App::default_split(&data);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the event loop ({e})")))?;
    // ratatui::init enters raw mode and the alternate screen and restores them on panic; the
    // guard restores them on every other way out.
    let mut terminal = ratatui::init();
    let _restore = RestoreOnDrop;
    let picker = image::picker(options.protocol);
    let mut app = App::new(data, split, image::PatchImages::new(picker));
    if let Some(dir) = watch {
        app.follow(&dir);
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    runtime.block_on(async {
        let signals = Signals::new()?;
        event_loop(&mut terminal, &mut app, EventStream::new(), signals, tx, rx).await
    })
}

/// SIGTERM and SIGHUP end the loop like `q` does, so the terminal is restored.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        let listen = |kind| {
            signal(kind).map_err(|e| Error::runtime(format!("cannot listen for signals ({e})")))
        };
        Ok(Signals {
            term: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
        })
    }
}

struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// `lnmc watch` without a name follows the newest run.
fn resolve_watch(dir: &Path) -> Result<PathBuf> {
    if dir.join(crate::run::CONFIG).exists() {
        return Ok(dir.to_path_buf());
    }
    catalog::runs(dir)
        .into_iter()
        .find(|r| r.config.is_some())
        .map(|r| r.path)
        .ok_or_else(|| {
            Error::file(
                dir,
                "no lnmc run here to watch (expected runs/NAME with config.json)",
            )
        })
}

/// The loop proper, generic over the terminal and the key stream so that tests can drive it
/// with a TestBackend and scripted keys. `tx` is handed to the workers it starts.
pub async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut keys: impl Stream<Item = std::io::Result<TermEvent>> + Unpin,
    mut signals: Signals,
    tx: UnboundedSender<Message>,
    mut rx: UnboundedReceiver<Message>,
) -> Result<()> {
    let mut tick = tokio::time::interval(FRAME);
    let mut worker = Worker::default();
    let mut dirty = true;
    let mut last_follow = Instant::now();
    refresh_catalog(app);
    loop {
        let mut draw_now = false;
        tokio::select! {
            input = keys.next() => match input {
                Some(Ok(TermEvent::Key(key))) if key.kind == KeyEventKind::Press => {
                    let action = app.on_key(key);
                    if action == Action::Quit {
                        break;
                    }
                    worker.perform(action, app, &tx);
                    draw_now = true;
                }
                Some(Ok(TermEvent::Resize(..))) => draw_now = true,
                Some(Err(_)) | None => break,
                _ => {}
            },
            Some(message) = rx.recv() => {
                match message {
                    Message::Train(event) => {
                        let done = matches!(event, train::Event::Finished { .. } | train::Event::Stopped { .. } | train::Event::Failed(_));
                        app.on_train_event(event);
                        if done {
                            refresh_catalog(app);
                        }
                    }
                    Message::Evaluated(name, result) => {
                        app.evaluating = false;
                        match result {
                            Ok(e) => {
                                app.log(format!("evaluated {name}: accuracy {:.2} %", 100.0 * e.metrics.accuracy));
                                app.evaluation = Some((name, e));
                            }
                            Err(e) => app.log(format!("evaluation failed: {e}")),
                        }
                    }
                }
                dirty = true;
            }
            _ = tick.tick() => {
                if app.training.status == Status::Watching && last_follow.elapsed() >= FOLLOW {
                    if let Some(dir) = app.followed.clone() {
                        app.follow(&dir);
                    }
                    last_follow = Instant::now();
                    dirty = true;
                }
                draw_now = dirty;
            }
            _ = signals.term.recv() => break,
            _ = signals.hangup.recv() => break,
        }
        if draw_now {
            terminal
                .draw(|frame| ui::draw(frame, app))
                .map_err(|e| Error::runtime(format!("cannot draw ({e})")))?;
            dirty = false;
            injected_fault()?;
        }
    }
    worker.finish();
    Ok(())
}

/// Fault injection for the tests that check the terminal is restored whatever ends the
/// dashboard: `LNMC_INJECT_FAULT=panic` panics and `=error` fails right after a frame is drawn.
fn injected_fault() -> Result<()> {
    match std::env::var("LNMC_INJECT_FAULT").as_deref() {
        Ok("panic") => panic!("injected fault (LNMC_INJECT_FAULT=panic)"),
        Ok("error") => Err(Error::runtime("injected fault (LNMC_INJECT_FAULT=error)")),
        _ => Ok(()),
    }
}

fn refresh_catalog(app: &mut App) {
    app.checkpoints = catalog::checkpoints(Path::new(CHECKPOINTS));
    app.checkpoint_selected = app
        .checkpoint_selected
        .min(app.checkpoints.len().saturating_sub(1));
    app.runs = catalog::runs(Path::new(RUNS));
    app.run_selected = app.run_selected.min(app.runs.len().saturating_sub(1));
}

/// The training worker, if one runs.
#[derive(Default)]
struct Worker {
    control: Option<Arc<Control>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn perform(&mut self, action: Action, app: &mut App, tx: &UnboundedSender<Message>) {
        match action {
            Action::None | Action::Quit => {}
            Action::RefreshCatalog => refresh_catalog(app),
            Action::StartTraining(hyper) => {
                if let Ok(split) = Split::new(SplitKind::Stratified, hyper.seed, &app.data) {
                    app.split = split;
                }
                let request = train::Request {
                    data: app.data.path.clone(),
                    hyper,
                    device: app.form.device(),
                    intensity: Intensity::default(),
                    split: SplitKind::Stratified,
                    name: None,
                    runs_root: RUNS.into(),
                    checkpoint_root: CHECKPOINTS.into(),
                };
                app.training = app::Training::default();
                app.training.status = Status::Running;
                let control = Arc::new(Control::default());
                let tx = tx.clone();
                self.handle = Some(train::spawn(
                    train::Start::New(request),
                    Arc::clone(&control),
                    move |e| {
                        let _ = tx.send(Message::Train(e));
                    },
                ));
                self.control = Some(control);
            }
            Action::TogglePause => {
                if let Some(c) = &self.control {
                    let paused = !c.pause.load(Ordering::SeqCst);
                    c.pause.store(paused, Ordering::SeqCst);
                    app.training.status = if paused {
                        Status::Paused
                    } else {
                        Status::Running
                    };
                    app.log(if paused { "paused" } else { "resumed" });
                }
            }
            Action::StopTraining => {
                if let Some(c) = &self.control {
                    c.stop.store(true, Ordering::SeqCst);
                    app.log("stopping after the current batch…");
                }
            }
            Action::Evaluate { checkpoint, all } => {
                let name = checkpoint.display().to_string();
                let request = evaluate::Request {
                    checkpoint,
                    data: Some(app.data.path.clone()),
                    all,
                    intensity: None,
                    device: DeviceChoice::Auto,
                };
                let tx = tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Message::Evaluated(name, evaluate::evaluate(&request)));
                });
            }
        }
    }

    /// Quitting while training: stop after the current batch (the last completed epoch is
    /// already saved) and wait for the worker, so no file is left half-written.
    fn finish(&mut self) {
        if let Some(c) = &self.control {
            c.stop.store(true, Ordering::SeqCst);
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
