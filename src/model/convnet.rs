//! The upstream ConvNet, layer for layer, with PyTorch's `state_dict` names so that upstream
//! checkpoints load and lnmc's can be read back in PyTorch.
//!
//! K×H×W (K = 1 upstream; the `--context` slices otherwise) → conv1 32 → ReLU → conv2 32 → ReLU → maxpool 2 → dropout
//!       → conv3 64 → ReLU → conv4 64 → ReLU → maxpool 2 → dropout
//!       → global average pool → fc 2 logits (benign, malignant)
//! All convolutions 3×3 'same', all layers with bias: 65,122 parameters (288 more per extra
//! context slice).
//!
//! Weights and inputs are kept channels-last (NHWC in memory, NCHW in shape): oneDNN's
//! convolutions, pooling and their backward passes run ≈ 10–15 % faster on this layout on a
//! CPU (BENCHMARKS.md), and the saved tensors are the same values either way (checkpoints are
//! written contiguous).

use tch::nn;
use tch::Tensor;

use super::{channels_last, torch_default};

#[derive(Debug)]
pub struct ConvNet {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    conv3: nn::Conv2D,
    conv4: nn::Conv2D,
    pub(super) fc: nn::Linear,
    dropout: f64,
    /// What the convolutions compute in: fp32, or bf16 on fp32 master weights.
    compute: tch::Kind,
}

pub(super) fn conv3x3(vs: &nn::Path, name: &str, input: i64, output: i64) -> nn::Conv2D {
    let init = torch_default(input * 9);
    let config = nn::ConvConfig {
        padding: 1,
        ws_init: init,
        bs_init: init,
        ..Default::default()
    };
    nn::conv2d(vs / name, input, output, 3, config)
}

impl ConvNet {
    /// `channels`: the slices a patch is given as (1 upstream).
    pub fn new(vs: &nn::Path, channels: i64, dropout: f64) -> ConvNet {
        let net = ConvNet {
            conv1: conv3x3(vs, "conv1", channels, 32),
            conv2: conv3x3(vs, "conv2", 32, 32),
            conv3: conv3x3(vs, "conv3", 32, 64),
            conv4: conv3x3(vs, "conv4", 64, 64),
            fc: super::head(vs, 64),
            dropout,
            compute: tch::Kind::Float,
        };
        tch::no_grad(|| {
            for conv in [&net.conv1, &net.conv2, &net.conv3, &net.conv4] {
                // set_data swaps the storage under the variable the VarStore and the optimiser
                // hold, so they all see the new layout.
                conv.ws.shallow_clone().set_data(&channels_last(&conv.ws));
            }
        });
        net
    }
}

impl ConvNet {
    /// The 64 feature maps after the last pool (batch, 64, H/4, W/4): what `Net`'s global
    /// average pool and this network's linear layer `fc` turn into logits.
    pub fn features(&self, xs: &Tensor, train: bool) -> Tensor {
        // relu(maxpool(x)) == maxpool(relu(x)), values and gradients alike (ReLU is monotonic),
        // so the ReLUs before a pool run on the pooled, 4× smaller tensor. The others work in
        // place: a convolution's backward needs its input, not its output.
        let conv = |x: Tensor, c: &nn::Conv2D| self.conv(&x, c);
        let x = channels_last(xs).to_kind(self.compute);
        let x = conv(conv(x, &self.conv1).relu_(), &self.conv2)
            .max_pool2d_default(2)
            .relu_()
            .dropout(self.dropout, train);
        conv(conv(x, &self.conv3).relu_(), &self.conv4)
            .max_pool2d_default(2)
            .relu_()
            .dropout(self.dropout, train)
    }

    /// Computes the convolutions in `kind` (bf16: on bf16 copies of the fp32 weights, whose
    /// gradients flow back to them in fp32, as autocast does); `features` then hands the
    /// pooled maps to the linear layer in fp32.
    pub fn set_precision(&mut self, kind: tch::Kind) {
        self.compute = kind;
    }

    fn conv(&self, x: &Tensor, c: &nn::Conv2D) -> Tensor {
        if self.compute == tch::Kind::Float {
            return x.apply(c);
        }
        let bias = c.bs.as_ref().map(|b| b.to_kind(self.compute));
        x.conv2d(
            &c.ws.to_kind(self.compute),
            bias.as_ref(),
            [1, 1],
            [1, 1],
            [1, 1],
            1,
        )
    }
}

