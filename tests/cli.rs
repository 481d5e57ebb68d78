//! The `lnmc` binary end to end, in a scratch directory: synth → train → eval → show, resume,
//! determinism, and the one-line errors with exit code 2.

mod common;

use std::path::Path;

use common::{fixture, input_error, lnmc, metrics_rows, ok, valid_file, without_timing};

fn synth(dir: &Path, n: usize) {
    ok(
        dir,
        &[
            "synth",
            "--out",
            "data.h5",
            "--n",
            &n.to_string(),
            "--seed",
            "1",
        ],
    );
}

/// metrics.csv rows without the wall-clock column, which may differ between runs.
fn rows(dir: &Path, run: &str) -> Vec<String> {
    without_timing(&metrics_rows(dir, run))
}

const TRAIN: [&str; 6] = [
    "train",
    "--headless",
    "--data",
    "data.h5",
    "--device",
    "cpu",
];

#[test]
fn synth_is_deterministic_and_has_the_upstream_schema() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["synth", "--out", "a.h5", "--n", "60", "--seed", "4"],
    );
    ok(
        dir.path(),
        &["synth", "--out", "b.h5", "--n", "60", "--seed", "4"],
    );
    ok(
        dir.path(),
        &["synth", "--out", "c.h5", "--n", "60", "--seed", "5"],
    );
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    assert_eq!(read("a.h5"), read("b.h5"), "same seed, different bytes");
    assert_ne!(read("a.h5"), read("c.h5"));
    let data = lnmc::data::reader::read(&dir.path().join("a.h5")).unwrap();
    assert!(data.synthetic);
    assert_eq!((data.len(), data.height, data.width), (60, 64, 64));
    // Malignant rows first, in the upstream proportion (2526 of 6691).
    assert_eq!(data.class_counts(), (37, 23));
    assert!(data.labels[..23].iter().all(|&l| l == 1));
    let hu = data.pixel_sample(usize::MAX).unwrap();
    assert_eq!(hu.len(), 60 * 64 * 64);
    assert!(hu.iter().all(|&v| (-1024.0..=3000.0).contains(&v)));
}

#[test]
fn trains_saves_and_evaluates_the_same_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 200);
    let out = ok(
        dir.path(),
        &[
            &TRAIN[..],
            &["--epochs", "2", "--run", "a", "--batch-size", "32"],
        ]
        .concat(),
    );
    assert!(out.contains("synthetic data"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("epoch")).count(),
        2,
        "{out}"
    );
    let run = dir.path().join("runs/a");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,train_loss,train_acc,val_loss,val_acc,val_f1,val_auc,val_bal_acc,val_pr_auc,val_nodule_acc,val_nodule_f1,val_nodule_auc,lr,seconds,samples_per_s")
    );
    let best = lines
        .map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    assert!((0.0..=1.0).contains(&best));
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("split.json")).unwrap()).unwrap();
    assert_eq!(split["kind"], "stratified");
    assert_eq!(
        split["val"].as_array().unwrap().len() + split["train"].as_array().unwrap().len(),
        200
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["hyper"]["batch_size"], 32);
    assert_eq!(config["data"]["sha256"].as_str().unwrap().len(), 64);
    assert!(!run.join("lock").exists(), "lock left behind");

    let json = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            "checkpoint/a/best.safetensors",
            "--json",
        ],
    );
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        m["accuracy"].as_f64().unwrap(),
        best,
        "eval disagrees with metrics.csv"
    );
    assert_eq!(m["n"], 40);
    let c = &m["confusion"];
    let total: u64 = (0..2)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| c[i][j].as_u64().unwrap())
        .sum();
    assert_eq!(total, 40);
    for key in ["precision", "recall", "specificity", "f1", "auc"] {
        assert!(m[key].is_number(), "{key} missing");
    }
    // No nodule ids in this file: no nodule metrics, patch-level intervals, and a warning.
    assert!(m["nodule"].is_null(), "{json}");
    assert_eq!(m["ci"]["unit"], "patch");
    assert_eq!(m["split"]["optimistic"], true);
    assert_eq!(m["split"]["groups"], "none");
    assert!(
        m["numeric_precision"].as_str().unwrap().starts_with("fp32"),
        "{json}"
    );
    let (lo, hi) = (
        m["ci"]["accuracy"][0].as_f64().unwrap(),
        m["ci"]["accuracy"][1].as_f64().unwrap(),
    );
    assert!(lo <= best && best <= hi, "{lo} {best} {hi}");
    let all = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            "checkpoint/a/last.safetensors",
            "--split",
            "all",
            "--json",
        ],
    );
    assert!(all.contains("\"n\":200"), "{all}");
}

