//! The dashboard: one tokio `select!` loop turns key input, the workers' events and ticks
//! into `Message`s for `App::update`, carries out the `Effect` it returns (start or steer the
//! training worker, evaluate, read runs from disk), and redraws at most every 100 ms. The ML
//! core runs in worker threads and knows nothing of this.
//!
//! Modules: `app` (state and update), `message` (what flows in and out), one file per tab,
//! `form` and `browser` (the Train and Dataset tabs' own widgets), `keys`, `widgets` (what the
//! panels share), `image` (patches in the terminal), `view` (the whole screen).

pub mod app;
pub mod browser;
pub mod dataset_tab;
pub mod evaluate_tab;
pub mod form;
pub mod image;
pub mod jobs;
pub mod keys;
pub mod log_view;
pub mod machine;
pub mod message;
pub mod panel;
pub mod patches;
pub mod runs_tab;
pub mod sweep_view;
pub mod train_tab;
pub mod view;
pub mod widgets;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::data::{self, reader, review, Dataset};
use crate::error::{Error, Result};
use crate::evaluation;
use crate::explain::Explainer;
use crate::fault::Fault;
use crate::run::catalog::{self, Followed};
use crate::run::{CHECKPOINTS, RUNS};
use crate::train::{self, Control};
use app::App;
pub use message::{Effect, Message};

/// Redraw at most this often while only worker events arrive.
const FRAME: Duration = Duration::from_millis(100);
/// How often a followed run's metrics.csv is read again.
const FOLLOW: Duration = Duration::from_secs(1);

pub struct Options {
    pub data: Option<PathBuf>,
    pub protocol: image::ProtocolChoice,
    /// A running run that finishes no batch for this long is marked stalled (None: each run's
    /// own limit, from its recent batch times).
    pub stall_after: Option<Duration>,
    /// `lnmc watch`: follow runs written by other processes instead of training.
    pub watch: Option<Watch>,
}

/// What `lnmc watch` follows.
pub enum Watch {
    /// The newest run under runs/.
    Newest,
    /// runs/NAME.
    Run(PathBuf),
    /// Every run in a directory, as a live table (a sweep, a Slurm job array).
    All(PathBuf),
}

