//! The settings a run is started with, declared once. `Settings` is what clap derives the
//! training flags from (so `lnmc train --help` lists exactly these), what validation checks and
//! what a run's config.json records; `TABLE` gives each setting its name, its form label and
//! its text in both directions, and the Train form, the comparison legend and the export
//! columns are all drawn from it.
//!
//! Adding a setting: a field here (or in `Hyper`) with its `#[arg]`, a row in `TABLE`, and
//! where config.json keeps it. The test at the bottom fails until all three agree.

use serde::{Deserialize, Serialize};

pub use crate::choice::{choice, name, names};
use crate::data::intensity::Intensity;
use crate::data::split::SplitKind;
use crate::error::{Error, Result};
use crate::model::Architecture;
use crate::types::{
    Augment, Balance, DeviceChoice, Hyper, Numeric, Precision, RunConfig, RunDevice, Schedule,
};

/// Everything a user chooses for a new run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct Settings {
    #[command(flatten)]
    pub hyper: Hyper,
    #[arg(long, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Convolutions in bf16 (master weights, loss and Adam in fp32): `auto` where the hardware
    /// computes bf16 natively (CUDA; CPUs with AMX-BF16 or AVX512-BF16).
    #[arg(long, value_enum, default_value_t)]
    pub precision: Precision,
    /// `percentile` (per patch 2–98 %, upstream) or `window:LO,HI`, a fixed window in the data's
    /// own units (HU for CT: e.g. window:-1000,400; `hu:LO,HI` reads the same).
    #[arg(long, value_parser = Intensity::parse_flag, default_value = "percentile")]
    pub intensity: Intensity,
    /// Default: `group` (whole nodules on one side) when the data has nodule ids or inferred
    /// groups (`lnmc groups`), else `stratified`.
    #[arg(long, value_enum)]
    pub split: Option<SplitKind>,
    /// Leave out of training and validation the patches flagged as doubtful labels in the
    /// dashboard (FILE.review.csv); config.json records how many.
    #[arg(long)]
    pub exclude_flagged: bool,
    /// Run name (default: a UTC timestamp).
    #[arg(long = "run", value_name = "NAME")]
    pub name: Option<String>,
}

impl Settings {
    /// The same check for the CLI's options and the dashboard's form; messages name the option.
    pub fn validate(&self) -> Result<()> {
        self.hyper.validate()?;
        if let Some(name) = &self.name {
            crate::files::check_run_name(name)?;
        }
        Ok(())
    }

    /// What a run was started with, read back from its config.json: the device and precision
    /// as they were resolved, the split as it was chosen.
    pub fn of_run(c: &RunConfig) -> Settings {
        Settings {
            hyper: c.hyper.clone(),
            device: match c.device {
                RunDevice::Cuda(_) => DeviceChoice::Cuda,
                RunDevice::Cpu => DeviceChoice::Cpu,
            },
            precision: match c.precision {
                Numeric::Fp32 => Precision::Fp32,
                Numeric::Bf16 => Precision::Bf16,
            },
            intensity: c.intensity,
            split: Some(c.split),
            exclude_flagged: c.excluded_flagged.is_some(),
            name: Some(c.name.clone()),
        }
    }

    /// (key, value text) of every setting in `TABLE` order that tells runs apart: the legend of
    /// a comparison and the columns of an export.
    pub fn described(&self) -> Vec<(&'static str, String)> {
        TABLE
            .iter()
            .filter(|s| s.compared)
            .map(|s| (s.key, (s.get)(self)))
            .collect()
    }

    /// Sets the setting called `key` from its text, as the form and `lnmc sweep`-style
    /// overrides write it; the error names the setting.
    pub fn set(&mut self, key: &str, text: &str) -> Result<()> {
        let setting = Setting::find(key).ok_or_else(|| {
            let keys: Vec<&str> = TABLE.iter().map(|s| s.key).collect();
            Error::input(format!(
                "{key}: no such setting (one of {})",
                keys.join(", ")
            ))
        })?;
        (setting.set)(self, text.trim())
            .map_err(|why| Error::input(format!("{}: '{text}' {why}", setting.label)))
    }
}

/// How the form edits a setting.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    /// Typed in.
    Text,
    /// Picked with ←→ among these names.
    Choice(fn() -> Vec<String>),
}

/// One setting: its names and its text in both directions.
pub struct Setting {
    /// Its key in config.json and its column in exports ("batch_size").
    pub key: &'static str,
    /// Its flag on `lnmc train` ("--batch-size").
    pub flag: &'static str,
    /// Its label in the Train form.
    pub label: &'static str,
    pub input: Input,
    pub get: fn(&Settings) -> String,
    /// Parses the text into the settings; the error says why ("is not a number").
    pub set: fn(&mut Settings, &str) -> std::result::Result<(), String>,
    /// Part of the legend and the export columns (the run's name is its label already).
    pub compared: bool,
}

impl Setting {
    pub fn find(key: &str) -> Option<&'static Setting> {
        TABLE.iter().find(|s| s.key == key)
    }

    /// The names offered by a choice setting; empty for one typed in.
    pub fn choices(&self) -> Vec<String> {
        match self.input {
            Input::Choice(names) => names(),
            Input::Text => Vec::new(),
        }
    }
}

