//! The steps of training one epoch: shuffle and fit the training split in batches, validate,
//! save the checkpoints. `Model` holds what they change: the network's weights and Adam's state.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tch::nn::ModuleT;
use tch::{nn, Device, Kind, Tensor};

use super::{Control, Event, Session};
use crate::checkpoint::{self, Info};
use crate::data::MALIGNANT;
use crate::error::{Error, Result};
use crate::inference::{self, index_tensor};
use crate::metrics::{self, malignant_probability};
use crate::model::Net;
use crate::optim::{scheduled_lr, Adam};
use crate::run::system::Doing;
use crate::symmetry;
use crate::types::{Augment, Balance, EpochRecord};

/// Batches between two reads of the training loss from the device.
const READBACK: usize = 8;

/// (benign, malignant) patches among `indices`, each at least 1 (a weight's denominator).
fn class_counts(indices: &[usize], labels: &[u8]) -> [usize; 2] {
    let malignant = indices.iter().filter(|&&i| labels[i] == MALIGNANT).count();
    [(indices.len() - malignant).max(1), malignant.max(1)]
}

/// `Balance::Weighted`'s loss weights: N / (2 × count) per class.
fn class_weights(train: &[usize], labels: &[u8]) -> [f32; 2] {
    class_counts(train, labels).map(|c| train.len() as f32 / (2 * c) as f32)
}

/// The patches of one epoch, in order, from the generator as seeded for the epoch: a shuffle
/// of the training split, or for `Balance::Sample` as many draws with replacement, each class
/// equally likely.
fn epoch_order(balance: Balance, train: &[usize], labels: &[u8]) -> Tensor {
    let n = train.len() as i64;
    let positions = match balance {
        Balance::Sample => {
            let counts = class_counts(train, labels);
            let weights: Vec<f64> = train
                .iter()
                .map(|&i| 1.0 / counts[labels[i] as usize] as f64)
                .collect();
            Tensor::from_slice(&weights).multinomial(n, true)
        }
        Balance::None | Balance::Weighted => Tensor::randperm(n, (Kind::Int64, Device::Cpu)),
    };
    index_tensor(train, Device::Cpu).index_select(0, &positions)
}

pub(super) struct Model {
    vs: nn::VarStore,
    net: Net,
    adam: Adam,
    /// `LNMC_INJECT_FAULT=hang` (debug builds, see `fault`), for the tests of the stall rule only: the second epoch hangs
    /// after its first read-back batches (after its first batch when it has no more) until the
    /// run is stopped, as a dead mount or a stuck read would.
    hang: bool,
}

/// What fitting one epoch measured.
pub(super) struct Fit {
    /// The learning rate of the epoch's last step.
    lr: f64,
    loss: f64,
    accuracy: f64,
    seconds: f64,
    started: Instant,
}

impl Model {
    /// A network initialised from the run's seed, with the weights and Adam state of the run's
    /// last checkpoint when resuming.
    pub(super) fn build(s: &Session) -> Result<Model> {
        let hyper = &s.config.hyper;
        tch::manual_seed(hyper.seed as i64);
        let mut vs = nn::VarStore::new(s.device);
        let mut net = Net::new(&vs.root(), hyper.spec(), hyper.dropout);
        net.set_precision(s.compute.kind);
        let mut adam = Adam::new(&vs, hyper.lr, hyper.weight_decay);
        if let Some(ckpt) = &s.resume {
            let last = s.run.last();
            checkpoint::restore(&mut vs, ckpt, &last, hyper.spec())?;
            let info = ckpt
                .info
                .as_ref()
                .ok_or_else(|| Error::file(&last, "has no lnmc metadata"))?;
            adam.load_state(info.adam_step, &ckpt.tensors);
        }
        let hang = crate::fault::injected() == Some(crate::fault::Fault::Hang);
        Ok(Model {
            vs,
            net,
            adam,
            hang,
        })
    }