/// A file without ids: `lnmc groups` writes the sidecar, from then on training holds out whole
/// nodules by default and scores validation per nodule too; eval reports the nodules and
/// intervals that resample them.
#[test]
fn inferred_groups_give_a_nodule_split_and_nodule_metrics() {
    let dir = tempfile::tempdir().unwrap();
    // Enough nodules that the validation side has 10 of each class (metrics::MIN_PER_CLASS).
    synth(dir.path(), 600);
    let text = ok(
        dir.path(),
        &[
            "train",
            "--headless",
            "--data",
            "data.h5",
            "--epochs",
            "1",
            "--run",
            "before",
            "--device",
            "cpu",
        ],
    );
    assert!(text.contains("slice-level split: neighbouring slices of a nodule on both sides, val accuracy optimistic"), "{text}");
    let said = ok(dir.path(), &["groups", "--data", "data.h5"]);
    assert!(
        said.contains("nodules from 600 patches; slices per nodule: 1: "),
        "{said}"
    );
    // Clear runs of slices: the verdict trusts them.
    assert!(said.contains("verdict: reliable"), "{said}");
    let sidecar = dir.path().join("data.h5.groups.csv");
    assert!(said.contains("data.h5.groups.csv"), "{said}");
    let csv = std::fs::read_to_string(&sidecar).unwrap();
    assert_eq!(csv.lines().nth(1), Some("# source inferred"));
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("# verdict reliable: "),
        "{csv}"
    );
    assert_eq!(csv.lines().nth(3), Some("index,nodule"));
    assert_eq!(csv.lines().count(), 604);

    let text = ok(
        dir.path(),
        &[
            "train",
            "--headless",
            "--data",
            "data.h5",
            "--epochs",
            "1",
            "--run",
            "after",
            "--device",
            "cpu",
        ],
    );
    assert!(!text.contains("slice-level"), "{text}");
    assert!(text.contains("nodules acc"), "{text}");
    let split: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/after/split.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(split["kind"], "group");
    let ids: Vec<i64> = csv
        .lines()
        .skip(4)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let side = |name: &str| -> std::collections::HashSet<i64> {
        split[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| ids[i.as_u64().unwrap() as usize])
            .collect()
    };
    assert!(
        side("train").is_disjoint(&side("val")),
        "a nodule on both sides"
    );
    let rows = common::metrics_rows(dir.path(), "after");
    let nodule_acc: f64 = rows[0].split(',').nth(9).unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&nodule_acc), "{rows:?}");

    let json = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            "checkpoint/after/best.safetensors",
            "--json",
        ],
    );
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(m["split"]["optimistic"], false);
    assert_eq!(m["split"]["kind"], "group");
    assert_eq!(m["split"]["groups"], "inferred");
    assert_eq!(m["ci"]["unit"], "nodule");
    assert_eq!(m["nodule"]["accuracy"].as_f64().unwrap(), nodule_acc);
    assert!(m["nodule"]["n"].as_u64().unwrap() < m["n"].as_u64().unwrap());

    // A sidecar that no longer fits the data is refused, naming it.
    std::fs::write(
        &sidecar,
        csv.replace("index,nodule\n0,0\n", "index,nodule\n0,-1\n"),
    )
    .unwrap();
    let out = common::lnmc()
        .current_dir(dir.path())
        .args(["eval", "--checkpoint", "checkpoint/after/best.safetensors"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("data.h5.groups.csv: line 5 is not"),
        "{stderr}"
    );
    let mut other = csv.lines().map(str::to_owned).collect::<Vec<_>>();
    other[0] = format!("# lnmc nodule groups of data sha256 {}", "0".repeat(64));
    std::fs::write(&sidecar, other.join("\n") + "\n").unwrap();
    let out = common::lnmc()
        .current_dir(dir.path())
        .args(["show", "--data", "data.h5", "--index", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("was made for other data"), "{stderr}");
}

#[test]
fn same_seed_same_curve_and_resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 120);
    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "3", "--run", "straight"]].concat(),
    );
    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "3", "--run", "again"]].concat(),
    );
    assert_eq!(
        rows(dir.path(), "straight"),
        rows(dir.path(), "again"),
        "not deterministic"
    );

    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "2", "--run", "resumed"]].concat(),
    );
    let out = ok(
        dir.path(),
        &[
            "train",
            "--headless",
            "--resume",
            // The bare name --run gave.
            "resumed",
            "--epochs",
            "3",
        ],
    );
    assert!(out.contains("epochs 3–3"), "{out}");
    assert_eq!(
        rows(dir.path(), "straight"),
        rows(dir.path(), "resumed"),
        "resume diverged"
    );
}

