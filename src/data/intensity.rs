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

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::Pixels;
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

    /// The rescaled copy of `raw` (patches of `pixels` values each).
    pub fn apply(&self, raw: &[f32], pixels: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; raw.len()];
        self.apply_into(raw, &mut out, pixels);
        out
    }

    /// Rescales `raw` into `out` (same length), on every core: patches are independent.
    pub fn apply_into(&self, raw: &[f32], out: &mut [f32], pixels: usize) {
        assert_eq!(raw.len(), out.len(), "one output value per input value");
        let patches = raw.len() / pixels.max(1);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = patches.div_ceil(threads).max(1) * pixels;
        std::thread::scope(|scope| {
            for (src, dst) in raw.chunks(per_thread).zip(out.chunks_mut(per_thread)) {
                scope.spawn(move || self.apply_serial(src, dst, pixels));
            }
        });
    }

    fn apply_serial(&self, raw: &[f32], out: &mut [f32], pixels: usize) {
        let mut scratch = Vec::with_capacity(pixels);
        for (patch, dst) in raw.chunks(pixels).zip(out.chunks_mut(pixels)) {
            let (low, high) = self.window(patch, &mut scratch, f32::total_cmp);
            rescale(patch, dst, low, high);
        }
    }

    /// The window (low, high) of one patch: its percentiles, or the fixed HU window.
    fn window<T: Copy + Into<f64>>(
        &self,
        patch: &[T],
        scratch: &mut Vec<T>,
        order: fn(&T, &T) -> Ordering,
    ) -> (f64, f64) {
        match *self {
            Intensity::Percentile { low, high } => {
                scratch.clear();
                scratch.extend_from_slice(patch);
                (
                    percentile_by(scratch, low, order),
                    percentile_by(scratch, high, order),
                )
            }
            Intensity::Hu { low, high } => (low, high),
        }
    }

    /// Every patch's window, computed once, on every core. A batch is then rescaled when it
    /// is assembled (`inference::Patches`), with `rescale`'s arithmetic: the set is never
    /// held normalised (4 bytes a pixel) beside its raw values.
    pub fn windows(&self, pixels: &Pixels, per_patch: usize) -> Windows {
        match pixels {
            Pixels::I16(v) => self.windows_of(v, per_patch, i16::cmp),
            Pixels::F32(v) => self.windows_of(v, per_patch, f32::total_cmp),
            Pixels::Lazy(_) => unreachable!("windows are computed for pixels in memory"),
        }
    }

    fn windows_of<T: Copy + Into<f64> + Send + Sync>(
        &self,
        values: &[T],
        per_patch: usize,
        order: fn(&T, &T) -> Ordering,
    ) -> Windows {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let patches = values.len() / per_patch.max(1);
        let per_thread = patches.div_ceil(threads).max(1) * per_patch;
        let parts: Vec<Vec<(f64, f64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = values
                .chunks(per_thread)
                .map(|part| {
                    scope.spawn(move || {
                        let mut scratch = Vec::with_capacity(per_patch);
                        part.chunks(per_patch)
                            .map(|patch| self.window(patch, &mut scratch, order))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("window threads do not panic"))
                .collect()
        });
        let (low, high) = parts.into_iter().flatten().unzip();
        Windows { low, high }
    }
}

/// Per patch, the intensities that map to -1 and to 1 (`rescale`).
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// Maps [low, high] linearly onto [-1, 1], clipping outside; zeros when the window is empty.
/// `inference::Patches::batch` does the same, operation for operation, on tensors.
pub fn rescale(patch: &[f32], out: &mut [f32], low: f64, high: f64) {
    if high <= low {
        out.fill(0.0);
        return;
    }
    let span = high - low;
    for (o, &v) in out.iter_mut().zip(patch) {
        let clipped = (v as f64).clamp(low, high);
        *o = ((clipped - low) / span * 2.0 - 1.0) as f32;
    }
}

/// numpy's `np.percentile(values, q)` with its default linear interpolation, found by
/// selection instead of a full sort. Reorders `values`. Selecting among f32 gives the same
/// order statistics as among their f64 images, and the interpolation is done in f64.
pub fn percentile(values: &mut [f32], q: f64) -> f64 {
    percentile_by(values, q, f32::total_cmp)
}

/// `percentile` of any values that widen exactly to f64 (int16 patches are selected as
/// stored: the same order statistics as their float images, found faster).
fn percentile_by<T: Copy + Into<f64>>(
    values: &mut [T],
    q: f64,
    order: fn(&T, &T) -> Ordering,
) -> f64 {
    let last = values.len() - 1;
    let rank = q / 100.0 * last as f64;
    let below = (rank.floor() as usize).min(last);
    let fraction = rank - below as f64;
    let (_, &mut v0, above) = values.select_nth_unstable_by(below, order);
    let v0: f64 = v0.into();
    if below == last {
        return v0;
    }
    let v1: f64 = above
        .iter()
        .copied()
        .min_by(order)
        .expect("values above the rank")
        .into();
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
        let patch = Intensity::default().apply(&[-300.0f32; 16 * 16], 256);
        assert!(patch.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn hu_window_clips_and_maps_to_unit_range() {
        let raw = [
            -2000.0f32, -1000.0, -300.0, 400.0, 3000.0, 0.0, 0.0, 0.0, 0.0, -1000.0,
        ];
        let hu = Intensity::Hu {
            low: -1000.0,
            high: 400.0,
        };
        // Two patches of 5, possibly on two threads, each in its own place.
        let out = hu.apply(&raw, 5);
        let zero = (1000.0f64 / 1400.0 * 2.0 - 1.0) as f32;
        assert_eq!(&out[..5], &[-1.0, -1.0, 0.0, 1.0, 1.0]);
        assert_eq!(&out[5..], &[zero, zero, zero, zero, -1.0]);
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // np.percentile([1,2,3,4,5,6,7,8,9,10], [2, 98]) -> [1.18, 9.82]
        let mut v: Vec<f32> = (1..=10).rev().map(|i| i as f32).collect();
        assert!((percentile(&mut v, 2.0) - 1.18).abs() < 1e-12);
        assert!((percentile(&mut v, 98.0) - 9.82).abs() < 1e-12);
        assert_eq!(percentile(&mut v, 100.0), 10.0);
        assert_eq!(percentile(&mut v, 0.0), 1.0);
    }
}
