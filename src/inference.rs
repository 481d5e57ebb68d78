//! The patches as the model sees them, and the model applied to them: `Patches` holds the set
//! on the device as stored and rescales each batch when it is assembled; batched prediction
//! without gradients serves validation during training and checkpoint evaluation.

use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use crate::data::intensity::{Intensity, Windows};
use crate::data::{context, Dataset, Pixels};
use crate::error::{Error, Result};

/// Batch size for inference. Not bigger: past 64 patches the activations outgrow the CPU's
/// caches and throughput falls (measured: 256 and 1024 are slower on 2 EPYC cores).
pub const BATCH: usize = 64;

/// The whole set on the device, raw (2 bytes a pixel for int16 data), with each patch's
/// intensity window. On the CPU the tensor is the data set's own memory, not a copy; on a GPU
/// the pixels are copied there once and the host's copy is freed. Memory thus stays at the
/// data's own size, where a normalised float copy would take twice that.
pub struct Patches {
    /// (N, 1, H, W), int16 or float. Declared before `_host`, whose memory it may view, so
    /// that it is dropped first.
    raw: Tensor,
    /// (N, 1, 1, 1) float64: each patch's window.
    low: Tensor,
    high: Tensor,
    /// (N,) int64.
    pub labels: Tensor,
    /// (N, K) int64: the rows each patch is given with (`data::context`); None for one slice.
    neighbours: Option<Tensor>,
    /// The memory `raw` views on the CPU.
    _host: Option<Pixels>,
}

impl Patches {
    /// Takes the pixels out of `data` (which keeps its labels and groups) and computes the
    /// windows of `intensity` once, on every core. With `context` K > 1 each patch comes with
    /// its K − 1 nearest slices of the same nodule; refused when the file cannot tell them.
    pub fn new(
        data: &mut Dataset,
        intensity: &Intensity,
        device: Device,
        context: usize,
    ) -> Result<Patches> {
        let neighbours = match context {
            1 => None,
            k => {
                let ids = context::nodule_ids(data).map_err(|why| {
                    Error::file(
                        &data.path,
                        format!("{k} slices a patch (--context {k}): the file {why}"),
                    )
                })?;
                let rows: Vec<i64> = context::neighbours(ids, k)
                    .into_iter()
                    .map(|r| r as i64)
                    .collect();
                Some(
                    Tensor::from_slice(&rows)
                        .view([-1, k as i64])
                        .to_device(device),
                )
            }
        };
        let per_patch = data.pixels();
        let pixels = data.take_pixels();
        let Windows { low, high } = intensity.windows(&pixels, per_patch);
        let shape = [data.len() as i64, 1, data.height as i64, data.width as i64];
        let (pointer, kind) = match &pixels {
            Pixels::I16(v) => (v.as_ptr() as *const u8, Kind::Int16),
            Pixels::F32(v) => (v.as_ptr() as *const u8, Kind::Float),
            Pixels::Lazy(_) => return Err(Error::runtime("patches must be read into memory")),
        };
        if data.len() * per_patch * kind.elt_size_in_bytes() != pixels.bytes() {
            return Err(Error::runtime("pixel count does not match the patch shape"));
        }
        let strides = [per_patch as i64, per_patch as i64, data.width as i64, 1];
        // SAFETY: `pointer` addresses `pixels`, a live Vec of exactly N×H×W values of `kind`
        // (checked above); the tensor never outlives it: on the CPU `_host` keeps the Vec for
        // as long as `raw` exists, elsewhere `to_device` copies before the Vec is dropped.
        let view = unsafe { Tensor::from_blob(pointer, &shape, &strides, kind, Device::Cpu) };
        let (raw, host) = match device {
            Device::Cpu => (view, Some(pixels)),
            _ => (view.to_device(device), None),
        };
        let column = |v: Vec<f64>| Tensor::from_slice(&v).view([-1, 1, 1, 1]).to_device(device);
        let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
        Ok(Patches {
            raw,
            low: column(low),
            high: column(high),
            labels: Tensor::from_slice(&labels).to_device(device),
            neighbours,
            _host: host,
        })
    }

    pub fn device(&self) -> Device {
        self.raw.device()
    }

    /// Bytes the pixels take on the device.
    pub fn bytes(&self) -> u64 {
        (self.raw.numel() * self.raw.kind().elt_size_in_bytes()) as u64
    }

