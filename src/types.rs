//! The plain types every part of lnmc shares: hyper-parameters, the device and precision
//! choices, a run's recorded configuration and one epoch's record. Plain data: it imports only
//! `data` (for the intensity and split kinds) and `error`; what opens a device or reads the CPU's
//! flags lives in `compute`; the architecture's name lives with the networks, in `model`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::intensity::Intensity;
use crate::data::split::{Fold, SplitKind};
use crate::error::{Error, Result};
use crate::model::{Architecture, Spec};

/// Hyper-parameters, defaulting to upstream's recipe. The options upstream lacks (augment,
/// schedule, label smoothing, early stop, balance) default to off, and read as off from the
/// config of a run that predates them. Their flags are derived from these fields (see
/// `settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct Hyper {
    #[arg(long, default_value_t = Hyper::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = Hyper::default().batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = Hyper::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = Hyper::default().weight_decay)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = Hyper::default().dropout)]
    pub dropout: f64,
    #[arg(long, default_value_t = Hyper::default().seed)]
    pub seed: u64,
    /// `d4`: each patch in a random one of the square's 8 symmetries (turns, flips).
    #[serde(default)]
    #[arg(long, value_enum, default_value_t)]
    pub augment: Augment,
    /// `cosine`: linear warm-up over the first 5 % of steps, then cosine decay to zero.
    #[serde(default)]
    #[arg(long, value_enum, default_value_t)]
    pub schedule: Schedule,
    /// Label smoothing ε of the training loss: cross-entropy against (1 − ε) on the label and
    /// ε/2 on each class.
    #[serde(default)]
    #[arg(long, default_value_t = Hyper::default().label_smoothing)]
    pub label_smoothing: f64,
    /// Stop when validation AUC has not improved for N epochs (the best checkpoint is kept).
    #[serde(default)]
    #[arg(long, value_name = "N")]
    pub early_stop: Option<usize>,
    /// For a rare class: `weighted` loss (each class weighs the same in total) or
    /// class-balanced `sample`-ing (with replacement); `none` as upstream.
    #[serde(default)]
    #[arg(long, value_enum, default_value_t)]
    pub balance: Balance,
    /// The network: upstream's `convnet`, or `resnet` (a small residual network, 0.70 M
    /// parameters).
    #[serde(default)]
    #[arg(long, value_enum, default_value_t)]
    pub model: Architecture,
    /// Give each patch with its nearest K − 1 slices of the same nodule as input channels (K
    /// odd; needs nodule ids).
    #[serde(default = "one_slice")]
    #[arg(long, value_name = "K", default_value_t = Hyper::default().context)]
    pub context: usize,
}

fn one_slice() -> usize {
    1
}

/// How training treats a rare class (candidate files hold ≈ 1 malignant patch in 500).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// As upstream: every patch weighs the same; each epoch is a shuffle of the training split.
    #[default]
    None,
    /// The loss weighs each class by N / (2 × its count in the training split): both classes
    /// weigh the same in total.
    Weighted,
    /// Each epoch draws as many patches as the training split holds, with replacement, both
    /// classes equally likely: the rare class is seen as often as the common one.
    Sample,
}

/// Training-time augmentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Augment {
    /// As upstream: none.
    #[default]
    None,
    /// Each patch through a random one of the square's 8 symmetries (90° turns and flips):
    /// a nodule's malignancy does not depend on its orientation in the slice.
    D4,
}

/// The learning rate over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// As upstream: `lr` throughout.
    #[default]
    Constant,
    /// A linear warm-up over the first 5 % of steps (at most one epoch), then a cosine decay
    /// to zero at the last step.
    Cosine,
}

impl Default for Hyper {
    fn default() -> Self {
        Hyper {
            epochs: 150,
            batch_size: 64,
            lr: 1e-3,
            weight_decay: 3e-4,
            dropout: 0.3,
            seed: 0,
            augment: Augment::None,
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            early_stop: None,
            balance: Balance::None,
            model: Architecture::Convnet,
            context: 1,
        }
    }
}

