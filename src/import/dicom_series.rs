//! A DICOM CT series: one folder of single-frame slices, as LIDC-IDRI and hospital exports
//! hold them. Slices are put in order by their position along the normal of their plane (the
//! cross product of `ImageOrientationPatient`'s row and column directions), not by file name
//! or InstanceNumber; stored values become HU through each slice's `RescaleSlope` and
//! `RescaleIntercept`; `PixelSpacing` gives the in-plane spacing (rows, then columns), the
//! positions the spacing between slices.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder};

use super::volume::{check_geometry, Volume};
use crate::error::{Error, Result};

/// The `.dcm` files of `dir`.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::file(dir, format!("cannot be read: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dcm")))
        .collect();
    files.sort();
    Ok(files)
}

/// The SeriesInstanceUID of the series in `dir`, read from its first file's header.
pub fn series_uid(dir: &Path) -> Result<String> {
    let first = files(dir)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::file(dir, "holds no .dcm file"))?;
    let object = open(&first, Some(tags::PIXEL_DATA))?;
    let uid = object
        .element(tags::SERIES_INSTANCE_UID)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches('\0').trim().to_string())
        .ok_or_else(|| Error::file(&first, "has no SeriesInstanceUID"))?;
    Ok(uid)
}

/// The DICOM file at `path`, up to `until` (its header) or whole; its element lengths are
/// checked against its size first (`dicom_claims`).
fn open(path: &Path, until: Option<dicom_object::Tag>) -> Result<dicom_object::DefaultDicomObject> {
    let fail = |msg: String| Error::file(path, msg);
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read ({e})")))?;
    super::dicom_claims::check(&bytes)
        .map_err(|why| fail(format!("is not a readable DICOM file: {why}")))?;
    let options = OpenFileOptions::new();
    let options = match until {
        Some(tag) => options.read_until(tag),
        None => options,
    };
    options
        .open_file(path)
        .map_err(|e| fail(format!("is not a readable DICOM file: {}", first_line(&e))))
}

/// A library error as one line.
fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// One slice: where it lies and where its values are. The slices are put in order before
/// any pixel is decoded, so the volume is gathered once, in order, as int16 where it can be.
struct Slice {
    file: PathBuf,
    position: [f64; 3],
    along: f64,
}

pub fn read(dir: &Path) -> Result<Volume> {
    let files = files(dir)?;
    if files.is_empty() {
        return Err(Error::file(dir, "holds no .dcm file"));
    }
    let mut slices = Vec::with_capacity(files.len());
    let mut geometry: Option<Grid> = None;
    for file in files {
        // Headers first: the slices are ordered before any pixel is decoded.
        let (grid, position) = header(&file)?;
        let normal = cross(&grid.orientation);
        match &geometry {
            None => geometry = Some(grid),
            Some(first) if !first.same(&grid) => {
                return Err(Error::file(&file, "differs from the series' first slice in size, orientation or pixel spacing: one series, one grid"));
            }
            Some(_) => {}
        }
        slices.push(Slice {
            along: position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2],
            position,
            file,
        });
    }
    let Grid {
        orientation,
        pixel_spacing,
        rows,
        columns,
    } = geometry.expect("one slice at least");
    slices.sort_by(|a, b| a.along.total_cmp(&b.along));
    let gaps: Vec<f64> = slices.windows(2).map(|w| w[1].along - w[0].along).collect();
    if let Some(k) = gaps.iter().position(|&g| g.abs() < 1e-4) {
        return Err(Error::file(
            &slices[k + 1].file,
            format!(
                "lies at the same position as {}: two slices in one place",
                slices[k].file.display()
            ),
        ));
    }
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let between = sorted.get(sorted.len() / 2).copied().unwrap_or(1.0);
    let normal = cross(&orientation);
    // Columns advance along the row direction (PixelSpacing's second value), rows along the
    // column direction (its first), slices along the normal.
    let spacing = [pixel_spacing[1], pixel_spacing[0], between];
    let mut direction = [[0.0; 3]; 3];
    for r in 0..3 {
        direction[r] = [orientation[r], orientation[3 + r], normal[r]];
    }
    let origin = slices[0].position;
    if let Some(why) = check_geometry(spacing, direction, origin) {
        return Err(Error::file(dir, why));
    }
    let count = slices.len();
    let mut voxels = super::volume::Gather::default();
    for slice in slices {
        let object = open(&slice.file, None)?;
        let (r, c, hu) = hounsfield(&object, &slice.file)?;
        if (r as u32, c as u32) != (rows, columns) {
            return Err(Error::file(
                &slice.file,
                format!("holds {r}×{c} pixels where its Rows and Columns say {rows}×{columns}"),
            ));
        }
        voxels.push(&hu);
    }
    Ok(Volume {
        size: [columns as usize, rows as usize, count],
        spacing,
        origin,
        direction,
        voxels: voxels.done(),
    })
}

