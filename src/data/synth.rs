//! A deterministic stand-in for the upstream `all_patches.hdf5`, with its exact schema
//! (`ct_slices` (N, 64, 64) int16 HU, `slice_class` (N, 1), malignant rows first), so that
//! everything runs and is tested before the real file is dropped into `dataset/`.
//!
//! Each nodule contributes 1–4 neighbouring slices, as in LUNA16-derived patches. Benign
//! nodules are small, round, smooth, sometimes calcified; malignant ones larger, denser,
//! lobulated or spiculated. Size ranges overlap and 8 % of the nodules of each class are
//! drawn with the other class's look, so a good model lands near 90 %, not at 100 %.
//!
//! Nodules are drawn one after the other from one seeded stream (cheap); their slices are then
//! rendered on every core, each from the stream's state where the sequential generator would
//! have rendered it, and written block by block: the bytes do not depend on the core count,
//! and a 750k-patch file never sits whole in memory.

use std::f64::consts::{PI, TAU};
use std::path::Path;

use super::rng::SplitMix64;
use super::{Dataset, IMAGES, LABELS, SYNTHETIC_ATTR, UPSTREAM_N};
use crate::error::{Error, IoContext, Result};

/// Share of malignant rows in the upstream file (2526 of 6691).
const MALIGNANT_SHARE: f64 = 2526.0 / 6691.0;
/// Share of nodules that look like the other class: the irreducible error of the task.
const LOOKALIKE_SHARE: f64 = 0.08;
/// Patch side, as upstream.
pub const SIDE: usize = 64;

/// What to generate; `lnmc synth`'s flags are derived from these fields.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    #[arg(long, default_value_t = Options::default().n)]
    pub n: usize,
    #[arg(long, default_value_t = Options::default().seed)]
    pub seed: u64,
    /// Also write a per-patch `nodule_id` dataset (the upstream file has none; enables
    /// --split group).
    #[arg(long)]
    pub with_ids: bool,
    /// Share of malignant patches (default: upstream's 2526/6691 ≈ 0.378; ≈ 0.002 is like a
    /// LUNA16 candidate file).
    #[arg(long, default_value_t = Options::default().positive_rate)]
    pub positive_rate: f64,
    /// The units of the pixels: the same nodules as HU int16, 0–255 greys (uint8), floats in
    /// [0, 1] or z-scores.
    #[arg(long, value_enum, default_value_t)]
    pub units: Convention,
    /// Everything but the nodule set to the value air takes (black in greys), as in files of
    /// segmented nodules.
    #[arg(long)]
    pub segmented: bool,
    /// Each nodule gets 1…N neighbouring slices (4, as in LUNA16-derived sets; LIDC
    /// slice-by-slice sets average 5–6 and run to 40 or more). Runs of more than 4 slices stay
    /// within the nodule, as a reader's outlines do.
    #[arg(long, value_name = "N", default_value_t = Options::default().max_slices)]
    pub max_slices: usize,
}

/// How a file holds its pixels. The nodules are the same whatever the convention: HU mapped
/// through the window −1000…400 for greys and [0, 1], or standardised for z-scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Convention {
    /// int16 Hounsfield units, as upstream.
    #[default]
    Hu,
    /// uint8, 0–255.
    Greys,
    /// float32 in [0, 1].
    Unit,
    /// float32, (HU − (−600)) / 400.
    Zscore,
}

/// The HU window greys and [0, 1] are made through.
const GREY_WINDOW: (f64, f64) = (-1000.0, 400.0);
/// What z-scores are taken from (about the synthetic set's mean and deviation).
const Z_MEAN: f64 = -600.0;
const Z_SD: f64 = 400.0;

impl Convention {
    /// One HU value in this convention.
    fn of(self, hu: f64) -> f32 {
        let (lo, hi) = GREY_WINDOW;
        let unit = ((hu - lo) / (hi - lo)).clamp(0.0, 1.0);
        match self {
            Convention::Hu => hu as f32,
            Convention::Greys => (unit * 255.0).round() as f32,
            Convention::Unit => unit as f32,
            Convention::Zscore => ((hu - Z_MEAN) / Z_SD) as f32,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            n: UPSTREAM_N,
            seed: 0,
            with_ids: false,
            positive_rate: MALIGNANT_SHARE,
            units: Convention::Hu,
            segmented: false,
            max_slices: 4,
        }
    }
}

