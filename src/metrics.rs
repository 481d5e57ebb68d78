//! Dataset-level metrics, computed once over every sample (upstream averaged F1 over batches
//! and divided accuracy by a count that included a dropped tail), and the decision rule that
//! turns a model's output into a prediction.

use serde::{Deserialize, Serialize};

use crate::data::rng::SplitMix64;
use crate::data::MALIGNANT;

/// A patch is predicted malignant when its probability of malignancy is above this.
pub const THRESHOLD: f64 = 0.5;

/// The prediction for a probability (or any score on the same scale) of malignancy.
pub fn predicts_malignant(score: f64) -> bool {
    score > THRESHOLD
}

/// Whether the prediction for `score` agrees with the label.
pub fn is_correct(label: u8, score: f64) -> bool {
    predicts_malignant(score) == (label == MALIGNANT)
}

/// Probability of malignancy from a pair of logits (softmax in f64).
pub fn malignant_probability(logits: [f32; 2]) -> f64 {
    let d = logits[1] as f64 - logits[0] as f64;
    1.0 / (1.0 + (-d).exp())
}

/// Malignant is the positive class. Rates with an empty denominator are 0 (as scikit-learn's
/// `zero_division=0`); the AUC is NaN (null in JSON) when one class is absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub specificity: f64,
    pub f1: f64,
    pub auc: f64,
    /// The mean of recall and specificity: 0.5 for a model that always says the majority class,
    /// however rare the positives.
    #[serde(default)]
    pub balanced_accuracy: f64,
    /// Area under the precision-recall curve (average precision, as scikit-learn computes it):
    /// what stays meaningful when positives are rare.
    #[serde(default)]
    pub pr_auc: f64,
    /// The best sensitivity (recall) at a threshold keeping specificity ≥ 90 % and ≥ 95 %.
    #[serde(default)]
    pub sensitivity_at_specificity_90: f64,
    #[serde(default)]
    pub sensitivity_at_specificity_95: f64,
    /// [[tn, fp], [fn, tp]]: rows are the truth, columns the prediction.
    pub confusion: [[u64; 2]; 2],
    pub n: u64,
}

/// `labels[i]` in {0, 1}; `scores[i]` is the model's probability (or any monotone score) of
/// malignancy, predicted malignant as `predicts_malignant` says.
pub fn metrics(labels: &[u8], scores: &[f64]) -> Metrics {
    assert_eq!(labels.len(), scores.len(), "one score per label");
    let mut confusion = [[0u64; 2]; 2];
    for (&label, &score) in labels.iter().zip(scores) {
        confusion[(label == MALIGNANT) as usize][predicts_malignant(score) as usize] += 1;
    }
    let [[tn, fp], [fn_, tp]] = confusion.map(|row| row.map(|c| c as f64));
    let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let specificity = ratio(tn, tn + fp);
    let roc = roc_curve(labels, scores);
    let sensitivity_at = |spec: f64| {
        roc.iter()
            .filter(|(fpr, _)| *fpr <= 1.0 - spec + 1e-12)
            .map(|(_, tpr)| *tpr)
            .fold(0.0, f64::max)
    };
    Metrics {
        balanced_accuracy: (recall + specificity) / 2.0,
        pr_auc: average_precision(labels, scores),
        sensitivity_at_specificity_90: sensitivity_at(0.90),
        sensitivity_at_specificity_95: sensitivity_at(0.95),
        accuracy: ratio(tp + tn, tp + tn + fp + fn_),
        precision,
        recall,
        specificity,
        f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
        auc: roc_auc(labels, scores),
        confusion,
        n: labels.len() as u64,
    }
}

/// One metric as every report shows it (`lnmc eval`'s text, the Evaluate tab): its name, its
/// value and, where one was computed, its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub name: &'static str,
    pub value: f64,
    pub interval: Option<[f64; 2]>,
}

impl Metrics {
    /// The scalar metrics in the order reports list them, each carrying its interval from `ci`.
    pub fn rows(&self, ci: Option<&Intervals>) -> [Row; 6] {
        let row = |name, value, interval| Row {
            name,
            value,
            interval,
        };
        [
            row("accuracy", self.accuracy, ci.map(|c| c.accuracy)),
            row("precision", self.precision, None),
            row("recall", self.recall, None),
            row("specificity", self.specificity, None),
            row("F1", self.f1, ci.map(|c| c.f1)),
            row("ROC AUC", self.auc, ci.map(|c| c.auc)),
        ]
    }
}

/// Area under the ROC curve as the Mann–Whitney U statistic, ties counted half.
pub fn roc_auc(labels: &[u8], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l == MALIGNANT).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    // Sum of the (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end + 1) as f64 / 2.0;
        let tied_positives = order[start..end]
            .iter()
            .filter(|&&i| labels[i] == MALIGNANT)
            .count();
        rank_sum += average_rank * tied_positives as f64;
        start = end;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

