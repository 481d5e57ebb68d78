//! Image trees: slices as PNG, JPEG or TIFF files in folders that name what they hold, as
//! `--layout label/patient/nodule/slice` says (`_` for a level to ignore; the last is the
//! file), e.g. `../shared/lidc-dev/images/benigno/EXAM/NODULE/0.png`. Folders are read in
//! name order, slices in numeric order within their nodule (0, 1, …, 10), and pixels are kept in
//! their own type (8-bit greys stay uint8, 16-bit stay uint16).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::output::{Imported, PatchPixels};
use crate::error::{Error, Result};

/// What one level of the tree names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Label,
    Patient,
    Nodule,
    Slice,
    Ignore,
}

/// The levels of a tree, from the top folder down to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout(pub Vec<Level>);

impl Layout {
    /// `label/patient/nodule/slice`; each of label, patient, nodule, slice at most once, the
    /// slice (if named) last.
    pub fn parse(text: &str) -> std::result::Result<Layout, String> {
        let levels: Vec<Level> = text
            .split('/')
            .map(|part| match part.trim() {
                "label" => Ok(Level::Label),
                "patient" => Ok(Level::Patient),
                "nodule" => Ok(Level::Nodule),
                "slice" => Ok(Level::Slice),
                "_" => Ok(Level::Ignore),
                other => Err(format!(
                    "{other:?} is not a level: use label, patient, nodule, slice or _"
                )),
            })
            .collect::<std::result::Result<_, _>>()?;
        for named in [Level::Label, Level::Patient, Level::Nodule, Level::Slice] {
            if levels.iter().filter(|&&l| l == named).count() > 1 {
                return Err(format!("{named:?} appears twice").to_lowercase());
            }
        }
        if let Some(i) = levels.iter().position(|&l| l == Level::Slice) {
            if i + 1 != levels.len() {
                return Err("slice must be the last level (the file)".into());
            }
        }
        Ok(Layout(levels))
    }

    fn position(&self, level: Level) -> Option<usize> {
        self.0.iter().position(|&l| l == level)
    }
}

/// How folder names (or paths) become labels.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// `benigno=0,maligno=1`: the label level's folder names.
    Names(BTreeMap<String, u8>),
    /// A CSV `path,label` keyed by paths below the tree (a file or any folder above it).
    Paths(HashMap<PathBuf, u8>),
}

impl Labels {
    /// `NAME=0,NAME=1`.
    pub fn parse_names(text: &str) -> std::result::Result<Labels, String> {
        let mut names = BTreeMap::new();
        for pair in text.split(',') {
            let (name, class) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?} is not NAME=0 or NAME=1"))?;
            let class = match class.trim() {
                "0" => 0,
                "1" => 1,
                other => {
                    return Err(format!(
                        "{other:?} for {name:?}: a class is 0 (benign) or 1 (malignant)"
                    ))
                }
            };
            if names.insert(name.trim().to_string(), class).is_some() {
                return Err(format!("{name:?} given twice"));
            }
        }
        Ok(Labels::Names(names))
    }

    /// The CSV at `path`: a header, then `path,label` rows.
    pub fn read_csv(path: &Path) -> Result<Labels> {
        let fail = |msg: String| Error::file(path, msg);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| fail(format!("cannot be read: {e}")))?;
        let mut paths = HashMap::new();
        for (k, record) in reader.records().enumerate() {
            let record = record.map_err(|_| fail(format!("line {} is not `path,label`", k + 2)))?;
            let (Some(p), Some(label)) = (record.get(0), record.get(1)) else {
                return Err(fail(format!("line {} is not `path,label`", k + 2)));
            };
            let class = match label {
                "0" => 0,
                "1" => 1,
                other => {
                    return Err(fail(format!(
                        "line {}: label {other:?} is not 0 or 1",
                        k + 2
                    )))
                }
            };
            paths.insert(PathBuf::from(p.trim_matches('/')), class);
        }
        Ok(Labels::Paths(paths))
    }
}

/// The image files a tree import reads.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "tif", "tiff", "dcm"];

/// One image file found in the tree, with the names its folders give it.
#[derive(Debug, Clone)]
struct Found {
    relative: PathBuf,
    label: u8,
    patient: String,
    /// Label, patient and nodule names: one nodule.
    nodule: (u8, String, String),
    /// Names of every level, for ordering: folders by name, the slice by number.
    order: Vec<SortKey>,
}

/// Folder names sort as text; a slice's name by the numbers in it (0, 1, …, 10).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Text(String),
    Natural(Vec<(String, u64)>),
}

fn natural(name: &str) -> SortKey {
    let stem = Path::new(name)
        .file_stem()
        .map_or(name.into(), |s| s.to_string_lossy().into_owned());
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in stem.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                parts.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    parts.push((text, digits.parse().unwrap_or(0)));
    SortKey::Natural(parts)
}

