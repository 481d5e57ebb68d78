//! The 8 symmetries of the square (the dihedral group D4): quarter turns and flips. A nodule's
//! malignancy does not depend on how it lies in the slice, so training can show each patch in
//! a random one (`--augment d4`) and evaluation can average over all eight (`eval --tta`).

use tch::{Kind, Tensor};

/// Symmetry `t` in 0..8 of (N, C, H, W) patches: `t % 4` quarter turns, then a left-right flip
/// when `t >= 4`.
pub fn apply(x: &Tensor, t: i64) -> Tensor {
    let turned = x.rot90(t % 4, [2, 3]);
    if t >= 4 {
        turned.flip([3])
    } else {
        turned
    }
}

/// The symmetries that keep an H × W patch's shape: all 8 for square patches, else the half
/// turn and the flips.
pub fn shape_preserving(height: i64, width: i64) -> Vec<i64> {
    if height == width {
        (0..8).collect()
    } else {
        vec![0, 2, 4, 6]
    }
}

/// Each patch of the batch through its own random symmetry, drawn from libtorch's seeded
/// generator (so a resumed run draws the same). All candidates are computed and one picked per
/// patch: on a batch of 64 small patches that costs far less than the convolutions, and it
/// never waits for the device.
pub fn random(x: &Tensor) -> Tensor {
    let size = x.size();
    let (batch, device) = (size[0], x.device());
    let choices = shape_preserving(size[2], size[3]);
    let candidates: Vec<Tensor> = choices.iter().map(|&t| apply(x, t)).collect();
    let stacked = Tensor::stack(&candidates, 0);
    let pick = Tensor::randint(choices.len() as i64, [batch], (Kind::Int64, device));
    let rows = Tensor::arange(batch, (Kind::Int64, device));
    stacked.index(&[Some(pick), Some(rows)])
}

/// Every shape-preserving symmetry of the batch, for test-time averaging.
pub fn all(x: &Tensor) -> Vec<Tensor> {
    let size = x.size();
    shape_preserving(size[2], size[3])
        .into_iter()
        .map(|t| apply(x, t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn grid() -> Tensor {
        Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).reshape([1, 1, 2, 2])
    }

    #[test]
    fn eight_distinct_arrangements_of_the_same_pixels() {
        let mut seen: Vec<Vec<f32>> = (0..8)
            .map(|t| Vec::<f32>::try_from(apply(&grid(), t).flatten(0, -1)).unwrap())
            .collect();
        for v in &seen {
            let mut sorted = v.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            assert_eq!(sorted, vec![1.0, 2.0, 3.0, 4.0]);
        }
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        seen.dedup();
        assert_eq!(seen.len(), 8);
        // One quarter turn counter-clockwise: [[1,2],[3,4]] -> [[2,4],[1,3]].
        let turned = Vec::<f32>::try_from(apply(&grid(), 1).flatten(0, -1)).unwrap();
        assert_eq!(turned, vec![2.0, 4.0, 1.0, 3.0]);
    }

    #[test]
    fn random_gives_each_patch_one_of_its_own_symmetries() {
        tch::manual_seed(3);
        let batch = Tensor::arange(16 * 9, (Kind::Float, Device::Cpu)).reshape([16, 1, 3, 3]);
        let out = random(&batch);
        assert_eq!(out.size(), vec![16, 1, 3, 3]);
        let mut kinds = std::collections::HashSet::new();
        for i in 0..16 {
            let got = out.get(i).unsqueeze(0);
            let t = (0..8)
                .find(|&t| apply(&batch.get(i).unsqueeze(0), t).equal(&got))
                .expect("a symmetry of its own patch");
            kinds.insert(t);
        }
        assert!(kinds.len() > 2, "not random: {kinds:?}");
        let wide = Tensor::zeros([2, 1, 2, 3], (Kind::Float, Device::Cpu));
        assert_eq!(random(&wide).size(), vec![2, 1, 2, 3]);
    }
}