/// Average precision: Σ over thresholds (from the highest score down, ties together) of the
/// recall gained times the precision there (scikit-learn's `average_precision_score`); NaN
/// without positives.
pub fn average_precision(labels: &[u8], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&l| l == MALIGNANT).count() as f64;
    if positives == 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut seen, mut last_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        seen += 1.0;
        if labels[i] == MALIGNANT {
            tp += 1.0;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            let recall = tp / positives;
            ap += (recall - last_recall) * (tp / seen);
            last_recall = recall;
        }
    }
    ap
}

/// Points of the ROC curve, (false-positive rate, true-positive rate), from (0,0) to (1,1).
pub fn roc_curve(labels: &[u8], scores: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&l| l == MALIGNANT).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for (k, &i) in order.iter().enumerate() {
        if labels[i] == MALIGNANT {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            points.push((fp / negatives, tp / positives));
        }
    }
    points
}

/// One score per nodule: the mean probability of its slices, labelled as its first slice.
/// Nodules come in order of first appearance.
pub fn per_nodule(labels: &[u8], scores: &[f64], groups: &[i64]) -> (Vec<u8>, Vec<f64>) {
    let (at, nodules) = crate::data::groups::numbered(groups);
    let (mut nodule_labels, mut sums, mut counts) =
        (vec![None; nodules], vec![0.0; nodules], vec![0.0; nodules]);
    for ((&label, &score), &k) in labels.iter().zip(scores).zip(&at) {
        nodule_labels[k].get_or_insert(label);
        sums[k] += score;
        counts[k] += 1.0;
    }
    let nodule_labels = nodule_labels.into_iter().map(|l| l.unwrap_or(0)).collect();
    let means = sums.iter().zip(&counts).map(|(s, c)| s / c).collect();
    (nodule_labels, means)
}

/// Fewer units (nodules, or patches where nodules are not known) of either class than this and
/// lnmc reports no nodule-level metrics and no bootstrap interval. With 10 of each the AUC can
/// take 100 values and a resample misses a class with probability < 1e-4; below it an AUC of
/// 1.000 "on 2 nodules" is what one patch per class gives, and an interval is mostly the
/// resampler's chance of drawing one class only.
pub const MIN_PER_CLASS: usize = 10;

/// What a statistic counts and resamples: nodules (each all its slices together, scored by
/// their mean probability) where the nodules are known, else patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Nodule,
    Patch,
}

