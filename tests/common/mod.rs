//! Helpers shared by the integration tests: tiny HDF5 files written on the spot.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

/// Writes an HDF5 file with the given datasets.
pub struct H5 {
    file: hdf5::File,
    pub path: PathBuf,
}

impl H5 {
    pub fn create(dir: &Path, name: &str) -> H5 {
        let path = dir.join(name);
        H5 {
            file: hdf5::File::create(&path).unwrap(),
            path,
        }
    }

    pub fn add<T: hdf5::H5Type>(self, name: &str, shape: &[usize], values: &[T]) -> H5 {
        let array = ndarray::ArrayViewD::from_shape(shape, values).unwrap();
        self.file
            .new_dataset_builder()
            .with_data(&array)
            .create(name)
            .unwrap();
        self
    }

    pub fn done(self) -> PathBuf {
        self.path
    }
}

/// `n` patches of `side`×`side` HU values with labels alternating 1, 0, 1, …
pub fn valid_file(dir: &Path, name: &str, n: usize, side: usize) -> PathBuf {
    let images: Vec<i16> = (0..n * side * side)
        .map(|i| ((i * 37) % 1400) as i16 - 1000)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 2 == 0) as u8).collect();
    H5::create(dir, name)
        .add("ct_slices", &[n, side, side], &images)
        .add("slice_class", &[n, 1], &labels)
        .done()
}

/// The data rows of runs/RUN/metrics.csv under `dir` (none while the file is missing).
pub fn metrics_rows(dir: &Path, run: &str) -> Vec<String> {
    let path = dir.join("runs").join(run).join("metrics.csv");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().skip(1).map(str::to_owned).collect()
}

/// The rows without their two timing columns (seconds, samples_per_s), which differ run to run.
pub fn without_timing(rows: &[String]) -> Vec<String> {
    rows.iter()
        .map(|r| r.rsplitn(3, ',').nth(2).unwrap().to_string())
        .collect()
}

pub fn lnmc() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_lnmc"))
}