/// What every slice of one series shares: its orientation (row and column directions),
/// pixel spacing and size.
struct Grid {
    orientation: [f64; 6],
    pixel_spacing: [f64; 2],
    rows: u32,
    columns: u32,
}

impl Grid {
    fn same(&self, other: &Grid) -> bool {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-4);
        (self.rows, self.columns) == (other.rows, other.columns)
            && close(&self.orientation, &other.orientation)
            && close(&self.pixel_spacing, &other.pixel_spacing)
    }
}

/// A slice's grid and position, from its header (the pixels are not read).
fn header(file: &Path) -> Result<(Grid, [f64; 3])> {
    let fail = |msg: String| Error::file(file, msg);
    let object = open(file, Some(tags::PIXEL_DATA))?;
    let numbers = |tag, what: &str, count: usize| -> Result<Vec<f64>> {
        let values = object
            .element(tag)
            .map_err(|_| fail(format!("has no {what}")))?
            .to_multi_float64()
            .map_err(|_| fail(format!("has a {what} that is not numbers")))?;
        match values.len() == count && values.iter().all(|v| v.is_finite()) {
            true => Ok(values),
            false => Err(fail(format!(
                "has a {what} of {} values, not {count} numbers",
                values.len()
            ))),
        }
    };
    let orientation = numbers(
        tags::IMAGE_ORIENTATION_PATIENT,
        "ImageOrientationPatient",
        6,
    )?;
    let position = numbers(tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient", 3)?;
    let spacing = numbers(tags::PIXEL_SPACING, "PixelSpacing", 2)?;
    let size = |tag, what: &str| -> Result<u32> {
        object
            .element(tag)
            .ok()
            .and_then(|e| e.to_int::<u32>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| fail(format!("has no {what}")))
    };
    let grid = Grid {
        orientation: std::array::from_fn(|k| orientation[k]),
        pixel_spacing: [spacing[0], spacing[1]],
        rows: size(tags::ROWS, "Rows")?,
        columns: size(tags::COLUMNS, "Columns")?,
    };
    Ok((grid, [position[0], position[1], position[2]]))
}

/// The slice normal: row direction × column direction.
fn cross(o: &[f64; 6]) -> [f64; 3] {
    [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ]
}

/// One DICOM file as a slice of a tree: (rows, columns, its values in HU).
pub fn read_slice(path: &Path) -> Result<(usize, usize, Vec<f64>)> {
    let object = open(path, None)?;
    hounsfield(&object, path)
}

/// The single-frame grey image of `object` (read from `path`) in HU: the stored values through
/// its RescaleSlope and RescaleIntercept (1 and 0 where absent). (rows, columns, values).
fn hounsfield(
    object: &dicom_object::DefaultDicomObject,
    path: &Path,
) -> Result<(usize, usize, Vec<f64>)> {
    let fail = |msg: String| Error::file(path, msg);
    let rescale = |tag, default: f64| -> Result<f64> {
        match object.element(tag) {
            Ok(e) => e
                .to_float64()
                .map_err(|_| fail(format!("has a rescale value that is not a number ({tag})"))),
            Err(_) => Ok(default),
        }
    };
    let (slope, intercept) = (
        rescale(tags::RESCALE_SLOPE, 1.0)?,
        rescale(tags::RESCALE_INTERCEPT, 0.0)?,
    );
    let pixels = object.decode_pixel_data().map_err(|e| {
        fail(format!(
            "has pixel data lnmc cannot decode: {}",
            first_line(&e)
        ))
    })?;
    if pixels.number_of_frames() != 1 || pixels.samples_per_pixel() != 1 {
        return Err(fail(format!(
            "holds {} frames of {} samples a pixel: CT slices are single-frame greys",
            pixels.number_of_frames(),
            pixels.samples_per_pixel()
        )));
    }
    let raw: Vec<f64> = pixels
        .to_vec_with_options(&ConvertOptions::new().with_modality_lut(ModalityLutOption::None))
        .map_err(|e| {
            fail(format!(
                "has pixel data lnmc cannot read: {}",
                first_line(&e)
            ))
        })?;
    Ok((
        pixels.rows() as usize,
        pixels.columns() as usize,
        raw.into_iter().map(|v| v * slope + intercept).collect(),
    ))
}
