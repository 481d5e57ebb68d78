//! Train/validation splits: upstream's exactly, stratified and grouped ones deterministic.

use std::collections::{HashMap, HashSet};

use lnmc::data::split::{upstream, Split, SplitKind};
use lnmc::data::Dataset;

fn dataset(labels: Vec<u8>, groups: Option<Vec<i64>>) -> Dataset {
    Dataset {
        path: "mem.h5".into(),
        synthetic: true,
        height: 16,
        width: 16,
        pixels: lnmc::data::Pixels::I16(vec![0; labels.len() * 256]),
        labels,
        groups,
        group_source: Default::default(),
        groups_are_nodules: true,
        group_doubt: None,
        patients: None,
        scale: Default::default(),
    }
}

#[test]
fn upstream_split_matches_scikit_learn() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream_split.json"),
    )
    .unwrap();
    let expected: HashMap<String, HashMap<String, Vec<usize>>> =
        serde_json::from_str(&text).unwrap();
    assert_eq!(expected.len(), 6);
    for (n, sides) in expected {
        let (train, val) = upstream(n.parse().unwrap());
        assert_eq!(val, sides["val"], "val indices for n = {n}");
        assert_eq!(train, sides["train"], "train indices for n = {n}");
    }
}

fn check_partition(split: &Split, n: usize) {
    let all: HashSet<usize> = split.train.iter().chain(&split.val).copied().collect();
    assert_eq!(all.len(), n, "sides overlap or miss patches");
    assert_eq!(split.train.len() + split.val.len(), n);
}

#[test]
fn stratified_split_keeps_class_balance_and_is_deterministic() {
    let labels: Vec<u8> = (0..1000).map(|i| (i < 377) as u8).collect();
    let data = dataset(labels.clone(), None);
    let split = Split::new(SplitKind::Stratified, 5, &data).unwrap();
    check_partition(&split, 1000);
    let val_malignant = split.val.iter().filter(|&&i| labels[i] == 1).count();
    assert_eq!(val_malignant, 75); // round(0.2 × 377)
    assert_eq!(split.val.len() - val_malignant, 125); // round(0.2 × 623)
    assert_eq!(split, Split::new(SplitKind::Stratified, 5, &data).unwrap());
    assert_ne!(
        split.val,
        Split::new(SplitKind::Stratified, 6, &data).unwrap().val
    );
}

#[test]
fn group_split_never_cuts_a_nodule_in_two() {
    // 200 nodules of 1–4 slices each.
    let mut groups = Vec::new();
    let mut labels = Vec::new();
    for nodule in 0..200i64 {
        for _ in 0..1 + nodule % 4 {
            groups.push(nodule);
            labels.push((nodule % 3 == 0) as u8);
        }
    }
    let n = labels.len();
    let data = dataset(labels, Some(groups.clone()));
    let split = Split::new(SplitKind::Group, 1, &data).unwrap();
    check_partition(&split, n);
    let val_groups: HashSet<i64> = split.val.iter().map(|&i| groups[i]).collect();
    assert!(
        split
            .train
            .iter()
            .all(|&i| !val_groups.contains(&groups[i])),
        "nodule on both sides"
    );
    let fraction = split.val.len() as f64 / n as f64;
    assert!((0.18..0.23).contains(&fraction), "val fraction {fraction}");
}

#[test]
fn group_split_needs_ids() {
    let data = dataset(vec![0, 1, 0, 1], None);
    let err = Split::new(SplitKind::Group, 0, &data).unwrap_err();
    assert!(
        err.to_string().contains("mem.h5") && err.to_string().contains("nodule_id"),
        "{err}"
    );
}

#[test]
fn folds_cover_every_patch_once_keep_nodules_whole_and_balance_classes() {
    let mut labels = Vec::new();
    let mut groups = Vec::new();
    for nodule in 0..60i64 {
        for _ in 0..(1 + nodule % 3) {
            labels.push((nodule % 4 == 0) as u8);
            groups.push(nodule);
        }
    }
    let data = dataset(labels.clone(), Some(groups.clone()));
    let folds: Vec<Split> = (1..=5)
        .map(|k| Split::fold(k, 5, 3, &data).unwrap())
        .collect();
    let mut seen = vec![0; labels.len()];
    for split in &folds {
        assert_eq!(split.kind, SplitKind::Group);
        assert_eq!(split.train.len() + split.val.len(), labels.len());
        for &i in &split.val {
            seen[i] += 1;
        }
        let val_nodules: HashSet<i64> = split.val.iter().map(|&i| groups[i]).collect();
        assert!(split
            .train
            .iter()
            .all(|&i| !val_nodules.contains(&groups[i])));
        let malignant = split.val.iter().filter(|&&i| labels[i] == 1).count();
        assert!(
            (4..=8).contains(&malignant),
            "fold with {malignant} malignant"
        );
    }
    assert!(seen.iter().all(|&c| c == 1), "each patch validated once");
    assert_eq!(folds[1], Split::fold(2, 5, 3, &data).unwrap(), "seeded");
    assert!(Split::fold(1, 1, 3, &data)
        .unwrap_err()
        .to_string()
        .contains("at least 2"));
    let err = Split::fold(1, 16, 3, &data).unwrap_err();
    assert!(
        err.to_string().contains("only 15 malignant nodules"),
        "{err}"
    );
}
