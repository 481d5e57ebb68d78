//! Checkpoints: lnmc's safetensors round-trip, and refusals of files that do not fit.

use std::path::{Path, PathBuf};

use lnmc::checkpoint::{self, Info};
use lnmc::data::intensity::Intensity;
use lnmc::data::split::SplitKind;
use lnmc::model::{Net, Spec};
use lnmc::types::{DataInfo, Hyper, RunConfig};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Tensor};

fn info() -> Info {
    Info {
        config: RunConfig {
            lnmc_version: "test".into(),
            name: "unit".into(),
            created: "20261126-000000".into(),
            run_dir: "runs/unit".into(),
            checkpoint_dir: "checkpoint/unit".into(),
            data: DataInfo {
                path: "d.h5".into(),
                sha256: "00".into(),
                synthetic: true,
                samples: 10,
                height: 64,
                width: 64,
                normalised_mean: 0.1,
                normalised_std: 0.5,
            },
            intensity: Intensity::Fixed {
                low: -1000.0,
                high: 400.0,
            },
            split: SplitKind::Stratified,
            split_facts: None,
            fold: None,
            excluded_flagged: None,
            split_seed: 3,
            train_samples: 8,
            val_samples: 2,
            hyper: Hyper::default(),
            device: lnmc::types::RunDevice::Cpu,
            precision: lnmc::types::Numeric::Fp32,
            threads: 1,
        },
        epoch: 7,
        val_accuracy: 0.875,
        adam_step: 42,
    }
}

fn model(seed: i64) -> (VarStore, Net) {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let net = Net::new(&vs.root(), Spec::UPSTREAM, 0.3);
    (vs, net)
}

fn named(vs: &VarStore) -> Vec<(String, Tensor)> {
    vs.variables().into_iter().collect()
}

fn save_to(dir: &Path, tensors: &[(String, Tensor)]) -> PathBuf {
    let path = dir.join("c.safetensors");
    checkpoint::save(&path, tensors, &info()).unwrap();
    path
}

#[test]
fn round_trip_restores_weights_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (vs, net) = model(1);
    let path = save_to(dir.path(), &named(&vs));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec!["c.safetensors"],
        "temporary file left behind"
    );

    let loaded = checkpoint::load(&path).unwrap();
    let meta = loaded.info.as_ref().unwrap();
    assert_eq!(
        (meta.epoch, meta.adam_step, meta.val_accuracy),
        (7, 42, 0.875)
    );
    assert_eq!(meta.config, info().config);
    // The header alone says the same, for listings that must not read the tensors.
    let header_only = checkpoint::read_info(&path).unwrap();
    assert_eq!((header_only.epoch, header_only.config), (7, info().config));
    let pth =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ConvNet_11.pth");
    assert!(
        checkpoint::read_info(&pth).is_none(),
        "a PyTorch file has no lnmc header"
    );

    let (mut other_vs, other) = model(2);
    let x = Tensor::randn([3, 1, 64, 64], tch::kind::FLOAT_CPU);
    assert!(!net.forward_t(&x, false).equal(&other.forward_t(&x, false)));
    checkpoint::restore(&mut other_vs, &loaded, &path, Spec::UPSTREAM).unwrap();
    assert!(net.forward_t(&x, false).equal(&other.forward_t(&x, false)));
}

#[test]
fn refuses_a_checkpoint_of_another_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let (vs, _) = model(1);
    let mut tensors = named(&vs);
    for (name, t) in tensors.iter_mut() {
        if name == "conv3.weight" {
            *t = Tensor::zeros([16, 32, 3, 3], tch::kind::FLOAT_CPU);
        }
    }
    let path = save_to(dir.path(), &tensors);
    let (mut target, _) = model(2);
    let err = checkpoint::restore(
        &mut target,
        &checkpoint::load(&path).unwrap(),
        &path,
        Spec::UPSTREAM,
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains(
            "tensor 'conv3.weight' has shape [16, 32, 3, 3], the model needs [64, 32, 3, 3]"
        ),
        "{err}"
    );

    let fewer: Vec<_> = named(&vs)
        .into_iter()
        .filter(|(n, _)| n != "fc.bias")
        .collect();
    let path = save_to(dir.path(), &fewer);
    let err = checkpoint::restore(
        &mut target,
        &checkpoint::load(&path).unwrap(),
        &path,
        Spec::UPSTREAM,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("tensor 'fc.bias' is missing"),
        "{err}"
    );

    let mut more = named(&vs);
    more.push((
        "conv5.weight".into(),
        Tensor::zeros([1], tch::kind::FLOAT_CPU),
    ));
    let path = save_to(dir.path(), &more);
    let err = checkpoint::restore(
        &mut target,
        &checkpoint::load(&path).unwrap(),
        &path,
        Spec::UPSTREAM,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unexpected tensor 'conv5.weight'"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_is_known_by_its_weights_and_must_agree_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(4);
    let vs = VarStore::new(Device::Cpu);
    let spec = Spec {
        architecture: lnmc::model::Architecture::Resnet,
        context: 3,
    };
    let net = Net::new(&vs.root(), spec, 0.0);
    let mut recorded = info();
    recorded.config.hyper.model = spec.architecture;
    recorded.config.hyper.context = 3;
    let path = dir.path().join("r.safetensors");
    checkpoint::save(&path, &named(&vs), &recorded).unwrap();
    let (_vs, loaded, found) = checkpoint::load(&path)
        .unwrap()
        .network(&path, Device::Cpu)
        .unwrap();
    assert_eq!(found, spec);
    let x = Tensor::randn([2, 3, 64, 64], tch::kind::FLOAT_CPU);
    assert!(net.forward_t(&x, false).equal(&loaded.forward_t(&x, false)));

    // The same weights recorded as another network: refused, by name.
    recorded.config.hyper.context = 1;
    checkpoint::save(&path, &named(&vs), &recorded).unwrap();
    let err = checkpoint::load(&path)
        .unwrap()
        .network(&path, Device::Cpu)
        .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .ends_with("records a resnet but holds the weights of a resnet · 3 slices"),
        "{err}"
    );
}

#[test]
fn refuses_truncated_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let (vs, _) = model(1);
    let path = save_to(dir.path(), &named(&vs));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1000]).unwrap();
    let err = checkpoint::load(&path)
        .err()
        .expect("truncated checkpoint accepted");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("cut short"), "{err}");

    let text = dir.path().join("notes.pth");
    std::fs::write(&text, "hello").unwrap();
    assert!(checkpoint::load(&text).is_err());

    let pth =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ConvNet_11.pth");
    let bytes = std::fs::read(pth).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::load(&cut)
        .err()
        .expect("truncated .pth accepted");
    assert!(
        err.to_string().starts_with(&cut.display().to_string()),
        "{err}"
    );
}

#[test]
fn imports_the_upstream_pytorch_state_dict() {
    let pth =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ConvNet_11.pth");
    let loaded = checkpoint::load(&pth).unwrap();
    let shapes: Vec<(String, Vec<i64>)> = loaded
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.size()))
        .collect();
    assert_eq!(shapes.len(), 10);
    assert!(shapes.contains(&("conv2.weight".into(), vec![32, 32, 3, 3])));
    assert!(shapes.contains(&("fc.weight".into(), vec![2, 64])));
    let (mut vs, _) = model(0);
    checkpoint::restore(&mut vs, &loaded, &pth, Spec::UPSTREAM).unwrap();
    let fc = &vs.variables()["fc.bias"];
    assert!(fc.abs().sum(tch::Kind::Float).double_value(&[]) > 0.0);
}