#[test]
fn refuses_bad_options_and_inputs_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 40);
    for (option, value) in [
        ("--epochs", "0"),
        ("--batch-size", "0"),
        ("--lr", "-1"),
        ("--dropout", "1"),
    ] {
        let arg = format!("{option}={value}");
        let msg = input_error(dir.path(), &[&TRAIN[..], &[arg.as_str()]].concat());
        assert!(msg.contains(option), "{msg}");
    }
    // A negative number is a value out of range, not an unknown flag.
    let msg = input_error(dir.path(), &[&TRAIN[..], &["--lr", "-1"]].concat());
    assert!(msg.contains("--lr -1: must be a positive number"), "{msg}");
    assert!(
        !dir.path().join("runs").exists(),
        "a refused run wrote files"
    );
    // What to watch is checked before the terminal is.
    let msg = input_error(dir.path(), &["watch", "runs/nothing"]);
    assert!(
        msg.contains("runs/nothing") && !msg.contains("not a terminal"),
        "{msg}"
    );
    std::fs::write(dir.path().join("junk.h5"), "junk").unwrap();
    let msg = input_error(dir.path(), &["train", "--headless", "--data", "junk.h5"]);
    assert!(msg.contains("junk.h5: not an HDF5 file"), "{msg}");
    let msg = input_error(
        dir.path(),
        &["eval", "--checkpoint", "junk.h5", "--data", "data.h5"],
    );
    assert!(msg.contains("junk.h5"), "{msg}");

    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "1", "--run", "taken"]].concat(),
    );
    let msg = input_error(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "1", "--run", "taken"]].concat(),
    );
    assert!(msg.contains("run exists already"), "{msg}");
}

#[test]
fn evaluates_the_upstream_checkpoint_on_upstreams_split() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 50);
    let pth = fixture("ConvNet_11.pth");
    let json = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            pth.to_str().unwrap(),
            "--data",
            "data.h5",
            "--json",
        ],
    );
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(m["n"], 10); // ceil(0.2 × 50)
    let text = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            pth.to_str().unwrap(),
            "--data",
            "data.h5",
        ],
    );
    assert!(
        text.contains("PyTorch state_dict") && text.contains("upstream val split"),
        "{text}"
    );
}

#[test]
fn show_prints_the_label_and_refuses_bad_indices() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_file(dir.path(), "small.h5", 4, 16);
    let out = ok(
        dir.path(),
        &["show", "--data", path.to_str().unwrap(), "--index", "2"],
    );
    assert!(
        out.starts_with("patch 2 of 4 · malignant (1) · real data"),
        "{out}"
    );
    // Not a terminal: plain text and a pointer to --out, no queries or colour codes.
    assert!(
        !out.contains('\x1b') && out.contains("--out FILE.png"),
        "{out:?}"
    );
    let msg = input_error(
        dir.path(),
        &["show", "--data", path.to_str().unwrap(), "--index", "4"],
    );
    assert!(msg.contains("out of range"), "{msg}");
}

