//! Where to cut P(malignant): a threshold given, or chosen by a rule (Youden's J, a sensitivity
//! to reach for screening, a specificity to keep), and what the confusion matrix looks like
//! there. A patch is predicted malignant when its probability is above the threshold, as
//! everywhere in lnmc.
//!
//! A threshold chosen on the very cases it is then scored on flatters them: the numbers at a
//! chosen point are optimistic unless the point was chosen on other data.

use serde::{Deserialize, Serialize};

use crate::data::MALIGNANT;
use crate::error::{Error, Result};

/// How the threshold is found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    /// This threshold, in (0, 1).
    Fixed(f64),
    /// The one maximising sensitivity + specificity − 1.
    Youden,
    /// The most specific one whose sensitivity is at least this.
    Sensitivity(f64),
    /// The most sensitive one whose specificity is at least this.
    Specificity(f64),
}

impl Rule {
    /// The presets the Evaluate tab steps through, in order.
    pub const PRESETS: [Rule; 5] = [
        Rule::Fixed(0.5),
        Rule::Youden,
        Rule::Sensitivity(0.90),
        Rule::Sensitivity(0.95),
        Rule::Specificity(0.95),
    ];

    /// `0.3`, `youden`, `sens:0.95`, `spec:0.95`.
    pub fn parse(text: &str) -> Result<Rule> {
        let bad = |why: &str| Error::input(format!("--threshold {text}: {why}"));
        let fraction = |v: &str| -> Result<f64> {
            match v.trim().parse::<f64>() {
                Ok(x) if x > 0.0 && x < 1.0 => Ok(x),
                _ => Err(bad("must be a number in (0, 1)")),
            }
        };
        match text.split_once(':') {
            Some(("sens", v)) => Ok(Rule::Sensitivity(fraction(v)?)),
            Some(("spec", v)) => Ok(Rule::Specificity(fraction(v)?)),
            Some(_) => Err(bad("one of T, youden, sens:S, spec:S")),
            None if text == "youden" => Ok(Rule::Youden),
            None => Ok(Rule::Fixed(fraction(text)?)),
        }
    }

    pub fn name(self) -> String {
        self.to_string()
    }

    /// Whether the threshold is chosen from the cases it is scored on.
    pub fn chosen_on_data(self) -> bool {
        !matches!(self, Rule::Fixed(_))
    }
}

/// As `parse` reads it: `0.3`, `youden`, `sens:0.95`, `spec:0.95`.
impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Rule::Fixed(t) => write!(f, "{t}"),
            Rule::Youden => write!(f, "youden"),
            Rule::Sensitivity(s) => write!(f, "sens:{s}"),
            Rule::Specificity(s) => write!(f, "spec:{s}"),
        }
    }
}

