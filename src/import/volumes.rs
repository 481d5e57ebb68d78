//! CT volumes with a list of nodule centres: one patch per row of the coordinates file, in
//! its order, cut from the series the row names. At LUNA16's scale (888 series, 750k rows)
//! one series is cut while the next is read (two volumes in memory at most), the rows of a
//! series are cut on every core, and each finished series is kept in `OUT.parts/` so that an
//! interrupted import continues where it stopped; the HDF5 is assembled from the parts into
//! a temporary file and renamed.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::coords::Row;
use super::output::{self, IMPORT_ATTR, SOURCE};
use super::volume::{Cut, Volume};
use crate::data::{GROUP_DATASETS, IMAGES, LABELS};
use crate::error::{Error, IoContext, Result};

/// Datasets a volume import adds to lnmc's schema.
pub const SERIES_UID: &str = "series_uid";
pub const WORLD_MM: &str = "world_mm";
pub const PIXEL_MM: &str = "pixel_spacing_mm";
pub const VOXEL_MM: &str = "voxel_spacing_mm";
pub const OUTSIDE: &str = "outside_pixels";
pub const CONTEXT: &str = "context_slices";

/// The default pixel spacing: close to LUNA16's median in-plane spacing (≈ 0.7 mm), so a
/// 64-pixel patch covers 45 mm, half again the largest nodules (30 mm), as upstream's did.
pub const DEFAULT_SPACING_MM: f64 = 0.7;

/// Where a series' voxels are.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    MetaImage(PathBuf),
    Nifti(PathBuf),
    Dicom(PathBuf),
}

impl Source {
    fn read(&self) -> Result<Volume> {
        match self {
            Source::MetaImage(p) => super::metaimage::read(p),
            Source::Nifti(p) => super::nifti_file::read(p),
            Source::Dicom(dir) => super::dicom_series::read(dir),
        }
    }
}

/// Every series under `dir` by its uid: MetaImage and NIfTI files by their stem, DICOM
/// folders by their SeriesInstanceUID.
pub fn find_series(dir: &Path) -> Result<HashMap<String, Source>> {
    let mut found = HashMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| Error::file(&folder, format!("cannot be read: {e}")))?;
        let mut dicom_files = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let series = if path.is_dir() {
                pending.push(path);
                continue;
            } else if let Some(stem) = name
                .strip_suffix(".mhd")
                .or_else(|| name.strip_suffix(".mha"))
            {
                (stem.to_string(), Source::MetaImage(path))
            } else if let Some(stem) = name
                .strip_suffix(".nii.gz")
                .or_else(|| name.strip_suffix(".nii"))
            {
                (stem.to_string(), Source::Nifti(path))
            } else {
                dicom_files += name.to_ascii_lowercase().ends_with(".dcm") as usize;
                continue;
            };
            add(&mut found, series)?;
        }
        if dicom_files > 0 {
            let uid = super::dicom_series::series_uid(&folder)?;
            add(&mut found, (uid, Source::Dicom(folder)))?;
        }
    }
    Ok(found)
}

/// One series a uid: a second one of the same uid is refused, naming both.
fn add(found: &mut HashMap<String, Source>, (uid, source): (String, Source)) -> Result<()> {
    let path = |s: &Source| match s {
        Source::MetaImage(p) | Source::Nifti(p) | Source::Dicom(p) => p.clone(),
    };
    if let Some(first) = found.get(&uid) {
        return Err(Error::file(
            &path(&source),
            format!(
                "is series {uid} too, as {} is: one series a uid",
                path(first).display()
            ),
        ));
    }
    found.insert(uid, source);
    Ok(())
}

/// What a volume import was asked to do: kept in the parts folder, so that a second run with
/// other settings starts afresh instead of mixing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub coords_sha256: String,
    pub size: usize,
    pub spacing: f64,
    pub context: usize,
    pub label_column: String,
    pub nodule_column: Option<String>,
    pub labels_from: Option<String>,
}

impl Plan {
    fn cut(&self) -> Cut {
        Cut {
            size: self.size,
            spacing: self.spacing,
            context: self.context,
        }
    }
}

/// The rows of one series, cut: what its part file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PartHead {
    /// Row numbers (0-based, in the coordinates file's order).
    rows: Vec<usize>,
    outside: Vec<usize>,
    voxel_spacing: [f64; 3],
    /// Whole-number voxels: stored as int16.
    integer: bool,
}

