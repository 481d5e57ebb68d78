//! Checkpoints: lnmc writes safetensors (tensors under PyTorch's state_dict names, the run's
//! config in the header metadata) and reads those plus PyTorch `torch.save` state_dicts.

mod pytorch;
pub mod torchscript;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::files::{check_is_file, write_atomic};
use crate::model::{Net, Spec};
use crate::types::RunConfig;

/// Header metadata key holding `Info` as JSON.
const INFO_KEY: &str = "lnmc";

/// What lnmc records beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    pub config: RunConfig,
    /// Epochs completed when this was saved.
    pub epoch: usize,
    pub val_accuracy: f64,
    /// Adam steps taken; its moments are stored as `adam.*` tensors in `last.safetensors`.
    pub adam_step: i64,
}

pub struct Checkpoint {
    pub tensors: Vec<(String, Tensor)>,
    /// None for a PyTorch file.
    pub info: Option<Info>,
}

/// Writes `tensors` and `info` to `path` atomically.
pub fn save(path: &Path, tensors: &[(String, Tensor)], info: &Info) -> Result<()> {
    let host: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
            let shape = t.size().iter().map(|&d| d as usize).collect();
            let values = Vec::<f32>::try_from(t.flatten(0, -1)).expect("float tensor");
            (
                name.clone(),
                shape,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = host
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("consistent shape and bytes");
            (name.as_str(), view)
        })
        .collect::<Vec<_>>();
    let metadata = HashMap::from([(
        INFO_KEY.to_string(),
        serde_json::to_string(info).expect("json"),
    )]);
    let bytes = safetensors::tensor::serialize(views, Some(metadata))
        .map_err(|e| Error::runtime(format!("{}: cannot encode ({e})", path.display())))?;
    write_atomic(path, &bytes)
}

/// The lnmc metadata of a safetensors checkpoint, read from its header alone (the tensors are
/// not read): what a listing of checkpoints needs, cheap enough to repeat every second.
/// None for a PyTorch file, a file without lnmc metadata, or one that is not a checkpoint.
pub fn read_info(path: &Path) -> Option<Info> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).ok()?;
    // safetensors caps its header at 100 MB; anything larger is not one.
    let len = u64::from_le_bytes(len).min(100_000_000) as usize;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let json = header.get("__metadata__")?.get(INFO_KEY)?.as_str()?;
    serde_json::from_str(json).ok()
}

/// Why `bytes`, not a zip, are not a safetensors checkpoint, in words: the library's variant
/// names (`HeaderTooLarge`) mean nothing to someone handed a broken file.
fn safetensors_reason(e: &safetensors::SafeTensorError, bytes: &[u8]) -> String {
    use safetensors::SafeTensorError as E;
    let neither = "neither a safetensors checkpoint nor a PyTorch .pth (a zip)";
    let claimed = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    match e {
        E::HeaderTooSmall if bytes.is_empty() => format!("an empty file, {neither}"),
        E::HeaderTooSmall => format!("{} bytes: too short to be a checkpoint", bytes.len()),
        E::HeaderTooLarge | E::InvalidHeaderLength => format!(
            "{neither}: its first 8 bytes claim a header of {}, in a file of {}",
            crate::data::memory::size(claimed.unwrap_or(0)),
            crate::data::memory::size(bytes.len() as u64)
        ),
        E::InvalidHeader(_) => format!("{neither}: its header is not text"),
        E::InvalidHeaderDeserialization(e) | E::JsonError(e) => format!(
            "{neither}: its header is not a safetensors header ({})",
            crate::files::json_reason(e)
        ),
        E::TensorNotFound(name) => format!("safetensors file without tensor '{name}'"),
        E::InvalidOffset(name) => {
            format!("safetensors tensor '{name}' claims bytes outside the file")
        }
        E::TensorInvalidInfo | E::InvalidTensorView(..) | E::MisalignedSlice => {
            "a safetensors tensor's shape and type do not match its bytes".into()
        }
        E::MetadataIncompleteBuffer => {
            "safetensors data does not match its header's tensors: cut short or padded".into()
        }
        E::ValidationOverflow => "a safetensors tensor claims more elements than can exist".into(),
        other => format!("not a valid safetensors checkpoint ({other})"),
    }
}