/// `--folds K`: K ordinary runs under runs/NAME/, every patch validated exactly once, a summary
/// in cv.json; the same command again finds the folds done; the Runs tab lists one row that
/// opens into the folds.
#[test]
fn cross_validation_runs_folds_and_pools_out_of_fold_predictions() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["synth", "--out", "ids.h5", "--n", "150", "--with-ids"],
    );
    let args = [
        "train",
        "--headless",
        "--data",
        "ids.h5",
        "--epochs",
        "2",
        "--folds",
        "3",
        "--run",
        "cv",
        "--device",
        "cpu",
    ];
    let text = ok(dir.path(), &args);
    assert!(
        text.contains("3-fold cross-validation (group split)"),
        "{text}"
    );
    let cv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("runs/cv/cv.json")).unwrap())
            .unwrap();
    assert_eq!(cv["per_fold"].as_array().unwrap().len(), 3);
    assert_eq!(cv["pooled"]["metrics"]["n"], 150, "each patch scored once");
    assert_eq!(cv["pooled"]["ci"]["unit"], "nodule");
    let mean = cv["mean"]["val_acc"].as_f64().unwrap();
    let folds: Vec<f64> = cv["per_fold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["val_acc"].as_f64().unwrap())
        .collect();
    assert!((mean - folds.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    // The headline numbers use each fold's last epoch, chosen without the scored patches; the
    // best epochs stay beside them, marked optimistic.
    assert!(
        cv["selection"].as_str().unwrap().contains("last epoch"),
        "{cv}"
    );
    assert!(cv["per_fold"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["epoch"] == 2));
    assert_eq!(cv["best_epoch"]["optimistic"], true);
    assert_eq!(cv["best_epoch"]["pooled"]["metrics"]["n"], 150);
    assert_eq!(cv["split_facts"]["kind"], "group");
    assert_eq!(cv["split_facts"]["groups"], "file");
    assert_eq!(cv["split_facts"]["optimistic"], false);
    let mut seen = vec![0; 150];
    for k in 1..=3 {
        let split: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("runs/cv/fold-{k}/split.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(split["fold"], serde_json::json!([k, 3]));
        for i in split["val"].as_array().unwrap() {
            seen[i.as_u64().unwrap() as usize] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1));
    let again = ok(dir.path(), &args);
    assert_eq!(again.matches("finished already").count(), 3, "{again}");

    let runs = lnmc::run::catalog::runs(&dir.path().join("runs"));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].members().len(), 3);
    assert_eq!(runs[0].status, lnmc::run::Status::Finished);
    let mut tab = lnmc::tui::runs_tab::RunsTab::default();
    tab.set_runs(runs);
    assert_eq!(tab.rows().len(), 1);
    let app = common::app();
    use lnmc::tui::panel::Panel;
    tab.on_key(crossterm::event::KeyCode::Enter.into(), &app.context());
    assert_eq!(tab.rows().len(), 4, "the folds open under their row");

    let err = input_error(
        dir.path(),
        &["train", "--headless", "--data", "ids.h5", "--folds", "1"],
    );
    assert!(
        err.contains("--folds 1: cross-validation needs at least 2 folds"),
        "{err}"
    );
    let err = input_error(
        dir.path(),
        &["train", "--headless", "--data", "ids.h5", "--folds", "80"],
    );
    assert!(err.contains("fewer than the folds"), "{err}");
    assert!(!dir.path().join("runs/x").exists());
}

/// The recipe options are recorded, reproducible, and do what they say: d4 augmentation,
/// a cosine schedule (the lr column falls), label smoothing, early stopping, and TTA in eval.
#[test]
fn recipe_options_are_recorded_and_work() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 120);
    let recipe = [
        &TRAIN[..],
        &[
            "--epochs",
            "3",
            "--augment",
            "d4",
            "--schedule",
            "cosine",
            "--label-smoothing",
            "0.1",
        ],
    ]
    .concat();
    ok(dir.path(), &[&recipe[..], &["--run", "r1"]].concat());
    ok(dir.path(), &[&recipe[..], &["--run", "r2"]].concat());
    assert_eq!(
        rows(dir.path(), "r1"),
        rows(dir.path(), "r2"),
        "not deterministic"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/r1/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["hyper"]["augment"], "d4");
    assert_eq!(config["hyper"]["schedule"], "cosine");
    assert_eq!(config["hyper"]["label_smoothing"], 0.1);
    let lrs: Vec<f64> = rows(dir.path(), "r1")
        .iter()
        .map(|r| r.split(',').nth(12).unwrap().parse().unwrap())
        .collect();
    assert!(
        lrs[0] > lrs[1] && lrs[1] > lrs[2] && lrs[2] < 0.2 * lrs[0],
        "{lrs:?}"
    );
    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "3", "--run", "plain"]].concat(),
    );
    assert_ne!(rows(dir.path(), "r1"), rows(dir.path(), "plain"));

    // Learning nothing, the AUC cannot improve: patience 1 ends the run after epoch 2.
    let text = ok(
        dir.path(),
        &[
            &TRAIN[..],
            &[
                "--epochs",
                "6",
                "--lr",
                "1e-12",
                "--early-stop",
                "1",
                "--run",
                "early",
            ],
        ]
        .concat(),
    );
    assert!(
        text.contains("(early stop: val AUC not better for 1 epochs)"),
        "{text}"
    );
    assert_eq!(rows(dir.path(), "early").len(), 2);
    let runs = lnmc::run::catalog::runs(&dir.path().join("runs"));
    let early = runs.iter().find(|r| r.name == "early").unwrap();
    assert_eq!(early.status, lnmc::run::Status::Finished);

    let json = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            "checkpoint/r1/best.safetensors",
            "--tta",
            "--json",
        ],
    );
    let m: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        m["scored_on"].as_str().unwrap().contains("TTA ×8"),
        "{json}"
    );
    assert!((0.0..=1.0).contains(&m["accuracy"].as_f64().unwrap()));
    let err = input_error(
        dir.path(),
        &[&TRAIN[..], &["--label-smoothing", "1.5"]].concat(),
    );
    assert!(
        err.contains("--label-smoothing 1.5: must be in [0, 1)"),
        "{err}"
    );
}