/// What the import did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rows: usize,
    pub series: usize,
    /// Series found in an earlier, interrupted run.
    pub resumed: usize,
    pub outside_rows: usize,
    pub integer: bool,
    pub seconds: f64,
}

/// `OUT` → `OUT.parts`.
pub fn parts_dir(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".parts");
    out.with_file_name(name)
}

/// Cuts every row of `rows` from the series under `dir` and writes `out`.
pub fn import(
    dir: &Path,
    coords: &Path,
    rows: &[Row],
    plan: &Plan,
    out: &Path,
    what: &str,
) -> Result<Summary> {
    let started = std::time::Instant::now();
    let series = find_series(dir)?;
    // Series in the order of their first row; every row's series must be there.
    let mut order: Vec<&str> = Vec::new();
    let mut rows_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (r, row) in rows.iter().enumerate() {
        if !series.contains_key(&row.series) {
            return Err(Error::file(coords, format!(
                "line {}: series {} is not under {} (no {}.mhd, .mha, .nii, .nii.gz or DICOM folder of that SeriesInstanceUID)",
                row.line,
                row.series,
                dir.display(),
                row.series
            )));
        }
        let entry = rows_of.entry(row.series.as_str()).or_default();
        if entry.is_empty() {
            order.push(row.series.as_str());
        }
        entry.push(r);
    }
    let parts = parts_dir(out);
    let result = cut_all(&series, &order, &rows_of, rows, plan, &parts);
    // A refused file leaves nothing behind; an interrupted import (a signal, a kill) keeps its
    // parts and continues from them.
    let resumed = match result {
        Ok(resumed) => resumed,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&parts);
            return Err(e);
        }
    };
    let (outside_rows, integer) = match assemble(&parts, order.len(), rows, &order, plan, out, what)
    {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&parts);
            return Err(e);
        }
    };
    std::fs::remove_dir_all(&parts).at(&parts, "remove")?;
    Ok(Summary {
        rows: rows.len(),
        series: order.len(),
        resumed,
        outside_rows,
        integer,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Cuts every series not cut yet into a part of `parts`; how many an earlier run had cut.
fn cut_all(
    series: &HashMap<String, Source>,
    order: &[&str],
    rows_of: &HashMap<&str, Vec<usize>>,
    rows: &[Row],
    plan: &Plan,
    parts: &Path,
) -> Result<usize> {
    let plan_path = parts.join("plan.json");
    let same_plan = std::fs::read(&plan_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Plan>(&b).ok())
        .is_some_and(|p| &p == plan);
    if !same_plan && parts.exists() {
        std::fs::remove_dir_all(parts).at(parts, "remove")?;
    }
    std::fs::create_dir_all(parts).at(parts, "create directory")?;
    crate::files::write_atomic(
        &plan_path,
        serde_json::to_string_pretty(plan).expect("json").as_bytes(),
    )?;
    let part_path = |s: usize| parts.join(format!("{s:06}.part"));
    let todo: Vec<usize> = (0..order.len())
        .filter(|&s| !part_path(s).exists())
        .collect();
    let resumed = order.len() - todo.len();
    let bar = super::progress::bar(order.len() as u64, "series");
    bar.set_position(resumed as u64);
    // A reader thread loads the next series while this one is cut: two volumes at most.
    std::thread::scope(|scope| -> Result<()> {
        let (send, receive) = std::sync::mpsc::sync_channel::<(usize, Result<Volume>)>(0);
        let loader = {
            let todo = &todo;
            scope.spawn(move || {
                for &s in todo {
                    let volume = series[order[s]].read();
                    if send.send((s, volume)).is_err() {
                        return;
                    }
                }
            })
        };
        for (s, volume) in receive {
            let volume = volume?;
            let mine = &rows_of[order[s]];
            let (head, values) = cut_series(&volume, rows, mine, plan.cut());
            drop(volume);
            write_part(&part_path(s), &head, &values)?;
            bar.inc(1);
            killed_for_a_test(bar.position());
        }
        loader.join().expect("the series reader does not panic");
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(resumed)
}

/// Cuts the rows `mine` of `rows` from `volume` on every core.
fn cut_series(volume: &Volume, rows: &[Row], mine: &[usize], cut: Cut) -> (PartHead, Vec<f32>) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = mine.len().div_ceil(threads).max(1);
    let patches: Vec<super::volume::Patch> = std::thread::scope(|scope| {
        let workers: Vec<_> = mine
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&r| volume.cut(rows[r].world, cut))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("cutting threads do not panic"))
            .collect()
    });
    let head = PartHead {
        rows: mine.to_vec(),
        outside: patches.iter().map(|p| p.outside).collect(),
        voxel_spacing: volume.spacing,
        integer: matches!(volume.voxels, super::volume::Voxels::I16(_)),
    };
    (head, patches.into_iter().flat_map(|p| p.values).collect())
}

/// A part: the head as JSON after its length, then the values (f32, little-endian).
fn write_part(path: &Path, head: &PartHead, values: &[f32]) -> Result<()> {
    let json = serde_json::to_vec(head).expect("json");
    let mut bytes = Vec::with_capacity(8 + json.len() + values.len() * 4);
    bytes.extend((json.len() as u64).to_le_bytes());
    bytes.extend(&json);
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    crate::files::write_atomic(path, &bytes)
}

fn read_part(path: &Path) -> Result<(PartHead, Vec<f32>)> {
    let mut file = std::fs::File::open(path).at(path, "read")?;
    let head = read_head(path, &mut file)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).at(path, "read")?;
    let values = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((head, values))
}