impl Options {
    /// The options as the CLI checks them; messages name the flag.
    pub fn validate(&self) -> Result<()> {
        if self.max_slices == 0 {
            return Err(Error::input(
                "--max-slices 0: a nodule has at least 1 slice",
            ));
        }
        if self.n < 2 {
            return Err(Error::input(
                "--n: need at least 2 patches (one of each class)",
            ));
        }
        if !(self.positive_rate > 0.0 && self.positive_rate < 1.0) {
            return Err(Error::input(format!(
                "--positive-rate {}: must be between 0 and 1 (exclusive)",
                self.positive_rate
            )));
        }
        Ok(())
    }

    /// HU as rendered, nothing blacked out: the rendered int16 rows are the file's.
    fn plain(&self) -> bool {
        self.units == Convention::Hu && !self.segmented
    }

    /// Malignant rows: the share of `n`, with at least one row of each class.
    pub fn malignant(&self) -> usize {
        ((self.n as f64 * self.positive_rate).round() as usize).clamp(1, self.n.max(2) - 1)
    }
}

/// Patches rendered per block when writing: 128 MB of int16.
const BLOCK: usize = 16384;
/// Generator values one slice's noise consumes (a normal draw per pixel, two values each).
const DRAWS_PER_SLICE: u64 = 2 * (SIDE * SIDE) as u64;

/// Patches (HU, row-major), labels and the nodule each patch was cut from.
pub struct Synthetic {
    pub images: Vec<i16>,
    pub labels: Vec<u8>,
    pub nodule_ids: Vec<i64>,
}

pub fn generate(options: &Options) -> Synthetic {
    Plan::draw(options).synthetic()
}

/// Every nodule's look and every slice's place, drawn in row order from one stream.
struct Plan {
    nodules: Vec<(Shape, Scene)>,
    slices: Vec<Slice>,
}

struct Slice {
    nodule: usize,
    malignant: bool,
    radius: f64,
    dz: f64,
    /// The stream where this slice's noise starts.
    noise: SplitMix64,
}

impl Plan {
    fn draw(options: &Options) -> Plan {
        let n = options.n;
        let n_malignant = options.malignant();
        let mut rng = SplitMix64::new(options.seed);
        let mut plan = Plan {
            nodules: Vec::new(),
            slices: Vec::with_capacity(n),
        };
        while plan.slices.len() < n {
            let row = plan.slices.len();
            let malignant = row < n_malignant;
            let class_end = if malignant { n_malignant } else { n };
            let looks_malignant = malignant ^ rng.chance(LOOKALIKE_SHARE);
            let shape = Shape::draw(&mut rng, looks_malignant);
            let scene = Scene::draw(&mut rng);
            let slices = (1 + rng.below(options.max_slices.max(1))).min(class_end - row);
            // Slices 1.5 px apart through a sphere-ish nodule: outer slices are smaller. A run
            // longer than LUNA16's 4, as in LIDC slice sets, holds the slices a reader outlined
            // the nodule on, so it stays within ±0.8 of the nodule's radius.
            let step = match slices {
                0..=4 => 1.5,
                _ => 1.5f64.min(1.6 * shape.radius / (slices - 1) as f64),
            };
            for s in 0..slices {
                let dz = (s as f64 - (slices - 1) as f64 / 2.0) * step;
                plan.slices.push(Slice {
                    nodule: plan.nodules.len(),
                    malignant,
                    radius: (shape.radius.powi(2) - dz * dz).max(1.0).sqrt(),
                    dz,
                    noise: rng.clone(),
                });
                rng.skip(DRAWS_PER_SLICE);
            }
            plan.nodules.push((shape, scene));
        }
        plan
    }