/// `synth --out FILE.npz` writes the same arrays as the HDF5 file, in NumPy's format.
#[test]
fn synth_writes_numpy_npz_with_the_same_arrays() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["synth", "--out", "s.h5", "--n", "12", "--with-ids"],
    );
    ok(
        dir.path(),
        &["synth", "--out", "s.npz", "--n", "12", "--with-ids"],
    );
    let data = lnmc::data::reader::read(&dir.path().join("s.h5")).unwrap();
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(dir.path().join("s.npz")).unwrap()).unwrap();
    let mut member = |name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut bytes).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        (
            String::from_utf8(bytes[10..10 + header_len].to_vec()).unwrap(),
            bytes[10 + header_len..].to_vec(),
        )
    };
    let (header, pixels) = member("ct_slices.npy");
    assert!(
        header.contains("'<i2'") && header.contains("(12, 64, 64)"),
        "{header}"
    );
    let pixels: Vec<f32> = pixels
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
        .collect();
    assert_eq!(pixels, data.pixel_sample(usize::MAX).unwrap());
    let (header, labels) = member("slice_class.npy");
    assert!(header.contains("(12, 1)"), "{header}");
    assert_eq!(labels, data.labels);
    let (_, ids) = member("nodule_id.npy");
    let ids: Vec<i64> = ids
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(Some(ids), data.groups);
}

