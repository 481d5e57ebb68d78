//! Every reader of a file a user may be handed by someone else, behind one entry point each, so
//! that the fuzz targets (`fuzz/`) and the corpus replay (`tests/untrusted.rs`) drive exactly
//! the code the commands run. Each entry takes the file's bytes, lays them out where the reader
//! looks (a scratch folder of this process), and returns the reader's verdict: Ok, or the one
//! line the user would see.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One reader of untrusted bytes; its name is its fuzz target's and its corpus folder's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A PyTorch `.pth` state_dict: a zip holding a pickle and tensor blobs.
    Pth,
    /// An lnmc checkpoint (or anyone's) in safetensors.
    Safetensors,
    /// A MetaImage volume: `.mha`, or an `.mhd` header whose data file holds the same bytes.
    MetaImage,
    /// A NIfTI-1 volume, `.nii` (or `.nii.gz` when the bytes are gzip).
    Nifti,
    /// A one-file DICOM series, read as `lnmc import` reads a folder of them.
    Dicom,
    /// The coordinates CSV of `lnmc import` (series, x, y, z, label, nodule).
    Coordinates,
    /// The `path,label` CSV of an image-tree import.
    TreeLabels,
    /// The user's own nodule/patient ids CSV (`lnmc groups --from`).
    Ids,
    /// The groups sidecar beside a data file.
    GroupsSidecar,
    /// The review sidecar beside a data file.
    ReviewSidecar,
    /// A run's config.json.
    RunConfig,
    /// A run's metrics.csv.
    Metrics,
    /// A run's system.csv.
    System,
    /// A sweep's sweep.json.
    Sweep,
}

impl Reader {
    pub const ALL: [Reader; 14] = [
        Reader::Pth,
        Reader::Safetensors,
        Reader::MetaImage,
        Reader::Nifti,
        Reader::Dicom,
        Reader::Coordinates,
        Reader::TreeLabels,
        Reader::Ids,
        Reader::GroupsSidecar,
        Reader::ReviewSidecar,
        Reader::RunConfig,
        Reader::Metrics,
        Reader::System,
        Reader::Sweep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reader::Pth => "pth",
            Reader::Safetensors => "safetensors",
            Reader::MetaImage => "metaimage",
            Reader::Nifti => "nifti",
            Reader::Dicom => "dicom",
            Reader::Coordinates => "coordinates",
            Reader::TreeLabels => "tree_labels",
            Reader::Ids => "ids",
            Reader::GroupsSidecar => "groups_sidecar",
            Reader::ReviewSidecar => "review_sidecar",
            Reader::RunConfig => "run_config",
            Reader::Metrics => "metrics",
            Reader::System => "system",
            Reader::Sweep => "sweep",
        }
    }

    pub fn by_name(name: &str) -> Option<Reader> {
        Reader::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Hands `bytes` to the reader as the file it reads. Err is the refusal the user would
    /// read; a panic or an abort is a bug the fuzzer reports.
    pub fn feed(self, bytes: &[u8]) -> Result<()> {
        let dir = scratch()?;
        let put = |name: &str, bytes: &[u8]| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::file(&path, format!("{e}")))?;
            Ok(path)
        };
        // Ten rows: the sidecars are checked against a data file of that many patches.
        const ROWS: usize = 10;
        let data = dir.join("data.h5");
        match self {
            Reader::Pth => crate::checkpoint::load(&put("model.pth", bytes)?).map(drop),
            Reader::Safetensors => {
                crate::checkpoint::load(&put("model.safetensors", bytes)?).map(drop)
            }
            Reader::MetaImage => {
                // The header may name any of these as its data file; each holds the same bytes.
                for name in ["v.raw", "v.zraw", "v.mha"] {
                    put(name, bytes)?;
                }
                crate::import::metaimage::read(&put("v.mhd", bytes)?).map(drop)
            }
            Reader::Nifti => {
                let name = if bytes.starts_with(&[0x1f, 0x8b]) {
                    "v.nii.gz"
                } else {
                    "v.nii"
                };
                crate::import::nifti_file::read(&put(name, bytes)?).map(drop)
            }
            Reader::Dicom => {
                let series = dir.join("series");
                std::fs::create_dir_all(&series)
                    .map_err(|e| Error::file(&series, format!("{e}")))?;
                std::fs::write(series.join("1.dcm"), bytes)
                    .map_err(|e| Error::file(&series, format!("{e}")))?;
                crate::import::dicom_series::read(&series).map(drop)
            }
            Reader::Coordinates => {
                let columns = crate::import::coords::Columns {
                    label: "malignant",
                    nodule: Some("nodule"),
                    labels_from: None,
                };
                crate::import::coords::read(&put("coords.csv", bytes)?, &columns).map(drop)
            }
            Reader::TreeLabels => {
                crate::import::tree::Labels::read_csv(&put("labels.csv", bytes)?).map(drop)
            }
            Reader::Ids => {
                // Pairs of rows, one nodule each, alternately benign and malignant.
                let labels: Vec<u8> = (0..ROWS).map(|i| (i / 2 % 2) as u8).collect();
                crate::data::groups::from_csv(&put("ids.csv", bytes)?, &labels, None).map(drop)
            }
            Reader::GroupsSidecar => {
                std::fs::write(crate::data::groups::sidecar(&data), bytes)
                    .map_err(|e| Error::file(&data, format!("{e}")))?;
                crate::data::groups::read_sidecar(&data, ROWS, || Ok("0".repeat(64))).map(drop)
            }
            Reader::ReviewSidecar => {
                std::fs::write(crate::data::review::path(&data), bytes)
                    .map_err(|e| Error::file(&data, format!("{e}")))?;
                crate::data::review::read(&data, ROWS).map(drop)
            }
            Reader::RunConfig => {
                let run = run_dir(&dir, "config.json", bytes)?;
                crate::run::read_config(&run).map(drop)
            }
            Reader::Metrics => {
                crate::run::read_metrics(&put("metrics.csv", bytes)?);
                Ok(())
            }
            Reader::System => {
                let run = run_dir(&dir, crate::run::SYSTEM, bytes)?;
                crate::run::system::read(&run);
                Ok(())
            }
            Reader::Sweep => {
                let sweep = run_dir(&dir, crate::sweep::SWEEP, bytes)?;
                crate::sweep::Sweep::read(&sweep).map(drop)
            }
        }
    }
}

