//! Intensity rescaling, patch by patch, before the model sees a pixel.
//!
//! Upstream meant (its loop has a stray `break` that rescales only the first patch):
//!
//! ```text
//! lo, hi = np.percentile(patch, (2, 98))          # numpy's default "linear" method
//! out    = skimage.exposure.rescale_intensity(patch, in_range=(lo, hi))   # float → [-1, 1]
//!        = (clip(patch, lo, hi) - lo) / (hi - lo) * 2 - 1
//! ```
//!
//! computed in float64 and stored as float32. A constant patch (hi == lo) becomes zeros rather
//! than a division by zero. The alternative is a fixed HU window, the same for every patch:
//! `out = (clip(patch, lo, hi) - lo) / (hi - lo) * 2 - 1`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intensity {
    /// Per-patch 2nd–98th percentile window (upstream's choice).
    Percentile { low: f64, high: f64 },
    /// One fixed window in HU for every patch.
    Hu { low: f64, high: f64 },
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::Percentile {
            low: 2.0,
            high: 98.0,
        }
    }
}

impl Intensity {
    /// Parses the `--intensity` option: `percentile` or `hu:LO,HI`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::input(format!(
                "--intensity {text}: expected 'percentile' or 'hu:LO,HI' (e.g. hu:-1000,400)"
            ))
        };
        if text == "percentile" {
            return Ok(Intensity::default());
        }
        let window = text.strip_prefix("hu:").ok_or_else(bad)?;
        let (lo, hi) = window.split_once(',').ok_or_else(bad)?;
        let low: f64 = lo.trim().parse().map_err(|_| bad())?;
        let high: f64 = hi.trim().parse().map_err(|_| bad())?;
        if !(low < high) {
            return Err(bad());
        }
        Ok(Intensity::Hu { low, high })
    }

    /// Rescales every patch of `images` (patches of `pixels` values each) in place.
    pub fn apply(&self, images: &mut [f32], pixels: usize) {
        let mut scratch = Vec::with_capacity(pixels);
        for patch in images.chunks_mut(pixels) {
            let (low, high) = match *self {
                Intensity::Percentile { low, high } => {
                    scratch.clear();
                    scratch.extend(patch.iter().map(|&v| v as f64));
                    (
                        percentile(&mut scratch, low),
                        percentile(&mut scratch, high),
                    )
                }
                Intensity::Hu { low, high } => (low, high),
            };
            rescale(patch, low, high);
        }
    }
}

/// Maps [low, high] linearly onto [-1, 1], clipping outside; zeros when the window is empty.
fn rescale(patch: &mut [f32], low: f64, high: f64) {
    if high <= low {
        patch.fill(0.0);
        return;
    }
    let span = high - low;
    for v in patch.iter_mut() {
        let clipped = (*v as f64).clamp(low, high);
        *v = ((clipped - low) / span * 2.0 - 1.0) as f32;
    }
}

/// numpy's `np.percentile(values, q)` with its default linear interpolation, found by
/// selection instead of a full sort. Reorders `values`.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    let last = values.len() - 1;
    let rank = q / 100.0 * last as f64;
    let below = (rank.floor() as usize).min(last);
    let fraction = rank - below as f64;
    let (_, &mut v0, above) = values.select_nth_unstable_by(below, f64::total_cmp);
    if below == last {
        return v0;
    }
    let v1 = above.iter().copied().fold(f64::INFINITY, f64::min);
    // numpy's _lerp: exact at both ends, computed from the nearer end.
    let diff = v1 - v0;
    if fraction >= 0.5 {
        v1 - diff * (1.0 - fraction)
    } else {
        v0 + diff * fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_option() {
        assert_eq!(
            Intensity::parse("percentile").unwrap(),
            Intensity::default()
        );
        assert_eq!(
            Intensity::parse("hu:-1000,400").unwrap(),
            Intensity::Hu {
                low: -1000.0,
                high: 400.0
            }
        );
        for bad in ["hu:5,5", "hu:1", "window", "hu:a,b"] {
            assert!(Intensity::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn constant_patch_becomes_zeros() {
        let mut patch = vec![-300.0f32; 16 * 16];
        Intensity::default().apply(&mut patch, 256);
        assert!(patch.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn hu_window_clips_and_maps_to_unit_range() {
        let mut patch = vec![-2000.0f32, -1000.0, -300.0, 400.0, 3000.0];
        Intensity::Hu {
            low: -1000.0,
            high: 400.0,
        }
        .apply(&mut patch, 5);
        assert_eq!(patch, vec![-1.0, -1.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // np.percentile([1,2,3,4,5,6,7,8,9,10], [2, 98]) -> [1.18, 9.82]
        let mut v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert!((percentile(&mut v, 2.0) - 1.18).abs() < 1e-12);
        assert!((percentile(&mut v, 98.0) - 9.82).abs() < 1e-12);
        assert_eq!(percentile(&mut v, 100.0), 10.0);
        assert_eq!(percentile(&mut v, 0.0), 1.0);
    }
}