    /// Renders the slices from row `first` on into `out` (whole patches), on every core.
    fn render(&self, first: usize, out: &mut [i16]) {
        let per = SIDE * SIDE;
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let rows = out.len() / per;
        let per_thread = rows.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (t, part) in out.chunks_mut(per_thread * per).enumerate() {
                scope.spawn(move || {
                    for (k, patch) in part.chunks_mut(per).enumerate() {
                        let slice = &self.slices[first + t * per_thread + k];
                        let (shape, scene) = &self.nodules[slice.nodule];
                        let mut rng = slice.noise.clone();
                        render(&mut rng, scene, shape, slice.radius, slice.dz, patch);
                    }
                });
            }
        });
    }

    /// Every row rendered, in HU.
    fn synthetic(&self) -> Synthetic {
        let mut images = vec![0i16; self.slices.len() * SIDE * SIDE];
        self.render(0, &mut images);
        Synthetic {
            images,
            labels: self.slices.iter().map(|s| s.malignant as u8).collect(),
            nodule_ids: self.slices.iter().map(|s| s.nodule as i64).collect(),
        }
    }

    /// The rendered rows from `first` on in `options`' convention: outside each slice's
    /// nodule set to air when segmented, then the units changed.
    fn convert(&self, options: &Options, first: usize, block: &[i16]) -> Vec<f32> {
        let per = SIDE * SIDE;
        let mut out = Vec::with_capacity(block.len());
        for (k, patch) in block.chunks(per).enumerate() {
            let slice = &self.slices[first + k];
            let (shape, _) = &self.nodules[slice.nodule];
            for (i, &hu) in patch.iter().enumerate() {
                let (x, y) = ((i % SIDE) as f64, (i / SIDE) as f64);
                let outside =
                    (x - shape.centre.0).hypot(y - shape.centre.1) > 1.5 * shape.radius + 2.0;
                let hu = if options.segmented && outside {
                    -1000.0
                } else {
                    hu as f64
                };
                out.push(options.units.of(hu));
            }
        }
        out
    }

    /// The rows block by block, each rendered on every core.
    fn blocks<E>(
        &self,
        mut each: impl FnMut(usize, &[i16]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let per = SIDE * SIDE;
        let mut buffer = vec![0i16; BLOCK.min(self.slices.len()) * per];
        for first in (0..self.slices.len()).step_by(BLOCK) {
            let rows = BLOCK.min(self.slices.len() - first);
            let block = &mut buffer[..rows * per];
            self.render(first, block);
            each(first, block)?;
        }
        Ok(())
    }
}

/// The set as a `Dataset` in memory, as `reader::read` would return it from the file written
/// to `path` (for tests and benchmarks that need no file).
pub fn in_memory(options: &Options, path: &Path) -> Dataset {
    let plan = Plan::draw(options);
    let set = plan.synthetic();
    // Held as the reader holds them: whole numbers as int16, fractions as f32.
    let pixels = match (options.plain(), options.units) {
        (true, _) => super::Pixels::I16(set.images),
        (false, Convention::Hu | Convention::Greys) => super::Pixels::I16(
            plan.convert(options, 0, &set.images)
                .into_iter()
                .map(|v| v as i16)
                .collect(),
        ),
        (false, _) => super::Pixels::F32(plan.convert(options, 0, &set.images)),
    };
    Dataset {
        path: path.to_path_buf(),
        synthetic: true,
        height: SIDE,
        width: SIDE,
        pixels,
        labels: set.labels,
        groups: options.with_ids.then_some(set.nodule_ids),
        group_source: match options.with_ids {
            true => super::groups::Source::File,
            false => super::groups::Source::None,
        },
        groups_are_nodules: true,
        group_doubt: None,
        patients: None,
        scale: Default::default(),
    }
    .with_scale()
    .expect("pixels in memory")
}

/// Writes the set to `path` atomically (a temporary file renamed into place): HDF5, or NumPy's
/// `.npz` when the name ends so (for Python without h5py, such as bench/reference.py on a lent
/// GPU machine).
pub fn write(path: &Path, options: &Options) -> Result<()> {
    let npz = path.extension().is_some_and(|e| e == "npz");
    if npz && !options.plain() {
        return Err(Error::input(
            "--units/--segmented: a .npz set holds plain HU only (write an .h5 file)",
        ));
    }
    let plan = Plan::draw(options);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = match path.extension().is_some_and(|e| e == "npz") {
        true => write_npz(&tmp, options, &plan).map_err(|e| e.to_string()),
        false => write_hdf5(&tmp, options, &plan).map_err(|e| e.to_string()),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::runtime(format!(
            "{}: cannot write ({e})",
            path.display()
        )));
    }
    std::fs::rename(&tmp, path).at(path, "write")
}

