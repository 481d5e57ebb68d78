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

use super::Pixels;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intensity {
    /// Per-patch 2nd–98th percentile window (upstream's choice).
    Percentile { low: f64, high: f64 },
    /// One fixed window for every patch, in the data's own units (HU for CT). Written
    /// `window:LO,HI`; `hu:LO,HI` and the config.json of runs before the name still read.
    #[serde(rename = "window", alias = "hu")]
    Fixed { low: f64, high: f64 },
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
    /// What `--intensity` takes, for messages.
    pub const EXPECTED: &'static str =
        "expected 'percentile', 'percentile:LO,HI' or 'window:LO,HI' in the data's units (e.g. window:-1000,400 for HU; hu:LO,HI also reads)";

    /// Parses the `--intensity` option: `percentile[:LO,HI]` or `window:LO,HI` (`hu:LO,HI`).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::input(format!("--intensity {text}: {}", Intensity::EXPECTED));
        if text == "percentile" {
            return Ok(Intensity::default());
        }
        let (kind, window) = text.split_once(':').ok_or_else(bad)?;
        let (lo, hi) = window.split_once(',').ok_or_else(bad)?;
        let low: f64 = lo.trim().parse().map_err(|_| bad())?;
        let high: f64 = hi.trim().parse().map_err(|_| bad())?;
        match kind {
            "window" | "hu" if low < high => Ok(Intensity::Fixed { low, high }),
            "percentile" if (0.0..high).contains(&low) && high <= 100.0 => {
                Ok(Intensity::Percentile { low, high })
            }
            _ => Err(bad()),
        }
    }

    /// `parse` for clap's `value_parser`, which wants the message as text.
    pub fn parse_flag(text: &str) -> std::result::Result<Intensity, String> {
        Intensity::parse(text).map_err(|e| e.to_string())
    }

    /// The text `parse` reads back: `percentile`, `percentile:1,99`, `window:-1000,400`.
    pub fn name(&self) -> String {
        match *self {
            i if i == Intensity::default() => "percentile".into(),
            Intensity::Percentile { low, high } => format!("percentile:{low},{high}"),
            Intensity::Fixed { low, high } => format!("window:{low},{high}"),
        }
    }

    /// The rescaled copy of `raw` (patches of `pixels` values each): the windows found on every
    /// core by `windows`' own code, then each patch mapped by `rescale`.
    pub fn apply(&self, raw: &[f32], pixels: usize) -> Vec<f32> {
        let Windows { low, high } = self.windows_of(raw, pixels, Intensity::window_f32);
        let mut out = vec![0.0f32; raw.len()];
        for (k, (patch, dst)) in raw.chunks(pixels).zip(out.chunks_mut(pixels)).enumerate() {
            rescale(patch, dst, low[k], high[k]);
        }
        out
    }

    /// The window (low, high) of one patch: its percentiles, or the fixed HU window.
    fn window_f32(&self, patch: &[f32], scratch: &mut Vec<f32>) -> (f64, f64) {
        match *self {
            Intensity::Percentile { low, high } => {
                scratch.clear();
                scratch.extend_from_slice(patch);
                (percentile(scratch, low), percentile(scratch, high))
            }
            Intensity::Fixed { low, high } => (low, high),
        }
    }

    /// `window_f32` of an int16 patch, from counts instead of selection (same values).
    fn window_i16(&self, patch: &[i16], _: &mut Vec<i16>) -> (f64, f64) {
        match *self {
            Intensity::Percentile { low, high } => {
                let [low, high] = percentiles_i16(patch, [low, high]);
                (low, high)
            }
            Intensity::Fixed { low, high } => (low, high),
        }
    }

    /// Every patch's window, computed once, on every core. A batch is then rescaled when it
    /// is assembled (`inference::Patches`), with `rescale`'s arithmetic: the set is never
    /// held normalised (4 bytes a pixel) beside its raw values.
    pub fn windows(&self, pixels: &Pixels, per_patch: usize) -> Windows {
        match pixels {
            Pixels::I16(v) => self.windows_of(v, per_patch, Intensity::window_i16),
            Pixels::F32(v) => self.windows_of(v, per_patch, Intensity::window_f32),
            Pixels::Lazy(_) => unreachable!("windows are computed for pixels in memory"),
        }
    }

    fn windows_of<T: Copy + Send + Sync>(
        &self,
        values: &[T],
        per_patch: usize,
        window: fn(&Intensity, &[T], &mut Vec<T>) -> (f64, f64),
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
                            .map(|patch| window(self, patch, &mut scratch))
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
fn rescale(patch: &[f32], out: &mut [f32], low: f64, high: f64) {
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
    let (below, fraction) = rank_of(values.len(), q);
    let (_, &mut v0, above) = values.select_nth_unstable_by(below, f32::total_cmp);
    let v1 = above.iter().copied().min_by(f32::total_cmp).unwrap_or(v0);
    interpolate(v0 as f64, v1 as f64, fraction)
}

/// `percentile` of int16 values at each of `qs`, from counts instead of selection: the same
/// order statistics (int16 → f32 is exact and keeps order), found in three passes over the
/// patch for a window's two percentiles (selection made a 750k-patch file's windows 18 s).
pub fn percentiles_i16<const K: usize>(values: &[i16], qs: [f64; K]) -> [f64; K] {
    let ranks = qs.map(|q| rank_of(values.len(), q));
    // The two values each percentile lies between (the second is the first at the top).
    let wanted: Vec<usize> = ranks
        .iter()
        .flat_map(|&(below, _)| [below, (below + 1).min(values.len() - 1)])
        .collect();
    let found = nth_i16(values, &wanted);
    let mut k = 0;
    ranks.map(|(_, fraction)| {
        let (v0, v1) = (f64::from(found[k]), f64::from(found[k + 1]));
        k += 2;
        interpolate(v0, v1, fraction)
    })
}

/// numpy's linear method: the value at `rank` = q/100 × (n − 1) lies `fraction` of the way
/// from the `below`-th smallest value to the next.
fn rank_of(n: usize, q: f64) -> (usize, f64) {
    let last = n - 1;
    let rank = q / 100.0 * last as f64;
    let below = (rank.floor() as usize).min(last);
    (below, rank - below as f64)
}

/// The `ranks`-th smallest (0-based) of `values`: count the high bytes to find the 256-value
/// bucket holding each rank, then the low bytes within each bucket (once per bucket).
fn nth_i16(values: &[i16], ranks: &[usize]) -> Vec<i16> {
    // Flipping the sign bit maps i16 onto u16 in the same order.
    let key = |v: i16| (v as u16) ^ 0x8000;
    // (index of the bin holding rank k, values in the bins before it).
    let find = |counts: &[u32; 256], mut before: usize, k: usize| {
        let mut bin = 0;
        while before + counts[bin] as usize <= k {
            before += counts[bin] as usize;
            bin += 1;
        }
        (bin, before)
    };
    let mut high = [0u32; 256];
    for &v in values {
        high[(key(v) >> 8) as usize] += 1;
    }
    let mut low = [0u32; 256];
    let mut counted = None;
    ranks
        .iter()
        .map(|&k| {
            let (bucket, before) = find(&high, 0, k);
            if counted != Some(bucket) {
                low = [0; 256];
                for &v in values {
                    let u = key(v);
                    if (u >> 8) as usize == bucket {
                        low[(u & 0xff) as usize] += 1;
                    }
                }
                counted = Some(bucket);
            }
            let (byte, _) = find(&low, before, k);
            (((bucket << 8) | byte) as u16 ^ 0x8000) as i16
        })
        .collect()
}

/// numpy's _lerp: exact at both ends, computed from the nearer end.
fn interpolate(v0: f64, v1: f64, fraction: f64) -> f64 {
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
            Intensity::Fixed {
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
        let hu = Intensity::Fixed {
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
    fn int16_percentiles_by_counting_equal_selection_on_floats() {
        let mut rng = crate::data::rng::SplitMix64::new(9);
        let mut patches: Vec<Vec<i16>> = (0..200)
            .map(|k| {
                // Narrow and wide ranges, many ties, and the type's extremes.
                let span = [3, 300, 4000, 65535][k % 4];
                (0..4096)
                    .map(|_| {
                        (rng.below(span + 1) as i64 - span as i64 / 2).clamp(-32768, 32767) as i16
                    })
                    .collect()
            })
            .collect();
        patches.push(vec![-700; 4096]);
        patches.push(vec![i16::MIN, i16::MAX, 0]);
        patches.push(vec![5]);
        for patch in &patches {
            for q in [0.0, 2.0, 37.3, 50.0, 98.0, 100.0] {
                let mut floats: Vec<f32> = patch.iter().map(|&v| f32::from(v)).collect();
                let expected = percentile(&mut floats, q);
                assert_eq!(
                    percentiles_i16(patch, [q])[0].to_bits(),
                    expected.to_bits(),
                    "q {q}"
                );
            }
            // Several at once, in either order (the low-byte counts are redone per bucket).
            let mut floats: Vec<f32> = patch.iter().map(|&v| f32::from(v)).collect();
            let (p2, p98) = (percentile(&mut floats, 2.0), percentile(&mut floats, 98.0));
            assert_eq!(percentiles_i16(patch, [2.0, 98.0]), [p2, p98]);
            assert_eq!(percentiles_i16(patch, [98.0, 2.0, 98.0]), [p98, p2, p98]);
        }
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
