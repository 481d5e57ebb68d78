//! lnmc: lung-nodule malignancy classification from CT patches, in one binary.
//!
//! The ML core (`data`, `model`, `optim`, `train`, `eval`, `checkpoint`, `run`) knows nothing
//! of terminals; the headless CLI (`main.rs`) and the dashboard are front ends over the same
//! `train::Event` stream.

pub mod checkpoint;
pub mod data;
pub mod error;
pub mod eval;
pub mod evaluate;
pub mod model;
pub mod optim;
pub mod run;
pub mod show;
pub mod train;
pub mod tui;