/// `ct_slices` (N, 64, 64) int16, `slice_class` (N, 1) uint8 and, with ids, `nodule_id` (N,)
/// int64, each a .npy member of an uncompressed zip, as `numpy.savez` writes them.
fn write_npz(path: &Path, options: &Options, plan: &Plan) -> std::io::Result<()> {
    use std::io::Write;
    let n = plan.slices.len();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    let member = |zip: &mut zip::ZipWriter<std::fs::File>, name: &str, descr: &str, shape: &str| {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        zip.start_file(format!("{name}.npy"), stored)?;
        zip.write_all(b"\x93NUMPY\x01\x00")?;
        zip.write_all(&(header.len() as u16).to_le_bytes())?;
        zip.write_all(header.as_bytes())?;
        Ok::<_, std::io::Error>(())
    };
    member(&mut zip, IMAGES, "<i2", &format!("({n}, {SIDE}, {SIDE})"))?;
    plan.blocks(|_, block| {
        let bytes: Vec<u8> = block.iter().flat_map(|v| v.to_le_bytes()).collect();
        zip.write_all(&bytes)
    })?;
    let labels: Vec<u8> = plan.slices.iter().map(|s| s.malignant as u8).collect();
    member(&mut zip, LABELS, "|u1", &format!("({n}, 1)"))?;
    zip.write_all(&labels)?;
    if options.with_ids {
        member(&mut zip, "nodule_id", "<i8", &format!("({n},)"))?;
        let ids: Vec<u8> = plan
            .slices
            .iter()
            .flat_map(|s| (s.nodule as i64).to_le_bytes())
            .collect();
        zip.write_all(&ids)?;
    }
    zip.finish()?;
    Ok(())
}

fn write_hdf5(path: &Path, options: &Options, plan: &Plan) -> hdf5::Result<()> {
    let n = plan.slices.len();
    let labels: Vec<u8> = plan.slices.iter().map(|s| s.malignant as u8).collect();
    let labels = ndarray::ArrayView2::from_shape((n, 1), &labels[..])
        .map_err(|e| hdf5::Error::from(e.to_string()))?;
    // The file is created once the first block is rendered, so that a set of one block holds
    // it open only while writing. HDF5 opens files without close-on-exec and locks them: a
    // process forked meanwhile (by a program using lnmc as a library) would keep the lock and
    // leave the finished file unreadable until it exits.
    let mut open: Option<(hdf5::File, hdf5::Dataset)> = None;
    plan.blocks(|first, block| {
        if open.is_none() {
            // Neither the datasets nor the root group record times (HDF5 1.14, the version
            // built into the binary without root, stamps the root group): same seed, same bytes.
            let file = hdf5::File::with_options()
                .with_fcpl(|p| p.obj_track_times(false))
                .create(path)?;
            let builder = file.new_dataset_builder().obj_track_times(false);
            let images = match options.units {
                Convention::Hu => builder.empty::<i16>(),
                Convention::Greys => builder.empty::<u8>(),
                Convention::Unit | Convention::Zscore => builder.empty::<f32>(),
            }
            .shape((n, SIDE, SIDE))
            .create(IMAGES)?;
            open = Some((file, images));
        }
        let (_, images) = open.as_ref().expect("opened above");
        if options.plain() {
            return put(images, first, block);
        }
        let values = plan.convert(options, first, block);
        match options.units {
            Convention::Hu => put(
                images,
                first,
                &values.iter().map(|&x| x as i16).collect::<Vec<_>>(),
            ),
            Convention::Greys => put(
                images,
                first,
                &values.iter().map(|&x| x as u8).collect::<Vec<_>>(),
            ),
            Convention::Unit | Convention::Zscore => put(images, first, &values),
        }
    })?;
    let (file, images) = open.ok_or_else(|| hdf5::Error::from("no patches to write"))?;
    drop(images);
    // No modification times in the file: the same seed gives the same bytes.
    let dataset = || file.new_dataset_builder().obj_track_times(false);
    dataset().with_data(&labels).create(LABELS)?;
    if options.with_ids {
        let ids: Vec<i64> = plan.slices.iter().map(|s| s.nodule as i64).collect();
        dataset().with_data(&ids[..]).create("nodule_id")?;
    }
    file.new_attr::<u64>()
        .create(SYNTHETIC_ATTR)?
        .write_scalar(&options.seed)?;
    Ok(())
}

/// Writes whole patches `rows` into `images` from row `first` on, in their stored type.
fn put<T: hdf5::H5Type>(images: &hdf5::Dataset, first: usize, rows: &[T]) -> hdf5::Result<()> {
    let count = rows.len() / (SIDE * SIDE);
    let view = ndarray::ArrayView3::from_shape((count, SIDE, SIDE), rows)
        .map_err(|e| hdf5::Error::from(e.to_string()))?;
    images.write_slice(&view, ndarray::s![first..first + count, .., ..])
}

