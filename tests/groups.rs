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
    max_slices: usize,
) -> (f64, Vec<usize>, usize, usize, f64, groups::Measure, usize) {
    let options = synth::Options {
        n,
        seed,
        with_ids: true,
        units,
        segmented,
        max_slices,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "mem.h5".as_ref());
    let truth = data.groups.clone().unwrap();
    let found = groups::infer(&data, None).unwrap();
    let largest = groups::group_sizes(&found.ids).into_iter().max().unwrap();
    let (inferred, threshold, measure) = (found.ids, found.threshold, found.measure);
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
        largest,
    )
}

/// The same nodules in every convention users' files come in: the rule needs no flag, and
/// joins as well in greys, [0, 1], z-scores, segmented or not, as in HU; and as well where
/// most neighbours are one nodule (runs of up to 11 slices, about 6 a nodule as in LIDC slice
/// sets) as where fewer are (up to 4, as in LUNA16 patch sets).
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
    for (seed, max_slices) in [(0, 4), (1, 4), (0, 11)] {
        let mut thresholds = Vec::new();
        for (units, segmented) in conventions {
            let (recall, spans, truth, found, threshold, measure, largest) =
                score(seed, 3000, units, segmented, max_slices);
            let p99 = spans[spans.len() * 99 / 100];
            let widest = *spans.last().unwrap();
            let seed = format!(
                "seed {seed}, up to {max_slices} slices, {units:?}{}",
                if segmented { " segmented" } else { "" }
            );
            eprintln!("{seed}: joined {recall:.4} of same-nodule neighbours; {found} groups for {truth} nodules, the largest {largest} patches, 99 % of them span ≤ {p99} nodules, the widest {widest} (threshold {threshold:.4}, {measure:?})");
            // Runs of 4 as well as the rule this one replaced (99.1–99.3 %); the long segmented
            // runs, the hardest case, as the issue asks of the real LIDC-derived file.
            let least = if max_slices > 4 && segmented {
                0.95
            } else {
                0.99
            };
            assert!(recall >= least, "{seed}: only {recall:.3} joined");
            assert!(largest <= 80, "{seed}: a group of {largest} patches");
            assert!(
                p99 <= 4,
                "{seed}: 1 % of groups span more than {p99} nodules"
            );
            assert!(widest <= 8, "{seed}: a group spans {widest} nodules");
            assert!(
                found * 10 >= truth * 6,
                "{seed}: {found} groups for {truth} nodules"
            );
            thresholds.push((segmented, units, threshold));
        }
        // The same nodules give the same groups whatever the units: the threshold moves with
        // the units' scale (the relative measure, a difference over the root of a spread, with
        // its square root).
        let scale = |units| match units {
            Convention::Hu => 1.0,
            Convention::Greys => 255.0 / 1400.0,
            Convention::Unit => 1.0 / 1400.0,
            Convention::Zscore => 1.0 / 400.0,
        };
        for &(segmented, units, t) in &thresholds {
            let (_, _, hu) = thresholds
                .iter()
                .find(|&&(s, u, _)| s == segmented && u == Convention::Hu)
                .unwrap();
            // z-scores are HU scaled exactly; greys round, and greys and [0, 1] clip at the
            // window's ends.
            let tolerance = match units {
                Convention::Hu | Convention::Zscore => 1e-3,
                Convention::Unit | Convention::Greys => 0.05,
            };
            let expected = match segmented {
                false => hu * scale(units),
                true => hu * scale(units).sqrt(),
            };
            assert!(
                (t / expected - 1.0).abs() < tolerance,
                "{units:?} (segmented {segmented}): {t}, expected {expected}"
            );
        }
    }
}

#[test]
fn the_threshold_is_a_low_quantile_of_far_apart_distances_whatever_their_scale() {
    // 100 distances 1…100: 5 % of them lie below 5.95, the quantile kept.
    let d: Vec<f64> = (1..=100).map(f64::from).collect();
    let t = groups::joining_threshold(&d);
    assert!(t > 5.0 && t < 7.0, "{t}");
    let scaled: Vec<f64> = d.iter().map(|x| x / 255.0).collect();
    assert!((groups::joining_threshold(&scaled) * 255.0 / t - 1.0).abs() < 1e-9);
    assert_eq!(groups::joining_threshold(&[f64::NAN]), 0.0);
}

