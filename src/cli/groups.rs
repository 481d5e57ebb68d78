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
                " (from its own neighbour differences, separation {:.2})",
                found.separation
            ),
            false => " (--max-difference)".into(),
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
