//! Where a model fails, not only how often: the evaluated cases split by nodule size and by
//! density, each group with its counts, its errors and its metrics (withheld where the counts
//! cannot carry them).
//!
//! Both are measured on the patch itself. The nodule is the connected region around the centre
//! (4-neighbours) above a threshold suited to the data's units: −600 HU for CT (above aerated
//! lung, low enough to keep ground glass), and for other units the same point of the file's
//! own range (its 0.5th–99.5th percentiles taken as the lung window −1000…400 HU). Its size is
//! the equivalent diameter 2·√(area/π) in pixels (the files carry no pixel spacing, so no mm),
//! its density the mean value inside it. With nodule groups a nodule takes the largest
//! diameter of its slices and the mean density, and is scored by the mean probability of its
//! slices, as everywhere in lnmc.

use serde::{Deserialize, Serialize};

use crate::data::units::{Scale, Units};
use crate::data::MALIGNANT;
use crate::metrics::{self, MIN_PER_CLASS};

/// The HU threshold of the nodule region, and the lung window other units are mapped from.
const HU_THRESHOLD: f64 = -600.0;
const LUNG_WINDOW: [f64; 2] = [-1000.0, 400.0];
/// Density classes in HU: below −450 ground glass, below −150 part-solid, else solid (the
/// usual reading of a nodule's mean attenuation; a heuristic on a 2-D patch).
const HU_DENSITY: [(f64, &str); 2] = [(-450.0, "ground-glass"), (-150.0, "part-solid")];
/// How far from the centre the region may start when the centre pixel itself is below the
/// threshold (a nodule off by a pixel or two).
const SEED_RADIUS: i64 = 3;
/// Default size bins, in pixels of equivalent diameter.
pub const SIZE_EDGES: [f64; 3] = [6.0, 12.0, 20.0];

/// What the patch shows of its nodule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Equivalent diameter of the central region, in pixels (0: no region at the centre).
    pub diameter: f64,
    /// Mean value inside the region (the centre 3×3 when there is none), in the file's units.
    pub density: f64,
}

/// The region threshold for data of this scale.
pub fn threshold(scale: &Scale) -> f64 {
    match scale.units {
        Units::Hu => HU_THRESHOLD,
        _ => {
            let at = (HU_THRESHOLD - LUNG_WINDOW[0]) / (LUNG_WINDOW[1] - LUNG_WINDOW[0]);
            scale.low as f64 + at * (scale.high as f64 - scale.low as f64)
        }
    }
}

/// Size and density of one patch of `height` × `width`.
pub fn features(patch: &[f32], height: usize, width: usize, threshold: f64) -> Features {
    let (h, w) = (height as i64, width as i64);
    let at = |y: i64, x: i64| patch[(y * w + x) as usize] as f64;
    let (cy, cx) = (h / 2, w / 2);
    // The above-threshold pixel nearest the centre, within SEED_RADIUS.
    let mut seed = None;
    for r in 0..=SEED_RADIUS {
        for y in (cy - r).max(0)..=(cy + r).min(h - 1) {
            for x in (cx - r).max(0)..=(cx + r).min(w - 1) {
                if seed.is_none() && at(y, x) > threshold {
                    seed = Some((y, x));
                }
            }
        }
        if seed.is_some() {
            break;
        }
    }
    let Some(seed) = seed else {
        let mut sum = 0.0;
        let mut n = 0.0;
        for y in (cy - 1).max(0)..=(cy + 1).min(h - 1) {
            for x in (cx - 1).max(0)..=(cx + 1).min(w - 1) {
                sum += at(y, x);
                n += 1.0;
            }
        }
        return Features {
            diameter: 0.0,
            density: sum / n,
        };
    };
    let mut inside = vec![false; patch.len()];
    let mut stack = vec![seed];
    inside[(seed.0 * w + seed.1) as usize] = true;
    let (mut area, mut sum) = (0.0, 0.0);
    while let Some((y, x)) = stack.pop() {
        area += 1.0;
        sum += at(y, x);
        for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] {
            if ny < 0 || nx < 0 || ny >= h || nx >= w {
                continue;
            }
            let k = (ny * w + nx) as usize;
            if !inside[k] && at(ny, nx) > threshold {
                inside[k] = true;
                stack.push((ny, nx));
            }
        }
    }
    Features {
        diameter: 2.0 * (area / std::f64::consts::PI).sqrt(),
        density: sum / area,
    }
}