impl Hyper {
    /// The network these settings train.
    pub fn spec(&self) -> Spec {
        Spec {
            architecture: self.model,
            context: self.context,
        }
    }

    /// The same check for the CLI's options and the dashboard's form; messages name the option.
    pub fn validate(&self) -> Result<()> {
        let bad = |option: &str, value: String, want: &str| {
            Err(Error::input(format!("--{option} {value}: must be {want}")))
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch-size", "0".into(), "at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", self.lr.to_string(), "a positive number");
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "weight-decay",
                self.weight_decay.to_string(),
                "zero or positive",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(
                "label-smoothing",
                self.label_smoothing.to_string(),
                "in [0, 1)",
            );
        }
        if self.early_stop == Some(0) {
            return bad("early-stop", "0".into(), "at least 1 epoch of patience");
        }
        if let Err(why) = crate::data::context::check(self.context) {
            return bad("context", self.context.to_string(), &why);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// CUDA when a GPU is visible, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

/// The arithmetic of convolutions and matmuls. Master weights, the loss, softmax, the metrics
/// and Adam stay in fp32 whatever is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bf16 where the hardware computes it natively (CUDA GPUs; CPUs with AMX-BF16 or
    /// AVX512-BF16), fp32 elsewhere.
    #[default]
    Auto,
    Fp32,
    Bf16,
}

/// Everything needed to reproduce a run or to evaluate its checkpoints the same way: a run's
/// config.json, and the metadata of each of its checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub lnmc_version: String,
    pub name: String,
    pub created: String,
    pub run_dir: PathBuf,
    pub checkpoint_dir: PathBuf,
    pub data: DataInfo,
    pub intensity: Intensity,
    pub split: SplitKind,
    /// The split as data (what, which groups, possibly optimistic and why); absent in the
    /// config.json of an earlier lnmc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_facts: Option<crate::data::split::Facts>,
    pub split_seed: u64,
    /// Cross-validation: the fold this run validates on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fold: Option<Fold>,
    /// `--exclude-flagged`: how many patches flagged as doubtful labels were left out of
    /// training and validation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded_flagged: Option<usize>,
    pub train_samples: usize,
    pub val_samples: usize,
    pub hyper: Hyper,
    /// Where it trained, as resolved ("cpu", "cuda:0" in the file).
    pub device: RunDevice,
    /// What convolutions computed in ("fp32" or "bf16"; absent: fp32, lnmc before 0.2).
    #[serde(default)]
    pub precision: Numeric,
    pub threads: usize,
}

/// The device a run trained on, as resolved from the user's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunDevice {
    Cpu,
    Cuda(usize),
}

impl std::fmt::Display for RunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            RunDevice::Cpu => write!(f, "cpu"),
            RunDevice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl std::str::FromStr for RunDevice {
    type Err = String;

    /// `cpu`, `cuda` or `cuda:N`, as config.json writes it.
    fn from_str(text: &str) -> std::result::Result<RunDevice, String> {
        match text.split_once(':') {
            None if text == "cpu" => Ok(RunDevice::Cpu),
            None if text == "cuda" => Ok(RunDevice::Cuda(0)),
            Some(("cuda", i)) => i
                .parse()
                .map(RunDevice::Cuda)
                .map_err(|_| format!("{text}: not a CUDA device number")),
            _ => Err(format!("{text}: not a device (cpu or cuda:N)")),
        }
    }
}

impl Serialize for RunDevice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunDevice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<RunDevice, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What a run's convolutions and matmuls computed in, as resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Numeric {
    #[default]
    Fp32,
    Bf16,
}

impl Numeric {
    pub fn name(self) -> &'static str {
        match self {
            Numeric::Fp32 => "fp32",
            Numeric::Bf16 => "bf16",
        }
    }
}