    /// One pass over the training split in shuffled batches, reporting each batch's loss.
    /// None when `control.stop` was set before a batch; an error when the loss stops being a
    /// number (the epoch is then never saved: best.safetensors and last.safetensors keep the
    /// last good weights).
    pub(super) fn train_epoch(
        &mut self,
        s: &Session,
        epoch: usize,
        control: &Control,
        emit: &mut dyn FnMut(Event),
    ) -> Result<Option<Fit>> {
        let started = Instant::now();
        let hyper = &s.config.hyper;
        let (n_train, bs, batches) = (s.split.train.len(), hyper.batch_size, s.batches());
        // Seeding per epoch makes the shuffle and the dropout masks of epoch k the same whether
        // the run got there in one go or through a resume.
        tch::manual_seed(hyper.seed as i64 * 1_000_003 + epoch as i64);
        let order = epoch_order(hyper.balance, &s.split.train, &s.host_labels).to_device(s.device);
        let class_weights = (hyper.balance == Balance::Weighted).then(|| {
            Tensor::from_slice(&class_weights(&s.split.train, &s.host_labels)).to_device(s.device)
        });
        // Losses and hits stay on the device and are read back every READBACK batches: on a GPU
        // a read per step would stall the queue of kernels.
        let mut loss_sum = Tensor::zeros([], (Kind::Double, s.device));
        let mut correct = Tensor::zeros([], (Kind::Int64, s.device));
        let mut pending: Vec<Tensor> = Vec::with_capacity(READBACK);
        s.activity.now(Doing::Training {
            epoch,
            batch: 0,
            batches,
        });
        for batch in 0..batches {
            let hang = self.hang && epoch == 2 && batch == READBACK.min(batches - 1).max(1);
            if stopped(control, hang) {
                return Ok(None);
            }
            let len = bs.min(n_train - batch * bs);
            let idx = order.narrow(0, (batch * bs) as i64, len as i64);
            let ys = s.patches.labels.index_select(0, &idx);
            let mut xs = s.patches.batch(&idx);
            if hyper.augment == Augment::D4 {
                xs = symmetry::random(&xs);
            }
            let logits = self.net.forward_t(&xs, true);
            let loss = loss(&logits, &ys, hyper.label_smoothing, class_weights.as_ref());
            self.adam.lr = scheduled_lr(
                hyper.schedule,
                hyper.lr,
                (epoch - 1) * batches + batch,
                hyper.epochs * batches,
                batches,
            );
            self.adam.zero_grad();
            loss.backward();
            self.adam.step();
            let loss = loss.detach();
            loss_sum += &loss * len as f64;
            correct += logits.argmax(-1, false).eq_tensor(&ys).sum(Kind::Int64);
            pending.push(loss);
            if pending.len() == READBACK || batch + 1 == batches {
                let seen = batch * bs + len;
                let at = (epoch, batch + 1, batches);
                read_back(&mut pending, s, at, (seen, started), emit)?;
            }
        }
        Ok(Some(Fit {
            lr: self.adam.lr,
            loss: loss_sum.double_value(&[]) / n_train as f64,
            accuracy: correct.int64_value(&[]) as f64 / n_train as f64,
            seconds: started.elapsed().as_secs_f64(),
            started,
        }))
    }

    /// The epoch's record: its fit, and the metrics on the validation split.
    pub(super) fn validate(&self, s: &Session, epoch: usize, fit: &Fit) -> EpochRecord {
        let val = &s.split.val;
        let (logits, val_loss_sum) =
            inference::predict(&self.net, &s.patches, val, inference::BATCH);
        let scores: Vec<f64> = logits.iter().map(|&l| malignant_probability(l)).collect();
        let val_labels: Vec<u8> = val.iter().map(|&i| s.host_labels[i]).collect();
        let m = metrics::metrics(&val_labels, &scores);
        let nodules = s.groups.as_ref().and_then(|ids| {
            let val_ids: Vec<i64> = val.iter().map(|&i| ids[i]).collect();
            metrics::nodule_metrics(&val_labels, &scores, &val_ids)
        });
        EpochRecord {
            epoch,
            train_loss: fit.loss,
            train_acc: fit.accuracy,
            val_loss: val_loss_sum / val.len().max(1) as f64,
            val_acc: m.accuracy,
            val_f1: m.f1,
            val_auc: m.auc,
            val_bal_acc: m.balanced_accuracy,
            val_pr_auc: m.pr_auc,
            val_nodule_acc: nodules.as_ref().map(|n| n.accuracy),
            val_nodule_f1: nodules.as_ref().map(|n| n.f1),
            val_nodule_auc: nodules.as_ref().map(|n| n.auc),
            lr: fit.lr,
            seconds: fit.started.elapsed().as_secs_f64(),
            samples_per_s: s.split.train.len() as f64 / fit.seconds,
        }
    }

    /// last.safetensors (weights and Adam state, to resume from) and, for the best epoch so
    /// far, best.safetensors (weights only), each written atomically.
    pub(super) fn save(
        &self,
        s: &Session,
        epoch: usize,
        val_accuracy: f64,
        best: bool,
    ) -> Result<()> {
        let info = Info {
            config: s.config.clone(),
            epoch,
            val_accuracy,
            adam_step: self.adam.step,
        };
        let mut weights: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        if best {
            checkpoint::save(&s.run.best(), &weights, &info)?;
        }
        weights.extend(self.adam.state());
        checkpoint::save(&s.run.last(), &weights, &info)
    }
}