/// `lnmc ARGS` in `dir`, asserting success; its standard output.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = lnmc()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run lnmc");
    assert!(
        out.status.success(),
        "lnmc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes a float32 array as a .npy file (format version 1.0).
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Reads a little-endian float32 .npy file written by numpy.
pub fn read_npy(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'<f4'"), "not float32: {header}");
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The dashboard's state on a small synthetic set held in memory, images as half-blocks.
pub fn app() -> lnmc::tui::app::App {
    let options = lnmc::data::synth::Options {
        n: 30,
        seed: 2,
        with_ids: false,
        ..Default::default()
    };
    let data = lnmc::data::synth::in_memory(&options, "dataset/synthetic.hdf5".as_ref());
    let images = lnmc::tui::image::PatchImages::new(lnmc::tui::image::halfblocks());
    lnmc::tui::app::App::new(data, images, Vec::new())
}

/// `lnmc ARGS` in `dir`, asserting exit code 2 and a one-line message; the message.
pub fn input_error(dir: &Path, args: &[&str]) -> String {
    let out = lnmc()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run lnmc");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "lnmc {args:?}: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    stderr
}

/// `lnmc train --headless --device cpu --data DATA --run RUN EXTRA…` in `dir`, asserting success.
pub fn train(dir: &Path, data: &str, run: &str, extra: &[&str]) {
    let mut args = vec![
        "train",
        "--headless",
        "--device",
        "cpu",
        "--data",
        data,
        "--run",
        run,
    ];
    args.extend(extra);
    ok(dir, &args);
}

/// An evaluation of `indices` (patches of `data_path`) scored `scores`, at 0.5, with no second
/// checkpoint, no subgroups and intervals from `resamples` patch resamples: what the
/// dashboard's tests hand it as the evaluation worker would.
pub fn evaluation(
    data_path: PathBuf,
    indices: Vec<usize>,
    labels: Vec<u8>,
    scores: Vec<f64>,
    resamples: usize,
) -> lnmc::evaluation::Evaluation {
    let rule = lnmc::operating_point::Rule::Fixed(0.5);
    lnmc::evaluation::Evaluation {
        checkpoint: "checkpoint/demo/best.safetensors".into(),
        ci: lnmc::metrics::bootstrap(&labels, &scores, None, resamples, 1),
        calibration: lnmc::calibration::assess(&labels, &scores, None, None, resamples, 1),
        operating_point: lnmc::operating_point::at(&labels, &scores, 0.5, rule),
        against: None,
        features: Vec::new(),
        binning: lnmc::subgroups::Binning::new(&[6.0], &Default::default(), &[]),
        subgroups: Vec::new(),
        metrics: lnmc::metrics::metrics(&labels, &scores),
        indices,
        labels,
        scores,
        data_path,
        source_kind: "synthetic",
        units: lnmc::data::units::Units::Hu,
        split_name: "val split of run demo".into(),
        origin: "run demo, epoch 2".into(),
        inference_seconds: 0.01,
        model: lnmc::model::Spec::UPSTREAM,
        patients: None,
        baseline: Err("no baseline in this test".into()),
        precision: "fp32".into(),
        split: lnmc::data::split::Facts::recorded_as(lnmc::data::split::SplitKind::Stratified),
        groups: None,
        nodule: None,
    }
}

/// Whether the binary under test has the fault-injection hook (`LNMC_INJECT_FAULT`): debug
/// builds only, which is what `cargo test` builds; says so when it has not
/// (`cargo test --release`), for the caller to skip the fault it would inject.
pub fn fault_injection(what: &str) -> bool {
    if !cfg!(debug_assertions) {
        eprintln!("skipped {what}: LNMC_INJECT_FAULT exists in debug builds only (cargo test without --release)");
    }
    cfg!(debug_assertions)
}

/// Held for the whole of each test in a binary whose tests open HDF5 files in-process and
/// also start child processes: the HDF5 library opens files without close-on-exec and locks
/// them, so a child started by one test while another test has a file open inherits the
/// lock, and the other test's next open of that file fails ("unable to lock file"). One test
/// at a time there.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The dashboard's event loop on `terminal`, fed `keys` and the worker channel `(tx, rx)`,
/// until it ends (a `q` among the keys); panics on an error.
pub async fn drive<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    app: &mut lnmc::tui::app::App,
    keys: futures::channel::mpsc::UnboundedReceiver<std::io::Result<crossterm::event::Event>>,
    (tx, rx): (
        tokio::sync::mpsc::UnboundedSender<lnmc::tui::Message>,
        tokio::sync::mpsc::UnboundedReceiver<lnmc::tui::Message>,
    ),
) {
    let signals = lnmc::tui::Signals::new().unwrap();
    lnmc::tui::event_loop(terminal, app, keys, signals, tx, rx)
        .await
        .unwrap();
}

/// The 30-patch split of `app()`'s data that fake runs train on: 24 train, 6 val.
pub fn demo_split() -> lnmc::data::split::Split {
    lnmc::data::split::Split {
        kind: lnmc::data::split::SplitKind::Stratified,
        seed: 0,
        fold: None,
        about: None,
        train: (0..24).collect(),
        val: (24..30).collect(),
    }
}

/// Runs tests/SCRIPT with the project's .venv python and `args`, asserting success; its
/// standard output.
pub fn python<A: AsRef<std::ffi::OsStr>>(script: &str, args: &[A]) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = std::process::Command::new(venv_python())
        .arg(&script)
        .args(args)
        .output()
        .expect("run .venv/bin/python (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An integer dataset of an HDF5 file (ids are int32 in the files lnmc reads) as i64.
pub fn i64_dataset(file: &hdf5::File, name: &str) -> Vec<i64> {
    let values = file.dataset(name).unwrap().read_raw::<i32>().unwrap();
    values.into_iter().map(i64::from).collect()
}
