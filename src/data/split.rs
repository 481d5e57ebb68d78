//! 80/20 train/validation splits, saved by index with each run.

use serde::{Deserialize, Serialize};

use super::groups::Source;
use super::rng::{Mt19937, SplitMix64};
use super::{Dataset, GROUP_DATASETS, MALIGNANT};
use crate::error::{Error, Result};

pub const VAL_FRACTION: f64 = 0.2;

/// How far (as a share of the share asked) whole nodules may hold out more or less than asked
/// before a split is refused: 20 % asked, 10–30 % taken.
pub const SHARE_TOLERANCE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SplitKind {
    /// scikit-learn `train_test_split(test_size=0.2, random_state=42)`, as upstream.
    Upstream,
    /// Per-class shuffle with lnmc's seed: both sides keep the class balance.
    Stratified,
    /// Whole nodules (or patients) on one side, per class: no slice of a validation nodule is
    /// ever trained on. Needs a `nodule_id` or `patient_id` dataset.
    Group,
}

/// What every screen says where a slice-level split is used.
pub const SLICE_LEVEL_WARNING: &str =
    "slice-level split: neighbouring slices of a nodule on both sides, val accuracy optimistic";

/// What a set of scored patches is, as `Facts` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Upstream,
    Stratified,
    Group,
    /// Every patch of the file.
    All,
}

impl From<SplitKind> for Scope {
    fn from(kind: SplitKind) -> Scope {
        match kind {
            SplitKind::Upstream => Scope::Upstream,
            SplitKind::Stratified => Scope::Stratified,
            SplitKind::Group => Scope::Group,
        }
    }
}

/// The split as data: what it is, where its groups came from, and whether the numbers scored
/// on it may be optimistic, with why. config.json, cv.json, `eval --json` and the report keep
/// it whole; every text that names a split (start line, tabs, eval, report) derives from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub kind: Scope,
    pub groups: Source,
    pub optimistic: bool,
    pub why: String,
}

impl Facts {
    /// A split of `kind` on `data` as it is now (its groups and their verdict).
    pub fn of(kind: SplitKind, data: &Dataset) -> Facts {
        let groups = data
            .groups
            .as_ref()
            .map_or(Source::None, |_| data.group_source);
        let (optimistic, why) = match (kind, groups, &data.group_doubt) {
            (SplitKind::Group, Source::Inferred, Some(doubt)) => (
                true,
                format!("whole groups on one side, but the groups were inferred and are uncertain: {doubt}"),
            ),
            (SplitKind::Group, Source::Inferred, None) => (
                false,
                "whole nodules on one side; groups inferred by `lnmc groups` and judged reliable on the file's own evidence".to_string(),
            ),
            (SplitKind::Group, Source::User, _) => (
                false,
                "whole nodules on one side, by the ids of the user's CSV (lnmc groups --from)".to_string(),
            ),
            (SplitKind::Group, _, _) if data.patients.is_some() => {
                (false, "whole patients on one side, by the file's own ids".to_string())
            }
            (SplitKind::Group, _, _) => (false, "whole nodules on one side, by the file's own ids".to_string()),
            _ => (true, SLICE_LEVEL_WARNING.to_string()),
        };
        Facts {
            kind: kind.into(),
            groups,
            optimistic,
            why,
        }
    }

    /// Every patch of `data` scored. `trained_on`: whether the checkpoint's training data was
    /// this file (None: not recorded, as for a PyTorch state_dict).
    pub fn all(data: &Dataset, trained_on: Option<bool>) -> Facts {
        let (optimistic, why) = match trained_on {
            Some(true) => (true, "every patch, including those the checkpoint was trained on"),
            Some(false) => (false, "every patch of a file the checkpoint was not trained on"),
            None => (true, "every patch; the checkpoint does not record what it was trained on, so they may include its training patches"),
        };
        Facts {
            kind: Scope::All,
            groups: data
                .groups
                .as_ref()
                .map_or(Source::None, |_| data.group_source),
            optimistic,
            why: why.to_string(),
        }
    }