/// Reads an lnmc safetensors file or a PyTorch state_dict, told apart by their first bytes.
pub fn load(path: &Path) -> Result<Checkpoint> {
    check_is_file(
        path,
        "a checkpoint file",
        "lnmc writes checkpoints to checkpoint/RUN/; PyTorch .pth files are read too",
    )?;
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read ({e})")))?;
    // Any zip record ("PK\x03\x04" an entry, "PK\x05\x06" an empty archive's end record).
    if bytes.starts_with(b"PK") {
        return Ok(Checkpoint {
            tensors: pytorch::load(path)?,
            info: None,
        });
    }
    let fail = |e: &dyn std::fmt::Display| Error::file(path, format!("{e}"));
    let refuse = |e| fail(&safetensors_reason(&e, &bytes));
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(refuse)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(refuse)?;
    let info = match header.metadata().as_ref().and_then(|m| m.get(INFO_KEY)) {
        Some(json) => Some(serde_json::from_str(json).map_err(|e| {
            fail(&format!(
                "its lnmc record is not valid ({})",
                crate::files::json_reason(&e)
            ))
        })?),
        None => None,
    };
    let mut out = Vec::new();
    for (name, view) in tensors.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(fail(&format!(
                "tensor '{name}' is {:?}, not 32-bit floats (F32)",
                view.dtype()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::from_slice(&values)
            .f_reshape(&shape)
            .map_err(|e| fail(&e))?;
        out.push((name, tensor));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint { tensors: out, info })
}

impl Checkpoint {
    /// The network the weights are of, told by the weights themselves; refused where the
    /// run's record says otherwise (a file edited or assembled by hand).
    pub fn spec(&self, path: &Path) -> Result<Spec> {
        let spec = Spec::of_tensors(&self.tensors).ok_or_else(|| {
            Error::file(
                path,
                "holds no network lnmc knows (neither a ConvNet's conv1.weight nor a ResNet's stem.weight)",
            )
        })?;
        if let Some(info) = &self.info {
            let recorded = info.config.hyper.spec();
            if recorded != spec {
                return Err(Error::file(
                    path,
                    format!(
                        "records a {} but holds the weights of a {}",
                        recorded.describe(),
                        spec.describe()
                    ),
                ));
            }
        }
        Ok(spec)
    }

    /// The network with these weights on `device`, for inference (no dropout).
    pub fn network(&self, path: &Path, device: Device) -> Result<(nn::VarStore, Net, Spec)> {
        let spec = self.spec(path)?;
        let mut vs = nn::VarStore::new(device);
        let net = Net::new(&vs.root(), spec, 0.0);
        restore(&mut vs, self, path, spec)?;
        // No gradients: what inference needs, and what tracing (`torchscript`) requires.
        vs.freeze();
        Ok((vs, net, spec))
    }

    /// Refuses data of another patch size than the run trained on (a PyTorch file does not
    /// say, and is let through).
    pub fn check_patch_size(&self, path: &Path, data: &crate::data::Dataset) -> Result<()> {
        let Some(info) = &self.info else {
            return Ok(());
        };
        let (h, w) = (info.config.data.height, info.config.data.width);
        if (h, w) != (data.height, data.width) {
            return Err(Error::file(
                &data.path,
                format!(
                    "holds {}×{} patches, but {} was trained on {h}×{w}",
                    data.height,
                    data.width,
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

/// Copies the checkpoint's weights into the model's variables, refusing one that does not fit:
/// the message names the first tensor that is missing, extra, or of another shape.
pub fn restore(
    vs: &mut nn::VarStore,
    checkpoint: &Checkpoint,
    path: &Path,
    spec: Spec,
) -> Result<()> {
    let fail =
        |msg: String| Error::file(path, format!("does not fit the {}: {msg}", spec.describe()));
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let weights: Vec<&(String, Tensor)> = checkpoint
        .tensors
        .iter()
        .filter(|(n, _)| !n.starts_with("adam."))
        .collect();
    if let Some((extra, _)) = weights
        .iter()
        .find(|(n, _)| !vars.iter().any(|(v, _)| v == n))
    {
        return Err(fail(format!("unexpected tensor '{extra}'")));
    }
    let _guard = tch::no_grad_guard();
    for (name, var) in &mut vars {
        let Some((_, saved)) = weights.iter().find(|(n, _)| n == name) else {
            return Err(fail(format!("tensor '{name}' is missing")));
        };
        if saved.size() != var.size() {
            return Err(fail(format!(
                "tensor '{name}' has shape {:?}, the model needs {:?}",
                saved.size(),
                var.size()
            )));
        }
        var.copy_(saved);
    }
    Ok(())
}
