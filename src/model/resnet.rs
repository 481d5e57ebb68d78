//! A small residual network for 64×64 patches (He et al. 2016, basic blocks), shaped for
//! images this small: a 3×3 stem without ImageNet's 7×7 stride-2 stem and max-pool (which
//! would leave 16×16 before the first block), then four stages of two blocks each.
//!
//! K×64×64 → stem 3×3 16, BN, ReLU
//!         → layer1 2 × block 16 (64×64) → layer2 2 × block 32 (32×32)
//!         → layer3 2 × block 64 (16×16)  → layer4 2 × block 128 (8×8)
//!         → global average pool → dropout → fc 2 logits
//! A block: conv 3×3, BN, ReLU, conv 3×3, BN, plus its input (through a strided 1×1 conv and
//! BN where the stage halves the side), ReLU. Convolutions have no bias (BN follows each).
//! 700,146 parameters for one slice (144 more per extra context slice); about 1.4 × the ConvNet's multiply-adds a patch.
//!
//! Width 16–128 is the choice: the 0.3–1.5 M range of issue 32 at its middle, and about the
//! ConvNet's cost a patch so that an epoch stays within a few times the ConvNet's.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

use super::{channels_last, make_channels_last};

/// Channels of the four stages.
const WIDTHS: [i64; 4] = [16, 32, 64, 128];
const BLOCKS_PER_STAGE: usize = 2;

/// A convolution without bias, initialised as torchvision's ResNet does (Kaiming normal,
/// fan-out, for ReLU), its weight channels-last.
fn conv(vs: nn::Path, input: i64, output: i64, side: i64, stride: i64) -> nn::Conv2D {
    let std = (2.0 / (output * side * side) as f64).sqrt();
    let config = nn::ConvConfig {
        stride,
        padding: side / 2,
        bias: false,
        ws_init: nn::Init::Randn {
            mean: 0.0,
            stdev: std,
        },
        ..Default::default()
    };
    let c = nn::conv2d(vs, input, output, side, config);
    make_channels_last(&c.ws);
    c
}

fn batch_norm(vs: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(vs, channels, config)
}

#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    /// The shortcut where the block changes the side or the channels.
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
    stride: i64,
}

impl Block {
    fn new(vs: nn::Path, input: i64, output: i64, stride: i64) -> Block {
        let downsample = (stride != 1 || input != output).then(|| {
            (
                conv(&vs / "downsample" / "0", input, output, 1, stride),
                batch_norm(&vs / "downsample" / "1", output),
            )
        });
        Block {
            conv1: conv(&vs / "conv1", input, output, 3, stride),
            bn1: batch_norm(&vs / "bn1", output),
            conv2: conv(&vs / "conv2", output, output, 3, 1),
            bn2: batch_norm(&vs / "bn2", output),
            downsample,
            stride,
        }
    }
}

#[derive(Debug)]
pub struct ResNet {
    stem: nn::Conv2D,
    stem_bn: nn::BatchNorm,
    blocks: Vec<Block>,
    pub(super) fc: nn::Linear,
    dropout: f64,
    compute: Kind,
}

impl ResNet {
    /// `channels`: the slices a patch is given as.
    pub fn new(vs: &nn::Path, channels: i64, dropout: f64) -> ResNet {
        let mut blocks = Vec::new();
        let mut input = WIDTHS[0];
        for (stage, &width) in WIDTHS.iter().enumerate() {
            for b in 0..BLOCKS_PER_STAGE {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                let path = vs / format!("layer{}", stage + 1) / b.to_string();
                blocks.push(Block::new(path, input, width, stride));
                input = width;
            }
        }
        ResNet {
            stem: conv(vs / "stem", channels, WIDTHS[0], 3, 1),
            stem_bn: batch_norm(vs / "stem_bn", WIDTHS[0]),
            blocks,
            fc: super::head(vs, input),
            dropout,
            compute: Kind::Float,
        }
    }

    /// Convolutions in `kind` (on copies of the fp32 weights); batch norm takes the bf16
    /// activations with its fp32 statistics and affine weights, as autocast runs it.
    pub fn set_precision(&mut self, kind: Kind) {
        self.compute = kind;
    }

    fn conv(&self, x: &Tensor, c: &nn::Conv2D, stride: i64) -> Tensor {
        if self.compute == Kind::Float {
            return x.apply(c);
        }
        let padding = c.ws.size()[2] / 2;
        x.conv2d(
            &c.ws.to_kind(self.compute),
            None::<&Tensor>,
            [stride, stride],
            [padding, padding],
            [1, 1],
            1,
        )
    }

    fn block(&self, x: Tensor, b: &Block, train: bool) -> Tensor {
        let shortcut = match &b.downsample {
            Some((c, bn)) => self.conv(&x, c, b.stride).apply_t(bn, train),
            None => x.shallow_clone(),
        };
        let y = self
            .conv(&x, &b.conv1, b.stride)
            .apply_t(&b.bn1, train)
            .relu_();
        // The sum in place, as torchvision's blocks do: batch norm keeps its input, not its
        // output, for the backward pass, and one activation fewer is allocated per block.
        let mut y = self.conv(&y, &b.conv2, 1).apply_t(&b.bn2, train);
        let _ = y.g_add_(&shortcut);
        y.relu_()
    }

    /// The 128 maps of the last stage (batch, 128, H/8, W/8), before the pool.
    pub fn features(&self, xs: &Tensor, train: bool) -> Tensor {
        let x = channels_last(xs).to_kind(self.compute);
        let mut x = self
            .conv(&x, &self.stem, 1)
            .apply_t(&self.stem_bn, train)
            .relu_();
        for b in &self.blocks {
            x = self.block(x, b, train);
        }
        x
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features(xs, train)
            .mean_dim(&[2i64, 3][..], false, Kind::Float)
            .dropout(self.dropout, train)
            .apply(&self.fc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_documented_size_and_pytorch_like_names() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _net = ResNet::new(&vs.root(), 1, 0.0);
        let vars = vs.trainable_variables();
        let total: i64 = vars.iter().map(|t| t.numel() as i64).sum();
        assert_eq!(total, 700_146);
        let names = vs.variables();
        for name in [
            "stem.weight",
            "stem_bn.running_var",
            "layer1.0.conv1.weight",
            "layer2.0.downsample.0.weight",
            "layer4.1.bn2.bias",
            "fc.weight",
        ] {
            assert!(names.contains_key(name), "{name}");
        }
        assert!(!names.contains_key("layer1.0.downsample.0.weight"));
    }

    #[test]
    fn batch_norm_learns_its_running_statistics_only_in_training() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = ResNet::new(&vs.root(), 1, 0.0);
        let xs = Tensor::randn([8, 1, 64, 64], (Kind::Float, tch::Device::Cpu)) * 3.0 + 1.0;
        let mean = || {
            vs.variables()["stem_bn.running_mean"]
                .abs()
                .sum(Kind::Double)
        };
        let before = mean().double_value(&[]);
        let _ = tch::no_grad(|| net.forward_t(&xs, false));
        assert_eq!(
            mean().double_value(&[]),
            before,
            "evaluation changed the statistics"
        );
        let out = tch::no_grad(|| net.forward_t(&xs, true));
        assert_eq!(out.size(), vec![8, 2]);
        assert!(
            mean().double_value(&[]) > before,
            "training did not update them"
        );
    }
}
