//! Issue 32: a second architecture, neighbouring slices as channels, the diameter baseline,
//! predictions out and a model PyTorch loads without lnmc, on data the tests make.

mod common;

use std::path::Path;

use common::{input_error, ok, one_at_a_time, train, venv_python, H5};

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lnmc-models-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 600 synthetic patches of nodules with ids, each nodule 1–4 slices: enough nodules of
/// each class in a fifth of them for nodule-level numbers.
fn with_ids(dir: &Path) {
    ok(dir, &["synth", "--out", "d.h5", "--n", "600", "--with-ids"]);
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// (index → p_malignant) and the rows of a predictions CSV.
fn predictions(path: &Path) -> Vec<lnmc::predictions::Prediction> {
    lnmc::predictions::read(path).unwrap()
}

/// PyTorch alone, given dir/model.pt exported from `run`, reproduces lnmc's probabilities of
/// every patch of dir/d.h5 (tests/export_reference.py: the README's lines, context included).
fn assert_pytorch_agrees(dir: &Path, run: &str) {
    ok(
        dir,
        &[
            "eval",
            "--checkpoint",
            run,
            "--split",
            "all",
            "--predictions",
            "every.csv",
        ],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export_reference.py");
    let out = std::process::Command::new(venv_python())
        .current_dir(dir)
        .args([
            script.as_os_str(),
            "model.pt".as_ref(),
            "d.h5".as_ref(),
            "every.csv".as_ref(),
        ])
        .output()
        .expect("run .venv/bin/python (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "PyTorch disagrees with {run}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_resnet_on_three_slices_trains_and_every_reader_loads_it_untold() {
    let _one = one_at_a_time();
    let dir = temp("resnet");
    with_ids(&dir);
    train(
        &dir,
        "d.h5",
        "res",
        &[
            "--epochs",
            "1",
            "--model",
            "resnet",
            "--context",
            "3",
            "--batch-size",
            "32",
        ],
    );
    let config = json(&std::fs::read_to_string(dir.join("runs/res/config.json")).unwrap());
    assert_eq!(config["hyper"]["model"], "resnet");
    assert_eq!(config["hyper"]["context"], 3);

    // eval knows the network from the checkpoint, and sets it against the diameter alone.
    let e = json(&ok(
        &dir,
        &[
            "eval",
            "--checkpoint",
            "res",
            "--json",
            "--predictions",
            "val.csv",
        ],
    ));
    assert_eq!(e["model"]["architecture"], "resnet");
    assert_eq!(e["model"]["context"], 3);
    let b = &e["baseline"]["diameter"];
    assert_eq!(b["unit"], "nodule", "{e}");
    let auc = b["delong"]["auc"].as_array().unwrap();
    assert!((auc[0].as_f64().unwrap() - e["nodule"]["auc"].as_f64().unwrap()).abs() < 1e-9);
    let val = predictions(&dir.join("val.csv"));
    assert_eq!(val.len() as u64, e["n"].as_u64().unwrap());
    assert!(val
        .iter()
        .all(|r| r.nodule.is_some() && r.label.is_some() && r.fold.is_none()));

    // The same patches as a file without labels: predict scores them alike, labels empty.
    let (pixels, ids) = {
        let f = hdf5::File::open(dir.join("d.h5")).unwrap();
        let pixels: Vec<i16> = f.dataset("ct_slices").unwrap().read_raw().unwrap();
        let ids: Vec<i64> = f.dataset("nodule_id").unwrap().read_raw().unwrap();
        (pixels, ids)
    };
    H5::create(&dir, "unlabelled.h5")
        .add("ct_slices", &[600, 64, 64], &pixels)
        .add("nodule_id", &[600], &ids)
        .done();
    let said = ok(
        &dir,
        &[
            "predict",
            "--checkpoint",
            "res",
            "--data",
            "unlabelled.h5",
            "--out",
            "all.csv",
        ],
    );
    assert!(said.contains("the file has no labels"), "{said}");
    let all = predictions(&dir.join("all.csv"));
    assert_eq!(all.len(), 600);
    assert!(all.iter().all(|r| r.label.is_none()));
    for r in &val {
        let p = all[r.index].p_malignant;
        assert!(
            (p - r.p_malignant).abs() < 1e-12,
            "patch {}: {p} vs {}",
            r.index,
            r.p_malignant
        );
    }

    // The report names the network and sets it against the diameter.
    ok(&dir, &["report", "--checkpoint", "res", "--out", "report"]);
    let html = std::fs::read_to_string(dir.join("report/report.html")).unwrap();
    assert!(
        html.contains("resnet · 3 slices"),
        "no network in the report"
    );
    assert!(html.contains("Against the diameter alone"));

    // The dashboard's and show's class-activation map of a three-slice network.
    let shown = ok(
        &dir,
        &[
            "show",
            "--data",
            "d.h5",
            "--index",
            "7",
            "--checkpoint",
            "res",
            "--cam",
            "--out",
            "p.png",
        ],
    );
    assert!(shown.contains("P(malignant)"), "{shown}");
    // The dashboard's worker looks neighbours up in the lookup the app built once: the same
    // map as show's; a file that cannot tell neighbours is refused naming it.
    let data = lnmc::data::reader::open(&dir.join("d.h5")).unwrap();
    let explainer =
        lnmc::explain::Explainer::load(&dir.join("checkpoint/res/best.safetensors")).unwrap();
    let lookup = lnmc::data::context::lookup(&data);
    let (dashboard, alone) = (
        explainer.explain_in(&lookup, &data, &[7, 8]).unwrap(),
        explainer.explain_at(&data, &[7, 8]).unwrap(),
    );
    assert_eq!(dashboard[1].map, alone[1].map);
    assert_eq!(dashboard[0].logits, alone[0].logits);
    let refused = explainer
        .explain_in(&Err("has no nodule ids".into()), &data, &[7])
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("d.h5") && refused.contains("a network of 3 slices: the file has no"),
        "{refused}"
    );

    // TorchScript: PyTorch alone reproduces lnmc's probabilities on every patch.
    ok(
        &dir,
        &["export-model", "--checkpoint", "res", "--out", "model.pt"],
    );
    let about = json(&std::fs::read_to_string(dir.join("model.json")).unwrap());
    assert_eq!(about["context"], 3);
    assert_pytorch_agrees(&dir, "res");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_upstream_convnet_still_exports_and_loads_in_pytorch() {
    let _one = one_at_a_time();
    let dir = temp("convnet");
    with_ids(&dir);
    train(
        &dir,
        "d.h5",
        "conv",
        &["--epochs", "1", "--intensity", "window:-1000,400"],
    );
    ok(
        &dir,
        &["export-model", "--checkpoint", "conv", "--out", "model.pt"],
    );
    assert_pytorch_agrees(&dir, "conv");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn context_and_patch_size_mismatches_are_refused_in_one_line_with_nothing_written() {
    let _one = one_at_a_time();
    let dir = temp("refused");
    common::valid_file(&dir, "plain.h5", 40, 64);
    common::valid_file(&dir, "small.h5", 40, 48);
    let e = input_error(
        &dir,
        &[
            "train",
            "--headless",
            "--data",
            "plain.h5",
            "--context",
            "2",
        ],
    );
    assert!(e.contains("--context 2: must be odd"), "{e}");
    let e = input_error(
        &dir,
        &[
            "train",
            "--headless",
            "--data",
            "plain.h5",
            "--context",
            "3",
            "--run",
            "k3",
        ],
    );
    assert!(
        e.contains("plain.h5") && e.contains("has no nodule ids"),
        "{e}"
    );
    assert!(!dir.join("runs/k3").exists(), "a refused run left a folder");

    train(&dir, "plain.h5", "one", &["--epochs", "1"]);
    let e = input_error(
        &dir,
        &[
            "predict",
            "--checkpoint",
            "one",
            "--data",
            "small.h5",
            "--out",
            "p.csv",
        ],
    );
    assert!(
        e.contains("holds 48×48 patches") && e.contains("64×64"),
        "{e}"
    );
    assert!(!dir.join("p.csv").exists());
    let e = input_error(
        &dir,
        &[
            "predict",
            "--checkpoint",
            "one",
            "--data",
            "plain.h5",
            "--out",
            "nowhere/p.csv",
        ],
    );
    assert!(e.contains("directory does not exist"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cross_validation_pools_every_patch_once_with_its_fold_and_meets_the_baseline() {
    let _one = one_at_a_time();
    let dir = temp("cv");
    with_ids(&dir);
    train(&dir, "d.h5", "cv", &["--epochs", "1", "--folds", "2"]);
    let rows = predictions(&dir.join("runs/cv/cv-predictions.csv"));
    let mut seen: Vec<usize> = rows.iter().map(|r| r.index).collect();
    seen.sort();
    assert_eq!(seen, (0..600).collect::<Vec<_>>(), "each patch scored once");
    assert!(rows.iter().all(|r| matches!(r.fold, Some(1 | 2))));
    let cv = json(&std::fs::read_to_string(dir.join("runs/cv/cv.json")).unwrap());
    let b = &cv["pooled"]["baseline"];
    let network = b["delong"]["auc"][0].as_f64().unwrap();
    assert!(
        (network - cv["pooled"]["nodule"]["auc"].as_f64().unwrap()).abs() < 1e-9,
        "{b}"
    );
    assert!(b["intervals"][1][0].as_f64().unwrap() <= b["delong"]["auc"][1].as_f64().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_sweep_crosses_models_and_contexts_like_any_setting() {
    let _one = one_at_a_time();
    let dir = temp("sweep");
    ok(
        &dir,
        &["synth", "--out", "d.h5", "--n", "200", "--with-ids"],
    );
    ok(
        &dir,
        &[
            "sweep",
            "grid",
            "model=convnet,resnet",
            "context=1,3",
            "epochs=1",
            "--data",
            "d.h5",
        ],
    );
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir.join("runs/grid")).unwrap() {
        let config = entry.unwrap().path().join("config.json");
        if let Ok(text) = std::fs::read_to_string(config) {
            let c = json(&text);
            seen.push(format!("{} {}", c["hyper"]["model"], c["hyper"]["context"]));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "\"convnet\" 1",
            "\"convnet\" 3",
            "\"resnet\" 1",
            "\"resnet\" 3"
        ],
        "one run per point"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
