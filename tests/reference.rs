//! lnmc against numpy and PyTorch themselves (the project's .venv, installed by scripts/setup):
//! the intensity rescale against numpy's percentile maths, and the upstream checkpoint
//! ConvNet_11.pth (saved on CUDA) against PyTorch's logits for the same patches.

mod common;

use common::{fixture, python, read_npy, write_npy};
use lnmc::data::intensity::Intensity;
use lnmc::data::{synth, Dataset, Pixels};
use lnmc::{checkpoint, inference, model};

/// Raw patches: synthetic nodules plus the edge cases (a constant patch, two-valued patches).
fn raw_patches() -> (Vec<f32>, usize) {
    let set = synth::generate(&synth::Options {
        n: 12,
        seed: 3,
        with_ids: false,
        ..Default::default()
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
    python(
        "pytorch_reference.py",
        &[&raw_path, &norm, checkpoint, &logits],
    );
    (read_npy(&norm), read_npy(&logits))
}

#[test]
fn preprocessing_and_upstream_checkpoint_match_numpy_and_pytorch() {
    let _serial = common::one_at_a_time();
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
    let net = model::Net::new(&vs.root(), model::Spec::UPSTREAM, 0.3);
    checkpoint::restore(&mut vs, &ckpt, &pth, model::Spec::UPSTREAM).unwrap();
    // Training and evaluation rescale each batch as it is assembled, on the device: the values
    // must be bit for bit the host's, whether the set is held as float or as int16.
    let indices: Vec<usize> = (0..n).collect();
    let as_f32 = Pixels::F32(raw.clone());
    let as_i16 = Pixels::I16(raw.iter().map(|&v| v as i16).collect());
    let mut patches = Vec::new();
    for pixels in [as_f32, as_i16] {
        let mut data = Dataset {
            path: "raw".into(),
            synthetic: true,
            height: 64,
            width: 64,
            pixels,
            labels: vec![0; n],
            groups: None,
            group_source: Default::default(),
            groups_are_nodules: true,
            group_doubt: None,
            patients: None,
            scale: Default::default(),
        };
        let p =
            inference::Patches::new(&mut data, &Intensity::default(), tch::Device::Cpu, 1).unwrap();
        let idx = inference::index_tensor(&indices, tch::Device::Cpu);
        let batched = Vec::<f32>::try_from(p.batch(&idx).flatten(0, -1)).unwrap();
        assert!(
            batched
                .iter()
                .zip(&ours)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "batch assembly rescales differently from the host"
        );
        patches.push(p);
    }
    let (logits, _) = inference::predict(&net, &patches[1], &indices, 4);
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

/// DeLong's test (`paired::delong`) against an independent numpy version of Sun & Xu's fast
/// algorithm (tests/delong_reference.py), to 1e-6: AUCs, variances, covariance, z and p, on
/// correlated scores with ties.
#[test]
fn delong_matches_an_independent_numpy_implementation() {
    let _serial = common::one_at_a_time();
    let mut rng = lnmc::data::rng::SplitMix64::new(11);
    let n = 400;
    let labels: Vec<u8> = (0..n).map(|i| (i % 5 < 2) as u8).collect();
    let uniform =
        |rng: &mut lnmc::data::rng::SplitMix64| rng.below(1 << 20) as f64 / (1 << 20) as f64;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for &l in &labels {
        let shared = uniform(&mut rng);
        let signal = l as f64 * 0.35;
        // On a grid of 1/64 (exact in f32, many ties); b sees less of the signal than a.
        let grid = |v: f64| ((v.clamp(0.0, 1.0) * 64.0).round() / 64.0) as f32;
        a.push(grid(
            0.25 + signal + 0.5 * (shared - 0.5) + 0.3 * (uniform(&mut rng) - 0.5),
        ));
        b.push(grid(
            0.3 + 0.6 * signal + 0.5 * (shared - 0.5) + 0.3 * (uniform(&mut rng) - 0.5),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let label_values: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    write_npy(&path("labels.npy"), &[n], &label_values);
    write_npy(&path("a.npy"), &[n], &a);
    write_npy(&path("b.npy"), &[n], &b);
    let stdout = python(
        "delong_reference.py",
        &[&path("labels.npy"), &path("a.npy"), &path("b.npy")],
    );
    let numpy: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    let a: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    let b: Vec<f64> = b.iter().map(|&v| v as f64).collect();
    let ours = lnmc::paired::delong(&labels, &a, &b).unwrap();
    let close = |ours: f64, theirs: &serde_json::Value, what: &str| {
        let theirs = theirs.as_f64().unwrap();
        assert!(
            (ours - theirs).abs() < 1e-6,
            "{what}: lnmc {ours}, numpy {theirs}"
        );
    };
    for k in 0..2 {
        close(ours.auc[k], &numpy["auc"][k], "auc");
        close(ours.variance[k], &numpy["variance"][k], "variance");
    }
    close(ours.covariance, &numpy["covariance"], "covariance");
    close(ours.z, &numpy["z"], "z");
    close(ours.p, &numpy["p"], "p");
    // The scores differ in signal, so the test has something to find, and it is not trivial.
    assert!(
        ours.auc[0] > ours.auc[1] && ours.p < 0.05 && ours.p > 1e-12,
        "{ours:?}"
    );
}

/// Evaluation as every command runs it by default (eval, calibrate, report, the Evaluate tab)
/// scores ConvNet_11.pth exactly as PyTorch does in fp32, on every CPU: on one with AMX-BF16
/// or AVX512-BF16 (as the machines that run this often have) the former default, bf16 where
/// native, moved probabilities by far more than 1e-5 and flipped some decisions.
#[test]
fn evaluation_scores_the_upstream_checkpoint_as_pytorch_does_on_every_cpu() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patches.h5");
    synth::write(
        &path,
        &synth::Options {
            n: 200,
            seed: 11,
            ..Default::default()
        },
    )
    .unwrap();
    let data = lnmc::data::reader::read(&path).unwrap();
    let raw: Vec<f32> = (0..data.len())
        .flat_map(|i| data.patch(i).unwrap())
        .collect();
    let pth = fixture("ConvNet_11.pth");
    let (_, torch_logits) = reference(&raw, data.len(), &pth);
    let e = lnmc::evaluation::evaluate(&lnmc::evaluation::Request {
        data: Some(path),
        all: true,
        device: lnmc::types::DeviceChoice::Cpu,
        ..lnmc::evaluation::Request::new(pth)
    })
    .unwrap();
    assert!(e.precision.starts_with("fp32"), "{}", e.precision);
    assert_eq!(e.indices, (0..data.len()).collect::<Vec<_>>());
    let worst = e
        .scores
        .iter()
        .zip(torch_logits.chunks_exact(2))
        .map(|(p, l)| (p - 1.0 / (1.0 + f64::from(l[0] - l[1]).exp())).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-5,
        "P(malignant) differs from PyTorch's by {worst}"
    );
}