/// Waits while the run is paused (or, in the fault tests, made to hang); true once it is to
/// stop.
fn stopped(control: &Control, hang: bool) -> bool {
    while (hang || control.pause.load(Ordering::Relaxed)) && !control.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    control.stop.load(Ordering::Relaxed)
}

/// The batch's cross-entropy, with label smoothing and class weights where asked for.
fn loss(logits: &Tensor, ys: &Tensor, smoothing: f64, weights: Option<&Tensor>) -> Tensor {
    match (smoothing, weights) {
        // Upstream's loss, kept as it was so that its runs reproduce bit for bit.
        (0.0, None) => logits.cross_entropy_for_logits(ys),
        (eps, weights) => logits.cross_entropy_loss(ys, weights, tch::Reduction::Mean, -100, eps),
    }
}

/// The losses of the batches since the last read-back, brought to the host: the run's
/// heartbeat and activity, a stop if one is not a number, then a `Batch` event each.
/// `(epoch, done, batches)`: where the epoch stands after them; `(seen, started)`: the
/// samples trained on since the epoch started, for its rate.
fn read_back(
    pending: &mut Vec<Tensor>,
    s: &Session,
    (epoch, done, batches): (usize, usize, usize),
    (seen, started): (usize, Instant),
    emit: &mut dyn FnMut(Event),
) -> Result<()> {
    let losses = Vec::<f32>::try_from(Tensor::stack(pending, 0).to_device(Device::Cpu))
        .expect("float losses");
    pending.clear();
    let first = done - losses.len();
    s.run.heartbeat();
    s.activity.batches_done(
        losses.len(),
        Doing::Training {
            epoch,
            batch: done,
            batches,
        },
    );
    check_finite(&losses, s, epoch, first)?;
    // Measured after the read-back, which waits for the device's queue of kernels.
    let rate = seen as f64 / started.elapsed().as_secs_f64();
    for (k, loss) in losses.into_iter().enumerate() {
        emit(Event::Batch {
            epoch,
            batch: first + k + 1,
            batches,
            loss: loss as f64,
            samples_per_second: rate,
        });
    }
    Ok(())
}

/// Refuses to go on once a loss (batches `first + 1`… of the epoch) is not a number, naming
/// the last good checkpoint.
fn check_finite(losses: &[f32], s: &Session, epoch: usize, first: usize) -> Result<()> {
    let Some(k) = losses.iter().position(|l| !l.is_finite()) else {
        return Ok(());
    };
    let what = if losses[k].is_nan() {
        "NaN"
    } else {
        "infinite"
    };
    let last_good = match s.completed {
        0 => "none (no epoch completed)".to_string(),
        n => format!("{} (epoch {n})", s.run.last().display()),
    };
    Err(Error::input(format!(
        "loss became {what} at epoch {epoch} batch {}; last good checkpoint: {last_good} (a smaller --lr may help)",
        first + k + 1
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A training split of 1000 patches, 10 of them malignant (labels of rows 0..1200).
    fn rare() -> (Vec<usize>, Vec<u8>) {
        let labels: Vec<u8> = (0..1200).map(|i| u8::from(i % 100 == 0)).collect();
        ((100..1100).collect(), labels)
    }

    #[test]
    fn class_weights_make_both_classes_weigh_the_same() {
        let (train, labels) = rare();
        let [benign, malignant] = class_weights(&train, &labels);
        assert_eq!(malignant, 50.0);
        assert!((benign * 990.0 - malignant * 10.0).abs() < 1e-3);
    }

    #[test]
    fn sampling_draws_both_classes_equally_and_shuffling_keeps_each_patch_once() {
        let (train, labels) = rare();
        tch::manual_seed(3);
        let sampled = Vec::<i64>::try_from(epoch_order(Balance::Sample, &train, &labels)).unwrap();
        assert_eq!(sampled.len(), train.len());
        assert!(sampled.iter().all(|&i| train.contains(&(i as usize))));
        let malignant = sampled.iter().filter(|&&i| labels[i as usize] == 1).count();
        assert!(
            (400..600).contains(&malignant),
            "{malignant} of 1000 malignant"
        );

        let mut shuffled =
            Vec::<i64>::try_from(epoch_order(Balance::None, &train, &labels)).unwrap();
        assert_ne!(shuffled, (100..1100).collect::<Vec<i64>>(), "not shuffled");
        shuffled.sort();
        assert_eq!(shuffled, (100..1100).collect::<Vec<i64>>());
    }
}