    /// What a split saved by an earlier lnmc, which kept only its kind, can be said to be.
    pub fn recorded_as(kind: SplitKind) -> Facts {
        Facts {
            kind: kind.into(),
            groups: Source::None,
            optimistic: true,
            why: match kind.is_slice_level() {
                true => SLICE_LEVEL_WARNING.to_string(),
                false => "a group split saved by an earlier lnmc, which did not record where its groups came from or how far they could be trusted".to_string(),
            },
        }
    }

    /// The line every screen shows where the numbers may be optimistic, else None. A
    /// slice-level split's reason says "optimistic" itself.
    pub fn warning(&self) -> Option<String> {
        match (self.optimistic, self.kind) {
            (false, _) => None,
            (true, Scope::Upstream | Scope::Stratified) => Some(self.why.clone()),
            (true, _) => Some(format!("possibly optimistic: {}", self.why)),
        }
    }

    /// Two short lines for a narrow panel where the numbers may be optimistic, else None.
    pub fn caution(&self) -> Option<[&'static str; 2]> {
        match (self.optimistic, self.kind) {
            (false, _) => None,
            (true, Scope::Upstream | Scope::Stratified) => {
                Some(["slice-level split:", "optimistic"])
            }
            (true, Scope::Group) => Some(["uncertain groups:", "possibly optimistic"]),
            (true, Scope::All) => Some(["trained patches:", "possibly optimistic"]),
        }
    }
}

impl SplitKind {
    /// Whole nodules on one side whenever the data has groups (its own ids or inferred ones),
    /// else the stratified slice-level split.
    pub fn default_for(data: &Dataset) -> SplitKind {
        match data.groups {
            Some(_) => SplitKind::Group,
            None => SplitKind::Stratified,
        }
    }

    /// Slices of one nodule can land on both sides.
    pub fn is_slice_level(self) -> bool {
        self != SplitKind::Group
    }
}

/// Fold `k` of `of` (1-based) of a cross-validation: the part a run validates on. Kept in
/// config.json and split.json as `[k, of]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[usize; 2]", into = "[usize; 2]")]
pub struct Fold {
    pub k: usize,
    pub of: usize,
}

impl From<[usize; 2]> for Fold {
    fn from([k, of]: [usize; 2]) -> Fold {
        Fold { k, of }
    }
}

