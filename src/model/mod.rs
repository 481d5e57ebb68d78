//! The networks lnmc trains, each a struct of layers with PyTorch's `state_dict` names:
//! `convnet` (upstream's, the default) and `resnet` (a small residual network for 64×64
//! patches). Both end the same way — feature maps, global average pool, one linear layer — so
//! the class-activation map is exact for either, and `Net` is what every other part holds.
//!
//! Adding an architecture: a file here with `new`, `features`, `set_precision` and its `fc`, a
//! variant in `Architecture` and `Net`, and the tensor name `Spec::of_tensors` tells it by.

mod convnet;
mod resnet;

use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

pub use convnet::ConvNet;
pub use resnet::ResNet;

pub const CLASSES: i64 = 2;

/// Which network a run trains; recorded in config.json and so in every checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Upstream's ConvNet: four 3×3 convolutions, two poolings, 65k parameters.
    #[default]
    Convnet,
    /// A small residual network for 64×64 patches: 3×3 stem without the early max-pool, four
    /// stages of two basic blocks (16, 32, 64, 128 channels), global average pool; 0.70 M
    /// parameters.
    Resnet,
}

/// What a checkpoint's network is: its architecture and how many slices it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub architecture: Architecture,
    /// Input channels: the patch's slice and its neighbours (`--context`).
    pub context: usize,
}

impl Spec {
    pub const UPSTREAM: Spec = Spec {
        architecture: Architecture::Convnet,
        context: 1,
    };

    /// The spec of saved weights: from the tensors themselves (names and the first
    /// convolution's input channels), so a checkpoint never needs to be told what it holds.
    pub fn of_tensors(tensors: &[(String, Tensor)]) -> Option<Spec> {
        let get = |name: &str| tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        let (architecture, first) = if let Some(stem) = get("stem.weight") {
            (Architecture::Resnet, stem)
        } else {
            (Architecture::Convnet, get("conv1.weight")?)
        };
        let context = *first.size().get(1)? as usize;
        Some(Spec {
            architecture,
            context,
        })
    }

    pub fn describe(&self) -> String {
        match self.context {
            1 => crate::choice::name(self.architecture),
            k => format!("{} · {k} slices", crate::choice::name(self.architecture)),
        }
    }
}

/// A network of any architecture: what training, evaluation and explanation hold.
#[derive(Debug)]
pub enum Net {
    ConvNet(ConvNet),
    ResNet(ResNet),
}

impl Net {
    /// A freshly initialised network of `spec` under `vs` (the current seed decides).
    pub fn new(vs: &nn::Path, spec: Spec, dropout: f64) -> Net {
        let channels = spec.context as i64;
        match spec.architecture {
            Architecture::Convnet => Net::ConvNet(ConvNet::new(vs, channels, dropout)),
            Architecture::Resnet => Net::ResNet(ResNet::new(vs, channels, dropout)),
        }
    }

    /// Computes the convolutions in `kind` (bf16: on bf16 copies of the fp32 master weights,
    /// as autocast does); the pooled features meet the linear layer in fp32.
    pub fn set_precision(&mut self, kind: Kind) {
        match self {
            Net::ConvNet(n) => n.set_precision(kind),
            Net::ResNet(n) => n.set_precision(kind),
        }
    }

    /// The last feature maps (batch, C, h, w), before the global average pool.
    pub fn features(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Net::ConvNet(n) => n.features(xs, train),
            Net::ResNet(n) => n.features(xs, train),
        }
    }

    fn fc(&self) -> &nn::Linear {
        match self {
            Net::ConvNet(n) => &n.fc,
            Net::ResNet(n) => &n.fc,
        }
    }

    /// The class-activation map of the log-odds, exact for both networks (Zhou et al. 2016):
    /// logit₁ − logit₀ = (b₁ − b₀) + mean over (i, j) of M(i, j), with
    /// M(i, j) = Σ_k (w₁ₖ − w₀ₖ) · A_k(i, j) and A the maps of `features`. Returns M as
    /// (batch, h, w) and the logits (batch, 2), from one forward pass without dropout.
    pub fn class_activation(&self, xs: &Tensor) -> (Tensor, Tensor) {
        let a = self.features(xs, false).to_kind(Kind::Float);
        let logits = pooled_logits(&a, self.fc());
        let w = &self.fc().ws;
        let dw = (w.get(1) - w.get(0)).view([1, -1, 1, 1]);
        let map = (a * dw).sum_dim_intlist(&[1i64][..], false, Kind::Float);
        (map, logits)
    }

    /// b₁ − b₀ of the linear layer: the log-odds of a patch whose map is zero everywhere.
    pub fn bias_difference(&self) -> f64 {
        let b = self.fc().bs.as_ref().expect("the linear layer has a bias");
        (b.get(1) - b.get(0)).double_value(&[])
    }
}

