//! lnmc against numpy and PyTorch themselves (the project's .venv, installed by scripts/setup):
//! the intensity rescale against numpy's percentile maths, and the upstream checkpoint
//! ConvNet_11.pth (saved on CUDA) against PyTorch's logits for the same patches.

mod common;

use std::process::Command;

use common::{fixture, read_npy, venv_python, write_npy};
use lnmc::data::intensity::Intensity;
use lnmc::data::synth;
use lnmc::{checkpoint, inference, model};

/// Raw patches: synthetic nodules plus the edge cases (a constant patch, two-valued patches).
fn raw_patches() -> (Vec<f32>, usize) {
    let set = synth::generate(&synth::Options {
        n: 12,
        seed: 3,
        with_ids: false,
    });
    let mut raw: Vec<f32> = set.images.iter().map(|&v| v as f32).collect();
    raw.extend(std::iter::repeat_n(-700.0, 4096));
    raw.extend((0..4096).map(|i| if i % 3 == 0 { 100.0 } else { -900.0 }));
    raw.extend((0..4096).map(|i| if i < 40 { 2000.0 } else { -1000.0 }));
    (raw, 15)
}

/// Runs tests/pytorch_reference.py; returns (numpy-normalised patches, PyTorch logits).
fn reference(raw: &[f32], n: usize, checkpoint: &std::path::Path) -> (Vec<f32>, Vec<f32>) {
    let dir = tempfile::tempdir().unwrap();
    let (raw_path, norm, logits) = (
        dir.path().join("raw.npy"),
        dir.path().join("norm.npy"),
        dir.path().join("logits.npy"),
    );
    write_npy(&raw_path, &[n, 64, 64], raw);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pytorch_reference.py");
    let out = Command::new(venv_python())
        .args([&script, &raw_path, &norm, checkpoint, &logits])
        .output()
        .expect("run .venv/bin/python (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (read_npy(&norm), read_npy(&logits))
}

#[test]
fn preprocessing_and_upstream_checkpoint_match_numpy_and_pytorch() {
    let (raw, n) = raw_patches();
    let pth = fixture("ConvNet_11.pth");
    let (numpy_norm, torch_logits) = reference(&raw, n, &pth);

    let ours = Intensity::default().apply(&raw, 4096);
    let worst = ours
        .iter()
        .zip(&numpy_norm)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-6, "rescale differs from numpy by {worst}");
    assert!(
        ours[12 * 4096..13 * 4096].iter().all(|&v| v == 0.0),
        "constant patch not zeros"
    );

    let ckpt = checkpoint::load(&pth).unwrap();
    assert!(ckpt.info.is_none());
    let mut vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let net = model::ConvNet::new(&vs.root(), 0.3);
    checkpoint::restore(&mut vs, &ckpt, &pth).unwrap();
    let images = tch::Tensor::from_slice(&ours).reshape([n as i64, 1, 64, 64]);
    let labels = tch::Tensor::zeros([n as i64], tch::kind::INT64_CPU);
    let indices: Vec<usize> = (0..n).collect();
    let (logits, _) = inference::predict(&net, &images, &labels, &indices, 4);
    let flat: Vec<f32> = logits.iter().flatten().copied().collect();
    assert_eq!(flat.len(), torch_logits.len());
    let worst = flat
        .iter()
        .zip(&torch_logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "logits differ from PyTorch by {worst}");
    for (ours, theirs) in logits.iter().zip(torch_logits.chunks_exact(2)) {
        assert_eq!(
            ours[1] > ours[0],
            theirs[1] > theirs[0],
            "prediction differs"
        );
    }
}
