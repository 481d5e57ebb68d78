//! What flows through the dashboard: messages into `App::update` (keys, worker events, results
//! of effects) and the effects it asks for, which the event loop carries out outside it.

use std::path::PathBuf;

use crossterm::event::KeyEvent;

use crate::compare::ChartOptions;
use crate::data::review::Flag;
use crate::error::Result;
use crate::evaluation::{self, Evaluation};
use crate::explain::Explanation;
use crate::run::catalog::{CheckpointEntry, Followed, RunEntry};
use crate::run::system::Samples;
use crate::train;

pub enum Message {
    Key(KeyEvent),
    /// An event of the training worker.
    Train(train::Event),
    /// The result of `Effect::Evaluate`.
    Evaluated {
        checkpoint: String,
        result: Result<Evaluation>,
    },
    /// The result of `Effect::Rescan`.
    Catalog {
        runs: Vec<RunEntry>,
        checkpoints: Vec<CheckpointEntry>,
    },
    /// The result of `Effect::Follow`: None when the run can no longer be read.
    Followed(Option<Followed>),
    /// Time to read a followed run again.
    FollowTick,
    /// The result of `Effect::Explain`.
    Explained {
        checkpoint: PathBuf,
        result: Result<Vec<(usize, Explanation)>>,
    },
    /// The result of `Effect::CountHistogram`.
    Histogram(Vec<u64>),
    /// The result of `Effect::LoadPatches`.
    Patches(Vec<(usize, super::patches::Loaded)>),
    /// The result of `Effect::Flag`: every flag as the file now holds them.
    Flags(Result<Vec<Flag>>),
    /// A line for the log (how images are drawn, say).
    Note(String),
    /// What `Effect::Export` wrote, or why it could not.
    Exported(String),
    /// `lnmc watch DIR`: every run in DIR as a live table.
    WatchAll(PathBuf),
    /// The result of `Effect::ReadSystem`: the samples of the run in that directory.
    System(PathBuf, Samples),
    /// What `Effect::Report` wrote, or why it could not.
    Reported(String),
    /// The result of `Effect::ReadLog`: the last lines of that run's log.txt.
    Log(PathBuf, Vec<String>),
}

/// A side effect for the event loop: the only way the dashboard starts work or touches disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    Quit,
    /// Several, in order.
    All(Vec<Effect>),
    /// Ring the bell and raise a desktop notification through the terminal.
    Notify(String),
    StartTraining(train::Request),
    SetPaused(bool),
    StopTraining,
    Evaluate(evaluation::Request),
    /// Read runs/ and checkpoint/ again.
    Rescan,
    /// Read a run written by another process again (`lnmc watch`).
    Follow(PathBuf),
    /// Read the system.csv of the run in this directory (the one this dashboard trains).
    ReadSystem(PathBuf),
    /// Read the tail of the log.txt of the run in this directory.
    ReadLog(PathBuf),
    /// Class-activation maps by `checkpoint` of these patches, each given with the
    /// neighbouring slices its network takes (the worker reads how many from the checkpoint).
    Explain {
        checkpoint: PathBuf,
        indices: Vec<usize>,
    },
    /// Count the data file's intensity histogram (the Dataset tab's, from an even sample).
    CountHistogram,
    /// Read these patches of the data file (the Dataset tab shows them next).
    LoadPatches(Vec<usize>),
    /// Write the marked runs' epochs (runs.csv) and their chart (METRIC.svg) into a new
    /// `runs/export-TIME/`.
    Export {
        runs: Vec<PathBuf>,
        chart: ChartOptions,
    },
    /// Evaluate as asked and write the report into the folder `out`.
    Report {
        request: evaluation::Request,
        out: PathBuf,
    },
    /// Flag patch `index` of `data` as a doubtful label with a note, or unflag it (None).
    Flag {
        data: PathBuf,
        rows: usize,
        index: usize,
        note: Option<String>,
    },
}

/// What a tab's key handler asks of the app beyond its own state.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Done,
    Effect(Effect),
    /// Open the Dataset tab on the misclassified patches of the last evaluation.
    BrowseMisclassified,
    /// Open the Dataset tab on the patches where the last evaluation's two checkpoints
    /// disagree.
    BrowseDisagreements,
    /// Open this run in the Train tab and follow it.
    Open(PathBuf),
    /// A view open over a tab (a sweep's analysis, a run's log) is done: close it.
    Close,
}