impl ModuleT for Net {
    /// `xs`: (batch, K, H, W) normalised patches. Returns (batch, 2) logits.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Net::ConvNet(n) => n.forward_t(xs, train),
            Net::ResNet(n) => n.forward_t(xs, train),
        }
    }
}

/// Global average pool of the feature maps, in fp32, through the linear layer.
fn pooled_logits(features: &Tensor, fc: &nn::Linear) -> Tensor {
    features
        .mean_dim(&[2i64, 3][..], false, Kind::Float)
        .apply(fc)
}

/// The linear layer from pooled features to the two logits, initialised as PyTorch does.
fn head(vs: &nn::Path, features: i64) -> nn::Linear {
    let init = torch_default(features);
    let config = nn::LinearConfig {
        ws_init: init,
        bs_init: Some(init),
        bias: true,
    };
    nn::linear(vs / "fc", features, CLASSES, config)
}

/// PyTorch's default initialisation for Conv2d and Linear (kaiming_uniform with a = √5),
/// which comes down to U(−1/√fan_in, 1/√fan_in) for weights and biases alike.
fn torch_default(fan_in: i64) -> nn::Init {
    let bound = 1.0 / (fan_in as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// The same (N, C, H, W) values laid out channels-last. For C = 1 both layouts hold the same
/// bytes, so an input batch only gets new strides, not a copy. Written with reshaping views
/// rather than explicit sizes and strides, so that a traced model (`export-model`) takes any
/// batch and side.
pub fn channels_last(t: &Tensor) -> Tensor {
    if t.size()[1] == 1 {
        // (N, H, W, 1) with the new last dimension's stride 1, seen as (N, 1, H, W): strides
        // (HW, 1, W, 1), which libtorch reads as channels-last.
        return t
            .contiguous()
            .unsqueeze(-1)
            .squeeze_dim(1)
            .permute([0, 3, 1, 2]);
    }
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Swaps a weight's storage for its channels-last copy; the VarStore and the optimiser hold
/// the same variable and so see the new layout.
fn make_channels_last(weight: &Tensor) {
    tch::no_grad(|| {
        weight.shallow_clone().set_data(&channels_last(weight));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> [Spec; 4] {
        let spec = |architecture, context| Spec {
            architecture,
            context,
        };
        [
            spec(Architecture::Convnet, 1),
            spec(Architecture::Convnet, 3),
            spec(Architecture::Resnet, 1),
            spec(Architecture::Resnet, 5),
        ]
    }

    #[test]
    fn the_class_activation_map_sums_to_the_log_odds() {
        for spec in both() {
            tch::manual_seed(7);
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let net = Net::new(&vs.root(), spec, 0.3);
            let k = spec.context as i64;
            let xs = Tensor::randn([5, k, 64, 64], (Kind::Float, tch::Device::Cpu));
            let (map, logits) = net.class_activation(&xs);
            let side = match spec.architecture {
                Architecture::Convnet => 16,
                Architecture::Resnet => 8,
            };
            assert_eq!(map.size(), vec![5, side, side]);
            let plain = net.forward_t(&xs, false);
            assert!(plain.allclose(&logits, 1e-5, 1e-5, false), "{spec:?}");
            let means =
                Vec::<f64>::try_from(map.mean_dim(&[1i64, 2][..], false, Kind::Double)).unwrap();
            let logits = Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap();
            for (k, mean) in means.iter().enumerate() {
                let diff = (logits[2 * k + 1] - logits[2 * k]) as f64;
                let sum = mean + net.bias_difference();
                assert!(
                    (sum - diff).abs() < 1e-4,
                    "{spec:?} patch {k}: {sum} vs {diff}"
                );
            }
        }
    }

    #[test]
    fn saved_weights_tell_their_architecture_and_context() {
        for spec in both() {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let _net = Net::new(&vs.root(), spec, 0.0);
            let tensors: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
            assert_eq!(Spec::of_tensors(&tensors), Some(spec));
        }
        assert_eq!(Spec::of_tensors(&[]), None);
    }

    #[test]
    fn bf16_stays_close_to_fp32_for_every_architecture() {
        for spec in both() {
            tch::manual_seed(5);
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let mut net = Net::new(&vs.root(), spec, 0.0);
            let xs = Tensor::randn(
                [4, spec.context as i64, 32, 32],
                (Kind::Float, tch::Device::Cpu),
            );
            let fp32 = net.forward_t(&xs, false);
            net.set_precision(Kind::BFloat16);
            let bf16 = net.forward_t(&xs, false);
            assert_eq!(bf16.kind(), Kind::Float, "logits come back in fp32");
            let diff = (&bf16 - &fp32).abs().max().double_value(&[]);
            assert!(diff > 0.0 && diff < 0.1, "{spec:?}: {diff}");
            let loss = net.forward_t(&xs, true).sum(Kind::Float);
            loss.backward();
            for (name, t) in vs.trainable_variables().iter().enumerate() {
                assert_eq!(t.grad().kind(), Kind::Float, "{spec:?} variable {name}");
            }
        }
    }
}