/// Every setting, in the form's order.
pub const TABLE: &[Setting] = &[
    Setting {
        key: "epochs",
        flag: "--epochs",
        label: "epochs",
        input: Input::Text,
        get: |s| s.hyper.epochs.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.epochs = v),
        compared: true,
    },
    Setting {
        key: "batch_size",
        flag: "--batch-size",
        label: "batch size",
        input: Input::Text,
        get: |s| s.hyper.batch_size.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.batch_size = v),
        compared: true,
    },
    Setting {
        key: "lr",
        flag: "--lr",
        label: "lr",
        input: Input::Text,
        get: |s| s.hyper.lr.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.lr = v),
        compared: true,
    },
    Setting {
        key: "weight_decay",
        flag: "--weight-decay",
        label: "weight decay",
        input: Input::Text,
        get: |s| s.hyper.weight_decay.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.weight_decay = v),
        compared: true,
    },
    Setting {
        key: "dropout",
        flag: "--dropout",
        label: "dropout",
        input: Input::Text,
        get: |s| s.hyper.dropout.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.dropout = v),
        compared: true,
    },
    Setting {
        key: "seed",
        flag: "--seed",
        label: "seed",
        input: Input::Text,
        get: |s| s.hyper.seed.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.seed = v),
        compared: true,
    },
    Setting {
        key: "augment",
        flag: "--augment",
        label: "augment",
        input: Input::Choice(names::<Augment>),
        get: |s| name(s.hyper.augment),
        set: |s, t| choice(t).map(|v| s.hyper.augment = v),
        compared: true,
    },
    Setting {
        key: "schedule",
        flag: "--schedule",
        label: "schedule",
        input: Input::Choice(names::<Schedule>),
        get: |s| name(s.hyper.schedule),
        set: |s, t| choice(t).map(|v| s.hyper.schedule = v),
        compared: true,
    },
    Setting {
        key: "balance",
        flag: "--balance",
        label: "balance",
        input: Input::Choice(names::<Balance>),
        get: |s| name(s.hyper.balance),
        set: |s, t| choice(t).map(|v| s.hyper.balance = v),
        compared: true,
    },
    Setting {
        key: "label_smoothing",
        flag: "--label-smoothing",
        label: "smoothing",
        input: Input::Text,
        get: |s| s.hyper.label_smoothing.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.label_smoothing = v),
        compared: true,
    },
    Setting {
        key: "early_stop",
        flag: "--early-stop",
        label: "early stop",
        input: Input::Text,
        get: |s| s.hyper.early_stop.map_or(OFF.into(), |n| n.to_string()),
        set: |s, t| {
            s.hyper.early_stop = match t {
                OFF | "" => None,
                _ => Some(number(t)?),
            };
            Ok(())
        },
        compared: true,
    },
    Setting {
        key: "model",
        flag: "--model",
        label: "model",
        input: Input::Choice(names::<Architecture>),
        get: |s| name(s.hyper.model),
        set: |s, t| choice(t).map(|v| s.hyper.model = v),
        compared: true,
    },
    Setting {
        key: "context",
        flag: "--context",
        label: "context",
        input: Input::Text,
        get: |s| s.hyper.context.to_string(),
        set: |s, t| number(t).map(|v| s.hyper.context = v),
        compared: true,
    },
    Setting {
        key: "split",
        flag: "--split",
        label: "split",
        input: Input::Choice(|| with_auto(names::<SplitKind>())),
        get: |s| s.split.map_or(AUTO.into(), name),
        set: |s, t| {
            s.split = match t {
                AUTO => None,
                _ => Some(choice(t)?),
            };
            Ok(())
        },
        compared: true,
    },
    Setting {
        key: "intensity",
        flag: "--intensity",
        label: "intensity",
        input: Input::Text,
        get: |s| s.intensity.name(),
        set: |s, t| {
            s.intensity = Intensity::parse(t).map_err(|_| Intensity::EXPECTED.to_string())?;
            Ok(())
        },
        compared: true,
    },
    Setting {
        key: "excluded_flagged",
        flag: "--exclude-flagged",
        label: "skip flagged",
        input: Input::Choice(|| vec![NO.into(), YES.into()]),
        get: |s| if s.exclude_flagged { YES } else { NO }.into(),
        set: |s, t| {
            s.exclude_flagged = match t {
                YES => true,
                NO => false,
                _ => return Err(format!("is not {YES} or {NO}")),
            };
            Ok(())
        },
        compared: true,
    },
    Setting {
        key: "device",
        flag: "--device",
        label: "device",
        input: Input::Choice(names::<DeviceChoice>),
        get: |s| name(s.device),
        set: |s, t| choice(t).map(|v| s.device = v),
        compared: true,
    },
    Setting {
        key: "precision",
        flag: "--precision",
        label: "precision",
        input: Input::Choice(names::<Precision>),
        get: |s| name(s.precision),
        set: |s, t| choice(t).map(|v| s.precision = v),
        compared: true,
    },
    Setting {
        key: "name",
        flag: "--run",
        label: "run name",
        input: Input::Text,
        get: |s| s.name.clone().unwrap_or_default(),
        set: |s, t| {
            s.name = Some(t.to_string()).filter(|t| !t.is_empty());
            Ok(())
        },
        compared: false,
    },
];