impl Unit {
    pub fn of(groups: Option<&[i64]>) -> Unit {
        match groups {
            Some(_) => Unit::Nodule,
            None => Unit::Patch,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Unit::Nodule => "nodule",
            Unit::Patch => "patch",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Unit::Nodule => "nodules",
            Unit::Patch => "patches",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Units of each class (benign, malignant) among `units`, a unit counted by its first member.
fn units_per_class(labels: &[u8], units: &[Vec<usize>]) -> [usize; 2] {
    let malignant = units.iter().filter(|u| labels[u[0]] == MALIGNANT).count();
    [units.len() - malignant, malignant]
}

/// Metrics per nodule (`per_nodule`), or None when fewer than `MIN_PER_CLASS` nodules of a
/// class are there to score.
pub fn nodule_metrics(labels: &[u8], scores: &[f64], groups: &[i64]) -> Option<Metrics> {
    let (labels, scores) = per_nodule(labels, scores, groups);
    let malignant = labels.iter().filter(|&&l| l == MALIGNANT).count();
    (malignant.min(labels.len() - malignant) >= MIN_PER_CLASS).then(|| metrics(&labels, &scores))
}

/// 95 % percentile-bootstrap confidence intervals of accuracy, F1 and ROC AUC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    pub accuracy: [f64; 2],
    pub f1: [f64; 2],
    pub auc: [f64; 2],
    pub resamples: usize,
    /// What was resampled (all slices of a drawn nodule together, or patches).
    pub unit: Unit,
}

/// Resamples whole nodules when `groups` is given (slices of one nodule are not independent,
/// so resampling them one by one would make the intervals too narrow), else patches; seeded,
/// so the same inputs give the same intervals.
pub fn bootstrap(
    labels: &[u8],
    scores: &[f64],
    groups: Option<&[i64]>,
    resamples: usize,
    seed: u64,
) -> Option<Intervals> {
    let units = resampling_units(labels.len(), groups);
    if !enough_units(labels, &units) {
        return None;
    }
    let (mut acc, mut f1, mut auc) = (Vec::new(), Vec::new(), Vec::new());
    for_each_resample(labels, scores, &units, resamples, seed, |l, s| {
        let m = metrics(l, s);
        acc.push(m.accuracy);
        f1.push(m.f1);
        if m.auc.is_finite() {
            auc.push(m.auc);
        }
    });
    Some(Intervals {
        accuracy: percentile_interval(&mut acc),
        f1: percentile_interval(&mut f1),
        auc: percentile_interval(&mut auc),
        resamples,
        unit: Unit::of(groups),
    })
}

/// The members of each resampling unit: whole nodules where `groups` are given, else patches.
pub fn resampling_units(n: usize, groups: Option<&[i64]>) -> Vec<Vec<usize>> {
    match groups {
        Some(ids) => {
            let mut at: std::collections::HashMap<i64, usize> = Default::default();
            let mut units: Vec<Vec<usize>> = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let k = *at.entry(*id).or_insert_with(|| {
                    units.push(Vec::new());
                    units.len() - 1
                });
                units[k].push(i);
            }
            units
        }
        None => (0..n).map(|i| vec![i]).collect(),
    }
}

/// Whether each class has `MIN_PER_CLASS` units, the least an interval is computed from.
pub fn enough_units(labels: &[u8], units: &[Vec<usize>]) -> bool {
    units_per_class(labels, units).into_iter().min() >= Some(MIN_PER_CLASS)
}

/// Calls `f` with the labels and scores of each of `resamples` seeded resamples of `units`
/// (as many units drawn with replacement as there are, each with all its members).
pub fn for_each_resample(
    labels: &[u8],
    scores: &[f64],
    units: &[Vec<usize>],
    resamples: usize,
    seed: u64,
    mut f: impl FnMut(&[u8], &[f64]),
) {
    let mut rng = SplitMix64::new(seed);
    let (mut l, mut s) = (Vec::new(), Vec::new());
    for _ in 0..resamples {
        l.clear();
        s.clear();
        for _ in 0..units.len() {
            for &i in &units[rng.below(units.len())] {
                l.push(labels[i]);
                s.push(scores[i]);
            }
        }
        f(&l, &s);
    }
}

/// Midranks (ties share the mean of their ranks), 1-based: what DeLong's test (Sun & Xu's
/// algorithm) and Spearman's correlation rank by.
pub fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j (0-based) share the rank (i + j) / 2 + 1.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// The 2.5th and 97.5th percentiles (NaN for no values).
pub fn percentile_interval(values: &mut [f64]) -> [f64; 2] {
    if values.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let at =
        |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    [at(0.025), at(0.975)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computed_confusion_matrix() {
        // truth:  1 1 1 1 0 0 0 0 0 0
        // score:  .9 .8 .4 .6 .1 .7 .2 .3 .45 .55 -> tp 3, fn 1, fp 2, tn 4
        let labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        let scores = [0.9, 0.8, 0.4, 0.6, 0.1, 0.7, 0.2, 0.3, 0.45, 0.55];
        let m = metrics(&labels, &scores);
        assert_eq!(m.confusion, [[4, 2], [1, 3]]);
        assert_eq!(m.n, 10);
        assert!((m.accuracy - 0.7).abs() < 1e-12);
        assert!((m.precision - 0.6).abs() < 1e-12);
        assert!((m.recall - 0.75).abs() < 1e-12);
        assert!((m.specificity - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.f1 - 2.0 * 0.6 * 0.75 / 1.35).abs() < 1e-12);
        // Positive/negative pairs ranked correctly: 20 of 24 (sklearn.metrics.roc_auc_score).
        assert!((m.auc - 20.0 / 24.0).abs() < 1e-12, "auc {}", m.auc);
    }

    #[test]
    fn imbalance_metrics_match_scikit_learn() {
        // sklearn: average_precision_score([1,0,1,1,0,0], [.9,.8,.7,.6,.2,.1]) = 0.8055…
        let labels = [1, 0, 1, 1, 0, 0];
        let scores = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1];
        let ap = average_precision(&labels, &scores);
        assert!(
            (ap - (1.0 / 3.0 * 1.0 + 1.0 / 3.0 * 2.0 / 3.0 + 1.0 / 3.0 * 3.0 / 4.0)).abs() < 1e-12
        );
        let m = metrics(&labels, &scores);
        assert_eq!(m.pr_auc, ap);
        assert!((m.balanced_accuracy - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // Specificity ≥ 90 % allows no false positive: only the top patch is called malignant.
        assert!((m.sensitivity_at_specificity_90 - 1.0 / 3.0).abs() < 1e-12);
        // A model that calls everything benign on 1-in-100 positives: 99 % accurate, 0.5 balanced.
        let mut rare = vec![0u8; 99];
        rare.push(1);
        let m = metrics(&rare, &[0.1; 100]);
        assert!((m.accuracy - 0.99).abs() < 1e-12);
        assert_eq!(m.balanced_accuracy, 0.5);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(roc_auc(&[1, 0], &[0.5, 0.5]), 0.5);
        assert_eq!(roc_auc(&[1, 0, 1, 0], &[0.9, 0.1, 0.9, 0.9]), 0.75);
        assert!(roc_auc(&[1, 1], &[0.2, 0.3]).is_nan());
    }

    #[test]
    fn empty_denominators_give_zero_not_nan() {
        let m = metrics(&[0, 0, 1], &[0.1, 0.2, 0.3]);
        assert_eq!(m.confusion, [[2, 0], [1, 0]]);
        assert_eq!(m.precision, 0.0);
        assert_eq!(m.f1, 0.0);
        assert_eq!(m.recall, 0.0);
    }

    #[test]
    fn nodules_score_the_mean_of_their_slices() {
        let (labels, scores) = per_nodule(
            &[1, 1, 0, 0, 0],
            &[0.9, 0.3, 0.2, 0.4, 0.1],
            &[7, 7, 3, 3, 9],
        );
        assert_eq!(labels, vec![1, 0, 0]);
        assert_eq!(scores.len(), 3);
        assert!((scores[0] - 0.6).abs() < 1e-12 && (scores[1] - 0.3).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_intervals_hold_the_estimate_and_widen_with_fewer_units() {
        // 200 patches, 80 % right; as 200 independent patches and as 20 nodules of 10.
        let labels: Vec<u8> = (0..200).map(|i| (i % 2) as u8).collect();
        let scores: Vec<f64> = (0..200)
            .map(|i| {
                if i % 10 < 8 {
                    0.2 + 0.6 * (i % 2) as f64
                } else {
                    0.8 - 0.6 * (i % 2) as f64
                }
            })
            .collect();
        let m = metrics(&labels, &scores);
        let by_patch = bootstrap(&labels, &scores, None, 1000, 1).unwrap();
        assert!(by_patch.accuracy[0] < m.accuracy && m.accuracy < by_patch.accuracy[1]);
        assert!(by_patch.accuracy[1] - by_patch.accuracy[0] > 0.05);
        assert_eq!(
            Some(by_patch),
            bootstrap(&labels, &scores, None, 1000, 1),
            "seeded"
        );
        // Nodules whose slices are all right or all wrong: far fewer independent units (10 of
        // each class, each of 10 slices of its class).
        let groups: Vec<i64> = (0..200).map(|i| ((i % 2) * 1000 + i / 20) as i64).collect();
        let clustered: Vec<f64> = (0..200)
            .map(|i| {
                if i / 20 < 8 {
                    0.2 + 0.6 * (i % 2) as f64
                } else {
                    0.8 - 0.6 * (i % 2) as f64
                }
            })
            .collect();
        let by_patch = bootstrap(&labels, &clustered, None, 1000, 1).unwrap();
        let by_nodule = bootstrap(&labels, &clustered, Some(&groups), 1000, 1).unwrap();
        assert_eq!(by_nodule.unit, Unit::Nodule);
        let width = |ci: [f64; 2]| ci[1] - ci[0];
        assert!(width(by_nodule.accuracy) > 1.5 * width(by_patch.accuracy));
    }

    #[test]
    fn too_few_units_of_a_class_give_no_interval_and_no_nodule_metrics() {
        // One nodule of each class, however many slices: nothing to resample, nothing to rank.
        let labels = [0u8, 0, 0, 1, 1, 1];
        let scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
        let groups = [0i64, 0, 0, 1, 1, 1];
        assert_eq!(bootstrap(&labels, &scores, Some(&groups), 100, 1), None);
        assert_eq!(nodule_metrics(&labels, &scores, &groups), None);
        // Nine malignant patches are one short of MIN_PER_CLASS as well.
        let labels: Vec<u8> = (0..40).map(|i| (i < 9) as u8).collect();
        let scores: Vec<f64> = (0..40).map(|i| i as f64 / 40.0).collect();
        assert_eq!(bootstrap(&labels, &scores, None, 100, 1), None);
        let labels: Vec<u8> = (0..40).map(|i| (i < 10) as u8).collect();
        assert!(bootstrap(&labels, &scores, None, 100, 1).is_some());
        let groups: Vec<i64> = (0..40).collect();
        assert!(nodule_metrics(&labels, &scores, &groups).is_some());
    }

    #[test]
    fn roc_curve_runs_from_origin_to_one() {
        let pts = roc_curve(&[1, 0, 1, 0], &[0.9, 0.8, 0.7, 0.1]);
        assert_eq!(
            pts,
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
    }
}