/// How one nodule looks.
struct Shape {
    radius: f64,
    density: f64,
    /// Two boundary harmonics (order, amplitude, phase): lobulation.
    lobes: [(f64, f64, f64); 2],
    /// Angle, length and width of each spicule.
    spicules: Vec<(f64, f64, f64)>,
    edge: f64,
    /// Radius fraction and HU of a calcified core.
    calcification: Option<(f64, f64)>,
    centre: (f64, f64),
}

impl Shape {
    fn draw(rng: &mut SplitMix64, malignant: bool) -> Shape {
        let centre = (31.5 + 1.5 * rng.normal(), 31.5 + 1.5 * rng.normal());
        let mut lobe = |amplitude: (f64, f64)| {
            (
                3.0 + rng.below(4) as f64,
                rng.uniform(amplitude.0, amplitude.1),
                rng.uniform(0.0, TAU),
            )
        };
        if malignant {
            let lobes = [lobe((0.08, 0.25)), lobe((0.0, 0.12))];
            let count = if rng.chance(0.75) {
                4 + rng.below(9)
            } else {
                0
            };
            let spicules = (0..count)
                .map(|_| {
                    (
                        rng.uniform(0.0, TAU),
                        rng.uniform(2.0, 8.0),
                        rng.uniform(0.5, 1.1),
                    )
                })
                .collect();
            Shape {
                // Skewed large: most malignant nodules are clearly bigger, a few are not.
                radius: 6.0 + 8.0 * rng.unit().sqrt(),
                density: rng.uniform(-30.0, 90.0),
                lobes,
                spicules,
                edge: rng.uniform(0.7, 1.3),
                calcification: None,
                centre,
            }
        } else {
            let lobes = [lobe((0.0, 0.07)), lobe((0.0, 0.03))];
            let calcification = rng
                .chance(0.2)
                .then(|| (rng.uniform(0.3, 0.7), rng.uniform(250.0, 700.0)));
            Shape {
                // Skewed small, with a tail into the malignant range.
                radius: 1.5 + 6.0 * rng.unit().powi(2),
                density: rng.uniform(-90.0, 50.0),
                lobes,
                spicules: Vec::new(),
                edge: rng.uniform(0.4, 0.8),
                calcification,
                centre,
            }
        }
    }
}

/// The lung around the nodule: parenchyma texture, vessels, sometimes the chest wall.
struct Scene {
    parenchyma: f64,
    /// Plane waves (kx, ky, phase, amplitude) of the low-frequency texture.
    waves: Vec<(f64, f64, f64, f64)>,
    /// Vessels: point, direction angle, width, contrast, bend amplitude and wavelength.
    vessels: Vec<Vessel>,
    /// Chest wall: edge side (0–3), depth in pixels, soft-tissue HU.
    wall: Option<(usize, f64, f64)>,
    noise: f64,
}

struct Vessel {
    point: (f64, f64),
    angle: f64,
    width: f64,
    contrast: f64,
    bend: (f64, f64),
}

impl Scene {
    fn draw(rng: &mut SplitMix64) -> Scene {
        let waves = (0..3)
            .map(|_| {
                let (angle, wavelength) = (rng.uniform(0.0, TAU), rng.uniform(10.0, 40.0));
                let k = TAU / wavelength;
                (
                    k * angle.cos(),
                    k * angle.sin(),
                    rng.uniform(0.0, TAU),
                    rng.uniform(5.0, 25.0),
                )
            })
            .collect();
        let vessels = (0..rng.below(4))
            .map(|_| Vessel {
                point: (rng.uniform(0.0, 64.0), rng.uniform(0.0, 64.0)),
                angle: rng.uniform(0.0, PI),
                width: rng.uniform(0.5, 1.3),
                contrast: rng.uniform(200.0, 450.0),
                bend: (rng.uniform(0.0, 2.5), rng.uniform(30.0, 90.0)),
            })
            .collect();
        let wall = rng.chance(0.06).then(|| {
            (
                rng.below(4),
                rng.uniform(3.0, 10.0),
                rng.uniform(20.0, 60.0),
            )
        });
        Scene {
            parenchyma: rng.uniform(-880.0, -780.0),
            waves,
            vessels,
            wall,
            noise: rng.uniform(10.0, 30.0),
        }
    }