/// One group of cases and how the model does on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subgroup {
    /// "size" or "density".
    pub by: String,
    pub name: String,
    /// Cases (nodules where groups are known, else patches) and the malignant among them.
    pub cases: usize,
    pub malignant: usize,
    /// Cases the model gets wrong at 0.5, and their share of all its errors.
    pub errors: usize,
    pub share_of_errors: f64,
    /// Withheld (None) where fewer than `MIN_PER_CLASS` cases stand behind them: accuracy
    /// needs that many cases, sensitivity that many malignant, specificity that many benign,
    /// the AUC and its interval that many of each.
    pub accuracy: Option<f64>,
    pub sensitivity: Option<f64>,
    pub specificity: Option<f64>,
    pub auc: Option<f64>,
    pub auc_interval: Option<[f64; 2]>,
}

/// How the cases are binned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    /// Upper edges of the size bins, in pixels of equivalent diameter.
    pub size_edges: Vec<f64>,
    /// (upper edge, name) of each density bin but the last, and the last one's name.
    pub density: Vec<(f64, String)>,
    pub density_last: String,
    /// How the density bins were made, in words.
    pub density_basis: String,
    pub threshold: f64,
}

impl Binning {
    /// Size bins as given; density bins by HU class for CT, else the tertiles of `densities`.
    pub fn new(size_edges: &[f64], scale: &Scale, densities: &[f64]) -> Binning {
        let (density, density_last, density_basis) = match scale.units {
            Units::Hu => (
                HU_DENSITY
                    .iter()
                    .map(|&(e, n)| (e, n.to_string()))
                    .collect(),
                "solid".to_string(),
                "mean HU of the region: ground-glass < −450 ≤ part-solid < −150 ≤ solid"
                    .to_string(),
            ),
            _ => {
                let mut sorted = densities.to_vec();
                sorted.sort_by(f64::total_cmp);
                let q = |f: f64| {
                    sorted
                        .get(((sorted.len().max(1) - 1) as f64 * f).round() as usize)
                        .copied()
                        .unwrap_or(0.0)
                };
                let (a, b) = (q(1.0 / 3.0), q(2.0 / 3.0));
                (
                    vec![
                        (a, format!("low (< {a:.3})")),
                        (b, format!("middle (< {b:.3})")),
                    ],
                    "high".to_string(),
                    format!(
                        "tertiles of the region's mean value ({}: no HU density classes)",
                        scale.units.name()
                    ),
                )
            }
        };
        Binning {
            size_edges: size_edges.to_vec(),
            density,
            density_last,
            density_basis,
            threshold: threshold(scale),
        }
    }

    fn size_names(&self) -> Vec<String> {
        let e = &self.size_edges;
        let mut names = Vec::with_capacity(e.len() + 1);
        for (k, hi) in e.iter().enumerate() {
            names.push(match k {
                0 => format!("< {hi} px"),
                _ => format!("{}–{hi} px", e[k - 1]),
            });
        }
        names.push(match e.last() {
            Some(lo) => format!("≥ {lo} px"),
            None => "all sizes".into(),
        });
        names
    }

    fn size_bin(&self, d: f64) -> usize {
        self.size_edges.iter().take_while(|&&e| d >= e).count()
    }

    fn density_bin(&self, v: f64) -> usize {
        self.density.iter().take_while(|(e, _)| v >= *e).count()
    }
}

