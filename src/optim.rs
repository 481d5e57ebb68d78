//! Adam with L2 weight decay, step for step what `torch.optim.Adam(weight_decay=…)` does (the
//! decay is added to the gradient, not decoupled as in AdamW). Written out rather than taken
//! from libtorch's C++ optimiser so that its moments can be checkpointed and a resumed run
//! continues exactly where it stopped.

use tch::{nn, Tensor};

use crate::types::Schedule;

pub const BETAS: (f64, f64) = (0.9, 0.999);

/// The learning rate for step `step` (0-based) of `total`, where one epoch is `per_epoch` steps.
pub fn scheduled_lr(
    schedule: Schedule,
    lr: f64,
    step: usize,
    total: usize,
    per_epoch: usize,
) -> f64 {
    match schedule {
        Schedule::Constant => lr,
        Schedule::Cosine => {
            let warmup = (total / 20).clamp(1, per_epoch.max(1));
            if step < warmup {
                return lr * (step + 1) as f64 / warmup as f64;
            }
            let span = total.saturating_sub(warmup).max(1) as f64;
            let done = (step - warmup) as f64 / span;
            0.5 * lr * (1.0 + (std::f64::consts::PI * done.min(1.0)).cos())
        }
    }
}
pub const EPS: f64 = 1e-8;

pub struct Adam {
    pub lr: f64,
    pub weight_decay: f64,
    /// Steps taken so far; bias correction depends on it.
    pub step: i64,
    /// (name, parameter, first moment, second moment), in name order.
    slots: Vec<(String, Tensor, Tensor, Tensor)>,
}

impl Adam {
    pub fn new(vs: &nn::VarStore, lr: f64, weight_decay: f64) -> Adam {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, p)| {
                let (m, v) = (p.zeros_like(), p.zeros_like());
                (name, p, m, v)
            })
            .collect();
        Adam {
            lr,
            weight_decay,
            step: 0,
            slots,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in &mut self.slots {
            p.zero_grad();
        }
    }

    pub fn step(&mut self) {
        let _guard = tch::no_grad_guard();
        self.step += 1;
        let (b1, b2) = BETAS;
        let step_size = self.lr / (1.0 - b1.powi(self.step as i32));
        let bias2_sqrt = (1.0 - b2.powi(self.step as i32)).sqrt();
        // PyTorch's single-tensor Adam, in place where it is: each allocation of a parameter-
        // sized temporary costs as much as the arithmetic on these small networks.
        for (_, p, m, v) in &mut self.slots {
            let mut grad = p.grad();
            if !grad.defined() {
                continue;
            }
            if self.weight_decay != 0.0 {
                // The gradient is ours to change: zero_grad clears it before the next backward.
                let _ = grad.g_add_(&(&*p * self.weight_decay));
            }
            let _ = m.lerp_(&grad, 1.0 - b1);
            let _ = v.g_mul_scalar_(b2);
            let _ = v.addcmul_(&(&grad * (1.0 - b2)), &grad);
            let mut denom = v.sqrt();
            let _ = denom.g_div_scalar_(bias2_sqrt);
            let _ = denom.g_add_scalar_(EPS);
            let _ = p.addcdiv_(&(&*m * -step_size), &denom);
        }
    }

    /// Moments as named tensors for a checkpoint: `adam.m.<param>` and `adam.v.<param>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.slots.len());
        for (name, _, m, v) in &self.slots {
            out.push((format!("adam.m.{name}"), m.shallow_clone()));
            out.push((format!("adam.v.{name}"), v.shallow_clone()));
        }
        out
    }

    /// Restores moments saved by `state`; missing entries leave the moments at zero.
    pub fn load_state(&mut self, step: i64, tensors: &[(String, Tensor)]) -> bool {
        let find = |key: String| tensors.iter().find(|(n, _)| *n == key).map(|(_, t)| t);
        let _guard = tch::no_grad_guard();
        let mut complete = true;
        for (name, _, m, v) in &mut self.slots {
            match (
                find(format!("adam.m.{name}")),
                find(format!("adam.v.{name}")),
            ) {
                (Some(sm), Some(sv)) if sm.size() == m.size() && sv.size() == v.size() => {
                    m.copy_(sm);
                    v.copy_(sv);
                }
                _ => complete = false,
            }
        }
        self.step = if complete { step } else { 0 };
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_zero() {
        let lr = |step| scheduled_lr(Schedule::Cosine, 1e-3, step, 1000, 84);
        assert!((lr(0) - 1e-3 / 50.0).abs() < 1e-15, "first warm-up step");
        assert!((lr(49) - 1e-3).abs() < 1e-15, "warm-up ends at the base lr");
        assert!(lr(50) <= 1e-3 && lr(50) > 0.999e-3);
        assert!(
            (lr(525) - 0.5e-3).abs() < 1e-5,
            "half way down at mid-decay"
        );
        assert!(lr(999) < 1e-8, "near zero at the end");
        assert!(
            (1..1000).all(|s| s < 50 || lr(s) <= lr(s - 1)),
            "monotone after warm-up"
        );
        assert_eq!(scheduled_lr(Schedule::Constant, 1e-3, 500, 1000, 84), 1e-3);
    }

    /// Two steps on a three-element parameter against Adam written out in f64: the moments,
    /// both bias corrections and the L2 decay added to the gradient.
    #[test]
    fn adam_steps_as_written() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[3]);
        tch::no_grad(|| {
            w.shallow_clone()
                .copy_(&Tensor::from_slice(&[0.5f32, -1.0, 2.0]))
        });
        let mut adam = Adam::new(&vs, 0.1, 0.5);
        let (lr, wd) = (0.1f64, 0.5f64);
        let mut want = [0.5f64, -1.0, 2.0];
        let (mut m, mut v) = ([0f64; 3], [0f64; 3]);
        for t in 1..=2 {
            adam.zero_grad();
            // d/dw of sum(w * k) = k, with k = 1, 2, 3: the decay is what changes between steps.
            let k = Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
            (&w * &k).sum(tch::Kind::Float).backward();
            adam.step();
            for i in 0..3 {
                let g = (i + 1) as f64 + wd * want[i];
                m[i] = BETAS.0 * m[i] + (1.0 - BETAS.0) * g;
                v[i] = BETAS.1 * v[i] + (1.0 - BETAS.1) * g * g;
                let m_hat = m[i] / (1.0 - BETAS.0.powi(t));
                let v_hat = v[i] / (1.0 - BETAS.1.powi(t));
                want[i] -= lr * m_hat / (v_hat.sqrt() + EPS);
            }
        }
        let got = Vec::<f32>::try_from(&w).unwrap();
        for i in 0..3 {
            assert!(
                (got[i] as f64 - want[i]).abs() < 1e-5,
                "{got:?} against {want:?}"
            );
        }
    }
}
