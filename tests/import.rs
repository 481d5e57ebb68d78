//! `lnmc import` of image trees: the real development tree (../shared/lidc-dev/images) to
//! exactly the pixels, labels and nodule/patient partition of lidc-dev.h5, a split that keeps
//! every patient whole; pixel types kept; bad trees refused with one line and nothing left.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use common::{input_error, ok};

/// Two ids partition the rows alike when each id of one maps to exactly one of the other.
fn same_partition(a: &[i64], b: &[i64]) -> bool {
    let (mut ab, mut ba) = (HashMap::new(), HashMap::new());
    a.iter()
        .zip(b)
        .all(|(x, y)| *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
}

fn read_i64(file: &hdf5::File, name: &str) -> Vec<i64> {
    file.dataset(name).unwrap().read_raw::<i64>().unwrap()
}

#[test]
fn the_lidc_tree_imports_to_the_pixels_labels_and_ids_of_its_hdf5() {
    let _serial = common::one_at_a_time();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lidc-dev");
    if !root.exists() {
        eprintln!("{} is missing: nothing to import", root.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let images = root.join("images");
    let said = ok(
        dir.path(),
        &[
            "import",
            images.to_str().unwrap(),
            "--layout",
            "label/patient/nodule/slice",
            "--labels",
            "benigno=0,maligno=1",
            "--out",
            "tree.h5",
        ],
    );
    assert!(
        said.contains(
            "2331 patches of 64×64 (8-bit pixels), 1022 malignant, 423 nodules of 239 patients"
        ),
        "{said}"
    );
    let ours = hdf5::File::open(dir.path().join("tree.h5")).unwrap();
    let theirs = hdf5::File::open(root.join("lidc-dev.h5")).unwrap();
    let pixels = ours.dataset("ct_slices").unwrap();
    assert_eq!(pixels.dtype().unwrap().size(), 1, "8-bit greys stay uint8");
    assert_eq!(
        pixels.read_raw::<u8>().unwrap(),
        theirs
            .dataset("ct_slices")
            .unwrap()
            .read_raw::<u8>()
            .unwrap()
    );
    assert_eq!(
        ours.dataset("slice_class")
            .unwrap()
            .read_raw::<u8>()
            .unwrap(),
        theirs
            .dataset("slice_class")
            .unwrap()
            .read_raw::<u8>()
            .unwrap()
    );
    for name in ["nodule_id", "patient_id"] {
        let truth = common::i64_dataset(&theirs, name);
        assert!(
            same_partition(&read_i64(&ours, name), &truth),
            "{name} partitions otherwise"
        );
    }
    let sources = lnmc::import::output::read_sources(&dir.path().join("tree.h5")).unwrap();
    assert_eq!(sources[0], "benigno/53453eb2e4b05911cd6db137/8/0.png");

    // Every command opens it, and the default split keeps each patient on one side.
    let data = lnmc::data::reader::read(&dir.path().join("tree.h5")).unwrap();
    let split =
        lnmc::data::split::Split::new(lnmc::data::split::SplitKind::default_for(&data), 0, &data)
            .unwrap();
    let patients = read_i64(&ours, "patient_id");
    let side = |rows: &[usize]| rows.iter().map(|&i| patients[i]).collect::<HashSet<_>>();
    assert!(
        side(&split.train).is_disjoint(&side(&split.val)),
        "a patient on both sides"
    );
    let facts = split.facts();
    assert!(
        !facts.optimistic && facts.why.contains("whole patients"),
        "{facts:?}"
    );
}

/// Writes a grey PNG of `side`×`side` at `path` (folders made), value `v` everywhere.
fn png(path: &Path, side: u32, v: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_pixel(side, side, image::Luma([v]))
        .save(path)
        .unwrap();
}

#[test]
fn pixel_types_are_kept_slices_sort_by_number_and_bad_trees_are_refused() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A 16-bit tree with slices 0…11 written out of order, in JPEG-free PNG and TIFF.
    for (label, patient, nodule) in [
        ("b", "p1", "n1"),
        ("m", "p1", "n2"),
        ("b", "p2", "n1"),
        ("m", "p3", "n1"),
    ] {
        for slice in [10, 2, 0, 1, 11] {
            let path = d.join(format!("t16/{label}/{patient}/{nodule}/{slice}.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(
                16,
                16,
                image::Luma([1000 + slice as u16]),
            )
            .save(&path)
            .unwrap();
        }
    }
    let said = ok(
        d,
        &["import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5"],
    );
    assert!(
        said.contains("20 patches of 16×16 (16-bit pixels), 10 malignant, 4 nodules of 3 patients"),
        "{said}"
    );
    let file = hdf5::File::open(d.join("t16.h5")).unwrap();
    let values = file
        .dataset("ct_slices")
        .unwrap()
        .read_raw::<u16>()
        .unwrap();
    let firsts: Vec<u16> = values.chunks(256).take(5).map(|p| p[0]).collect();
    assert_eq!(
        firsts,
        [1000, 1001, 1002, 1010, 1011],
        "slices in numeric order"
    );
    let data = lnmc::data::reader::read(&d.join("t16.h5")).unwrap();
    assert_eq!(data.len(), 20);

    // A TIFF tree with layout label/_/slice: every file its own nodule and patient.
    for (label, k) in [("b", 0), ("b", 1), ("m", 0), ("m", 1)] {
        let path = d.join(format!("tif/{label}/scan/{k}.tif"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(8, 8, image::Luma([7]))
            .save(&path)
            .unwrap();
    }
    let said = ok(
        d,
        &[
            "import",
            "tif",
            "--layout",
            "label/_/slice",
            "--labels",
            "b=0,m=1",
            "--out",
            "tif.h5",
        ],
    );
    assert!(
        said.contains("4 patches of 8×8 (8-bit pixels), 2 malignant, 4 nodules of 4 patients"),
        "{said}"
    );

    // Refusals: one line naming a file, exit 2, nothing written.
    let nothing_left = |out: &str| {
        assert!(!d.join(out).exists(), "{out} written");
        let strays: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("importing"))
            .collect();
        assert!(strays.is_empty(), "temporary files left: {strays:?}");
    };
    png(&d.join("mixed/b/p/n/0.png"), 16, 1);
    png(&d.join("mixed/b/p/n/1.png"), 16, 1);
    png(&d.join("mixed/m/q/n/0.png"), 32, 1);
    let err = input_error(
        d,
        &[
            "import", "mixed", "--labels", "b=0,m=1", "--out", "mixed.h5",
        ],
    );
    assert!(
        err.contains("m/q/n/0.png") && err.contains("is 32×32 where the first image is 16×16"),
        "{err}"
    );
    nothing_left("mixed.h5");

    png(&d.join("unknown/b/p/n/0.png"), 16, 1);
    png(&d.join("unknown/x/p/n/0.png"), 16, 1);
    let err = input_error(
        d,
        &[
            "import",
            "unknown",
            "--labels",
            "b=0,m=1",
            "--out",
            "unknown.h5",
        ],
    );
    assert!(
        err.contains("x/p/n/0.png") && err.contains("label folder \"x\""),
        "{err}"
    );
    nothing_left("unknown.h5");

    let err = input_error(
        d,
        &["import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5"],
    );
    assert!(
        err.contains("t16.h5: exists already") && err.contains("--force"),
        "{err}"
    );
    ok(
        d,
        &[
            "import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5", "--force",
        ],
    );

    let err = input_error(
        d,
        &[
            "import",
            "t16",
            "--layout",
            "label/patient/slice",
            "--labels",
            "b=0,m=1",
            "--out",
            "x.h5",
        ],
    );
    assert!(err.contains("--layout"), "{err}");
    nothing_left("x.h5");
    let err = input_error(
        d,
        &[
            "import",
            "t16",
            "--layout",
            "label/slice/nodule",
            "--labels",
            "b=0,m=1",
            "--out",
            "x.h5",
        ],
    );
    assert!(err.contains("slice must be the last level"), "{err}");
    let err = input_error(d, &["import", "t16", "--labels", "b=2", "--out", "x.h5"]);
    assert!(
        err.contains("a class is 0 (benign) or 1 (malignant)"),
        "{err}"
    );
    std::fs::create_dir_all(d.join("colour/b/p/n")).unwrap();
    image::RgbImage::from_fn(8, 8, |x, _| image::Rgb([x as u8 * 30, 0, 0]))
        .save(d.join("colour/b/p/n/0.png"))
        .unwrap();
    let err = input_error(d, &["import", "colour", "--labels", "b=0", "--out", "x.h5"]);
    assert!(
        err.contains("colour/b/p/n/0.png") && err.contains("colour image"),
        "{err}"
    );
    nothing_left("x.h5");
}

/// Runs tests/volumes_reference.py into `dir`: the volumes, coords.csv and SimpleITK's patches.
fn reference_volumes(dir: &Path, size: usize, spacing: f64) -> Vec<f32> {
    let args = [
        dir.into(),
        size.to_string().into(),
        spacing.to_string().into(),
    ];
    let _: Vec<u8> = common::python::<std::ffi::OsString>("volumes_reference.py", &args);
    common::read_npy(&dir.join("reference.npy"))
}

/// Spheres of 12 mm at known LPS centres, in every format (MetaImage raw, zraw and LOCAL with a
/// flipped axis; NIfTI-1 scaled, qform-only with a flipped axis, NIfTI-2; a DICOM series in
/// shuffled file and instance order): each patch is SimpleITK's resampling of the same file to
/// within rounding, the sphere centred at its diameter in pixels, empty rows empty, and what
/// falls outside the volume is air, counted. An import killed half-way continues.
#[test]
fn volumes_in_every_format_are_cut_where_simpleitk_cuts_them() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (size, spacing) = (32usize, 0.8f64);
    let reference = reference_volumes(d, size, spacing);
    let said = ok(
        d,
        &[
            "import",
            "volumes",
            "--coords",
            "coords.csv",
            "--out",
            "vol.h5",
            "--size",
            "32",
            "--spacing",
            "0.8",
        ],
    );
    assert!(
        said.contains(
            "21 patches of 32×32 at 0.8 mm a pixel (int16 HU), 7 malignant, from 7 series"
        ),
        "{said}"
    );
    let file = hdf5::File::open(d.join("vol.h5")).unwrap();
    let ours = file
        .dataset("ct_slices")
        .unwrap()
        .read_raw::<i16>()
        .unwrap();
    let outside = file
        .dataset("outside_pixels")
        .unwrap()
        .read_raw::<i64>()
        .unwrap();
    let uids = file
        .dataset("series_uid")
        .unwrap()
        .read_raw::<hdf5::types::VarLenUnicode>()
        .unwrap();
    let labels = file
        .dataset("slice_class")
        .unwrap()
        .read_raw::<u8>()
        .unwrap();
    let patients = read_i64(&file, "patient_id");
    let nodules = read_i64(&file, "nodule_id");
    let world = file.dataset("world_mm").unwrap().read_raw::<f64>().unwrap();
    let px = size * size;
    for r in 0..21 {
        let (a, b) = (
            &ours[r * px..(r + 1) * px],
            &reference[r * px..(r + 1) * px],
        );
        let worst = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (f32::from(x) - y).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 0.5 + 1e-3,
            "row {r} ({}): {worst} HU from SimpleITK",
            uids[r].as_str()
        );
        let air = b.iter().filter(|&&v| v == -1024.0).count();
        assert_eq!(outside[r] as usize, air, "row {r}: outside pixels");
        let bright: Vec<usize> = (0..px).filter(|&k| a[k] > -375).collect();
        match r % 3 {
            0 => {
                // The sphere: centred, 12 mm across at 0.8 mm a pixel.
                let diameter = 2.0 * (bright.len() as f64 / std::f64::consts::PI).sqrt();
                assert!(
                    (diameter - 12.0 / spacing).abs() < 1.0,
                    "row {r}: {diameter} px"
                );
                let (cy, cx) = bright.iter().fold((0.0, 0.0), |(y, x), &k| {
                    (y + (k / size) as f64, x + (k % size) as f64)
                });
                let n = bright.len() as f64;
                let centre = (size as f64 - 1.0) / 2.0;
                assert!(
                    (cy / n - centre).abs() < 0.5 && (cx / n - centre).abs() < 0.5,
                    "row {r}: centred at ({}, {})",
                    cy / n,
                    cx / n
                );
                assert_eq!(labels[r], 1);
            }
            1 => assert!(bright.is_empty(), "row {r}: background holds a sphere"),
            _ => assert_eq!(outside[r] as usize, px, "row {r}: wholly outside"),
        }
        assert_eq!(patients[r], (r / 3) as i64, "one patient per series");
        assert_eq!(nodules[r], r as i64, "one nodule per row");
    }
    assert!(world[0].is_finite() && uids[0].as_str() == "mhd1");
    let data = lnmc::data::reader::read(&d.join("vol.h5")).unwrap();
    assert_eq!(data.len(), 21);

    // Killed after 3 of 7 series: the next run continues from them, to the same file.
    if common::fault_injection("the killed import") {
        let killed = common::lnmc()
            .current_dir(d)
            .env("LNMC_INJECT_FAULT", "kill-import:3")
            .args([
                "import",
                "volumes",
                "--coords",
                "coords.csv",
                "--out",
                "again.h5",
                "--size",
                "32",
                "--spacing",
                "0.8",
            ])
            .output()
            .unwrap();
        assert_eq!(killed.status.code(), Some(137));
        assert!(!d.join("again.h5").exists());
        let parts = std::fs::read_dir(d.join("again.h5.parts")).unwrap().count();
        assert_eq!(parts, 4, "plan.json and 3 parts");
        let said = ok(
            d,
            &[
                "import",
                "volumes",
                "--coords",
                "coords.csv",
                "--out",
                "again.h5",
                "--size",
                "32",
                "--spacing",
                "0.8",
            ],
        );
        assert!(said.contains("(3 done by an earlier run)"), "{said}");
        assert!(!d.join("again.h5.parts").exists());
        let again = hdf5::File::open(d.join("again.h5")).unwrap();
        assert_eq!(
            again
                .dataset("ct_slices")
                .unwrap()
                .read_raw::<i16>()
                .unwrap(),
            ours
        );
    }

    // Context: three slices 0.8 mm apart, the middle one the patch itself.
    ok(
        d,
        &[
            "import",
            "volumes",
            "--coords",
            "coords.csv",
            "--out",
            "ctx.h5",
            "--size",
            "32",
            "--spacing",
            "0.8",
            "--context",
            "3",
        ],
    );
    let ctx = hdf5::File::open(d.join("ctx.h5")).unwrap();
    let around = ctx.dataset("context_slices").unwrap();
    assert_eq!(around.shape(), [21, 3, 32, 32]);
    let around = around.read_raw::<i16>().unwrap();
    assert_eq!(&around[px..2 * px], &ours[..px]);
}

/// pydicom's real CT slice (CT_small.dcm, shipped in its wheel) reads as pydicom's own
/// `pixel_array × RescaleSlope + RescaleIntercept`.
#[test]
fn a_real_dicom_ct_slice_reads_in_the_hu_pydicom_gives() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = "import sys, numpy as np, pydicom, pydicom.data, shutil\n\
        p = pydicom.data.get_testdata_file('CT_small.dcm')\n\
        shutil.copy(p, sys.argv[1] + '/CT_small.dcm')\n\
        ds = pydicom.dcmread(p)\n\
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)\n\
        np.save(sys.argv[1] + '/hu.npy', hu.astype(np.float32))\n";
    let series = d.join("series");
    std::fs::create_dir_all(&series).unwrap();
    let out = std::process::Command::new(common::venv_python())
        .args(["-c", script])
        .arg(&series)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hu = common::read_npy(&series.join("hu.npy"));
    std::fs::remove_file(series.join("hu.npy")).unwrap();
    let volume = lnmc::import::dicom_series::read(&series).unwrap();
    assert_eq!(volume.size, [128, 128, 1]);
    let ours: Vec<f32> = match volume.voxels {
        lnmc::import::volume::Voxels::I16(v) => v.into_iter().map(f32::from).collect(),
        lnmc::import::volume::Voxels::F32(v) => v,
    };
    assert_eq!(ours, hu);
    // The same file as the slices of an image tree: HU, int16.
    for label in ["b", "m"] {
        let to = d.join(format!("tree/{label}/p/n/0.dcm"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(series.join("CT_small.dcm"), to).unwrap();
    }
    let said = ok(
        d,
        &["import", "tree", "--labels", "b=0,m=1", "--out", "tree.h5"],
    );
    assert!(
        said.contains("2 patches of 128×128 (signed 16-bit pixels)"),
        "{said}"
    );
    let slices = hdf5::File::open(d.join("tree.h5"))
        .unwrap()
        .dataset("ct_slices")
        .unwrap()
        .read_raw::<i16>()
        .unwrap();
    assert_eq!(
        slices[..128 * 128]
            .iter()
            .map(|&v| f32::from(v))
            .collect::<Vec<_>>(),
        hu
    );
}

/// Bad volumes and coordinates: one line naming the file and the problem, exit 2, and nothing
/// left behind (no output, no parts, no temporary file).
#[test]
fn bad_volumes_and_coordinates_are_refused_with_nothing_left_behind() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let header = |spacing: &str, element: &str, data: &str, extra: &str| {
        format!("ObjectType = Image\nNDims = 3\nDimSize = 16 16 4\nElementType = {element}\nElementSpacing = {spacing}\nOffset = 0 0 0\n{extra}ElementDataFile = {data}\n")
    };
    let good_raw = vec![0u8; 16 * 16 * 4 * 2];
    let case =
        |name: &str, mhd: String, raw: Option<(&str, Vec<u8>)>, coords: &str, expect: &[&str]| {
            let vols = d.join(name);
            std::fs::create_dir_all(&vols).unwrap();
            std::fs::write(vols.join("s.mhd"), mhd).unwrap();
            if let Some((file, bytes)) = raw {
                std::fs::write(vols.join(file), bytes).unwrap();
            }
            let csv = d.join(format!("{name}.csv"));
            std::fs::write(&csv, coords).unwrap();
            let out = format!("{name}.h5");
            let err = input_error(
                d,
                &[
                    "import",
                    name,
                    "--coords",
                    csv.to_str().unwrap(),
                    "--out",
                    &out,
                    "--size",
                    "16",
                ],
            );
            for e in expect {
                assert!(err.contains(e), "{name}: {err}");
            }
            assert!(!d.join(&out).exists(), "{name}: output written");
            assert!(
                !d.join(format!("{out}.parts")).exists(),
                "{name}: parts left"
            );
            let strays: Vec<_> = std::fs::read_dir(d)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("importing"))
                .collect();
            assert!(strays.is_empty(), "{name}: {strays:?}");
        };
    let row = "seriesuid,coordX,coordY,coordZ,class\ns,8,8,2,1\n";
    case(
        "outside",
        header("1 1 1", "MET_SHORT", "../elsewhere.raw", ""),
        None,
        row,
        &["s.mhd", "outside its own folder"],
    );
    case(
        "short",
        header("1 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", vec![0u8; 100])),
        row,
        &["s.raw", "holds 100 bytes", "need 2048"],
    );
    case(
        "element",
        header("1 1 1", "MET_RGB", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        row,
        &["s.mhd", "ElementType MET_RGB"],
    );
    case(
        "notzlib",
        header("1 1 1", "MET_SHORT", "s.zraw", "CompressedData = True\n"),
        Some(("s.zraw", b"this is not a zlib stream at all".to_vec())),
        row,
        &["s.zraw", "not a zlib stream"],
    );
    case(
        "zero",
        header("0 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        row,
        &["s.mhd", "spacing"],
    );
    case(
        "nan",
        header("nan 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        row,
        &["s.mhd", "spacing"],
    );
    case(
        "matrix",
        header(
            "1 1 1",
            "MET_SHORT",
            "s.raw",
            "TransformMatrix = 1 0 0 1 0 0 0 0 1\n",
        ),
        Some(("s.raw", good_raw.clone())),
        row,
        &["s.mhd", "cannot be inverted"],
    );
    case(
        "huge",
        header("1 1 1", "MET_SHORT", "s.raw", "").replace("16 16 4", "100000 100000 100000"),
        Some(("s.raw", good_raw.clone())),
        row,
        &["s.mhd", "more than any CT series"],
    );
    case(
        "missing",
        header("1 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        "seriesuid,coordX,coordY,coordZ,class\ns,8,8,2,1\nother,1,2,3,0\n",
        &["missing.csv: line 3", "series other is not under"],
    );
    case(
        "text",
        header("1 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        "seriesuid,coordX,coordY,coordZ,class\ns,8,eight,2,1\n",
        &["text.csv", "line 2", "coordY \"eight\" is not a coordinate"],
    );
    case(
        "nolabel",
        header("1 1 1", "MET_SHORT", "s.raw", ""),
        Some(("s.raw", good_raw.clone())),
        "seriesuid,coordX,coordY,coordZ,diameter_mm\ns,8,8,2,5\n",
        &["nolabel.csv", "--label-column", "--labels-from"],
    );

    // A good one, then the same --out again: refused unless --force.
    let vols = d.join("good");
    std::fs::create_dir_all(&vols).unwrap();
    std::fs::write(
        vols.join("s.mhd"),
        header("1 1 1", "MET_SHORT", "s.raw", ""),
    )
    .unwrap();
    std::fs::write(vols.join("s.raw"), &good_raw).unwrap();
    std::fs::write(d.join("good.csv"), row).unwrap();
    ok(
        d,
        &[
            "import", "good", "--coords", "good.csv", "--out", "good.h5", "--size", "16",
        ],
    );
    let err = input_error(
        d,
        &[
            "import", "good", "--coords", "good.csv", "--out", "good.h5", "--size", "16",
        ],
    );
    assert!(err.contains("good.h5: exists already"), "{err}");
    ok(
        d,
        &[
            "import", "good", "--coords", "good.csv", "--out", "good.h5", "--size", "16", "--force",
        ],
    );
    let err = input_error(
        d,
        &[
            "import",
            "good",
            "--coords",
            "good.csv",
            "--out",
            "x.h5",
            "--context",
            "2",
        ],
    );
    assert!(err.contains("--context 2"), "{err}");
    // Two series of one uid: which one is meant cannot be told.
    std::fs::create_dir_all(vols.join("copy")).unwrap();
    std::fs::copy(vols.join("s.mhd"), vols.join("copy/s.mhd")).unwrap();
    std::fs::copy(vols.join("s.raw"), vols.join("copy/s.raw")).unwrap();
    let err = input_error(
        d,
        &[
            "import", "good", "--coords", "good.csv", "--out", "x.h5", "--size", "16",
        ],
    );
    assert!(
        err.contains("s.mhd") && err.contains("one series a uid"),
        "{err}"
    );
    assert!(!d.join("x.h5").exists());
}

/// Labels by path (`--labels-csv`) for a tree; for volumes, labels joined from a second CSV on
/// the series and coordinates (LUNA16's annotations have none), and nodule ids from a column.
#[test]
fn labels_by_path_labels_joined_from_another_file_and_nodule_columns() {
    let _serial = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (patient, nodule) in [("p1", "a"), ("p1", "b"), ("p2", "a")] {
        for slice in 0..2 {
            png(
                &d.join(format!("flat/{patient}/{nodule}/{slice}.png")),
                16,
                9,
            );
        }
    }
    std::fs::write(d.join("labels.csv"), "path,label\np1/a,1\np1/b,0\np2,1\n").unwrap();
    let said = ok(
        d,
        &[
            "import",
            "flat",
            "--layout",
            "patient/nodule/slice",
            "--labels-csv",
            "labels.csv",
            "--out",
            "flat.h5",
        ],
    );
    assert!(
        said.contains("6 patches of 16×16 (8-bit pixels), 4 malignant, 3 nodules of 2 patients"),
        "{said}"
    );
    std::fs::write(d.join("partial.csv"), "path,label\np1/a,1\n").unwrap();
    let err = input_error(
        d,
        &[
            "import",
            "flat",
            "--layout",
            "patient/nodule/slice",
            "--labels-csv",
            "partial.csv",
            "--out",
            "x.h5",
        ],
    );
    assert!(err.contains("has no label in --labels-csv"), "{err}");

    // Volumes: coordinates without a label column, labels joined from the full file.
    let _ = reference_volumes(d, 16, 1.0);
    let full = std::fs::read_to_string(d.join("coords.csv")).unwrap();
    let mut annotations = String::from("seriesuid,coordX,coordY,coordZ,lesion\n");
    for (k, line) in full.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        annotations.push_str(&format!("{},{},{},{},{}\n", f[0], f[1], f[2], f[3], k / 3));
    }
    std::fs::write(d.join("annotations.csv"), &annotations).unwrap();
    let err = input_error(
        d,
        &[
            "import",
            "volumes",
            "--coords",
            "annotations.csv",
            "--out",
            "x.h5",
            "--size",
            "16",
        ],
    );
    assert!(
        err.contains("annotations.csv") && err.contains("--labels-from"),
        "{err}"
    );
    let said = ok(
        d,
        &[
            "import",
            "volumes",
            "--coords",
            "annotations.csv",
            "--labels-from",
            "coords.csv",
            "--nodule-column",
            "lesion",
            "--out",
            "joined.h5",
            "--size",
            "16",
        ],
    );
    assert!(
        said.contains("21 patches") && said.contains("7 malignant"),
        "{said}"
    );
    let file = hdf5::File::open(d.join("joined.h5")).unwrap();
    let labels = file
        .dataset("slice_class")
        .unwrap()
        .read_raw::<u8>()
        .unwrap();
    assert_eq!(
        labels,
        (0..21).map(|r| (r % 3 == 0) as u8).collect::<Vec<_>>()
    );
    assert_eq!(
        read_i64(&file, "nodule_id"),
        (0..21).map(|r| r / 3).collect::<Vec<i64>>()
    );
    // A row the other file does not have: refused, naming the row.
    std::fs::write(
        d.join("odd.csv"),
        "seriesuid,coordX,coordY,coordZ\nmhd1,5000,5000,5000\n",
    )
    .unwrap();
    let err = input_error(
        d,
        &[
            "import",
            "volumes",
            "--coords",
            "odd.csv",
            "--labels-from",
            "coords.csv",
            "--out",
            "x.h5",
            "--size",
            "16",
        ],
    );
    assert!(
        err.contains("odd.csv: line 2") && err.contains("gives its label"),
        "{err}"
    );
}
