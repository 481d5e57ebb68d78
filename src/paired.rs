//! Two checkpoints scored on the same patches: is one better, or is the difference chance?
//! DeLong's test of the two correlated ROC AUCs (the fast algorithm of Sun & Xu 2014, as pROC's
//! `roc.test` and the usual numpy versions compute it), a paired bootstrap interval of the
//! difference, and McNemar's exact test on the cases one gets right and the other wrong.
//!
//! Where the data has nodule groups, every number here is per nodule (a nodule scored by the
//! mean probability of its slices), because slices of one nodule are not independent cases.

use serde::{Deserialize, Serialize};

use crate::data::rng::SplitMix64;
use crate::data::MALIGNANT;
use crate::metrics::{self, midranks, MIN_PER_CLASS};

/// DeLong's test of AUC(a) = AUC(b) on the same cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeLong {
    pub auc: [f64; 2],
    /// The variances of the two AUCs and their covariance.
    pub variance: [f64; 2],
    pub covariance: f64,
    /// (AUC(a) − AUC(b)) / its standard error, and the two-sided p-value.
    pub z: f64,
    pub p: f64,
}

/// The structural components of one classifier's AUC: (auc, v10 over positives, v01 over
/// negatives).
fn components(positives: &[f64], negatives: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let (m, n) = (positives.len() as f64, negatives.len() as f64);
    let tx = midranks(positives);
    let ty = midranks(negatives);
    let all: Vec<f64> = positives.iter().chain(negatives).copied().collect();
    let tz = midranks(&all);
    let (tz_x, tz_y) = tz.split_at(positives.len());
    let auc = (tz_x.iter().sum::<f64>() - m * (m + 1.0) / 2.0) / (m * n);
    let v10 = tz_x.iter().zip(&tx).map(|(z, x)| (z - x) / n).collect();
    let v01 = tz_y
        .iter()
        .zip(&ty)
        .map(|(z, y)| 1.0 - (z - y) / m)
        .collect();
    (auc, v10, v01)
}

/// Sample covariance (n − 1) of two equally long series.
fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (n - 1.0)
}

/// DeLong's test on cases with `labels` scored by `a` and by `b`; None without two cases of
/// each class.
pub fn delong(labels: &[u8], a: &[f64], b: &[f64]) -> Option<DeLong> {
    let split = |scores: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let pos = (0..labels.len()).filter(|&i| labels[i] == MALIGNANT);
        let neg = (0..labels.len()).filter(|&i| labels[i] != MALIGNANT);
        (
            pos.map(|i| scores[i]).collect(),
            neg.map(|i| scores[i]).collect(),
        )
    };
    let (pa, na) = split(a);
    let (pb, nb) = split(b);
    if pa.len() < 2 || na.len() < 2 {
        return None;
    }
    let (auc_a, v10_a, v01_a) = components(&pa, &na);
    let (auc_b, v10_b, v01_b) = components(&pb, &nb);
    let (m, n) = (pa.len() as f64, na.len() as f64);
    let s =
        |x: &[f64], y: &[f64], u: &[f64], v: &[f64]| covariance(x, y) / m + covariance(u, v) / n;
    let var_a = s(&v10_a, &v10_a, &v01_a, &v01_a);
    let var_b = s(&v10_b, &v10_b, &v01_b, &v01_b);
    let cov = s(&v10_a, &v10_b, &v01_a, &v01_b);
    let se = (var_a + var_b - 2.0 * cov).max(0.0).sqrt();
    let z = match se > 0.0 {
        true => (auc_a - auc_b) / se,
        // Identical scores (or identical rankings): no difference to test.
        false => 0.0,
    };
    Some(DeLong {
        auc: [auc_a, auc_b],
        variance: [var_a, var_b],
        covariance: cov,
        z,
        p: erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0),
    })
}

/// The complementary error function, to a relative error below 1.2e-7 (the Chebyshev fit of
/// Numerical Recipes' `erfcc`); the normal tail is 0.5 · erfc(z / √2).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// McNemar's exact test: of the cases the two classifiers disagree on, `b` only a gets right
/// and `c` only b; the two-sided p-value of the binomial (b + c, ½).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    pub only_a_right: u64,
    pub only_b_right: u64,
    pub p: f64,
}

pub fn mcnemar(labels: &[u8], a: &[f64], b: &[f64]) -> McNemar {
    let (mut only_a, mut only_b) = (0u64, 0u64);
    for ((&l, &sa), &sb) in labels.iter().zip(a).zip(b) {
        match (metrics::is_correct(l, sa), metrics::is_correct(l, sb)) {
            (true, false) => only_a += 1,
            (false, true) => only_b += 1,
            _ => {}
        }
    }
    McNemar {
        only_a_right: only_a,
        only_b_right: only_b,
        p: binomial_two_sided(only_a, only_b),
    }
}

