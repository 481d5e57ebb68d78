//! Inferred nodule groups on synthetic sets whose true nodule of every row is known.

mod common;

use lnmc::data::groups::{self, MAX_DIFFERENCE};
use lnmc::data::synth;

/// Of the neighbouring rows that are slices of one nodule, the share joined; and the largest
/// number of true nodules merged into one inferred group.
fn score(seed: u64, n: usize) -> (f64, Vec<usize>, usize, usize) {
    let options = synth::Options {
        n,
        seed,
        with_ids: true,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "mem.h5".as_ref());
    let truth = data.groups.clone().unwrap();
    let inferred = groups::infer(&data, MAX_DIFFERENCE).unwrap();
    let (mut same, mut joined) = (0, 0);
    for i in 1..n {
        if truth[i] == truth[i - 1] {
            same += 1;
            joined += (inferred[i] == inferred[i - 1]) as usize;
        }
    }
    // True nodules per inferred group, sorted.
    let mut spans = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || inferred[i] != inferred[start] {
            let mut nodules: Vec<i64> = truth[start..i].to_vec();
            nodules.dedup();
            spans.push(nodules.len());
            start = i;
        }
    }
    spans.sort();
    let true_nodules = *truth.last().unwrap() as usize + 1;
    let found = *inferred.last().unwrap() as usize + 1;
    (joined as f64 / same as f64, spans, true_nodules, found)
}

#[test]
fn joins_the_slices_of_a_nodule_and_few_nodules_together() {
    for seed in [0, 1, 2] {
        let (recall, spans, truth, found) = score(seed, 3000);
        let p99 = spans[spans.len() * 99 / 100];
        let widest = *spans.last().unwrap();
        eprintln!("seed {seed}: joined {recall:.4} of same-nodule neighbours; {found} groups for {truth} nodules, 99 % of them span ≤ {p99} nodules, the widest {widest} (max difference {MAX_DIFFERENCE} HU)");
        assert!(recall >= 0.97, "seed {seed}: only {recall:.3} joined");
        assert!(
            p99 <= 4,
            "seed {seed}: 1 % of groups span more than {p99} nodules"
        );
        assert!(widest <= 8, "seed {seed}: a group spans {widest} nodules");
        assert!(
            found * 10 >= truth * 6,
            "seed {seed}: {found} groups for {truth} nodules"
        );
    }
}

#[test]
fn difference_is_the_mean_absolute_difference() {
    assert_eq!(groups::difference(&[0.0, 10.0], &[4.0, 4.0]), 5.0);
    assert_eq!(groups::difference(&[-600.0; 9], &[-600.0; 9]), 0.0);
}

#[test]
fn describes_sizes() {
    assert_eq!(
        groups::describe(&[0, 0, 1, 2, 2, 2]),
        "3 nodules from 6 patches; slices per nodule: 1: 1, 2: 1, 3: 1"
    );
}