impl nn::ModuleT for ConvNet {
    /// `xs`: (batch, K, H, W) normalised patches. Returns (batch, 2) logits.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        super::pooled_logits(&self.features(xs, train), &self.fc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::ModuleT;

    #[test]
    fn bf16_convolutions_stay_close_to_fp32_and_train_fp32_weights() {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut net = ConvNet::new(&vs.root(), 1, 0.0);
        let xs = Tensor::randn([4, 1, 32, 32], (tch::Kind::Float, tch::Device::Cpu));
        let fp32 = net.forward_t(&xs, false);
        net.set_precision(tch::Kind::BFloat16);
        let bf16 = net.forward_t(&xs, false);
        assert_eq!(bf16.kind(), tch::Kind::Float, "logits come back in fp32");
        let diff = (&bf16 - &fp32).abs().max().double_value(&[]);
        assert!(diff > 0.0, "not computed in bf16");
        assert!(diff < 0.05, "bf16 logits far from fp32: {diff}");
        // Gradients reach the fp32 master weights.
        let loss = net.forward_t(&xs, true).sum(tch::Kind::Float);
        loss.backward();
        let grad = net.conv1.ws.grad();
        assert_eq!(grad.kind(), tch::Kind::Float);
        assert!(grad.abs().sum(tch::Kind::Double).double_value(&[]) > 0.0);
    }

    #[test]
    fn has_upstream_parameter_names_and_count() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _net = ConvNet::new(&vs.root(), 1, 0.3);
        let vars = vs.variables();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        let expected = [
            "conv1.bias",
            "conv1.weight",
            "conv2.bias",
            "conv2.weight",
            "conv3.bias",
            "conv3.weight",
            "conv4.bias",
            "conv4.weight",
            "fc.bias",
            "fc.weight",
        ];
        assert_eq!(names, expected);
        let total: i64 = vars.values().map(|t| t.numel() as i64).sum();
        assert_eq!(total, 65_122);
    }

    #[test]
    fn maps_a_batch_of_patches_to_two_logits() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = ConvNet::new(&vs.root(), 1, 0.3);
        let out = net.forward_t(&Tensor::zeros([5, 1, 64, 64], tch::kind::FLOAT_CPU), false);
        assert_eq!(out.size(), vec![5, 2]);
        // Any patch side ≥ 16 works thanks to the global average pool.
        let out = net.forward_t(&Tensor::zeros([1, 1, 24, 40], tch::kind::FLOAT_CPU), false);
        assert_eq!(out.size(), vec![1, 2]);
    }

    #[test]
    fn keeps_weights_and_activations_channels_last_without_changing_values() {
        tch::manual_seed(1);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = ConvNet::new(&vs.root(), 1, 0.0);
        let w = &vs.variables()["conv3.weight"];
        assert_eq!(w.stride(), vec![9 * 32, 1, 3 * 32, 32]);
        let xs = Tensor::randn([3, 1, 16, 16], tch::kind::FLOAT_CPU);
        // The same convolution on plain NCHW tensors gives the same numbers.
        let plain = xs.conv2d(
            &net.conv1.ws.contiguous(),
            net.conv1.bs.as_ref(),
            [1],
            [1],
            [1],
            1,
        );
        let fast = channels_last(&xs).apply(&net.conv1);
        assert_eq!(fast.stride()[1], 1, "conv output is channels-last");
        assert!(plain.allclose(&fast, 1e-5, 1e-6, false));
        let cl = channels_last(&w.shallow_clone());
        assert!(cl.equal(w) && cl.contiguous().is_contiguous());
    }

    #[test]
    fn initialisation_stays_within_pytorch_bounds() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _net = ConvNet::new(&vs.root(), 1, 0.3);
        let vars = vs.variables();
        let bound = 1.0 / (32.0f64 * 9.0).sqrt();
        let w = &vars["conv2.weight"];
        let max = w.abs().max().double_value(&[]);
        assert!(
            max <= bound && max > 0.9 * bound,
            "max |w| {max}, bound {bound}"
        );
    }
}
