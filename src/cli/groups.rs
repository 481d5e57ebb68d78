//! `lnmc groups`: which rows are slices of one nodule, for files without nodule ids: inferred
//! from neighbouring rows with a verdict on how far they can be trusted, or taken from the
//! user's own CSV (`--from`).

use std::path::Path;

use crate::data::{self, groups, reader};
use crate::error::{Error, Result};

/// What a user can do when inferred groups cannot be trusted.
const WHAT_TO_DO: &str = "ids from the data's source are better than any inference: add a nodule_id (or patient_id) dataset to the file, or pass them as a CSV with `lnmc groups --from ids.csv`";

pub fn run(
    path: Option<&Path>,
    max_difference: Option<f64>,
    from: Option<&Path>,
    column: Option<&str>,
    force: bool,
) -> Result<u8> {
    if let Some(d) = max_difference.filter(|d| !(*d >= 0.0 && d.is_finite())) {
        return Err(Error::input(format!(
            "--max-difference {d}: must be zero or positive"
        )));
    }
    let path = data::resolve(path)?;
    let data = reader::read_without_sidecar(&path)?;
    if data.groups.is_some() {
        if from.is_some() {
            return Err(Error::file(
                &path,
                format!(
                    "has its own per-patch ids ({}), which lnmc uses before any sidecar: nothing written",
                    data::GROUP_DATASETS.join(" or ")
                ),
            ));
        }
        println!(
            "{}: has its own per-patch ids ({}); nothing to infer",
            path.display(),
            data::GROUP_DATASETS.join(" or ")
        );
        return Ok(0);
    }
    match from {
        Some(csv) => from_csv(&path, &data, csv, column),
        None => inferred(&path, &data, max_difference, force),
    }
}

/// The user's ids, checked against the data, as the sidecar.
fn from_csv(path: &Path, data: &data::Dataset, csv: &Path, column: Option<&str>) -> Result<u8> {
    let ids = groups::from_csv(csv, &data.labels, column)?;
    let about = format!(
        "from {} (column {})",
        csv.display(),
        column.unwrap_or("nodule")
    );
    println!("{}", groups::describe(&ids));
    let sidecar = groups::write_sidecar(
        path,
        &data::sha256(path)?,
        &ids,
        groups::Source::User,
        &about,
    )?;
    println!("wrote {}", sidecar.display());
    Ok(0)
}

/// Groups inferred from neighbouring rows, with the threshold, the verdict and what to do when
/// they are uncertain; implausible ones written only with `force`.
fn inferred(
    path: &Path,
    data: &data::Dataset,
    max_difference: Option<f64>,
    force: bool,
) -> Result<u8> {
    let found = groups::infer(data, max_difference)?;
    let ids = &found.ids;
    let units = match found.measure {
        groups::Measure::Absolute => " in the file's units",
        groups::Measure::Relative => "",
    };
    println!(
        "{}: {}, threshold {:.4}{units}{}",
        path.display(),
        found.measure.name(),
        found.threshold,
        match found.from_data {
            true => format!(
                " (below it: {:.0} % of {} pairs of rows of one label far apart in the file)",
                groups::FALSE_JOINS * 100.0,
                found.reference_pairs
            ),
            false => " (--max-difference)".into(),
        }
    );
    println!("{}", groups::describe(ids));
    println!("verdict: {}", found.trust.why);
    if !found.trust.reliable {
        println!("a group split on these groups is possibly optimistic, and every screen will say so; {WHAT_TO_DO}");
    }
    if let (Some(why), false) = (groups::implausible(ids), force) {
        return Err(Error::file(
            path,
            format!("groups not written: {why}; pass --force to write them anyway"),
        ));
    }
    let sidecar = groups::write_sidecar(
        path,
        &data::sha256(path)?,
        ids,
        groups::Source::Inferred,
        &found.trust.why,
    )?;
    println!("wrote {}", sidecar.display());
    Ok(0)
}