/// The largest value of each nodule (a nodule's size is its largest slice's), nodules in
/// `metrics::per_nodule`'s order.
pub fn nodule_largest(values: &[f64], groups: &[i64]) -> Vec<f64> {
    let (at, nodules) = crate::data::groups::numbered(groups);
    let mut largest = vec![f64::NEG_INFINITY; nodules];
    for (&v, &k) in values.iter().zip(&at) {
        largest[k] = largest[k].max(v);
    }
    largest
}

/// The metrics of each size and density group. `features[i]` is patch i's; with `groups`,
/// cases are nodules.
pub fn table(
    labels: &[u8],
    scores: &[f64],
    groups: Option<&[i64]>,
    features: &[Features],
    binning: &Binning,
    resamples: usize,
    seed: u64,
) -> Vec<Subgroup> {
    let cases: Vec<Case> = match groups {
        Some(ids) => {
            let (l, s) = metrics::per_nodule(labels, scores, ids);
            let diameters: Vec<f64> = features.iter().map(|f| f.diameter).collect();
            let densities: Vec<f64> = features.iter().map(|f| f.density).collect();
            let size = nodule_largest(&diameters, ids);
            // The mean density of its slices, as a nodule's score is the mean of theirs.
            let (_, density) = metrics::per_nodule(labels, &densities, ids);
            (0..l.len())
                .map(|k| (l[k], s[k], size[k], density[k]))
                .collect()
        }
        None => (0..labels.len())
            .map(|i| {
                (
                    labels[i],
                    scores[i],
                    features[i].diameter,
                    features[i].density,
                )
            })
            .collect(),
    };
    let all_errors = cases
        .iter()
        .filter(|c| !metrics::is_correct(c.0, c.1))
        .count();
    let mut density_names: Vec<String> = binning.density.iter().map(|(_, n)| n.clone()).collect();
    density_names.push(binning.density_last.clone());
    let size_of = |c: &Case| binning.size_bin(c.2);
    let density_of = |c: &Case| binning.density_bin(c.3);
    let axes: [(&str, Vec<String>, &dyn Fn(&Case) -> usize); 2] = [
        ("size", binning.size_names(), &size_of),
        ("density", density_names, &density_of),
    ];
    let mut out = Vec::new();
    for (by, names, bin) in axes {
        for (k, name) in names.iter().enumerate() {
            let members: Vec<usize> = (0..cases.len()).filter(|&i| bin(&cases[i]) == k).collect();
            out.push(subgroup(
                by, name, &cases, &members, all_errors, resamples, seed,
            ));
        }
    }
    out
}

/// A case: (label, score, diameter, density).
type Case = (u8, f64, f64, f64);