/// A run folder holding `bytes` as its `name`.
fn run_dir(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).map_err(|e| Error::file(&run, format!("{e}")))?;
    std::fs::write(run.join(name), bytes).map_err(|e| Error::file(&run, format!("{e}")))?;
    Ok(run)
}

/// This process's and thread's scratch folder (the replay test runs readers on many threads).
fn scratch() -> Result<PathBuf> {
    let thread = format!("{:?}", std::thread::current().id());
    let digits: String = thread.chars().filter(char::is_ascii_digit).collect();
    let dir = std::env::temp_dir().join(format!("lnmc-untrusted-{}-{digits}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, format!("{e}")))?;
    Ok(dir)
}

/// Words CamelCase in their own right: formats and tools, and the keys of the formats' headers
/// that lnmc's messages name (MetaImage keys, DICOM keywords, pickle globals).
const VOCABULARY: [&str; 53] = [
    "PyTorch",
    "MetaImage",
    "NIfTI",
    "SimpleITK",
    "TorchScript",
    "NaN",
    "ConvNet",
    "ResNet",
    "OrderedDict",
    "FloatStorage",
    "DoubleStorage",
    "BinaryDataByteOrderMSB",
    "CompressedData",
    "DimSize",
    "ElementByteOrderMSB",
    "ElementDataFile",
    "ElementNumberOfChannels",
    "ElementSize",
    "ElementSpacing",
    "ElementType",
    "ObjectType",
    "TransformMatrix",
    "NDims",
    "HeaderSize",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "PixelSpacing",
    "SeriesInstanceUID",
    "PixelData",
    "RescaleSlope",
    "RescaleIntercept",
    "TransferSyntaxUID",
    // The DICOM attributes the pixel-data decoder names when one is missing or wrong.
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "ImageFrameOrigin",
    "LutData",
    "LutDescriptor",
    "LutExplanation",
    "NumberOfFrames",
    "NumberOfFramesInOverlay",
    "OverlayBitPosition",
    "OverlayBitsAllocated",
    "OverlayColumns",
    "OverlayData",
    "OverlayOrigin",
    "OverlayRows",
    "OverlayType",
    "PhotometricInterpretation",
    "PixelRepresentation",
    "PlanarConfiguration",
    "SamplesPerPixel",
    "VoiLutFunction",
];

/// What is wrong with a refusal of `input` as a user would read it: None when it is one line
/// in words, else why not (several lines, a panic, a library's enum name such as
/// `HeaderTooLarge`). CamelCase words the file itself holds (a MetaImage key) are words.
pub fn unreadable(message: &str, input: &[u8]) -> Option<String> {
    if message.lines().count() > 1 {
        return Some("more than one line".into());
    }
    if message.contains("panicked") || message.contains("RUST_BACKTRACE") {
        return Some("a panic".into());
    }
    // The file's own words, echoed in the message (a column name), are the user's words; a
    // parser may have dropped quotes or spaces between their letters.
    let input: String = String::from_utf8_lossy(input)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let camel = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !VOCABULARY.contains(w) && !input.contains(*w))
        .find(|w| {
            let humps = w.chars().filter(char::is_ascii_uppercase).count();
            w.starts_with(|c: char| c.is_ascii_uppercase())
                && humps >= 2
                && w.chars().any(|c| c.is_ascii_lowercase())
        });
    camel.map(|w| format!("names {w}, not words"))
}

/// A fuzz target's body: feeds `bytes` to the reader named `name` and treats a refusal a user
/// could not read as a crash, so that the fuzzer finds those too.
pub fn fuzz(name: &str, bytes: &[u8]) {
    let reader = Reader::by_name(name).expect("a fuzz target named after a reader");
    if let Err(e) = reader.feed(bytes) {
        let message = e.to_string();
        if let Some(why) = unreadable(&message, bytes) {
            panic!("{name}: refusal not for a user ({why}): {message}");
        }
    }
}
