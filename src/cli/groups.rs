//! `lnmc groups`: which rows are slices of one nodule, for files without nodule ids.

use std::path::Path;

use crate::data::{self, groups, reader};
use crate::error::{Error, Result};

pub fn run(path: Option<&Path>, max_difference: f64) -> Result<u8> {
    if !(max_difference >= 0.0 && max_difference.is_finite()) {
        return Err(Error::input(format!(
            "--max-difference {max_difference}: must be zero or positive"
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
    let ids = groups::infer(&data, max_difference)?;
    let sidecar = groups::write_sidecar(&path, &data::sha256(&path)?, &ids)?;
    println!("{}", groups::describe(&ids));
    println!("wrote {}", sidecar.display());
    Ok(0)
}