/// A part's head alone, read from the start of `file` (the values stay on disk).
fn read_head(path: &Path, file: &mut std::fs::File) -> Result<PartHead> {
    let fail = |why: &str| {
        Error::file(
            path,
            format!(
                "is not a whole part of this import ({why}): remove the folder and import again"
            ),
        )
    };
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(|_| fail("too short"))?;
    let len = u64::from_le_bytes(len);
    let mut json = Vec::new();
    file.take(len).read_to_end(&mut json).at(path, "read")?;
    if json.len() as u64 != len {
        return Err(fail("too short"));
    }
    serde_json::from_slice(&json).map_err(|_| fail("its head"))
}

/// The HDF5 from the parts, rows in the coordinates file's order. Returns (rows with pixels
/// outside their volume, whether the pixels are stored as int16).
fn assemble(
    parts: &Path,
    count: usize,
    rows: &[Row],
    order: &[&str],
    plan: &Plan,
    out: &Path,
    what: &str,
) -> Result<(usize, bool)> {
    let n = rows.len();
    // The heads first (small): all integer volumes make an int16 file.
    let mut heads = Vec::with_capacity(count);
    for s in 0..count {
        let path = parts.join(format!("{s:06}.part"));
        let mut file = std::fs::File::open(&path).at(&path, "read")?;
        heads.push(read_head(&path, &mut file)?);
    }
    let integer = heads.iter().all(|h| h.integer);
    let mut outside = vec![0i64; n];
    let mut voxel_mm = vec![0f64; n * 3];
    for h in &heads {
        for (k, &r) in h.rows.iter().enumerate() {
            outside[r] = h.outside[k] as i64;
            voxel_mm[r * 3..r * 3 + 3].copy_from_slice(&h.voxel_spacing);
        }
    }
    let tmp = output::temporary(out);
    let result = (|| -> hdf5::Result<()> {
        let file = hdf5::File::create(&tmp)?;
        write_pixels(&file, parts, count, n, plan, integer)?;
        write_ids(&file, rows, order, plan, (&voxel_mm, &outside), what)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::runtime(format!(
            "{}: cannot write ({e})",
            out.display()
        )));
    }
    std::fs::rename(&tmp, out).at(out, "write")?;
    Ok((outside.iter().filter(|&&o| o > 0).count(), integer))
}

/// The patches of every part, in the rows' order: the centre slice as `ct_slices`, and with
/// a context of K the K slices as `context_slices`.
fn write_pixels(
    file: &hdf5::File,
    parts: &Path,
    count: usize,
    n: usize,
    plan: &Plan,
    integer: bool,
) -> hdf5::Result<()> {
    let (size, context) = (plan.size, plan.context);
    let per_row = context * size * size;
    let chunk = [1, size, size];
    let images = match integer {
        true => file
            .new_dataset::<i16>()
            .chunk(chunk)
            .shape([n, size, size])
            .create(IMAGES)?,
        false => file
            .new_dataset::<f32>()
            .chunk(chunk)
            .shape([n, size, size])
            .create(IMAGES)?,
    };
    let around = (context > 1)
        .then(|| match integer {
            true => file
                .new_dataset::<i16>()
                .chunk([1, context, size, size])
                .shape([n, context, size, size])
                .create(CONTEXT),
            false => file
                .new_dataset::<f32>()
                .chunk([1, context, size, size])
                .shape([n, context, size, size])
                .create(CONTEXT),
        })
        .transpose()?;
    for s in 0..count {
        let (head, values) = read_part(&parts.join(format!("{s:06}.part")))
            .map_err(|e| hdf5::Error::from(e.to_string().as_str()))?;
        for (k, &r) in head.rows.iter().enumerate() {
            let patch = &values[k * per_row..(k + 1) * per_row];
            let centre = &patch[(context / 2) * size * size..][..size * size];
            write_row(&images, r, centre, &[size, size], integer)?;
            if let Some(around) = &around {
                write_row(around, r, patch, &[context, size, size], integer)?;
            }
        }
    }
    Ok(())
}