fn subgroup(
    by: &str,
    name: &str,
    cases: &[Case],
    members: &[usize],
    all_errors: usize,
    resamples: usize,
    seed: u64,
) -> Subgroup {
    let labels: Vec<u8> = members.iter().map(|&i| cases[i].0).collect();
    let scores: Vec<f64> = members.iter().map(|&i| cases[i].1).collect();
    let malignant = labels.iter().filter(|&&l| l == MALIGNANT).count();
    let benign = labels.len() - malignant;
    let errors = (0..labels.len())
        .filter(|&k| !metrics::is_correct(labels[k], scores[k]))
        .count();
    let m = metrics::metrics(&labels, &scores);
    let both = malignant >= MIN_PER_CLASS && benign >= MIN_PER_CLASS;
    let auc_interval = both.then(|| {
        let units: Vec<Vec<usize>> = (0..labels.len()).map(|i| vec![i]).collect();
        let mut aucs = Vec::new();
        metrics::for_each_resample(&labels, &scores, &units, resamples, seed, |l, s| {
            let a = metrics::roc_auc(l, s);
            if a.is_finite() {
                aucs.push(a);
            }
        });
        metrics::percentile_interval(&mut aucs)
    });
    Subgroup {
        by: by.into(),
        name: name.into(),
        cases: labels.len(),
        malignant,
        errors,
        share_of_errors: match all_errors {
            0 => 0.0,
            n => errors as f64 / n as f64,
        },
        accuracy: (labels.len() >= MIN_PER_CLASS).then_some(m.accuracy),
        sensitivity: (malignant >= MIN_PER_CLASS).then_some(m.recall),
        specificity: (benign >= MIN_PER_CLASS).then_some(m.specificity),
        auc: both.then_some(m.auc),
        auc_interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32×32 patch of lung (−850) with a disc of `radius` and value `value` at the centre.
    fn disc(radius: f64, value: f32) -> Vec<f32> {
        (0..32 * 32)
            .map(|k| {
                let (y, x) = ((k / 32) as f64 - 16.0, (k % 32) as f64 - 16.0);
                if (y * y + x * x).sqrt() <= radius {
                    value
                } else {
                    -850.0
                }
            })
            .collect()
    }

    #[test]
    fn the_central_region_gives_diameter_and_density() {
        let f = features(&disc(5.0, 30.0), 32, 32, HU_THRESHOLD);
        assert!((f.diameter - 10.0).abs() < 1.0, "{f:?}");
        assert_eq!(f.density, 30.0);
        // Nothing at the centre: no region, the centre's mean.
        let f = features(&disc(0.0, -850.0), 32, 32, HU_THRESHOLD);
        assert_eq!((f.diameter, f.density), (0.0, -850.0));
        // A ring's hole at the centre is reached from a pixel near it.
        let mut ring = disc(6.0, 40.0);
        ring[16 * 32 + 16] = -850.0;
        assert!(features(&ring, 32, 32, HU_THRESHOLD).diameter > 10.0);
    }

    #[test]
    fn the_threshold_follows_the_units() {
        let hu = Scale::default();
        assert_eq!(threshold(&hu), -600.0);
        let greys = Scale {
            units: Units::Greys,
            low: 0.0,
            high: 255.0,
            commonest: 0.0,
        };
        // −600 HU sits at 400/1400 of the lung window.
        assert!((threshold(&greys) - 255.0 * 400.0 / 1400.0).abs() < 1e-9);
    }

    #[test]
    fn groups_count_their_cases_and_withhold_what_the_counts_cannot_carry() {
        // 40 large solid nodules (20 malignant, all right), 8 small ground-glass ones (4
        // malignant, all wrong).
        let mut labels = Vec::new();
        let mut scores = Vec::new();
        let mut feats = Vec::new();
        for k in 0..40 {
            let l = (k % 2) as u8;
            labels.push(l);
            scores.push(if l == 1 { 0.8 } else { 0.2 });
            feats.push(Features {
                diameter: 25.0,
                density: 10.0,
            });
        }
        for k in 0..8 {
            let l = (k % 2) as u8;
            labels.push(l);
            scores.push(if l == 1 { 0.3 } else { 0.7 });
            feats.push(Features {
                diameter: 4.0,
                density: -700.0,
            });
        }
        let binning = Binning::new(&SIZE_EDGES, &Scale::default(), &[]);
        let t = table(&labels, &scores, None, &feats, &binning, 100, 1);
        let get = |by: &str, name: &str| t.iter().find(|s| s.by == by && s.name == name).unwrap();
        let small = get("size", "< 6 px");
        assert_eq!((small.cases, small.malignant, small.errors), (8, 4, 8));
        assert_eq!(small.share_of_errors, 1.0);
        assert_eq!(
            (small.accuracy, small.auc, small.sensitivity),
            (None, None, None)
        );
        let large = get("size", "≥ 20 px");
        assert_eq!((large.cases, large.errors), (40, 0));
        assert_eq!(large.accuracy, Some(1.0));
        assert_eq!(large.auc, Some(1.0));
        assert!(large.auc_interval.is_some());
        assert_eq!(get("size", "6–12 px").cases, 0);
        assert_eq!(get("density", "ground-glass").cases, 8);
        assert_eq!(get("density", "solid").cases, 40);
        assert_eq!(get("density", "part-solid").cases, 0);
    }
}