    /// Background HU at (x, y) on the slice `dz` away from the nodule's centre.
    fn background(&self, x: f64, y: f64, dz: f64) -> f64 {
        let mut hu = self.parenchyma;
        for &(kx, ky, phase, amplitude) in &self.waves {
            hu += amplitude * (kx * x + ky * y + phase).cos();
        }
        for v in &self.vessels {
            let (dx, dy) = (x - v.point.0, y - v.point.1);
            let along = dx * v.angle.cos() + dy * v.angle.sin();
            // Vessels drift a little from slice to slice.
            let across = -dx * v.angle.sin()
                + dy * v.angle.cos()
                + v.bend.0 * (TAU * along / v.bend.1).sin()
                + 0.8 * dz;
            hu += v.contrast * (-(across / v.width).powi(2)).exp();
        }
        if let Some((side, depth, tissue)) = self.wall {
            let d = [x, y, 63.0 - x, 63.0 - y][side];
            let wall = 1.0 / (1.0 + ((d - depth) / 0.8).exp());
            hu += (tissue - hu) * wall;
        }
        hu
    }
}

fn render(
    rng: &mut SplitMix64,
    scene: &Scene,
    shape: &Shape,
    radius: f64,
    dz: f64,
    out: &mut [i16],
) {
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (fx, fy) = (x as f64, y as f64);
            let background = scene.background(fx, fy, dz);
            let (dx, dy) = (fx - shape.centre.0, fy - shape.centre.1);
            let rho = dx.hypot(dy);
            let theta = dy.atan2(dx);
            let mut boundary = radius;
            for &(order, amplitude, phase) in &shape.lobes {
                boundary += radius * amplitude * (order * theta + phase).cos();
            }
            let mut cover = sigmoid((boundary - rho) / shape.edge);
            for &(angle, length, width) in &shape.spicules {
                let delta = (theta - angle + PI).rem_euclid(TAU) - PI;
                let along = rho * delta.cos();
                let across = rho * delta.sin();
                if along > 0.0 && along < boundary + length {
                    let fade = ((boundary + length - along) / length).min(1.0);
                    cover = cover.max(fade * (-(across / width).powi(2)).exp());
                }
            }
            let mut hu = background + (shape.density - background).max(0.0) * cover;
            if let Some((fraction, calcium)) = shape.calcification {
                let core = sigmoid((radius * fraction - rho) / 0.5);
                hu += (calcium - hu).max(0.0) * core;
            }
            hu += scene.noise * rng.normal();
            out[y * SIDE + x] = hu.round().clamp(-1024.0, 3000.0) as i16;
        }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn digest(set: &Synthetic) -> String {
        let mut h = Sha256::new();
        for v in &set.images {
            h.update(v.to_le_bytes());
        }
        h.update(&set.labels);
        for v in &set.nodule_ids {
            h.update(v.to_le_bytes());
        }
        format!("{:x}", h.finalize())
    }

    #[test]
    fn parallel_rendering_gives_the_sequential_generators_bytes() {
        // Digest of the set as the one-stream, one-core generator wrote it before rendering
        // moved onto every core: the same seed must keep giving the same data.
        let options = Options {
            n: 1000,
            seed: 7,
            with_ids: true,
            ..Default::default()
        };
        assert_eq!(
            digest(&generate(&options)),
            "4ce2c83f4956d624ec7fce121f8286c3184bf2864a814372122422e830b82075"
        );
    }

    #[test]
    fn positive_rate_sets_the_malignant_rows_and_keeps_both_classes() {
        let rare = Options {
            n: 2000,
            positive_rate: 0.002,
            ..Default::default()
        };
        let set = generate(&rare);
        assert_eq!(set.labels.iter().filter(|&&l| l == 1).count(), 4);
        assert!(
            set.labels[..4].iter().all(|&l| l == 1),
            "malignant rows first"
        );
        let tiny = Options {
            n: 10,
            positive_rate: 0.001,
            ..Default::default()
        };
        assert_eq!(tiny.malignant(), 1, "at least one malignant row");
        let most = Options {
            n: 10,
            positive_rate: 0.999,
            ..Default::default()
        };
        assert_eq!(most.malignant(), 9, "at least one benign row");
    }
}