/// A rule in a JSON file as the text `--threshold` takes.
mod rule_text {
    use super::Rule;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(rule: &Rule, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(rule)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let text = String::deserialize(d)?;
        Rule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The decision at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    #[serde(with = "rule_text")]
    pub rule: Rule,
    pub threshold: f64,
    /// [[tn, fp], [fn, tp]].
    pub confusion: [[u64; 2]; 2],
    pub sensitivity: f64,
    pub specificity: f64,
    /// Positive and negative predictive values (0 where nothing is predicted on that side).
    pub ppv: f64,
    pub npv: f64,
    pub f1: f64,
    /// The threshold was chosen on these same cases: the numbers are optimistic.
    pub chosen_on_scored_data: bool,
}

/// The decision at `threshold`.
pub fn at(labels: &[u8], scores: &[f64], threshold: f64, rule: Rule) -> OperatingPoint {
    let mut c = [[0u64; 2]; 2];
    for (&l, &s) in labels.iter().zip(scores) {
        c[(l == MALIGNANT) as usize][(s > threshold) as usize] += 1;
    }
    let [[tn, fp], [fn_, tp]] = c.map(|r| r.map(|v| v as f64));
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    OperatingPoint {
        rule,
        threshold,
        confusion: c,
        sensitivity: ratio(tp, tp + fn_),
        specificity: ratio(tn, tn + fp),
        ppv: ratio(tp, tp + fp),
        npv: ratio(tn, tn + fn_),
        f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
        chosen_on_scored_data: rule.chosen_on_data(),
    }
}

/// Every distinct decision the scores allow, with its (sensitivity, specificity): thresholds
/// halfway between consecutive distinct scores, one below them all (everything malignant) and
/// one above (nothing). One sort and one sweep, so a key in the Evaluate tab answers at once
/// on any number of patches.
fn candidates(labels: &[u8], scores: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = order.iter().filter(|&&i| labels[i] == MALIGNANT).count() as f64;
    let negatives = order.len() as f64 - positives;
    let rate = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    // Below every score: all predicted malignant.
    let (mut tp, mut fp) = (positives, negatives);
    let mut out = Vec::with_capacity(order.len() + 1);
    let lowest = order.first().map_or(0.5, |&i| scores[i]);
    out.push((lowest / 2.0, 1.0, rate(0.0, negatives)));
    let mut k = 0;
    while k < order.len() {
        let value = scores[order[k]];
        // The threshold moves past every patch of this score: they become benign.
        while k < order.len() && scores[order[k]] == value {
            match labels[order[k]] == MALIGNANT {
                true => tp -= 1.0,
                false => fp -= 1.0,
            }
            k += 1;
        }
        let next = order
            .get(k)
            .map_or((value + 1.0) / 2.0, |&i| (value + scores[i]) / 2.0);
        out.push((next, rate(tp, positives), rate(negatives - fp, negatives)));
    }
    out
}

/// The operating point `rule` picks on these cases; an error when no threshold reaches it.
pub fn choose(labels: &[u8], scores: &[f64], rule: Rule) -> Result<OperatingPoint> {
    let points = candidates(labels, scores).into_iter();
    let best = match rule {
        Rule::Fixed(t) => return Ok(at(labels, scores, t, rule)),
        // Of equal J, the higher threshold (fewer recalls).
        Rule::Youden => points.max_by(|a, b| {
            (a.1 + a.2, a.0)
                .partial_cmp(&(b.1 + b.2, b.0))
                .expect("finite")
        }),
        Rule::Sensitivity(s) => points
            .filter(|p| p.1 >= s)
            .max_by(|a, b| (a.2, a.0).partial_cmp(&(b.2, b.0)).expect("finite")),
        Rule::Specificity(s) => points
            .filter(|p| p.2 >= s)
            .max_by(|a, b| (a.1, -a.0).partial_cmp(&(b.1, -b.0)).expect("finite")),
    };
    best.map(|(t, _, _)| at(labels, scores, t, rule))
        .ok_or_else(|| {
            Error::input(format!(
                "--threshold {}: no threshold reaches it on these {} cases",
                rule.name(),
                labels.len()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABELS: [u8; 10] = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    const SCORES: [f64; 10] = [0.9, 0.8, 0.4, 0.6, 0.1, 0.7, 0.2, 0.3, 0.45, 0.55];

    #[test]
    fn rules_parse_and_bad_ones_are_refused() {
        assert_eq!(Rule::parse("0.3").unwrap(), Rule::Fixed(0.3));
        assert_eq!(Rule::parse("youden").unwrap(), Rule::Youden);
        assert_eq!(Rule::parse("sens:0.95").unwrap(), Rule::Sensitivity(0.95));
        assert_eq!(Rule::parse("spec:0.9").unwrap(), Rule::Specificity(0.9));
        for bad in [
            "0", "1", "1.5", "-0.2", "sens:1", "spec:x", "ppv:0.9", "nan",
        ] {
            let e = Rule::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--threshold {bad}: ")), "{e}");
        }
    }

    #[test]
    fn a_fixed_point_by_hand() {
        let p = at(&LABELS, &SCORES, 0.5, Rule::Fixed(0.5));
        assert_eq!(p.confusion, [[4, 2], [1, 3]]);
        assert_eq!((p.sensitivity, p.specificity), (0.75, 4.0 / 6.0));
        assert_eq!((p.ppv, p.npv), (0.6, 0.8));
        assert!((p.f1 - 6.0 / 9.0).abs() < 1e-12);
        assert!(!p.chosen_on_scored_data);
    }

    #[test]
    fn chosen_points_reach_their_targets_and_say_they_were_chosen() {
        // Sensitivity 1 needs every positive (lowest 0.4): the threshold sits below 0.4, as
        // high as it can: halfway between 0.3 and 0.4.
        let p = choose(&LABELS, &SCORES, Rule::Sensitivity(0.95)).unwrap();
        assert!((p.threshold - 0.35).abs() < 1e-12, "{p:?}");
        assert_eq!(p.sensitivity, 1.0);
        assert!(p.chosen_on_scored_data);
        // Specificity ≥ 0.95 means no false positive: above 0.7, catching 0.8 and 0.9.
        let p = choose(&LABELS, &SCORES, Rule::Specificity(0.95)).unwrap();
        assert!((p.threshold - 0.75).abs() < 1e-12, "{p:?}");
        assert_eq!((p.sensitivity, p.specificity), (0.5, 1.0));
        // Youden: no threshold has a higher sensitivity + specificity − 1.
        let p = choose(&LABELS, &SCORES, Rule::Youden).unwrap();
        let j = p.sensitivity + p.specificity - 1.0;
        for (t, sens, spec) in candidates(&LABELS, &SCORES) {
            let q = at(&LABELS, &SCORES, t, Rule::Youden);
            assert_eq!(
                (q.sensitivity, q.specificity),
                (sens, spec),
                "the sweep at {t}"
            );
            assert!(q.sensitivity + q.specificity - 1.0 <= j + 1e-12);
        }
        // Ties: the sweep passes every patch of one score at once.
        let tied = [0.5, 0.5, 0.5, 0.2, 0.2, 0.8, 0.8, 0.5, 0.2, 0.9];
        for (t, sens, spec) in candidates(&LABELS, &tied) {
            let q = at(&LABELS, &tied, t, Rule::Youden);
            assert_eq!((q.sensitivity, q.specificity), (sens, spec), "tied, at {t}");
        }
    }
}
