//! The model applied to patches: the normalised patches as tensors, and batched prediction
//! without gradients. Used by validation during training and by checkpoint evaluation.

use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use crate::data::intensity::Intensity;
use crate::data::Dataset;

/// Batch size for inference. Not bigger: past 64 patches the activations outgrow the CPU's
/// caches and throughput falls (measured: 256 and 1024 are slower on 2 EPYC cores).
pub const BATCH: usize = 64;

/// The normalised patches as an (N, 1, H, W) float tensor and the labels as int64, on `device`.
pub fn tensors(data: &Dataset, intensity: &Intensity, device: Device) -> (Tensor, Tensor) {
    let shape = [data.len() as i64, 1, data.height as i64, data.width as i64];
    let images = Tensor::empty(shape, (Kind::Float, Device::Cpu));
    // Rescaled straight into the tensor's memory: no second 110 MB copy of the upstream set.
    // SAFETY: `images` is a new contiguous float tensor of exactly data.images.len() values,
    // owned here and not shared until this slice is gone.
    let out =
        unsafe { std::slice::from_raw_parts_mut(images.data_ptr() as *mut f32, data.images.len()) };
    intensity.apply_into(&data.images, out, data.pixels());
    let images = images.to_device(device);
    let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
    (images, Tensor::from_slice(&labels).to_device(device))
}

/// `tensors` of the patches `indices` alone, in that order.
pub fn tensors_of(
    data: &Dataset,
    indices: &[usize],
    intensity: &Intensity,
    device: Device,
) -> (Tensor, Tensor) {
    let pixels = data.pixels();
    let mut raw = Vec::with_capacity(indices.len() * pixels);
    for &i in indices {
        raw.extend_from_slice(data.patch(i));
    }
    let normalised = intensity.apply(&raw, pixels);
    let shape = [
        indices.len() as i64,
        1,
        data.height as i64,
        data.width as i64,
    ];
    let images = Tensor::from_slice(&normalised)
        .view(shape)
        .to_device(device);
    let labels: Vec<i64> = indices.iter().map(|&i| data.labels[i] as i64).collect();
    (images, Tensor::from_slice(&labels).to_device(device))
}

/// Logits for the patches `images[indices]`, in batches, without gradients or dropout.
/// Returns (logits as (benign, malignant) pairs, summed cross-entropy against `labels`).
pub fn predict(
    net: &impl ModuleT,
    images: &Tensor,
    labels: &Tensor,
    indices: &[usize],
    batch: usize,
) -> (Vec<[f32; 2]>, f64) {
    let _guard = tch::no_grad_guard();
    let device = images.device();
    let mut outs = Vec::with_capacity(indices.len().div_ceil(batch.max(1)));
    let mut loss_sum = Tensor::zeros([], (Kind::Double, device));
    for chunk in indices.chunks(batch.max(1)) {
        let idx = index_tensor(chunk, device);
        let out = net.forward_t(&images.index_select(0, &idx), false);
        let loss = out.cross_entropy_loss::<Tensor>(
            &labels.index_select(0, &idx),
            None,
            tch::Reduction::Sum,
            -100,
            0.0,
        );
        loss_sum += loss.to_kind(Kind::Double);
        outs.push(out);
    }
    if outs.is_empty() {
        return (Vec::new(), 0.0);
    }
    // One transfer at the end: a read per batch would make a GPU wait for the host each time.
    let flat = Vec::<f32>::try_from(Tensor::cat(&outs, 0).to_device(Device::Cpu).flatten(0, -1))
        .expect("float logits");
    let logits = flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    (logits, loss_sum.double_value(&[]))
}

/// The probability of malignancy of the patches `images[indices]`, averaged over their
/// shape-preserving symmetries (test-time augmentation), without gradients or dropout.
pub fn predict_tta(
    net: &impl ModuleT,
    images: &Tensor,
    indices: &[usize],
    batch: usize,
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let device = images.device();
    let mut outs = Vec::with_capacity(indices.len().div_ceil(batch.max(1)));
    for chunk in indices.chunks(batch.max(1)) {
        let xs = images.index_select(0, &index_tensor(chunk, device));
        let views = crate::symmetry::all(&xs);
        let count = views.len() as f64;
        let sum = views
            .iter()
            .map(|v| {
                net.forward_t(v, false)
                    .to_kind(Kind::Double)
                    .softmax(-1, Kind::Double)
                    .select(1, 1)
            })
            .reduce(|a, b| a + b)
            .expect("at least one view");
        outs.push(sum / count);
    }
    if outs.is_empty() {
        return Vec::new();
    }
    Vec::<f64>::try_from(Tensor::cat(&outs, 0).to_device(Device::Cpu)).expect("double scores")
}

pub fn index_tensor(indices: &[usize], device: Device) -> Tensor {
    let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_slice(&idx).to_device(device)
}