impl From<Fold> for [usize; 2] {
    fn from(f: Fold) -> [usize; 2] {
        [f.k, f.of]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub kind: SplitKind,
    pub seed: u64,
    /// Cross-validation: the fold that is the validation side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fold: Option<Fold>,
    /// What the split is and whether its numbers may be optimistic (None in a split.json of
    /// an earlier lnmc: see `facts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<Facts>,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl Split {
    pub fn new(kind: SplitKind, seed: u64, data: &Dataset) -> Result<Split> {
        let (train, val) = match kind {
            SplitKind::Upstream => upstream(data.len()),
            SplitKind::Stratified => {
                let ids: Vec<i64> = (0..data.len() as i64).collect();
                grouped(&data.labels, &ids, seed)
            }
            SplitKind::Group => {
                let ids = split_units(data).ok_or_else(|| {
                    Error::file(
                        &data.path,
                        format!(
                            "--split group needs a per-patch '{}' or '{}' dataset, none found (or run `lnmc groups` to infer nodules)",
                            GROUP_DATASETS[0], GROUP_DATASETS[1]
                        ),
                    )
                })?;
                grouped(&data.labels, ids, seed)
            }
        };
        let split = Split {
            kind,
            seed,
            fold: None,
            about: Some(Facts::of(kind, data)),
            train,
            val,
        };
        split.check(data)?;
        Ok(split)
    }

    /// Refuses a split no number can be trusted on: a side with no patch, or without one of
    /// the classes, or (whole nodules, a fold) a validation share of a class far from the one
    /// asked for, which happens when the groups are too few or too large.
    pub fn check(&self, data: &Dataset) -> Result<()> {
        let kind = match self.fold {
            Some(f) => format!("fold {} of {}", f.k, f.of),
            None => format!("{} split", crate::choice::name(self.kind)),
        };
        // The nodules are described only for a refusal: counting them is a pass over the set.
        let groups = || {
            data.groups.as_ref().map_or(String::new(), |ids| {
                let sizes = super::groups::group_sizes(ids);
                format!(
                    " ({} nodules, the largest {} patches)",
                    sizes.len(),
                    sizes.iter().max().unwrap_or(&0)
                )
            })
        };
        let fail = |why: String| {
            Err(Error::file(
                &data.path,
                format!("the {kind} {why}{}", groups()),
            ))
        };
        for (side, rows) in [("training", &self.train), ("validation", &self.val)] {
            if rows.is_empty() {
                return fail(format!("leaves the {side} side empty"));
            }
            for (class, name) in [(0u8, "benign"), (MALIGNANT, "malignant")] {
                if !rows.iter().any(|&i| data.labels[i] == class) {
                    return fail(format!("puts no {name} patch on the {side} side"));
                }
            }
        }
        let asked = self.fold.map_or(VAL_FRACTION, |f| 1.0 / f.of as f64);
        if self.kind == SplitKind::Group || self.fold.is_some() {
            for (class, name) in [(0u8, "benign"), (MALIGNANT, "malignant")] {
                let count =
                    |rows: &[usize]| rows.iter().filter(|&&i| data.labels[i] == class).count();
                let (val, all) = (count(&self.val), count(&self.val) + count(&self.train));
                let share = val as f64 / all as f64;
                if (share - asked).abs() > SHARE_TOLERANCE * asked {
                    return fail(format!(
                        "holds out {:.0} % of the {name} patches, not the {:.0} % asked: whole nodules cannot split closer",
                        100.0 * share,
                        100.0 * asked
                    ));
                }
            }
        }
        Ok(())
    }

    /// Fold `k` (1-based) of `folds` for cross-validation: whole nodules when the data has
    /// groups (else single patches), each class dealt out over the folds so that every fold
    /// keeps the class balance; fold `k` is the validation side.
    pub fn fold(k: usize, folds: usize, seed: u64, data: &Dataset) -> Result<Split> {
        check_folds(folds, data)?;
        let assigned = assign_folds(&data.labels, &unit_ids(data), folds, seed);
        let (val, train): (Vec<usize>, Vec<usize>) =
            (0..data.len()).partition(|&i| assigned[i] == k - 1);
        let kind = SplitKind::default_for(data);
        let split = Split {
            kind,
            seed,
            fold: Some(Fold { k, of: folds }),
            about: Some(Facts::of(kind, data)),
            train,
            val,
        };
        split.check(data)?;
        Ok(split)
    }

    /// What the split is, and whether its numbers may be optimistic.
    pub fn facts(&self) -> Facts {
        self.about
            .clone()
            .unwrap_or_else(|| Facts::recorded_as(self.kind))
    }

    /// The split a run's settings describe, computed again.
    pub fn recompute(
        kind: SplitKind,
        seed: u64,
        fold: Option<Fold>,
        data: &Dataset,
    ) -> Result<Split> {
        match fold {
            Some(Fold { k, of }) => Split::fold(k, of, seed, data),
            None => Split::new(kind, seed, data),
        }
    }
}

/// What a group split keeps whole: patients where the file has them beside nodules, else
/// nodules (the file's, the user's or inferred ones).
fn split_units(data: &Dataset) -> Option<&Vec<i64>> {
    data.patients.as_ref().or(data.groups.as_ref())
}

/// The units a split keeps together: patients or nodules when known, else single patches.
fn unit_ids(data: &Dataset) -> Vec<i64> {
    split_units(data)
        .cloned()
        .unwrap_or_else(|| (0..data.len() as i64).collect())
}

/// Refuses a fold count that cannot give every fold both classes.
pub fn check_folds(folds: usize, data: &Dataset) -> Result<()> {
    if folds < 2 {
        return Err(Error::input(format!(
            "--folds {folds}: cross-validation needs at least 2 folds"
        )));
    }
    let ids = unit_ids(data);
    for (class, name) in [(0u8, "benign"), (1, "malignant")] {
        let units: std::collections::HashSet<i64> = ids
            .iter()
            .zip(&data.labels)
            .filter(|(_, &l)| l == class)
            .map(|(&id, _)| id)
            .collect();
        if units.len() < folds {
            let unit = match (&data.patients, &data.groups) {
                (Some(_), _) => "patients",
                (None, Some(_)) => "nodules",
                (None, None) => "patches",
            };
            return Err(Error::file(
                &data.path,
                format!(
                    "--folds {folds}: only {} {name} {unit}, fewer than the folds",
                    units.len()
                ),
            ));
        }
    }
    Ok(())
}

/// A fold (0-based) per row: per class, groups in a seeded random order, each given to the
/// fold that has the fewest rows of that class so far.
fn assign_folds(labels: &[u8], ids: &[i64], folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    let mut fold_of = vec![0; labels.len()];
    for class in [0u8, 1] {
        let mut groups = groups_of_class(labels, ids, class);
        rng.shuffle(&mut groups);
        let mut sizes = vec![0usize; folds];
        for group in groups {
            let fold = (0..folds).min_by_key(|&f| sizes[f]).unwrap_or(0);
            sizes[fold] += group.len();
            for i in group {
                fold_of[i] = fold;
            }
        }
    }
    fold_of
}

/// The rows of each group of `class`, groups in id order. Each group belongs to the class of
/// its first patch, so a group is never cut in two.
fn groups_of_class(labels: &[u8], ids: &[i64], class: u8) -> Vec<Vec<usize>> {
    let mut members: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    let mut group_class: std::collections::HashMap<i64, u8> = Default::default();
    for (i, (&id, &label)) in ids.iter().zip(labels).enumerate() {
        if *group_class.entry(id).or_insert(label) == class {
            members.entry(id).or_default().push(i);
        }
    }
    members.into_values().collect()
}

/// `sklearn.model_selection.train_test_split(range(n), test_size=0.2, random_state=42)`:
/// the first ceil(0.2·n) of numpy's `RandomState(42).permutation(n)` are validation.
pub fn upstream(n: usize) -> (Vec<usize>, Vec<usize>) {
    // Same float expression as scikit-learn, so e.g. n = 15 gives 4 (0.2 * 15 > 3.0).
    let n_val = (VAL_FRACTION * n as f64).ceil() as usize;
    let mut order = Mt19937::new(42).permutation(n);
    let train = order.split_off(n_val);
    (train, order)
}

/// Splits whole groups, class by class, taking groups into validation until each class has
/// its 20 %. With one group per patch this is a plain stratified split. Indices come back
/// sorted so that split.json reads easily.
pub(crate) fn grouped(labels: &[u8], ids: &[i64], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let mut in_val = vec![false; labels.len()];
    for class in [0u8, 1] {
        let mut groups = groups_of_class(labels, ids, class);
        let total: usize = groups.iter().map(Vec::len).sum();
        let target = (VAL_FRACTION * total as f64).round() as usize;
        rng.shuffle(&mut groups);
        let mut taken = 0;
        for group in groups {
            if taken >= target {
                break;
            }
            taken += group.len();
            for i in group {
                in_val[i] = true;
            }
        }
    }
    let (val, train): (Vec<usize>, Vec<usize>) = (0..labels.len()).partition(|&i| in_val[i]);
    (train, val)
}