#[test]
fn blocks_average_four_by_four_pixels_and_keep_the_edges_of_other_sizes() {
    let patch: Vec<f32> = (0..64).map(|i| i as f32).collect();
    // 8×8 → 2×2 blocks of 16 pixels.
    let b = groups::blocks(&patch, 8, 8);
    assert_eq!(b, vec![13.5, 17.5, 45.5, 49.5]);
    // 5×5: the last column and row are blocks of one pixel wide.
    let patch: Vec<f32> = (0..25).map(|i| i as f32).collect();
    let b = groups::blocks(&patch, 5, 5);
    assert_eq!(b.len(), 4);
    assert_eq!(b[3], 24.0);
    assert_eq!(b[1], (4.0 + 9.0 + 14.0 + 19.0) / 4.0);
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

/// A file of one slice a nodule has no runs to find: neighbours are joined about as often as
/// rows far apart (the 5 % the threshold lets through), which `lnmc groups` reports.
#[test]
fn a_file_without_runs_of_slices_is_told_apart() {
    let options = synth::Options {
        n: 800,
        seed: 3,
        max_slices: 1,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "mem.h5".as_ref());
    let found = groups::infer(&data, None).unwrap();
    assert!(
        found.neighbours_joined < 2.0 * groups::FALSE_JOINS,
        "{}",
        found.neighbours_joined
    );
    let sizes = groups::group_sizes(&found.ids);
    assert!(sizes.len() * 10 >= 800 * 9, "{} groups", sizes.len());
}

/// The real development slices (../shared/lidc-dev, LIDC-IDRI), read with their true ids.
fn lidc_dev() -> Option<lnmc::data::Dataset> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lidc-dev/lidc-dev.h5");
    // The folder lies beside the repository on every machine of the project; a clone taken
    // elsewhere has nothing to measure on and says so.
    if !path.exists() {
        eprintln!("{} is missing: nothing to measure", path.display());
        return None;
    }
    Some(lnmc::data::reader::read(&path).unwrap())
}

/// The share of validation patches of a 20 % group split on `inferred` whose true nodule
/// (`truth`) also has a slice in training, and the size of the largest inferred group.
fn true_leakage(data: &lnmc::data::Dataset, inferred: &[i64], truth: &[i64]) -> (f64, usize) {
    use lnmc::data::split::{Split, SplitKind};
    let mut with_groups = lnmc::data::Dataset {
        path: data.path.clone(),
        synthetic: data.synthetic,
        height: data.height,
        width: data.width,
        pixels: lnmc::data::Pixels::F32(Vec::new()),
        labels: data.labels.clone(),
        groups: Some(inferred.to_vec()),
        group_source: groups::Source::Inferred,
        groups_are_nodules: true,
        group_doubt: None,
        patients: None,
        scale: data.scale,
    };
    let split = Split::new(SplitKind::Group, 0, &with_groups).unwrap();
    with_groups.groups = None;
    let trained: std::collections::HashSet<i64> = split.train.iter().map(|&i| truth[i]).collect();
    let leaked = split
        .val
        .iter()
        .filter(|&&i| trained.contains(&truth[i]))
        .count();
    let largest = groups::group_sizes(inferred).into_iter().max().unwrap_or(0);
    (leaked as f64 / split.val.len() as f64, largest)
}

/// The same set with its pixels mapped through `f` and its ids hidden.
fn hidden(data: &lnmc::data::Dataset, f: impl Fn(f32) -> f32) -> lnmc::data::Dataset {
    let pixels: Vec<f32> = (0..data.len())
        .flat_map(|i| data.patch(i).unwrap())
        .map(f)
        .collect();
    lnmc::data::Dataset {
        path: data.path.clone(),
        synthetic: data.synthetic,
        height: data.height,
        width: data.width,
        pixels: lnmc::data::Pixels::F32(pixels),
        labels: data.labels.clone(),
        groups: None,
        group_source: groups::Source::None,
        groups_are_nodules: true,
        group_doubt: None,
        patients: None,
        scale: Default::default(),
    }
    .with_scale()
    .unwrap()
}

