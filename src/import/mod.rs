//! `lnmc import`: real data in with its ids. Two sources, one output: an HDF5 that every lnmc
//! command opens (`ct_slices`, `slice_class`, `nodule_id`, `patient_id`, and where each patch
//! came from), written to a temporary file and renamed, so a failed import leaves nothing.
//!
//! - `tree`: slices as image files in folders that name the label, patient and nodule.
//! - `volumes`: CT volumes (`metaimage`, `nifti_file`, `dicom_series`) and a coordinates file
//!   (`coords`) of nodule centres in world millimetres; patches cut by `volume`.

pub mod coords;
mod dicom_claims;
pub mod dicom_series;
pub mod metaimage;
pub mod nifti_file;
pub mod output;
pub mod progress;
pub mod tree;
pub mod volume;
pub mod volumes;

pub use output::{Imported, PatchPixels};
