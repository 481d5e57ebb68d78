//! Files on which no number can mean anything get one clear error before training, and
//! numbers that the counts cannot support are withheld. One test in this binary: its HDF5
//! files are written here, and no neighbouring test forks a child while one is open.

mod common;

use common::{lnmc, H5};
use std::path::Path;

/// Runs lnmc in `dir`; (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = lnmc().current_dir(dir).args(args).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

/// `n` patches of 16×16 HU noise, labels from `label`, and `nodule_id`s from `group` if given.
fn file(dir: &Path, name: &str, n: usize, label: fn(usize) -> u8, group: Option<fn(usize) -> i64>) {
    let images: Vec<i16> = (0..n * 256)
        .map(|i| ((i * 37) % 1400) as i16 - 1000)
        .collect();
    let labels: Vec<u8> = (0..n).map(label).collect();
    let mut h5 = H5::create(dir, name)
        .add("ct_slices", &[n, 16, 16], &images)
        .add("slice_class", &[n, 1], &labels);
    if let Some(group) = group {
        let ids: Vec<i64> = (0..n).map(group).collect();
        h5 = h5.add("nodule_id", &[n], &ids);
    }
    h5.done();
}

#[test]
fn meaningless_splits_are_refused_and_thin_counts_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The real file's failure: one "nodule" per class, so whole nodules cannot be split.
    file(
        d,
        "one_group_per_class.h5",
        40,
        |i| (i < 18) as u8,
        Some(|i| (i < 18) as i64),
    );
    // One patch of each class.
    file(d, "two_patches.h5", 2, |i| i as u8, None);
    // One malignant patch: it can be on one side only.
    file(d, "one_malignant.h5", 30, |i| (i == 0) as u8, None);
    // Three nodules a class: 20 % cannot be held out as whole nodules.
    file(
        d,
        "three_nodules.h5",
        60,
        |i| (i < 30) as u8,
        Some(|i| (i / 10) as i64),
    );
    let cases = [
        (
            "one_group_per_class.h5",
            "group split leaves the training side empty",
            "2 nodules",
        ),
        (
            "two_patches.h5",
            "split leaves the validation side empty",
            "",
        ),
        (
            "one_malignant.h5",
            "puts no malignant patch on the validation side",
            "",
        ),
        ("three_nodules.h5", "not the 20 % asked", "6 nodules"),
    ];
    for (name, why, groups) in cases {
        let (code, _, err) = run(
            d,
            &[
                "train",
                "--headless",
                "--data",
                name,
                "--epochs",
                "1",
                "--device",
                "cpu",
            ],
        );
        assert_eq!(code, Some(2), "{name}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: not one line: {err}"
        );
        assert!(
            err.contains(name) && err.contains(why) && err.contains(groups),
            "{name}: {err}"
        );
        assert!(
            !d.join("runs").exists(),
            "{name}: a refused run wrote files"
        );
    }
    // Cross-validation refuses the same way, before any fold trains: one nodule of 26 slices
    // and two of 2 a class cannot make two folds of about half each.
    let uneven =
        |i: usize| (i >= 30) as i64 * 100 + ((i % 30 >= 26) as i64 + (i % 30 >= 28) as i64);
    file(d, "uneven.h5", 60, |i| (i >= 30) as u8, Some(uneven));
    let (code, _, err) = run(
        d,
        &[
            "train",
            "--headless",
            "--data",
            "uneven.h5",
            "--folds",
            "2",
            "--epochs",
            "1",
            "--device",
            "cpu",
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("fold 1 of 2 holds out"), "{err}");
    assert!(
        !d.join("runs").exists(),
        "a refused cross-validation wrote files"
    );

    // Groups that cannot be nodules are not written: rows that all look alike within a class
    // join into one group a class (the real file's failure, in any units).
    let n = 300;
    let images: Vec<i16> = (0..n * 256)
        .map(|i| ((i % 256) * 37 % 1400) as i16 - 1000)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i < 120) as u8).collect();
    H5::create(d, "alike.h5")
        .add("ct_slices", &[n, 16, 16], &images)
        .add("slice_class", &[n, 1], &labels)
        .done();
    let (code, out, err) = run(d, &["groups", "--data", "alike.h5"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("2 nodules from 300 patches"),
        "the sizes are reported: {out}"
    );
    assert!(
        err.contains("a group of 180 slices") && err.contains("--force"),
        "{err}"
    );
    assert!(
        !d.join("alike.h5.groups.csv").exists(),
        "implausible groups written"
    );
    let (code, _, err) = run(d, &["groups", "--data", "alike.h5", "--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(d.join("alike.h5.groups.csv").exists());

    // A small but honest set trains; its evaluation withholds what 6 patches a class cannot
    // support: no interval, no nodule-level metrics (6 one-slice nodules a class on the validation
    // side, fewer than metrics::MIN_PER_CLASS).
    file(d, "small.h5", 60, |i| (i % 2) as u8, Some(|i| i as i64));
    let (code, out, err) = run(
        d,
        &[
            "train",
            "--headless",
            "--data",
            "small.h5",
            "--epochs",
            "1",
            "--run",
            "small",
            "--device",
            "cpu",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("48 train / 12 val"), "{out}");
    let (code, out, err) = run(d, &["eval", "--checkpoint", "small", "--device", "cpu"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("no intervals: fewer than 10 nodules of a class"),
        "{out}"
    );
    assert!(out.contains("no nodule-level metrics"), "{out}");
    assert!(!out.contains("["), "an interval printed: {out}");
    let (_, json, _) = run(
        d,
        &["eval", "--checkpoint", "small", "--json", "--device", "cpu"],
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(json["ci"].is_null() && json["nodule"].is_null(), "{json}");
    let rows = std::fs::read_to_string(d.join("runs/small/metrics.csv")).unwrap();
    let last = rows.lines().last().unwrap();
    assert!(last.contains(",,,"), "nodule columns left empty: {last}");
}