/// On real LIDC slices with their ids hidden (as greys, in [0, 1] and z-scored) the groups
/// either keep the split honest (≤ 5 % of validation patches with their true nodule in
/// training, no group over 80 slices) or the verdict says they cannot be trusted. On this
/// file they cannot: the verdict is uncertain, and its estimate of the leakage is near the
/// true one.
#[test]
fn on_real_slices_the_groups_are_honest_or_called_uncertain() {
    let Some(real) = lidc_dev() else { return };
    let truth = real.groups.clone().unwrap();
    let mean = (0..real.len())
        .flat_map(|i| real.patch(i).unwrap())
        .map(f64::from)
        .sum::<f64>()
        / (real.len() * real.pixels()) as f64;
    let copies: [(&str, Box<dyn Fn(f32) -> f32>); 3] = [
        ("greys", Box::new(|v| v)),
        ("[0, 1]", Box::new(|v| v / 255.0)),
        ("z-scores", Box::new(move |v| (v - mean as f32) / 60.0)),
    ];
    for (name, f) in copies {
        let data = hidden(&real, f);
        let found = groups::infer(&data, None).unwrap();
        let (leak, largest) = true_leakage(&data, &found.ids, &truth);
        eprintln!(
            "lidc-dev {name}: true leakage {:.1} %, largest group {largest}; verdict {}",
            100.0 * leak,
            found.trust.why
        );
        assert!(
            (leak <= 0.05 && largest <= 80) || !found.trust.reliable,
            "{name}: called reliable with {:.1} % leaking",
            100.0 * leak
        );
        // What this file is: slices of one nodule as different as two nodules.
        assert!(!found.trust.reliable, "{name}: {}", found.trust.why);
        assert!(leak > 0.5, "{name}: {leak}");
        assert!(
            (found.trust.leakage - leak).abs() < 0.25,
            "{name}: estimated {} for {leak}",
            found.trust.leakage
        );
    }
}

/// Files with clear runs of slices (HU patches cut from volumes, one background per nodule,
/// fresh noise per slice) are not cried wolf on: reliable, and the true leakage ≤ 5 %; so are
/// segmented runs of up to 4. Segmented runs of up to 11, whose ends differ like two nodules,
/// leak 10 %: they must be called uncertain.
#[test]
fn clear_runs_of_slices_are_judged_reliable_and_leak_little() {
    let conventions = [
        (Convention::Hu, false),
        (Convention::Greys, false),
        (Convention::Unit, true),
        (Convention::Zscore, false),
        (Convention::Hu, true),
    ];
    for (seed, max_slices) in [(0, 4), (5, 11)] {
        for (units, segmented) in conventions {
            let options = synth::Options {
                n: 3000,
                seed,
                with_ids: true,
                units,
                segmented,
                max_slices,
                ..Default::default()
            };
            let mut data = synth::in_memory(&options, "mem.h5".as_ref());
            let truth = data.groups.take().unwrap();
            let found = groups::infer(&data, None).unwrap();
            let (leak, largest) = true_leakage(&data, &found.ids, &truth);
            let what =
                format!("seed {seed}, up to {max_slices} slices, {units:?} segmented {segmented}");
            eprintln!(
                "{what}: true leakage {:.1} %, largest {largest}; verdict {}",
                100.0 * leak,
                found.trust.why
            );
            assert!(
                (leak <= 0.05 && largest <= 80) || !found.trust.reliable,
                "{what}: called reliable with {leak} leaking"
            );
            if !segmented || max_slices <= 4 {
                assert!(found.trust.reliable, "{what}: {}", found.trust.why);
                assert!(leak <= 0.05, "{what}: {leak}");
            } else {
                assert!(leak > 0.05 && !found.trust.reliable, "{what}: {leak}");
            }
        }
    }
}
