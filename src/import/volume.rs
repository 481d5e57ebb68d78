//! A CT volume in world coordinates, and patches cut from it. World coordinates are
//! millimetres in the LPS patient frame of DICOM, ITK and LUNA16: a voxel at index (i, j, k)
//! lies at `origin + direction · (spacing ⊙ index)`, the columns of `direction` being the
//! unit vectors of the i, j and k axes. Going back through the direction matrix is what makes
//! flipped or permuted axes land right.

/// The voxels in the type that holds them exactly: whole numbers (HU once rescaled) as int16,
/// anything else as f32.
#[derive(Debug, Clone, PartialEq)]
pub enum Voxels {
    I16(Vec<i16>),
    F32(Vec<f32>),
}

impl Voxels {
    pub fn len(&self) -> usize {
        match self {
            Voxels::I16(v) => v.len(),
            Voxels::F32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, at: usize) -> f32 {
        match self {
            Voxels::I16(v) => f32::from(v[at]),
            Voxels::F32(v) => v[at],
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        match self {
            Voxels::I16(v) => v.len() * 2,
            Voxels::F32(v) => v.len() * 4,
        }
    }
}

/// Voxels gathered a slice at a time: int16 while every value is a whole number that fits,
/// turned into f32 at the first that is not, so a volume is held once as it is read.
#[derive(Debug, Default)]
pub struct Gather {
    whole: Vec<i16>,
    fractional: Option<Vec<f32>>,
}

impl Gather {
    pub fn push(&mut self, values: &[f64]) {
        if self.fractional.is_none()
            && values
                .iter()
                .all(|&v| v.fract() == 0.0 && (-32768.0..=32767.0).contains(&v))
        {
            self.whole.extend(values.iter().map(|&v| v as i16));
            return;
        }
        let all = self.fractional.get_or_insert_with(|| {
            std::mem::take(&mut self.whole)
                .into_iter()
                .map(f32::from)
                .collect()
        });
        all.extend(values.iter().map(|&v| v as f32));
    }

    pub fn done(self) -> Voxels {
        match self.fractional {
            Some(v) => Voxels::F32(v),
            None => Voxels::I16(self.whole),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Voxels along i (columns), j (rows) and k (slices); i varies fastest in `voxels`.
    pub size: [usize; 3],
    /// Millimetres between voxel centres along i, j, k.
    pub spacing: [f64; 3],
    /// World position (LPS, mm) of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// `direction[row][axis]`: column `axis` is the world direction of index axis i, j or k.
    pub direction: [[f64; 3]; 3],
    pub voxels: Voxels,
}

/// The value a pixel outside the volume takes: air.
pub const AIR: f32 = -1024.0;

/// What was asked of each patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// Pixels a side.
    pub size: usize,
    /// Millimetres a pixel, in-plane and between context slices.
    pub spacing: f64,
    /// Slices a patch: the one through the centre and (context − 1)/2 either side.
    pub context: usize,
}

/// One cut patch: `context` slices of `size`² values, and how many fell outside the volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub values: Vec<f32>,
    pub outside: usize,
}

/// Why a volume's geometry cannot be used, or None.
pub fn check_geometry(
    spacing: [f64; 3],
    direction: [[f64; 3]; 3],
    origin: [f64; 3],
) -> Option<String> {
    if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Some(format!(
            "spacing {spacing:?} mm: each must be a positive number"
        ));
    }
    if origin.iter().any(|o| !o.is_finite()) {
        return Some(format!("origin {origin:?}: not a position"));
    }
    let d = determinant(direction);
    if !(d.is_finite() && d.abs() > 1e-6) {
        return Some(format!("direction matrix {direction:?} cannot be inverted"));
    }
    None
}

fn determinant(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn inverse(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let d = determinant(m);
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    [
        [c(1, 1, 2, 2) / d, -c(0, 1, 2, 2) / d, c(0, 1, 1, 2) / d],
        [-c(1, 0, 2, 2) / d, c(0, 0, 2, 2) / d, -c(0, 0, 1, 2) / d],
        [c(1, 0, 2, 1) / d, -c(0, 0, 2, 1) / d, c(0, 0, 1, 1) / d],
    ]
}

impl Volume {
    /// The continuous index of world point `p`.
    pub fn index_of(&self, p: [f64; 3]) -> [f64; 3] {
        let inv = inverse(self.direction);
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        let mut index = [0.0; 3];
        for (a, out) in index.iter_mut().enumerate() {
            *out = (inv[a][0] * d[0] + inv[a][1] * d[1] + inv[a][2] * d[2]) / self.spacing[a];
        }
        index
    }

    /// The value at continuous index `at`, trilinear; None outside the volume (a flat axis of
    /// one voxel is read at that voxel).
    fn sample(&self, at: [f64; 3]) -> Option<f32> {
        let mut base = [0usize; 3];
        let mut frac = [0f32; 3];
        for a in 0..3 {
            let last = (self.size[a] - 1) as f64;
            let x = at[a];
            if !(x >= -0.5 && x <= last + 0.5) {
                return None;
            }
            let x = x.clamp(0.0, last);
            let b = (x.floor() as usize).min(self.size[a].saturating_sub(2));
            base[a] = b;
            frac[a] = if self.size[a] > 1 {
                (x - b as f64) as f32
            } else {
                0.0
            };
        }
        let [ni, nj, _] = self.size;
        let step = |a: usize| if self.size[a] > 1 { 1 } else { 0 };
        let mut value = 0f32;
        for corner in 0..8 {
            let (di, dj, dk) = (corner & 1, (corner >> 1) & 1, (corner >> 2) & 1);
            let w = [(di, 0), (dj, 1), (dk, 2)]
                .iter()
                .map(|&(on, a)| if on == 1 { frac[a] } else { 1.0 - frac[a] })
                .product::<f32>();
            if w == 0.0 {
                continue;
            }
            let (i, j, k) = (
                base[0] + di * step(0),
                base[1] + dj * step(1),
                base[2] + dk * step(2),
            );
            value += w * self.voxels.get((k * nj + j) * ni + i);
        }
        Some(value)
    }

    /// The patch centred on world point `centre`: `cut.context` axial planes (world z through
    /// the centre, and ± multiples of the spacing), each `cut.size`² pixels `cut.spacing` mm
    /// apart along world x (columns) and y (rows), so rows run anterior → posterior and
    /// columns right → left whatever the voxel order. Outside the volume: air, counted.
    pub fn cut(&self, centre: [f64; 3], cut: Cut) -> Patch {
        let n = cut.size;
        let half = (n as f64 - 1.0) / 2.0;
        let mid = (cut.context as f64 - 1.0) / 2.0;
        let mut values = Vec::with_capacity(cut.context * n * n);
        let mut outside = 0;
        for t in 0..cut.context {
            let z = centre[2] + (t as f64 - mid) * cut.spacing;
            for r in 0..n {
                let y = centre[1] + (r as f64 - half) * cut.spacing;
                for c in 0..n {
                    let x = centre[0] + (c as f64 - half) * cut.spacing;
                    match self.sample(self.index_of([x, y, z])) {
                        Some(v) => values.push(v),
                        None => {
                            values.push(AIR);
                            outside += 1;
                        }
                    }
                }
            }
        }
        Patch { values, outside }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×3×2 volume whose value is its index i + 10 j + 100 k.
    fn ramp(direction: [[f64; 3]; 3]) -> Volume {
        let voxels = (0..2)
            .flat_map(|k| {
                (0..3).flat_map(move |j| (0..4).map(move |i| (i + 10 * j + 100 * k) as i16))
            })
            .collect();
        Volume {
            size: [4, 3, 2],
            spacing: [1.0, 2.0, 5.0],
            origin: [10.0, 20.0, 30.0],
            direction,
            voxels: Voxels::I16(voxels),
        }
    }

    const IDENTITY: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

    #[test]
    fn gathering_stays_int16_until_a_value_is_not_whole() {
        let mut g = Gather::default();
        g.push(&[1.0, -1024.0]);
        g.push(&[3.0]);
        assert_eq!(g.done(), Voxels::I16(vec![1, -1024, 3]));
        let mut g = Gather::default();
        g.push(&[1.0, 2.0]);
        g.push(&[0.5]);
        g.push(&[40000.0]);
        assert_eq!(g.done(), Voxels::F32(vec![1.0, 2.0, 0.5, 40000.0]));
    }

    #[test]
    fn world_to_index_goes_through_spacing_origin_and_direction() {
        let v = ramp(IDENTITY);
        assert_eq!(v.index_of([12.0, 24.0, 35.0]), [2.0, 2.0, 1.0]);
        // i pointing to −x: the same index lies on the other side of the origin.
        let flipped = ramp([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!(flipped.index_of([8.0, 24.0, 35.0]), [2.0, 2.0, 1.0]);
        // Axes swapped: i along y, j along x.
        let swapped = ramp([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        let at = swapped.index_of([10.0 + 2.0 * 2.0, 20.0 + 1.0, 30.0]);
        assert!(
            (at[0] - 1.0).abs() < 1e-12 && (at[1] - 2.0).abs() < 1e-12,
            "{at:?}"
        );
    }

    #[test]
    fn samples_trilinearly_and_counts_what_falls_outside() {
        let v = ramp(IDENTITY);
        assert_eq!(v.sample([1.5, 1.0, 0.0]), Some(11.5));
        assert_eq!(v.sample([3.0, 2.0, 1.0]), Some(123.0));
        assert_eq!(v.sample([1.0, 0.5, 0.5]), Some(1.0 + 5.0 + 50.0));
        assert_eq!(v.sample([4.0, 0.0, 0.0]), None);
        let patch = v.cut(
            [11.0, 22.0, 30.0],
            Cut {
                size: 3,
                spacing: 1.0,
                context: 1,
            },
        );
        // Columns 1 mm apart along x (one i step), rows 1 mm along y (half a j step): the
        // first row lies at j = 0.5, the second at j = 1.
        assert_eq!(&patch.values[..3], &[5.0, 6.0, 7.0]);
        assert_eq!(&patch.values[3..6], &[10.0, 11.0, 12.0]);
        assert_eq!(patch.outside, 0);
        let far = v.cut(
            [0.0, 0.0, 0.0],
            Cut {
                size: 2,
                spacing: 1.0,
                context: 3,
            },
        );
        assert_eq!(far.outside, 12);
        assert!(far.values.iter().all(|&x| x == AIR));
    }
}
