//! The number a network must beat: the nodule's size alone. A nodule's diameter (the
//! equivalent diameter `subgroups` measures on each patch; a nodule takes its largest slice)
//! used as the score, its ROC AUC beside the network's on the same cases, and DeLong's test
//! between the two. Size is the strongest single predictor radiologists use (Lung-RADS and
//! the Fleischner guidelines are built on it), so a network that does not beat it has learnt
//! little more than size.

use serde::{Deserialize, Serialize};

use crate::data::MALIGNANT;
use crate::metrics::{self, MIN_PER_CLASS};
use crate::paired::{self, DeLong};
use crate::subgroups::nodule_largest;

/// The network against the diameter alone on the same cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Nodules (the network's mean probability of a nodule's slices against its largest
    /// diameter) or patches.
    pub unit: metrics::Unit,
    /// Cases of each class (benign, malignant).
    pub counts: [usize; 2],
    /// `auc[0]` the network's, `auc[1]` the diameter's; z and p of their difference.
    pub delong: DeLong,
    /// 95 % intervals of the two AUCs from DeLong's variances (AUC ± 1.96 SE, within [0, 1]).
    pub intervals: [[f64; 2]; 2],
}

impl Baseline {
    pub fn network_auc(&self) -> f64 {
        self.delong.auc[0]
    }

    pub fn diameter_auc(&self) -> f64 {
        self.delong.auc[1]
    }
}

/// The network's `scores` against the `diameters` of the same patches, per nodule where
/// `groups` are given; the reason instead where the counts cannot carry a test.
pub fn diameter(
    labels: &[u8],
    scores: &[f64],
    diameters: &[f64],
    groups: Option<&[i64]>,
) -> Result<Baseline, String> {
    let unit = metrics::Unit::of(groups);
    let (labels, network, size) = match groups {
        Some(ids) => {
            let (l, s) = metrics::per_nodule(labels, scores, ids);
            (l, s, nodule_largest(diameters, ids))
        }
        None => (labels.to_vec(), scores.to_vec(), diameters.to_vec()),
    };
    let malignant = labels.iter().filter(|&&l| l == MALIGNANT).count();
    let counts = [labels.len() - malignant, malignant];
    if counts.iter().min() < Some(&MIN_PER_CLASS) {
        let units = unit.plural();
        return Err(format!(
            "fewer than {MIN_PER_CLASS} {units} of a class ({} benign, {} malignant): no baseline",
            counts[0], counts[1]
        ));
    }
    let delong = paired::delong(&labels, &network, &size).expect("two of each class");
    let interval = |k: usize| {
        let half = 1.96 * delong.variance[k].max(0.0).sqrt();
        [
            (delong.auc[k] - half).max(0.0),
            (delong.auc[k] + half).min(1.0),
        ]
    };
    Ok(Baseline {
        unit,
        counts,
        intervals: [interval(0), interval(1)],
        delong,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nodule_takes_its_largest_slice_and_the_network_its_mean() {
        // 12 nodules of 2 slices: malignant ones large; the network scores them at random.
        let mut labels = Vec::new();
        let mut diameters = Vec::new();
        let mut scores = Vec::new();
        let mut groups = Vec::new();
        for n in 0..24i64 {
            let malignant = n % 2 == 1;
            for s in 0..2 {
                labels.push(malignant as u8);
                // One small slice per nodule: only the largest tells malignant apart.
                diameters.push(if s == 0 {
                    1.0
                } else {
                    5.0 + malignant as u8 as f64 * 10.0 + n as f64 * 0.1
                });
                scores.push(((n * 7 + s) % 5) as f64 / 5.0);
                groups.push(n);
            }
        }
        let b = diameter(&labels, &scores, &diameters, Some(&groups)).unwrap();
        assert_eq!(b.unit, metrics::Unit::Nodule);
        assert_eq!(b.counts, [12, 12]);
        assert_eq!(b.diameter_auc(), 1.0, "largest slices separate the classes");
        let (l, s) = metrics::per_nodule(&labels, &scores, &groups);
        assert!((b.network_auc() - metrics::roc_auc(&l, &s)).abs() < 1e-12);
        assert!(
            b.delong.p < 0.05,
            "a perfect baseline beats a random network"
        );
        assert!(b.intervals[1][1] <= 1.0 && b.intervals[0][0] >= 0.0);
        let few = diameter(&labels[..8], &scores[..8], &diameters[..8], None).unwrap_err();
        assert!(
            few.starts_with("fewer than 10 patches of a class (4 benign"),
            "{few}"
        );
    }
}