impl RunConfig {
    /// The keys of config.json that are facts about a run, not settings it was started with
    /// (those are in `settings::TABLE`): where it lives, what data it read, how it split, what
    /// it found. `fold` belongs to `--folds`, which starts a cross-validation of runs.
    pub const NOT_SETTINGS: &'static [&'static str] = &[
        "lnmc_version",
        "created",
        "run_dir",
        "checkpoint_dir",
        "data",
        "split_seed",
        "split_facts",
        "fold",
        "train_samples",
        "val_samples",
        "threads",
    ];

    /// What the run's split is and whether its numbers may be optimistic.
    pub fn facts(&self) -> crate::data::split::Facts {
        self.split_facts
            .clone()
            .unwrap_or_else(|| crate::data::split::Facts::recorded_as(self.split))
    }
}

fn nan() -> f64 {
    f64::NAN
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub path: PathBuf,
    pub sha256: String,
    pub synthetic: bool,
    pub samples: usize,
    pub height: usize,
    pub width: usize,
    /// Mean and standard deviation of the normalised training pixels.
    pub normalised_mean: f64,
    pub normalised_std: f64,
}

/// One row of metrics.csv. Accuracies are fractions in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub val_f1: f64,
    pub val_auc: f64,
    /// Balanced accuracy and PR-AUC of the validation: what stays meaningful when one class
    /// is rare (absent, hence NaN, in the files of lnmc before them).
    #[serde(default = "nan")]
    pub val_bal_acc: f64,
    #[serde(default = "nan")]
    pub val_pr_auc: f64,
    /// Validation scored per nodule (the mean probability of its slices), when the data has
    /// nodule groups; empty in metrics.csv otherwise and in the files of lnmc 0.1.0.
    #[serde(default)]
    pub val_nodule_acc: Option<f64>,
    #[serde(default)]
    pub val_nodule_f1: Option<f64>,
    #[serde(default)]
    pub val_nodule_auc: Option<f64>,
    pub lr: f64,
    /// Wall time of the epoch, validation and checkpointing included.
    pub seconds: f64,
    /// Training throughput of the epoch (forward, backward and step only). Absent (0) in the
    /// metrics.csv of lnmc 0.1.0.
    #[serde(default)]
    pub samples_per_s: f64,
}

/// A measured column of metrics.csv: what charts, sweeps, exports and cross-validation
/// summaries take by name. The names are the file's; nothing else spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    TrainLoss,
    TrainAcc,
    ValLoss,
    ValAcc,
    ValF1,
    ValAuc,
    ValBalAcc,
    ValPrAuc,
    NoduleAcc,
    NoduleF1,
    NoduleAuc,
    Lr,
    Seconds,
    SamplesPerS,
}

impl Recorded {
    /// Every measured column, in metrics.csv's order.
    pub const ALL: [Recorded; 14] = [
        Recorded::TrainLoss,
        Recorded::TrainAcc,
        Recorded::ValLoss,
        Recorded::ValAcc,
        Recorded::ValF1,
        Recorded::ValAuc,
        Recorded::ValBalAcc,
        Recorded::ValPrAuc,
        Recorded::NoduleAcc,
        Recorded::NoduleF1,
        Recorded::NoduleAuc,
        Recorded::Lr,
        Recorded::Seconds,
        Recorded::SamplesPerS,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Recorded::TrainLoss => "train_loss",
            Recorded::TrainAcc => "train_acc",
            Recorded::ValLoss => "val_loss",
            Recorded::ValAcc => "val_acc",
            Recorded::ValF1 => "val_f1",
            Recorded::ValAuc => "val_auc",
            Recorded::ValBalAcc => "val_bal_acc",
            Recorded::ValPrAuc => "val_pr_auc",
            Recorded::NoduleAcc => "val_nodule_acc",
            Recorded::NoduleF1 => "val_nodule_f1",
            Recorded::NoduleAuc => "val_nodule_auc",
            Recorded::Lr => "lr",
            Recorded::Seconds => "seconds",
            Recorded::SamplesPerS => "samples_per_s",
        }
    }

    /// Its value in `r` (None where it was not measured).
    pub fn of(self, r: &EpochRecord) -> Option<f64> {
        match self {
            Recorded::TrainLoss => Some(r.train_loss),
            Recorded::TrainAcc => Some(r.train_acc),
            Recorded::ValLoss => Some(r.val_loss),
            Recorded::ValAcc => Some(r.val_acc),
            Recorded::ValF1 => Some(r.val_f1),
            Recorded::ValAuc => Some(r.val_auc),
            Recorded::ValBalAcc => Some(r.val_bal_acc),
            Recorded::ValPrAuc => Some(r.val_pr_auc),
            Recorded::NoduleAcc => r.val_nodule_acc,
            Recorded::NoduleF1 => r.val_nodule_f1,
            Recorded::NoduleAuc => r.val_nodule_auc,
            Recorded::Lr => Some(r.lr),
            Recorded::Seconds => Some(r.seconds),
            Recorded::SamplesPerS => Some(r.samples_per_s),
        }
    }

    /// Whether a higher value is the better one (a loss and the time taken are lower).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Recorded::TrainLoss | Recorded::ValLoss | Recorded::Seconds
        )
    }
}