/// Reads the tree under `root` as `layout` says, labels from `labels`.
pub fn read(root: &Path, layout: &Layout, labels: &Labels) -> Result<Imported> {
    if !root.is_dir() {
        return Err(Error::file(root, "is not a folder"));
    }
    if layout.position(Level::Label).is_none() && matches!(labels, Labels::Names(_)) {
        return Err(Error::input(
            "--layout has no label level: name one, or give labels by path with --labels-csv",
        ));
    }
    let mut files = Vec::new();
    walk(root, root, layout.0.len(), &mut files)?;
    if files.is_empty() {
        return Err(Error::file(
            root,
            format!(
                "holds no image file ({}) at the depth --layout gives ({} levels)",
                IMAGE_EXTENSIONS.join(", "),
                layout.0.len()
            ),
        ));
    }
    let mut found: Vec<Found> = files
        .into_iter()
        .map(|relative| describe(root, relative, layout, labels))
        .collect::<Result<_>>()?;
    found.sort_by(|a, b| a.order.cmp(&b.order));
    let patches = decode_all(root, &found)?;
    assemble(found, patches)
}

/// Every image file `depth` levels below `dir`; a file at another depth is refused.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot be read: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::file(dir, format!("cannot be read: {e}")))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        // Symlinks are followed where they point inside the tree only.
        let is_dir = path.is_dir();
        if is_dir {
            if depth <= 1 {
                return Err(Error::file(
                    &path,
                    format!(
                        "is a folder where --layout expects the image files ({} levels)",
                        relative.components().count()
                    ),
                ));
            }
            walk(root, &path, depth - 1, out)?;
        } else if is_image(&path) {
            if depth != 1 {
                return Err(Error::file(
                    &path,
                    format!(
                        "lies {} levels below the tree, where --layout has {}",
                        relative.components().count(),
                        relative.components().count() + depth - 1
                    ),
                ));
            }
            out.push(relative);
        }
    }
    Ok(())
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The label, patient, nodule and order of one file from its path.
fn describe(root: &Path, relative: PathBuf, layout: &Layout, labels: &Labels) -> Result<Found> {
    let names: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let at = |level| layout.position(level).map(|i| names[i].clone());
    let label = match labels {
        Labels::Names(map) => {
            let name = at(Level::Label).unwrap_or_default();
            *map.get(&name).ok_or_else(|| {
                Error::file(
                    &root.join(&relative),
                    format!(
                        "lies in label folder {name:?}, which --labels does not name (it names {})",
                        map.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?
        }
        Labels::Paths(map) => relative
            .ancestors()
            .find_map(|a| map.get(a))
            .copied()
            .ok_or_else(|| {
                Error::file(
                    &root.join(&relative),
                    "has no label in --labels-csv (by its path or a folder above it)",
                )
            })?,
    };
    // Without a nodule level each file is a nodule of its own; without a patient level each
    // nodule is a patient of its own.
    let nodule_name = at(Level::Nodule).unwrap_or_else(|| relative.to_string_lossy().into_owned());
    let patient = at(Level::Patient).unwrap_or_else(|| format!("{label}/{nodule_name}"));
    let order = names
        .iter()
        .enumerate()
        .map(|(i, n)| match layout.0[i] {
            Level::Slice => natural(n),
            _ => SortKey::Text(n.clone()),
        })
        .collect();
    Ok(Found {
        relative,
        label,
        nodule: (label, patient.clone(), nodule_name),
        patient,
        order,
    })
}

/// One decoded image: its size and pixels.
struct Decoded {
    height: usize,
    width: usize,
    pixels: PatchPixels,
}

/// Decodes every file, on every core, in order.
fn decode_all(root: &Path, found: &[Found]) -> Result<Vec<Decoded>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = found.len().div_ceil(threads).max(1);
    let bar = super::progress::bar(found.len() as u64, "images");
    let decoded = std::thread::scope(|scope| {
        let workers: Vec<_> = found
            .chunks(chunk)
            .map(|part| {
                let bar = bar.clone();
                scope.spawn(move || {
                    part.iter()
                        .map(|f| {
                            let d = decode(&root.join(&f.relative));
                            bar.inc(1);
                            d
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(found.len());
        for w in workers {
            all.extend(w.join().expect("decoder threads do not panic")?);
        }
        Ok::<_, Error>(all)
    });
    bar.finish_and_clear();
    decoded
}

/// One image file as greys in its own type; a DICOM slice in HU (int16 where whole).
fn decode(path: &Path) -> Result<Decoded> {
    use image::DynamicImage as D;
    let fail = |msg: String| Error::file(path, msg);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
    {
        let (height, width, hu) = super::dicom_series::read_slice(path)?;
        let pixels = match super::metaimage::narrow(hu) {
            super::volume::Voxels::I16(v) => PatchPixels::I16(v),
            super::volume::Voxels::F32(v) => PatchPixels::F32(v),
        };
        return Ok(Decoded {
            height,
            width,
            pixels,
        });
    }
    let image = image::ImageReader::open(path)
        .map_err(|e| fail(format!("cannot be read: {e}")))?
        .with_guessed_format()
        .map_err(|e| fail(format!("cannot be read: {e}")))?
        .decode()
        .map_err(|e| fail(format!("is not a readable image: {e}")))?;
    let (width, height) = (image.width() as usize, image.height() as usize);
    let grey = |channels: usize, raw: &[u8]| -> Result<Vec<u8>> {
        let pixels: Vec<&[u8]> = raw.chunks(channels).collect();
        // Colour channels that agree everywhere are a grey image saved as colour.
        if pixels
            .iter()
            .all(|p| p[..channels.min(3)].iter().all(|&c| c == p[0]))
        {
            Ok(pixels.iter().map(|p| p[0]).collect())
        } else {
            Err(fail("is a colour image: CT slices are greys".into()))
        }
    };
    let pixels = match image {
        D::ImageLuma8(b) => PatchPixels::U8(b.into_raw()),
        D::ImageLuma16(b) => PatchPixels::U16(b.into_raw()),
        D::ImageLumaA8(b) => PatchPixels::U8(b.into_raw().chunks(2).map(|p| p[0]).collect()),
        D::ImageLumaA16(b) => PatchPixels::U16(b.into_raw().chunks(2).map(|p| p[0]).collect()),
        D::ImageRgb8(b) => PatchPixels::U8(grey(3, b.as_raw())?),
        D::ImageRgba8(b) => PatchPixels::U8(grey(4, b.as_raw())?),
        D::ImageRgb32F(_) | D::ImageRgba32F(_) => {
            return Err(fail("holds colour floats: CT slices are greys".into()))
        }
        other => {
            return Err(fail(format!(
                "holds {:?} pixels, which lnmc does not import (8- or 16-bit greys)",
                other.color()
            )))
        }
    };
    Ok(Decoded {
        height,
        width,
        pixels,
    })
}

/// The decoded images as one set: every image of one size and pixel type, ids numbered from 0
/// in order of first appearance.
fn assemble(found: Vec<Found>, decoded: Vec<Decoded>) -> Result<Imported> {
    let first = &decoded[0];
    let (height, width) = (first.height, first.width);
    let mut pixels = match first.pixels {
        PatchPixels::U8(_) => PatchPixels::U8(Vec::new()),
        PatchPixels::U16(_) => PatchPixels::U16(Vec::new()),
        PatchPixels::I16(_) => PatchPixels::I16(Vec::new()),
        PatchPixels::F32(_) => PatchPixels::F32(Vec::new()),
    };
    let (mut nodules, mut patients) = (HashMap::new(), HashMap::new());
    let mut set = Imported {
        height,
        width,
        pixels: PatchPixels::U8(Vec::new()),
        labels: Vec::with_capacity(found.len()),
        nodule_id: Vec::with_capacity(found.len()),
        patient_id: Vec::with_capacity(found.len()),
        source: Vec::with_capacity(found.len()),
    };
    for (f, d) in found.into_iter().zip(decoded) {
        if (d.height, d.width) != (height, width) {
            return Err(Error::input(format!(
                "{}: is {}×{} where the first image is {height}×{width}: one tree, one patch size",
                f.relative.display(),
                d.height,
                d.width
            )));
        }
        let mismatch = Error::input(format!(
            "{}: holds {} pixels where the first image holds {}: one tree, one pixel type",
            f.relative.display(),
            d.pixels.kind(),
            pixels.kind()
        ));
        match (&mut pixels, d.pixels) {
            (PatchPixels::U8(all), PatchPixels::U8(v)) => all.extend(v),
            (PatchPixels::U16(all), PatchPixels::U16(v)) => all.extend(v),
            (PatchPixels::I16(all), PatchPixels::I16(v)) => all.extend(v),
            (PatchPixels::F32(all), PatchPixels::F32(v)) => all.extend(v),
            _ => return Err(mismatch),
        }
        let next = nodules.len() as i64;
        set.nodule_id.push(*nodules.entry(f.nodule).or_insert(next));
        let next = patients.len() as i64;
        set.patient_id
            .push(*patients.entry(f.patient).or_insert(next));
        set.labels.push(f.label);
        set.source.push(f.relative.to_string_lossy().into_owned());
    }
    set.pixels = pixels;
    Ok(set)
}