/// Labels, nodule and patient ids, where each patch came from (world, voxel and pixel mm, the
/// share outside the volume, the series), and what the import was.
fn write_ids(
    file: &hdf5::File,
    rows: &[Row],
    order: &[&str],
    plan: &Plan,
    (voxel_mm, outside): (&[f64], &[i64]),
    what: &str,
) -> hdf5::Result<()> {
    let n = rows.len();
    let labels: Vec<u8> = rows.iter().map(|r| r.label).collect();
    output::dataset(file, LABELS, &[n, 1], &labels)?;
    let uid_index: HashMap<&str, i64> = order
        .iter()
        .enumerate()
        .map(|(k, &u)| (u, k as i64))
        .collect();
    let patients: Vec<i64> = rows.iter().map(|r| uid_index[r.series.as_str()]).collect();
    let nodules: Vec<i64> = match rows.iter().all(|r| r.nodule.is_some()) {
        true => rows.iter().map(|r| r.nodule.unwrap_or(0)).collect(),
        false => (0..n as i64).collect(),
    };
    output::dataset(file, GROUP_DATASETS[0], &[n], &nodules)?;
    output::dataset(file, GROUP_DATASETS[1], &[n], &patients)?;
    let world: Vec<f64> = rows.iter().flat_map(|r| r.world).collect();
    output::dataset(file, WORLD_MM, &[n, 3], &world)?;
    output::dataset(file, VOXEL_MM, &[n, 3], voxel_mm)?;
    output::dataset(file, PIXEL_MM, &[n], &vec![plan.spacing; n])?;
    output::dataset(file, OUTSIDE, &[n], outside)?;
    output::strings(
        file,
        SERIES_UID,
        &rows.iter().map(|r| r.series.clone()).collect::<Vec<_>>(),
    )?;
    let source: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} at ({:.1}, {:.1}, {:.1}) mm, {} mm a pixel",
                r.series, r.world[0], r.world[1], r.world[2], plan.spacing
            )
        })
        .collect();
    output::strings(file, SOURCE, &source)?;
    let attr: hdf5::types::VarLenUnicode = what.parse().unwrap_or_default();
    file.new_attr::<hdf5::types::VarLenUnicode>()
        .create(IMPORT_ATTR)?
        .write_scalar(&attr)?;
    Ok(())
}

/// Row `r` of `ds` from `values`, rounded to int16 where the file is integer.
fn write_row(
    ds: &hdf5::Dataset,
    r: usize,
    values: &[f32],
    shape: &[usize],
    integer: bool,
) -> hdf5::Result<()> {
    use ndarray::{s, ArrayView2, ArrayView3};
    match (integer, shape.len()) {
        (true, 2) => {
            let v: Vec<i16> = values
                .iter()
                .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
                .collect();
            ds.write_slice(
                &ArrayView2::from_shape((shape[0], shape[1]), &v).expect("shape"),
                s![r, .., ..],
            )
        }
        (true, _) => {
            let v: Vec<i16> = values
                .iter()
                .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
                .collect();
            ds.write_slice(
                &ArrayView3::from_shape((shape[0], shape[1], shape[2]), &v).expect("shape"),
                s![r, .., .., ..],
            )
        }
        (false, 2) => ds.write_slice(
            &ArrayView2::from_shape((shape[0], shape[1]), values).expect("shape"),
            s![r, .., ..],
        ),
        (false, _) => ds.write_slice(
            &ArrayView3::from_shape((shape[0], shape[1], shape[2]), values).expect("shape"),
            s![r, .., .., ..],
        ),
    }
}

/// `LNMC_INJECT_FAULT=kill-import:N`, for the test of resuming only (debug builds, see
/// `fault`): the process dies as a kill would (no clean-up) once N series are cut.
fn killed_for_a_test(done: u64) {
    if crate::fault::injected() == Some(crate::fault::Fault::KillImport(done)) {
        std::process::exit(137);
    }
}