impl EpochRecord {
    /// The best epoch of a history: highest validation accuracy, the earliest on a tie. The
    /// one rule behind best.safetensors, the status panel and the Runs table.
    pub fn best(history: &[EpochRecord]) -> Option<&EpochRecord> {
        history.iter().reduce(|a, b| if b.beats(a) { b } else { a })
    }

    /// Whether this epoch would replace `best` as the best one.
    pub fn beats(&self, best: &EpochRecord) -> bool {
        self.val_acc > best.val_acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: usize, val_acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 0.5,
            train_acc: 0.5,
            val_loss: 0.5,
            val_acc,
            val_f1: 0.5,
            val_auc: 0.5,
            val_bal_acc: 0.5,
            val_pr_auc: 0.5,
            val_nodule_acc: None,
            val_nodule_f1: None,
            val_nodule_auc: None,
            lr: 1e-3,
            seconds: 1.0,
            samples_per_s: 1.0,
        }
    }

    #[test]
    fn best_epoch_is_the_first_with_the_highest_accuracy() {
        let history = [at(1, 0.7), at(2, 0.8), at(3, 0.8), at(4, 0.75)];
        assert_eq!(EpochRecord::best(&history).unwrap().epoch, 2);
        assert!(EpochRecord::best(&[]).is_none());
        assert!(!at(3, 0.8).beats(&at(2, 0.8)));
    }

    #[test]
    fn a_run_s_device_and_precision_read_as_written_and_old_files_still_read() {
        for (text, device) in [
            ("cpu", RunDevice::Cpu),
            ("cuda:0", RunDevice::Cuda(0)),
            ("cuda:3", RunDevice::Cuda(3)),
        ] {
            let json = format!("\"{text}\"");
            assert_eq!(serde_json::from_str::<RunDevice>(&json).unwrap(), device);
            assert_eq!(serde_json::to_string(&device).unwrap(), json);
        }
        assert_eq!("cuda".parse::<RunDevice>(), Ok(RunDevice::Cuda(0)));
        assert!(serde_json::from_str::<RunDevice>("\"tpu:0\"").is_err());
        assert!(serde_json::from_str::<RunDevice>("\"cuda:x\"").is_err());
        assert_eq!(serde_json::to_string(&Numeric::Bf16).unwrap(), "\"bf16\"");
        // config.json of lnmc before 0.2 has no precision: fp32.
        let mut config: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/config.json")).unwrap();
        config.as_object_mut().unwrap().remove("precision");
        let config: RunConfig = serde_json::from_value(config).unwrap();
        assert_eq!(
            (config.device, config.precision),
            (RunDevice::Cpu, Numeric::Fp32)
        );
    }
}
