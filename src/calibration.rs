//! Whether P(malignant) means what it says: the reliability diagram, the expected calibration
//! error and the Brier score, and temperature scaling (Guo et al. 2017) to mend it.
//!
//! The binning is TorchMetrics' default for a binary task (`BinaryCalibrationError`, 15 bins,
//! L1): P(malignant) of each case in one of 15 equal-width bins of [0, 1] (a bin holds its lower
//! edge, the last also 1), and ECE = Σ over bins of (cases in bin / all) × |mean P − share
//! malignant|.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::MALIGNANT;
use crate::error::{Error, Result};
use crate::files::{read_json, write_json};

pub const BINS: usize = 15;

/// One bin of the reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
    /// Mean P(malignant) of its cases, and the share of them that are malignant (NaN: empty).
    pub predicted: f64,
    pub observed: f64,
}

/// The bin of probability `p`.
fn bin_of(p: f64) -> usize {
    ((p.clamp(0.0, 1.0) * BINS as f64).floor() as usize).min(BINS - 1)
}

/// The reliability diagram: `BINS` equal-width bins of P(malignant).
pub fn reliability(labels: &[u8], scores: &[f64]) -> Vec<Bin> {
    let mut sums = vec![(0usize, 0.0f64, 0usize); BINS];
    for (&l, &p) in labels.iter().zip(scores) {
        let b = &mut sums[bin_of(p)];
        b.0 += 1;
        b.1 += p;
        b.2 += (l == MALIGNANT) as usize;
    }
    sums.iter()
        .enumerate()
        .map(|(k, &(count, p, malignant))| Bin {
            lo: k as f64 / BINS as f64,
            hi: (k + 1) as f64 / BINS as f64,
            count,
            predicted: p / count as f64,
            observed: malignant as f64 / count as f64,
        })
        .collect()
}

/// Expected calibration error over `BINS` bins (0: every bin's mean P is its share malignant).
pub fn ece(labels: &[u8], scores: &[f64]) -> f64 {
    let n = labels.len() as f64;
    reliability(labels, scores)
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| b.count as f64 / n * (b.predicted - b.observed).abs())
        .sum()
}

/// The mean squared difference of P(malignant) and the label.
pub fn brier(labels: &[u8], scores: &[f64]) -> f64 {
    let n = labels.len() as f64;
    labels
        .iter()
        .zip(scores)
        .map(|(&l, &p)| (p - (l == MALIGNANT) as u8 as f64).powi(2))
        .sum::<f64>()
        / n
}

/// How well calibrated a checkpoint's probabilities are on the cases scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// "15 equal-width bins of P(malignant), L1 (TorchMetrics' BinaryCalibrationError default)".
    pub binning: String,
    pub ece: f64,
    pub brier: f64,
    pub nll: f64,
    /// 95 % bootstrap intervals of ECE and Brier, resampling `unit`s; None where too few cases.
    pub ece_interval: Option<[f64; 2]>,
    pub brier_interval: Option<[f64; 2]>,
    pub unit: crate::metrics::Unit,
    pub bins: Vec<Bin>,
    /// The checkpoint's fitted temperature, and the same measures with it applied.
    pub temperature: Option<Temperature>,
    pub scaled: Option<Scaled>,
}

/// The calibration measures after temperature scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaled {
    pub ece: f64,
    pub brier: f64,
    pub nll: f64,
    pub bins: Vec<Bin>,
}

/// ECE, Brier and NLL with their intervals (whole nodules resampled where `groups` are given),
/// and the same after `temperature` where one was fitted.
pub fn assess(
    labels: &[u8],
    scores: &[f64],
    groups: Option<&[i64]>,
    temperature: Option<Temperature>,
    resamples: usize,
    seed: u64,
) -> Assessment {
    let units = crate::metrics::resampling_units(labels.len(), groups);
    let (ece_interval, brier_interval) = match crate::metrics::enough_units(labels, &units) {
        true => {
            let (mut e, mut b) = (Vec::new(), Vec::new());
            crate::metrics::for_each_resample(labels, scores, &units, resamples, seed, |l, s| {
                e.push(ece(l, s));
                b.push(brier(l, s));
            });
            (
                Some(crate::metrics::percentile_interval(&mut e)),
                Some(crate::metrics::percentile_interval(&mut b)),
            )
        }
        false => (None, None),
    };
    let scaled = temperature.as_ref().map(|t| {
        let s = scale(scores, t.temperature);
        Scaled {
            ece: ece(labels, &s),
            brier: brier(labels, &s),
            nll: nll(labels, &s),
            bins: reliability(labels, &s),
        }
    });
    Assessment {
        binning: format!(
            "{BINS} equal-width bins of P(malignant), L1 (TorchMetrics' BinaryCalibrationError default)"
        ),
        ece: ece(labels, scores),
        brier: brier(labels, scores),
        nll: nll(labels, scores),
        ece_interval,
        brier_interval,
        unit: crate::metrics::Unit::of(groups),
        bins: reliability(labels, scores),
        temperature,
        scaled,
    }
}

/// The logit difference behind a probability (clamped off 0 and 1, where it is infinite).
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// P(malignant) with the logits divided by `temperature`: the same ranking, so the same AUC
/// and the same decision at 0.5, only more or less confident.
pub fn scale(scores: &[f64], temperature: f64) -> Vec<f64> {
    scores
        .iter()
        .map(|&p| 1.0 / (1.0 + (-logit(p) / temperature).exp()))
        .collect()
}

