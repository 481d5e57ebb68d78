//! `lnmc groups`: which rows are slices of one nodule, for files without nodule ids.

use std::path::Path;

use crate::data::{self, groups, reader};
use crate::error::{Error, Result};

pub fn run(path: Option<&Path>, max_difference: Option<f64>, force: bool) -> Result<u8> {
    if let Some(d) = max_difference.filter(|d| !(*d >= 0.0 && d.is_finite())) {
        return Err(Error::input(format!(
            "--max-difference {d}: must be zero or positive"
        )));
    }
    let path = data::resolve(path)?;
    let data = reader::read_without_sidecar(&path)?;
    if data.groups.is_some() {
        println!(
            "{}: has its own per-patch ids ({}); nothing to infer",
            path.display(),
            data::GROUP_DATASETS.join(" or ")
        );
        return Ok(0);
    }
    let found = groups::infer(&data, max_difference)?;
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
    println!(
        "{:.1} % of neighbouring rows of one label joined{}",
        found.neighbours_joined * 100.0,
        match found.neighbours_joined < 2.0 * groups::FALSE_JOINS {
            true => ": neighbours are no closer than rows far apart, so the file seems to hold no runs of slices of one nodule",
            false => "",
        }
    );
    println!("{}", groups::describe(ids));
    if let (Some(why), false) = (groups::implausible(ids), force) {
        return Err(Error::file(
            &path,
            format!("groups not written: {why}; pass --force to write them anyway"),
        ));
    }
    let sidecar = groups::write_sidecar(&path, &data::sha256(&path)?, ids)?;
    println!("wrote {}", sidecar.display());
    Ok(0)
}