/// P(X ≤ min(b, c)) doubled, capped at 1, for X ~ Binomial(b + c, ½): summed in logs, so that
/// thousands of discordant cases neither overflow nor underflow to a wrong answer.
fn binomial_two_sided(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let ln_half_n = n as f64 * 0.5f64.ln();
    // ln C(n, i), built up term by term.
    let mut ln_choose = 0.0;
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Two checkpoints compared on the same cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Nodules (each the mean probability of its slices) or patches.
    pub unit: metrics::Unit,
    /// Cases of each class (benign, malignant).
    pub counts: [usize; 2],
    pub delong: DeLong,
    /// AUC(a) − AUC(b), and its 95 % paired-bootstrap interval (the same resampled cases
    /// scored by both).
    pub delta_auc: f64,
    pub delta_interval: [f64; 2],
    pub resamples: usize,
    pub mcnemar: McNemar,
}

/// Compares scores `a` and `b` of the same patches, per nodule where `groups` are given. None,
/// with the reason, where the counts cannot carry a test (`MIN_PER_CLASS`).
pub fn compare(
    labels: &[u8],
    a: &[f64],
    b: &[f64],
    groups: Option<&[i64]>,
    resamples: usize,
    seed: u64,
) -> Result<Comparison, String> {
    let (labels, a, b) = match groups {
        Some(ids) => {
            let (l, sa) = metrics::per_nodule(labels, a, ids);
            let (_, sb) = metrics::per_nodule(labels, b, ids);
            (l, sa, sb)
        }
        None => (labels.to_vec(), a.to_vec(), b.to_vec()),
    };
    let unit = metrics::Unit::of(groups);
    let malignant = labels.iter().filter(|&&l| l == MALIGNANT).count();
    let counts = [labels.len() - malignant, malignant];
    if counts.iter().min() < Some(&MIN_PER_CLASS) {
        let units = unit.plural();
        return Err(format!(
            "fewer than {MIN_PER_CLASS} {units} of a class ({} benign, {} malignant): no test",
            counts[0], counts[1]
        ));
    }
    let delong = delong(&labels, &a, &b).expect("two of each class");
    let mut rng = SplitMix64::new(seed);
    let mut deltas = Vec::with_capacity(resamples);
    let (mut l, mut sa, mut sb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..resamples {
        l.clear();
        sa.clear();
        sb.clear();
        for _ in 0..labels.len() {
            let i = rng.below(labels.len());
            l.push(labels[i]);
            sa.push(a[i]);
            sb.push(b[i]);
        }
        let d = metrics::roc_auc(&l, &sa) - metrics::roc_auc(&l, &sb);
        if d.is_finite() {
            deltas.push(d);
        }
    }
    Ok(Comparison {
        unit,
        counts,
        delta_auc: delong.auc[0] - delong.auc[1],
        delta_interval: metrics::percentile_interval(&mut deltas),
        resamples,
        mcnemar: mcnemar(&labels, &a, &b),
        delong,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midranks_share_ties() {
        assert_eq!(midranks(&[0.3, 0.1, 0.3, 0.2]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn delong_auc_is_the_mann_whitney_auc_and_a_classifier_equals_itself() {
        let labels = [1, 1, 1, 0, 0, 0, 0, 1];
        let a = [0.9, 0.4, 0.7, 0.2, 0.4, 0.1, 0.6, 0.8];
        let b = [0.5, 0.6, 0.9, 0.3, 0.2, 0.7, 0.1, 0.4];
        let d = delong(&labels, &a, &b).unwrap();
        assert!((d.auc[0] - metrics::roc_auc(&labels, &a)).abs() < 1e-12);
        assert!((d.auc[1] - metrics::roc_auc(&labels, &b)).abs() < 1e-12);
        let same = delong(&labels, &a, &a).unwrap();
        assert_eq!((same.z, same.p), (0.0, 1.0));
    }

    #[test]
    fn erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207050285, erfc(1.959963985 / √2) = 0.05.
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207_050_285).abs() < 1e-7);
        assert!((erfc(1.959_963_985 / std::f64::consts::SQRT_2) - 0.05).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-7);
    }

    #[test]
    fn mcnemar_is_the_exact_binomial() {
        // b = 1, c = 6: 2 · (1 + 7) / 128 = 0.125.
        assert!((binomial_two_sided(1, 6) - 0.125).abs() < 1e-12);
        assert!((binomial_two_sided(6, 1) - 0.125).abs() < 1e-12);
        // b = c: p = 1 (capped); none discordant: 1.
        assert_eq!(binomial_two_sided(5, 5), 1.0);
        assert_eq!(binomial_two_sided(0, 0), 1.0);
        // b = 0, c = 10: 2 / 1024.
        assert!((binomial_two_sided(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
        // Thousands of cases stay finite and tiny.
        let p = binomial_two_sided(1000, 1300);
        assert!(p > 0.0 && p < 1e-8, "{p}");
        let labels = [1, 1, 0, 0];
        let a = [0.9, 0.2, 0.1, 0.3];
        let b = [0.4, 0.7, 0.8, 0.2];
        let m = mcnemar(&labels, &a, &b);
        assert_eq!((m.only_a_right, m.only_b_right), (2, 1));
    }

    #[test]
    fn too_few_cases_are_refused_with_the_counts() {
        let labels = [1, 0, 1, 0];
        let s = [0.9, 0.1, 0.8, 0.2];
        let e = compare(&labels, &s, &s, None, 10, 1).unwrap_err();
        assert_eq!(
            e,
            "fewer than 10 patches of a class (2 benign, 2 malignant): no test"
        );
    }
}
