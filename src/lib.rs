//! lnmc: lung-nodule malignancy classification from CT patches, in one binary.
//!
//! The ML core knows nothing of terminals; the headless CLI (`cli`) and the dashboard (`tui`)
//! are two front ends over the same `train::Event` stream. README's "Architecture"
//! section draws the modules and the event flow.

// Leaves: plain types, the naming of choices and file handling that every other module may
// use (`types` also names data's intensity and split kinds).
pub mod choice;
pub mod error;
pub mod fault;
pub mod files;
pub mod types;

// The settings a run starts with, declared once over the types and data's kinds.
pub mod settings;

// The ML core.
pub mod baseline;
pub mod calibration;
pub mod checkpoint;
pub mod compare;
pub mod compute;
pub mod cross_validation;
pub mod cuda;
pub mod data;
pub mod evaluation;
pub mod explain;
pub mod import;
pub mod inference;
pub mod metrics;
pub mod model;
pub mod operating_point;
pub mod optim;
pub mod paired;
pub mod predictions;
pub mod run;
pub mod slurm;
pub mod subgroups;
pub mod sweep;
pub mod symmetry;
pub mod train;
// The readers of files from elsewhere, one entry each, for the fuzz targets and their replay.
pub mod untrusted;

// What front ends share, and the two front ends.
pub mod cli;
pub mod patch_image;
pub mod report;
pub mod tui;