/// Opens the dashboard and runs it until the user quits.
pub fn dashboard(options: Options) -> Result<()> {
    let (watch, watch_all) = match options.watch {
        Some(Watch::Newest) => (Some(resolve_watch(Path::new(RUNS))?), None),
        Some(Watch::Run(dir)) if dir.join(crate::run::CONFIG).exists() => (Some(dir), None),
        Some(Watch::Run(dir) | Watch::All(dir)) => {
            // A directory of runs: the live table, on the data of its newest run.
            let newest = resolve_watch(&dir)?;
            let data = crate::run::read_config(&newest)?.data.path;
            (None, Some((dir, data)))
        }
        None => (None, None),
    };
    // Read everything that can fail before the screen changes, so errors print normally.
    let path = match (&options.data, &watch, &watch_all) {
        (Some(p), _, _) => p.clone(),
        (None, Some(dir), _) => crate::run::read_config(dir)?.data.path,
        (None, None, Some((_, data))) => data.clone(),
        (None, None, None) => data::resolve(None)?,
    };
    // Patches are read as they are shown: a file of any size opens at once, and training,
    // which reads it whole in its worker, holds the only copy of the pixels.
    let data = reader::open(&path)?;
    let flags = review::read(&path, data.len())?;
    // Last of the checks: what to show is known to exist, so a wrong name is told as such.
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::input(
            "not a terminal: the dashboard needs one; to train without a screen use `lnmc train --headless` (e.g. under nohup)",
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the event loop ({e})")))?;
    // ratatui::init enters raw mode and the alternate screen and restores them on panic; the
    // guard restores them on every other way out.
    let mut terminal = ratatui::init();
    let _restore = RestoreOnDrop;
    let (picker, why) = image::picker(options.protocol);
    let mut app = App::new(data, image::PatchImages::new(picker), flags);
    app.set_stall_limit(options.stall_after);
    app.update(Message::Note(format!("images: {why}")));
    if let Some(dir) = watch {
        app.update(Message::Followed(Followed::read(&dir)));
    }
    if let Some((dir, _)) = watch_all {
        app.update(Message::WatchAll(dir));
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
    // A sweep's or a cross-validation's newest run stands for it.
    catalog::runs(dir)
        .into_iter()
        .flat_map(catalog::RunEntry::into_runs)
        .find(|r| r.path.join(crate::run::CONFIG).exists())
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
    let mut frame_tick = tokio::time::interval(FRAME);
    let mut follow_tick = tokio::time::interval(FOLLOW);
    let mut effects = Effects::new(tx);
    let mut dirty = true;
    effects.perform(app.start(), app);
    loop {
        let mut draw_now = false;
        let message = tokio::select! {
            input = keys.next() => match input {
                Some(Ok(TermEvent::Key(key))) if key.kind == KeyEventKind::Press => {
                    draw_now = true;
                    Some(Message::Key(key))
                }
                Some(Ok(TermEvent::Resize(..))) => {
                    draw_now = true;
                    None
                }
                Some(Err(_)) | None => break,
                _ => None,
            },
            Some(message) = rx.recv() => {
                dirty = true;
                Some(message)
            }
            _ = follow_tick.tick() => Some(Message::FollowTick),
            _ = frame_tick.tick() => {
                draw_now = dirty;
                None
            }
            _ = signals.term.recv() => break,
            _ = signals.hangup.recv() => break,
        };
        if let Some(message) = message {
            let effect = app.update(message);
            match effect {
                Effect::Quit => break,
                Effect::None => {}
                effect => {
                    dirty = true;
                    effects.perform(effect, app);
                }
            }
        }
        if draw_now {
            terminal
                .draw(|frame| view::draw(frame, app))
                .map_err(|e| Error::runtime(format!("cannot draw ({e})")))?;
            dirty = false;
            injected_fault()?;
        }
    }
    effects.finish();
    Ok(())
}

/// Fault injection for the tests that check the terminal is restored whatever ends the
/// dashboard (debug builds only, see `fault`).
fn injected_fault() -> Result<()> {
    match crate::fault::injected() {
        Some(Fault::Panic) => panic!("injected fault (LNMC_INJECT_FAULT=panic)"),
        Some(Fault::Error) => Err(Error::runtime("injected fault (LNMC_INJECT_FAULT=error)")),
        _ => Ok(()),
    }
}

/// Carries out effects: the training worker (at most one), evaluations on blocking threads,
/// reads and writes of files on `jobs`' lanes. Every result comes back as a message through
/// `tx`: nothing here waits for a disk, a model or a scheduler.
struct Effects {
    tx: UnboundedSender<Message>,
    jobs: jobs::Jobs,
    control: Option<Arc<Control>>,
    worker: Option<std::thread::JoinHandle<()>>,
    /// The checkpoint loaded for the overlay, kept between requests.
    explainer: Arc<std::sync::Mutex<Option<Explainer>>>,
}

impl Effects {
    fn new(tx: UnboundedSender<Message>) -> Effects {
        Effects {
            jobs: jobs::Jobs::new(tx.clone()),
            tx,
            control: None,
            worker: None,
            explainer: Arc::default(),
        }
    }

    fn perform(&mut self, effect: Effect, app: &App) {
        use jobs::Lane;
        match effect {
            Effect::None | Effect::Quit => {}
            Effect::All(effects) => {
                for effect in effects {
                    self.perform(effect, app);
                }
            }
            Effect::Notify(text) => notify(&text),
            Effect::Rescan => {
                let root = app.runs_root().to_path_buf();
                self.jobs.submit(Lane::Catalog, move || Message::Catalog {
                    runs: catalog::runs(&root),
                    checkpoints: catalog::checkpoints(Path::new(CHECKPOINTS)),
                });
            }
            Effect::Follow(dir) => self.jobs.submit(Lane::Follow, move || {
                Message::Followed(Followed::read(&dir))
            }),
            Effect::ReadSystem(dir) => self.jobs.submit(Lane::System, move || {
                let samples = crate::run::system::read(&dir);
                Message::System(dir, samples)
            }),
            Effect::ReadLog(dir) => self.jobs.submit(Lane::Log, move || {
                let lines = catalog::log_tail(&dir);
                Message::Log(dir, lines)
            }),
            Effect::StartTraining(request) => {
                let control = Arc::new(Control::default());
                let tx = self.tx.clone();
                self.worker = Some(train::spawn(
                    train::Start::New(request),
                    Arc::clone(&control),
                    move |e| {
                        let _ = tx.send(Message::Train(e));
                    },
                ));
                self.control = Some(control);
            }
            Effect::SetPaused(paused) => {
                if let Some(c) = &self.control {
                    c.pause.store(paused, Ordering::SeqCst);
                }
            }
            Effect::StopTraining => {
                if let Some(c) = &self.control {
                    c.stop.store(true, Ordering::SeqCst);
                }
            }
            Effect::Explain {
                checkpoint,
                indices,
            } => {
                let (tx, explainer) = (self.tx.clone(), Arc::clone(&self.explainer));
                let (data, nodules) = (app.shared_data(), app.shared_nodules());
                tokio::task::spawn_blocking(move || {
                    let result = explain(&explainer, &checkpoint, &data, &nodules, &indices);
                    let _ = tx.send(Message::Explained { checkpoint, result });
                });
            }
            Effect::CountHistogram => {
                let data = app.shared_data();
                self.jobs.submit(Lane::Patches, move || {
                    Message::Histogram(dataset_tab::histogram(&data))
                })
            }
            Effect::LoadPatches(indices) => {
                let data = app.shared_data();
                self.jobs.submit(Lane::Patches, move || {
                    Message::Patches(patches::load(&data, &indices))
                })
            }
            Effect::Export { runs, chart } => {
                let root = app.runs_root().to_path_buf();
                self.jobs
                    .submit(Lane::Write, move || export(&root, &runs, &chart))
            }
            Effect::Flag {
                data,
                rows,
                index,
                note,
            } => self.jobs.submit(Lane::Write, move || {
                Message::Flags(review::set(&data, rows, index, note.as_deref()))
            }),
            Effect::Report { request, out } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let line = match crate::report::evaluate_and_write(&request, &out) {
                        Ok(bytes) => format!(
                            "wrote {} ({} KB)",
                            out.join(crate::report::PAGE).display(),
                            bytes / 1024
                        ),
                        Err(e) => format!("report failed: {e}"),
                    };
                    let _ = tx.send(Message::Reported(line));
                });
            }
            Effect::Evaluate(request) => {
                let checkpoint = request.checkpoint.display().to_string();
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = evaluation::evaluate(&request);
                    let _ = tx.send(Message::Evaluated { checkpoint, result });
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
        if let Some(handle) = self.worker.take() {
            let _ = handle.join();
        }
    }
}

/// Writes the `runs`' epochs and chart into a new folder under `root` (`Effect::Export`).
fn export(root: &Path, runs: &[PathBuf], chart: &crate::compare::ChartOptions) -> Message {
    let entries: Vec<_> = runs
        .iter()
        .filter_map(|p| catalog::RunEntry::read(p))
        .collect();
    let refs: Vec<_> = entries.iter().collect();
    Message::Exported(match crate::compare::export_to(root, &refs, chart) {
        Ok(folder) => format!(
            "exported {} runs to {}/ (runs.csv, {}.svg)",
            refs.len(),
            folder.display(),
            chart.metric.name()
        ),
        Err(e) => format!("export failed: {e}"),
    })
}

/// The bell, then OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal…) and OSC 777 (VTE, foot,
/// urxvt…) desktop notifications; terminals ignore the one they do not know. Inside tmux each
/// is wrapped in its passthrough so it reaches the outer terminal (tmux needs
/// `allow-passthrough on`). Both travel over SSH like any output.
fn notify(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout();
    if !out.is_terminal() {
        return;
    }
    let _ = out.write_all(notification(text, std::env::var_os("TMUX").is_some()).as_bytes());
    let _ = out.flush();
}

/// The bytes of `notify`.
pub fn notification(text: &str, tmux: bool) -> String {
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() && *c != ';')
        .collect();
    let sequences = [
        "\x07".to_string(),
        format!("\x1b]9;{text}\x07"),
        format!("\x1b]777;notify;lnmc;{text}\x07"),
    ];
    match tmux {
        false => sequences.concat(),
        true => sequences
            .iter()
            .map(|s| format!("\x1bPtmux;{}\x1b\\", s.replace('\x1b', "\x1b\x1b")))
            .collect(),
    }
}

/// Maps by `checkpoint` of the patches `indices` of `data`, each given with the rows its
/// network takes (from `nodules`), loading the checkpoint unless it is the one loaded already:
/// its header says how many slices the network takes, read here rather than on the screen's
/// thread.
fn explain(
    loaded: &std::sync::Mutex<Option<Explainer>>,
    checkpoint: &Path,
    data: &Dataset,
    nodules: &crate::data::context::Lookup,
    indices: &[usize],
) -> Result<Vec<(usize, crate::explain::Explanation)>> {
    let mut loaded = loaded.lock().unwrap_or_else(|e| e.into_inner());
    if loaded.as_ref().is_none_or(|e| e.checkpoint != checkpoint) {
        *loaded = Some(Explainer::load(checkpoint)?);
    }
    let explainer = loaded.as_ref().expect("loaded above");
    let maps = explainer.explain_in(nodules, data, indices)?;
    Ok(indices.iter().copied().zip(maps).collect())
}
