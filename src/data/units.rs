//! What a file's pixels hold, found from the values themselves: CT in Hounsfield units, 0–255
//! greys, floats in [0, 1], or something else (z-scores, another scanner's scale). Only HU is
//! called HU and opens in the lung window; other data opens in a window from its own range.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Air near −1000 and nothing outside −1024…3071 (a little slack for rescaled files).
    Hu,
    /// Whole numbers in 0…255 (and above 1).
    Greys,
    /// Values in [0, 1].
    Unit,
    Other,
}

/// The values a file holds: their kind, and the range most of them fall in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub units: Units,
    /// The 0.5th and 99.5th percentiles of a sample of the pixels.
    pub low: f32,
    pub high: f32,
    /// The share of the sample that holds its commonest value: near 0 for CT with its noise,
    /// large where a background was blacked out (segmented patches).
    pub commonest: f64,
}

impl Default for Scale {
    fn default() -> Self {
        Scale {
            units: Units::Hu,
            low: -1000.0,
            high: 400.0,
            commonest: 0.0,
        }
    }
}

/// Patches a file's scale is found from (an even sample of a bigger file).
pub const SAMPLE_PATCHES: usize = 256;

impl Scale {
    /// The scale of these pixel values (non-finite ones ignored).
    pub fn of(values: &[f32]) -> Scale {
        let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Scale::default();
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        let (min, max) = (v[0], v[v.len() - 1]);
        let (low, high) = (at(0.005), at(0.995));
        let whole = v.iter().all(|x| x.fract() == 0.0);
        // Sorted, equal values stand together: the longest run is the commonest value.
        let longest = v
            .chunk_by(|a, b| a == b)
            .map(<[f32]>::len)
            .max()
            .unwrap_or(0);
        let units = if at(0.001) >= -1100.0 && max <= 3100.0 && low <= -700.0 {
            Units::Hu
        } else if whole && min >= 0.0 && max <= 255.0 && max > 1.0 {
            Units::Greys
        } else if min >= 0.0 && max <= 1.0 {
            Units::Unit
        } else {
            Units::Other
        };
        Scale {
            units,
            low,
            high,
            commonest: longest as f64 / v.len() as f64,
        }
    }
}

impl Units {
    /// As the start line, the Dataset tab, `show` and `eval` say it.
    pub fn name(self) -> &'static str {
        match self {
            Units::Hu => "HU",
            Units::Greys => "0–255 greys",
            Units::Unit => "values in [0, 1]",
            Units::Other => "values of unknown units",
        }
    }

    /// Decimals a value is shown with: whole HU and greys, three for the rest.
    pub fn decimals(self) -> usize {
        match self {
            Units::Hu | Units::Greys => 0,
            Units::Unit | Units::Other => 3,
        }
    }

    /// The word before a value: "HU -903…212", "grey 0…231", "value 0.1…0.9".
    pub fn short(self) -> &'static str {
        match self {
            Units::Hu => "HU",
            Units::Greys => "grey",
            Units::Unit | Units::Other => "value",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(lo: f32, hi: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| lo + (hi - lo) * i as f32 / (n - 1) as f32)
            .collect()
    }

    #[test]
    fn tells_the_conventions_apart() {
        let hu: Vec<f32> = ramp(-1024.0, 400.0, 2000)
            .iter()
            .map(|x| x.round())
            .collect();
        assert_eq!(Scale::of(&hu).units, Units::Hu);
        let greys: Vec<f32> = (0..2000).map(|i| (i % 232) as f32).collect();
        let s = Scale::of(&greys);
        assert_eq!(s.units, Units::Greys);
        assert!(s.low <= 2.0 && s.high >= 229.0, "{s:?}");
        assert_eq!(Scale::of(&ramp(0.0, 1.0, 2000)).units, Units::Unit);
        assert_eq!(Scale::of(&ramp(-2.5, 3.0, 2000)).units, Units::Other);
        // Greys with a fraction are not greys; soft tissue alone (no air) is not called HU.
        assert_eq!(Scale::of(&ramp(0.0, 200.5, 2000)).units, Units::Other);
        let tissue: Vec<f32> = (0..2000).map(|i| (i % 300) as f32 - 100.0).collect();
        assert_eq!(Scale::of(&tissue).units, Units::Other);
        assert_eq!(Scale::of(&[]), Scale::default());
        // A quarter of the values one background value: its share is counted.
        let mut segmented = ramp(0.0, 1.0, 3000);
        segmented.extend([0.5; 1000]);
        assert!((Scale::of(&segmented).commonest - 0.25).abs() < 1e-3);
        assert!(Scale::of(&hu).commonest < 0.01);
    }
}