/// `show --cam` writes the overlay picture for a report; `show --flagged` lists the review
/// flags; `train --exclude-flagged` leaves them out and says how many in config.json; a review
/// file that is not lnmc's is refused in one line and left as it is.
#[test]
fn class_activation_pictures_and_review_flags_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 60);
    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "1", "--run", "m"]].concat(),
    );
    let text = ok(
        dir.path(),
        &[
            "show",
            "--data",
            "data.h5",
            "--index",
            "3",
            "--checkpoint",
            "checkpoint/m/best.safetensors",
            "--cam",
            "--out",
            "cam.png",
        ],
    );
    assert!(
        text.contains("P(malignant)") && text.contains("logit difference"),
        "{text}"
    );
    let png = image::open(dir.path().join("cam.png")).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (64, 64));
    assert!(png.pixels().any(|p| p[0] != p[2]), "no colour over the CT");
    let err = input_error(
        dir.path(),
        &[
            "show",
            "--data",
            "data.h5",
            "--index",
            "3",
            "--checkpoint",
            "checkpoint/m/best.safetensors",
            "--out",
            "nowhere/x.png",
        ],
    );
    assert!(
        err.contains("nowhere/x.png: its directory does not exist"),
        "{err}"
    );

    let data = dir.path().join("data.h5");
    lnmc::data::review::set(&data, 60, 7, Some("halo")).unwrap();
    lnmc::data::review::set(&data, 60, 12, Some("")).unwrap();
    let listed = ok(dir.path(), &["show", "--data", "data.h5", "--flagged"]);
    assert!(listed.starts_with("2 patches flagged in"), "{listed}");
    assert!(listed.contains("halo"), "{listed}");
    ok(
        dir.path(),
        &[
            &TRAIN[..],
            &["--epochs", "1", "--run", "clean", "--exclude-flagged"],
        ]
        .concat(),
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/clean/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["excluded_flagged"], 2);
    let split: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("runs/clean/split.json")).unwrap(),
    )
    .unwrap();
    let used: Vec<u64> = ["train", "val"]
        .iter()
        .flat_map(|s| {
            split[s]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap())
        })
        .collect();
    assert_eq!(used.len(), 58);
    assert!(!used.contains(&7) && !used.contains(&12));

    std::fs::write(dir.path().join("data.h5.review.csv"), "something else\n").unwrap();
    let err = input_error(dir.path(), &["show", "--data", "data.h5", "--flagged"]);
    assert!(
        err.contains("data.h5.review.csv: not an lnmc review file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data.h5.review.csv")).unwrap(),
        "something else\n"
    );
}

/// `lnmc export`: every epoch of the chosen runs in one long table with their settings as
/// columns, the chart as SVG naming what the runs differ in; bad requests in one line.
#[test]
fn export_writes_a_long_table_and_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 60);
    ok(
        dir.path(),
        &[&TRAIN[..], &["--epochs", "2", "--run", "a"]].concat(),
    );
    ok(
        dir.path(),
        &[
            &TRAIN[..],
            &["--epochs", "2", "--run", "b", "--lr", "0.002"],
        ]
        .concat(),
    );
    let said = ok(
        dir.path(),
        &[
            "export", "runs/a", "runs/b", "--csv", "all.csv", "--plot", "loss.svg", "--smooth",
            "0.5",
        ],
    );
    assert!(said.contains("wrote all.csv (2 runs)"), "{said}");
    let mut csv = csv::Reader::from_path(dir.path().join("all.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["run", "epoch", "metric", "value"]);
    let lr = header.iter().position(|h| h == "lr").unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let val_acc: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[2] == "val_acc").collect();
    assert_eq!(val_acc.len(), 4, "2 runs × 2 epochs");
    assert_eq!((&val_acc[2][0], &val_acc[2][lr]), ("b", "0.002"));
    let svg = std::fs::read_to_string(dir.path().join("loss.svg")).unwrap();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("a train (lr 0.001)")
            && svg.contains("b val (lr 0.002)"),
        "{svg}"
    );
    ok(
        dir.path(),
        &[
            "export", "--plot", "acc.png", "--metric", "val_acc", "--log-y",
        ],
    );
    let png = image::open(dir.path().join("acc.png")).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (960, 600));
    assert!(
        png.pixels()
            .filter(|p| p[0] != p[1] || p[1] != p[2])
            .count()
            > 500,
        "no coloured curves"
    );
    // A run's bare name, as `--run` took it, names it as well as runs/NAME does.
    let said = ok(dir.path(), &["export", "a", "b", "--csv", "bare.csv"]);
    assert!(said.contains("wrote bare.csv (2 runs)"), "{said}");
    assert_eq!(
        std::fs::read(dir.path().join("bare.csv")).unwrap(),
        std::fs::read(dir.path().join("all.csv")).unwrap()
    );
    let by_name = ok(dir.path(), &["eval", "--checkpoint", "b", "--json"]);
    let by_file = ok(
        dir.path(),
        &[
            "eval",
            "--checkpoint",
            "checkpoint/b/best.safetensors",
            "--json",
        ],
    );
    let accuracy =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).unwrap()["accuracy"].clone();
    assert_eq!(
        accuracy(&by_name),
        accuracy(&by_file),
        "eval NAME is its best checkpoint"
    );
    let err = input_error(dir.path(), &["export", "runs/nope", "--csv", "x.csv"]);
    assert!(err.contains("runs/nope: not an lnmc run"), "{err}");
    let err = input_error(dir.path(), &["export", "--plot", "missing/x.svg"]);
    assert!(
        err.contains("missing/x.svg: its directory does not exist"),
        "{err}"
    );
    let err = input_error(
        dir.path(),
        &["export", "--csv", "x.csv", "--metric", "speed"],
    );
    assert!(
        err.contains("--metric speed: one of loss, val_acc"),
        "{err}"
    );
    assert!(!dir.path().join("x.csv").exists(), "half a request written");
}

