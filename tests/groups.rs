//! Inferred nodule groups on synthetic sets whose true nodule of every row is known.

mod common;

use lnmc::data::groups;
use lnmc::data::synth::{self, Convention};

/// Of the neighbouring rows that are slices of one nodule, the share joined; the true nodules
/// in each inferred group, sorted; how many nodules and groups there are; the threshold.
fn score(
    seed: u64,
    n: usize,
    units: Convention,
    segmented: bool,
) -> (f64, Vec<usize>, usize, usize, f64, (groups::Measure, f64)) {
    let options = synth::Options {
        n,
        seed,
        with_ids: true,
        units,
        segmented,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "mem.h5".as_ref());
    let truth = data.groups.clone().unwrap();
    let found = groups::infer(&data, None).unwrap();
    let (inferred, threshold) = (found.ids, found.threshold);
    let measure = (found.measure, found.separation);
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
    let groups = *inferred.last().unwrap() as usize + 1;
    (
        joined as f64 / same as f64,
        spans,
        true_nodules,
        groups,
        threshold,
        measure,
    )
}

/// The same nodules in every convention users' files come in: the rule needs no flag, and
/// joins as well in greys, [0, 1], z-scores, segmented or not, as in HU.
#[test]
fn joins_the_slices_of_a_nodule_and_few_nodules_together_in_any_units() {
    let conventions = [
        (Convention::Hu, false),
        (Convention::Hu, true),
        (Convention::Greys, false),
        (Convention::Greys, true),
        (Convention::Unit, false),
        (Convention::Unit, true),
        (Convention::Zscore, false),
        (Convention::Zscore, true),
    ];
    for seed in [0, 1] {
        for (units, segmented) in conventions {
            let (recall, spans, truth, found, threshold, found_measure) =
                score(seed, 3000, units, segmented);
            let p99 = spans[spans.len() * 99 / 100];
            let widest = *spans.last().unwrap();
            let seed = format!(
                "seed {seed}, {units:?}{}",
                if segmented { " segmented" } else { "" }
            );
            eprintln!("{seed}: joined {recall:.4} of same-nodule neighbours; {found} groups for {truth} nodules, 99 % of them span ≤ {p99} nodules, the widest {widest} (threshold {threshold:.4}, {:?}, separation {:.3})", found_measure.0, found_measure.1);
            assert!(recall >= 0.99, "{seed}: only {recall:.3} joined");
            assert!(
                p99 <= 4,
                "{seed}: 1 % of groups span more than {p99} nodules"
            );
            assert!(widest <= 8, "{seed}: a group spans {widest} nodules");
            assert!(
                found * 10 >= truth * 6,
                "{seed}: {found} groups for {truth} nodules"
            );
        }
    }
}

#[test]
fn the_threshold_separates_two_kinds_of_distance_whatever_their_scale() {
    // Many small distances around 1 and fewer large ones around 20.
    let mut d: Vec<f64> = (0..300).map(|i| 0.6 + (i % 10) as f64 * 0.1).collect();
    d.extend((0..100).map(|i| 12.0 + (i % 20) as f64));
    let (t, separation) = groups::separating_threshold(&d).unwrap();
    assert!(separation > 0.5, "{separation}");
    assert!(t > 1.5 && t < 12.0, "{t}");
    let scaled: Vec<f64> = d.iter().map(|x| x / 255.0).collect();
    let (ts, _) = groups::separating_threshold(&scaled).unwrap();
    assert!((ts * 255.0 / t - 1.0).abs() < 1e-9, "{t} vs {ts}");
    assert_eq!(groups::separating_threshold(&[f64::NAN, 3.0]), None);
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