/// A setting left to lnmc: the split that suits the data.
const AUTO: &str = "auto";
/// No early stop.
const OFF: &str = "off";
const YES: &str = "yes";
const NO: &str = "no";

fn number<T: std::str::FromStr>(text: &str) -> std::result::Result<T, String> {
    text.parse().map_err(|_| "is not a number".to_string())
}

fn with_auto(mut names: Vec<String>) -> Vec<String> {
    names.insert(0, AUTO.into());
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataInfo;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        settings: Settings,
    }

    /// A config with every optional record present, so its JSON shows every key it can hold.
    fn full_config() -> RunConfig {
        RunConfig {
            lnmc_version: "0".into(),
            name: "r".into(),
            created: "t".into(),
            run_dir: "runs/r".into(),
            checkpoint_dir: "checkpoint/r".into(),
            data: DataInfo {
                path: "d.h5".into(),
                sha256: "0".into(),
                synthetic: true,
                samples: 1,
                height: 1,
                width: 1,
                normalised_mean: 0.0,
                normalised_std: 1.0,
            },
            intensity: Intensity::Fixed {
                low: -1000.0,
                high: 400.0,
            },
            split: SplitKind::Group,
            split_facts: None,
            split_seed: 0,
            fold: Some(crate::data::split::Fold { k: 1, of: 3 }),
            excluded_flagged: Some(2),
            train_samples: 1,
            val_samples: 1,
            hyper: Hyper {
                early_stop: Some(4),
                ..Hyper::default()
            },
            device: crate::types::RunDevice::Cuda(0),
            precision: crate::types::Numeric::Bf16,
            threads: 1,
        }
    }

    /// Every key config.json records, the hyper-parameters' own keys included.
    fn config_keys(c: &RunConfig) -> Vec<String> {
        let json = serde_json::to_value(c).unwrap();
        let mut keys = Vec::new();
        for (key, value) in json.as_object().unwrap() {
            match (key.as_str(), value) {
                ("hyper", serde_json::Value::Object(hyper)) => keys.extend(hyper.keys().cloned()),
                _ => keys.push(key.clone()),
            }
        }
        keys
    }

    #[test]
    fn every_recorded_setting_has_a_flag_a_field_a_legend_and_a_column() {
        let config = full_config();
        let settings: Vec<String> = config_keys(&config)
            .into_iter()
            .filter(|k| !RunConfig::NOT_SETTINGS.contains(&k.as_str()))
            .collect();
        let table: Vec<&str> = TABLE.iter().map(|s| s.key).collect();
        for key in &settings {
            assert!(
                table.contains(&key.as_str()),
                "config.json records '{key}', which settings::TABLE does not declare (or add it to RunConfig::NOT_SETTINGS)"
            );
        }
        let flags: Vec<String> = Flags::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        let legend = Settings::of_run(&config).described();
        for setting in TABLE {
            assert!(
                settings.contains(&setting.key.to_string()),
                "'{}' is declared but config.json does not record it",
                setting.key
            );
            assert!(
                flags.contains(&setting.flag.to_string()),
                "no CLI flag {}",
                setting.flag
            );
            if setting.compared {
                assert!(
                    legend.iter().any(|(k, _)| *k == setting.key),
                    "'{}' missing from the legend and export columns",
                    setting.key
                );
            }
        }
        // And every flag is a setting: nothing is parsed that a run would not record.
        for flag in &flags {
            assert!(
                TABLE.iter().any(|s| s.flag == flag),
                "flag {flag} is not in settings::TABLE"
            );
        }
    }

    #[test]
    fn text_round_trips_and_defaults_agree() {
        let parsed = Flags::from_arg_matches(&Flags::command().get_matches_from(["x"])).unwrap();
        assert_eq!(
            parsed.settings,
            Settings::default(),
            "clap's defaults are Default's"
        );
        let mut of_run = Settings::of_run(&full_config());
        let copy = of_run.clone();
        let mut rebuilt = Settings::default();
        for s in TABLE {
            rebuilt.set(s.key, &(s.get)(&copy)).unwrap();
        }
        assert_eq!(rebuilt, copy, "each setting reads back what it shows");
        for s in TABLE {
            if let Input::Choice(_) = s.input {
                for c in s.choices() {
                    of_run.set(s.key, &c).unwrap();
                    assert_eq!((s.get)(&of_run), c, "{}", s.key);
                }
            }
        }
        let e = of_run.set("lr", "fast").unwrap_err().to_string();
        assert_eq!(e, "lr: 'fast' is not a number");
        let e = of_run.set("augment", "d8").unwrap_err().to_string();
        assert_eq!(e, "augment: 'd8' is not one of none, d4");
        assert!(of_run.set("colour", "red").is_err());
    }
}