/// Mean negative log-likelihood of the labels under `scores`.
pub fn nll(labels: &[u8], scores: &[f64]) -> f64 {
    let n = labels.len() as f64;
    labels
        .iter()
        .zip(scores)
        .map(|(&l, &p)| {
            let p = p.clamp(1e-12, 1.0 - 1e-12);
            match l == MALIGNANT {
                true => -p.ln(),
                false => -(1.0 - p).ln(),
            }
        })
        .sum::<f64>()
        / n
}

/// Temperatures searched, as ln T: T from 0.05 to 20.
const LN_T: [f64; 2] = [-3.0, 3.0];

/// The temperature that minimises the negative log-likelihood of `labels` (Guo et al. 2017):
/// a golden-section search on ln T, which the NLL is unimodal in.
pub fn fit_temperature(labels: &[u8], scores: &[f64]) -> f64 {
    let d: Vec<f64> = scores.iter().map(|&p| logit(p)).collect();
    let loss = |ln_t: f64| {
        let t = ln_t.exp();
        let scaled: Vec<f64> = d.iter().map(|x| 1.0 / (1.0 + (-x / t).exp())).collect();
        nll(labels, &scaled)
    };
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let [mut a, mut b] = LN_T;
    let mut c = b - golden * (b - a);
    let mut e = a + golden * (b - a);
    let (mut fc, mut fe) = (loss(c), loss(e));
    while b - a > 1e-6 {
        if fc < fe {
            b = e;
            e = c;
            fe = fc;
            c = b - golden * (b - a);
            fc = loss(c);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + golden * (b - a);
            fe = loss(e);
        }
    }
    ((a + b) / 2.0).exp()
}

/// A temperature fitted for a checkpoint, kept beside it as `CHECKPOINT.calibration.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    pub temperature: f64,
    /// What it was fitted on ("val split of run NAME"), how many cases, and the NLL and ECE
    /// there before and after.
    pub fitted_on: String,
    pub cases: usize,
    pub nll: [f64; 2],
    pub ece: [f64; 2],
    /// The checkpoint's SHA-256: a temperature is refused for another file.
    pub checkpoint_sha256: String,
}

/// Where a checkpoint's temperature lives.
pub fn sidecar(checkpoint: &Path) -> PathBuf {
    let name = checkpoint
        .file_name()
        .map_or("checkpoint".into(), |n| n.to_string_lossy().into_owned());
    checkpoint.with_file_name(format!("{name}.calibration.json"))
}

pub fn save(checkpoint: &Path, t: &Temperature) -> Result<()> {
    write_json(&sidecar(checkpoint), t)
}

/// The checkpoint's temperature, if one was fitted for this very file.
pub fn load(checkpoint: &Path) -> Result<Option<Temperature>> {
    let path = sidecar(checkpoint);
    if !path.exists() {
        return Ok(None);
    }
    let t: Temperature = read_json(&path)?;
    // Hashed only where a temperature is kept: most checkpoints have none.
    if t.checkpoint_sha256 != crate::data::sha256(checkpoint)? {
        return Err(Error::file(
            &path,
            "was fitted for another version of the checkpoint: run `lnmc calibrate` again",
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_hold_their_lower_edge_and_the_last_holds_one() {
        assert_eq!(bin_of(0.0), 0);
        assert_eq!(bin_of(1.0 / 15.0), 1);
        assert_eq!(bin_of(0.999), 14);
        assert_eq!(bin_of(1.0), 14);
    }

    #[test]
    fn ece_and_brier_by_hand() {
        // Two bins used: 0.1 (bin 1) twice, one malignant; 0.9 (bin 13) twice, both malignant.
        let labels = [1, 0, 1, 1];
        let scores = [0.1, 0.1, 0.9, 0.9];
        // |0.1 − 0.5| · ½ + |0.9 − 1| · ½ = 0.25
        assert!((ece(&labels, &scores) - 0.25).abs() < 1e-12);
        // (0.81 + 0.01 + 0.01 + 0.01) / 4
        assert!((brier(&labels, &scores) - 0.21).abs() < 1e-12);
        let bins = reliability(&labels, &scores);
        assert_eq!(bins.len(), BINS);
        assert_eq!((bins[1].count, bins[13].count), (2, 2));
        assert!(bins[0].predicted.is_nan());
    }

    #[test]
    fn temperature_recovers_an_overconfident_model_and_keeps_the_ranking() {
        // Labels drawn with P = σ(d); the model reports σ(3d): overconfident by T = 3.
        let mut rng = crate::data::rng::SplitMix64::new(7);
        let (mut labels, mut scores) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let d = (rng.below(2001) as f64 - 1000.0) / 250.0;
            let p = 1.0 / (1.0 + (-d).exp());
            labels.push((rng.below(1_000_000) as f64 / 1e6 < p) as u8);
            scores.push(1.0 / (1.0 + (-3.0 * d).exp()));
        }
        let t = fit_temperature(&labels, &scores);
        assert!((t - 3.0).abs() < 0.15, "{t}");
        let scaled = scale(&scores, t);
        assert!(ece(&labels, &scaled) < ece(&labels, &scores) / 3.0);
        assert!(nll(&labels, &scaled) < nll(&labels, &scores));
        let auc = crate::metrics::roc_auc;
        assert!((auc(&labels, &scaled) - auc(&labels, &scores)).abs() < 1e-12);
    }
}