    /// The patches `idx` (an int64 tensor on the device), rescaled: (len, 1, H, W) float.
    /// The arithmetic is `intensity::rescale`'s, in float64, operation for operation, so the
    /// values are bit for bit those of rescaling on the host.
    /// With context, (len, K, H, W): each patch's slices, each in its own window.
    pub fn batch(&self, idx: &Tensor) -> Tensor {
        let (rows, k) = match &self.neighbours {
            Some(n) => (n.index_select(0, idx).view([-1]), n.size()[1]),
            None => (idx.shallow_clone(), 1),
        };
        let idx = &rows;
        let low = self.low.index_select(0, idx);
        let high = self.high.index_select(0, idx);
        let span = &high - &low;
        // In place, one float64 buffer: a new 2 MB tensor per step cost a page-faulting
        // allocation each (the batch took 1.5 ms).
        let mut x = self.raw.index_select(0, idx).to_kind(Kind::Double);
        let _ = x.clamp_tensor_(Some(&low), Some(&high));
        let _ = x.g_sub_(&low);
        let _ = x.g_div_(&span);
        let _ = x.g_mul_scalar_(2.0);
        let _ = x.g_sub_scalar_(1.0);
        // An empty window (a constant patch) gives zeros, not a division by zero.
        let _ = x.masked_fill_(&span.le(0.0), 0.0);
        let size = x.size();
        x.to_kind(Kind::Float).view([-1, k, size[2], size[3]])
    }

    /// Slices each patch is given with (1 without context).
    pub fn context(&self) -> usize {
        self.neighbours.as_ref().map_or(1, |n| n.size()[1] as usize)
    }

    /// Mean and standard deviation of the rescaled pixels of the patches `indices`, from at
    /// most `max_patches` of them spread evenly (all of them on upstream-sized sets).
    pub fn normalised_stats(&self, indices: &[usize], max_patches: usize) -> (f64, f64) {
        let step = indices.len().div_ceil(max_patches.max(1)).max(1);
        let chosen: Vec<usize> = indices.iter().step_by(step).copied().collect();
        let (mut sum, mut squares, mut count) = (0.0f64, 0.0f64, 0usize);
        for chunk in chosen.chunks(1024) {
            let xs = self
                .batch(&index_tensor(chunk, self.device()))
                .to_kind(Kind::Double);
            sum += xs.sum(Kind::Double).double_value(&[]);
            squares += xs.square().sum(Kind::Double).double_value(&[]);
            count += xs.numel();
        }
        let n = count.max(2) as f64;
        let mean = sum / n;
        (
            mean,
            ((squares - n * mean * mean) / (n - 1.0)).max(0.0).sqrt(),
        )
    }
}

/// Logits for the patches `indices`, in batches, without gradients or dropout.
/// Returns (logits as (benign, malignant) pairs, summed cross-entropy against the labels).
pub fn predict(
    net: &impl ModuleT,
    patches: &Patches,
    indices: &[usize],
    batch: usize,
) -> (Vec<[f32; 2]>, f64) {
    let _guard = tch::no_grad_guard();
    let device = patches.device();
    // Every batch's logits go into one tensor made up front. Keeping each batch's own small
    // tensor instead pinned the freed activations around it in the heap: RSS grew by up to
    // 10 MB a batch (3.3 GB more than training on a 300k-patch file's evaluation).
    let all = Tensor::zeros([indices.len() as i64, 2], (Kind::Float, device));
    let mut loss_sum = Tensor::zeros([], (Kind::Double, device));
    for (k, chunk) in indices.chunks(batch.max(1)).enumerate() {
        let idx = index_tensor(chunk, device);
        let out = net.forward_t(&patches.batch(&idx), false);
        let loss = out.cross_entropy_loss::<Tensor>(
            &patches.labels.index_select(0, &idx),
            None,
            tch::Reduction::Sum,
            -100,
            0.0,
        );
        loss_sum += loss.to_kind(Kind::Double);
        all.narrow(0, (k * batch.max(1)) as i64, chunk.len() as i64)
            .copy_(&out);
    }
    // One transfer at the end: a read per batch would make a GPU wait for the host each time.
    let flat =
        Vec::<f32>::try_from(all.to_device(Device::Cpu).flatten(0, -1)).expect("float logits");
    let logits = flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    (logits, loss_sum.double_value(&[]))
}

/// The probability of malignancy of the patches `indices`, averaged over their
/// shape-preserving symmetries (test-time augmentation), without gradients or dropout.
pub fn predict_tta(
    net: &impl ModuleT,
    patches: &Patches,
    indices: &[usize],
    batch: usize,
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let device = patches.device();
    // One tensor for every score, as in `predict`.
    let all = Tensor::zeros([indices.len() as i64], (Kind::Double, device));
    for (k, chunk) in indices.chunks(batch.max(1)).enumerate() {
        let xs = patches.batch(&index_tensor(chunk, device));
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
        all.narrow(0, (k * batch.max(1)) as i64, chunk.len() as i64)
            .copy_(&(sum / count));
    }
    Vec::<f64>::try_from(all.to_device(Device::Cpu)).expect("double scores")
}

pub fn index_tensor(indices: &[usize], device: Device) -> Tensor {
    let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_slice(&idx).to_device(device)
}