#[test]
fn rare_positives_train_with_balanced_loss_or_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(
        dir.path(),
        &[
            "synth",
            "--out",
            "rare.h5",
            "--n",
            "300",
            "--positive-rate",
            "0.05",
        ],
    );
    assert!(out.contains("(15 malignant)"), "{out}");
    for balance in ["weighted", "sample"] {
        let run = format!("rare-{balance}");
        #[rustfmt::skip]
        ok(dir.path(), &[
            "train", "--headless", "--data", "rare.h5", "--epochs", "1", "--run", &run,
            "--balance", balance,
        ]);
        let config =
            std::fs::read_to_string(dir.path().join("runs").join(&run).join("config.json"))
                .unwrap();
        assert!(
            config.contains(&format!("\"balance\": \"{balance}\"")),
            "{config}"
        );
        // The metrics that stay meaningful with rare positives are logged every epoch.
        assert_eq!(rows(dir.path(), &run).len(), 1);
    }
    let msg = input_error(
        dir.path(),
        &["synth", "--out", "x.h5", "--positive-rate", "1.5"],
    );
    assert!(msg.contains("--positive-rate 1.5"), "{msg}");
    assert!(!dir.path().join("x.h5").exists());
}

#[test]
fn a_file_too_large_for_memory_is_refused_before_loading_with_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 100);
    let refused = |args: &[&str]| {
        let out = lnmc()
            .current_dir(dir.path())
            .env("LNMC_MEMORY_AVAILABLE", "500000000")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        stderr
    };
    #[rustfmt::skip]
    let msg = refused(&["train", "--headless", "--data", "data.h5", "--epochs", "1", "--run", "big"]);
    assert!(
        msg.contains("data.h5: too large for this machine's memory"),
        "{msg}"
    );
    // 100 patches × 4096 pixels × 2 bytes + 64 bytes each + 1 GiB.
    assert!(
        msg.contains("needs ≈ 1.07 GB") && msg.contains("500.0 MB available"),
        "{msg}"
    );
    assert!(!dir.path().join("runs/big").exists(), "a run was started");
    refused(&[
        "eval",
        "--checkpoint",
        fixture("ConvNet_11.pth").to_str().unwrap(),
        "--data",
        "data.h5",
    ]);
    // Showing one patch reads one patch: no estimate stands in the way.
    let out = lnmc()
        .current_dir(dir.path())
        .env("LNMC_MEMORY_AVAILABLE", "500000000")
        .args([
            "show", "--data", "data.h5", "--index", "3", "--out", "p.png",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
