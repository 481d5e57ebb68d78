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
    a.iter().zip(b).all(|(x, y)| *ab.entry(x).or_insert(y) == y && *ba.entry(y).or_insert(x) == x)
}

fn read_i64(file: &hdf5::File, name: &str) -> Vec<i64> {
    file.dataset(name).unwrap().read_raw::<i64>().unwrap()
}

#[test]
fn the_lidc_tree_imports_to_the_pixels_labels_and_ids_of_its_hdf5() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lidc-dev");
    if !root.exists() {
        eprintln!("{} is missing: nothing to import", root.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let images = root.join("images");
    let said = ok(dir.path(), &["import", images.to_str().unwrap(), "--layout", "label/patient/nodule/slice", "--labels", "benigno=0,maligno=1", "--out", "tree.h5"]);
    assert!(said.contains("2331 patches of 64×64 (8-bit pixels), 1022 malignant, 423 nodules of 239 patients"), "{said}");
    let ours = hdf5::File::open(dir.path().join("tree.h5")).unwrap();
    let theirs = hdf5::File::open(root.join("lidc-dev.h5")).unwrap();
    let pixels = ours.dataset("ct_slices").unwrap();
    assert_eq!(pixels.dtype().unwrap().size(), 1, "8-bit greys stay uint8");
    assert_eq!(pixels.read_raw::<u8>().unwrap(), theirs.dataset("ct_slices").unwrap().read_raw::<u8>().unwrap());
    assert_eq!(
        ours.dataset("slice_class").unwrap().read_raw::<u8>().unwrap(),
        theirs.dataset("slice_class").unwrap().read_raw::<u8>().unwrap()
    );
    for name in ["nodule_id", "patient_id"] {
        let truth: Vec<i64> = theirs.dataset(name).unwrap().read_raw::<i32>().unwrap().into_iter().map(i64::from).collect();
        assert!(same_partition(&read_i64(&ours, name), &truth), "{name} partitions otherwise");
    }
    let sources = lnmc::import::output::read_sources(&dir.path().join("tree.h5")).unwrap();
    assert_eq!(sources[0], "benigno/53453eb2e4b05911cd6db137/8/0.png");

    // Every command opens it, and the default split keeps each patient on one side.
    let data = lnmc::data::reader::read(&dir.path().join("tree.h5")).unwrap();
    let split = lnmc::data::split::Split::new(lnmc::data::split::SplitKind::default_for(&data), 0, &data).unwrap();
    let patients = read_i64(&ours, "patient_id");
    let side = |rows: &[usize]| rows.iter().map(|&i| patients[i]).collect::<HashSet<_>>();
    assert!(side(&split.train).is_disjoint(&side(&split.val)), "a patient on both sides");
    let facts = split.facts();
    assert!(!facts.optimistic && facts.why.contains("whole patients"), "{facts:?}");
}

/// Writes a grey PNG of `side`×`side` at `path` (folders made), value `v` everywhere.
fn png(path: &Path, side: u32, v: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_pixel(side, side, image::Luma([v])).save(path).unwrap();
}

#[test]
fn pixel_types_are_kept_slices_sort_by_number_and_bad_trees_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A 16-bit tree with slices 0…11 written out of order, in JPEG-free PNG and TIFF.
    for (label, patient, nodule) in [("b", "p1", "n1"), ("m", "p1", "n2"), ("b", "p2", "n1"), ("m", "p3", "n1")] {
        for slice in [10, 2, 0, 1, 11] {
            let path = d.join(format!("t16/{label}/{patient}/{nodule}/{slice}.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(16, 16, image::Luma([1000 + slice as u16]))
                .save(&path)
                .unwrap();
        }
    }
    let said = ok(d, &["import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5"]);
    assert!(said.contains("20 patches of 16×16 (16-bit pixels), 10 malignant, 4 nodules of 3 patients"), "{said}");
    let file = hdf5::File::open(d.join("t16.h5")).unwrap();
    let values = file.dataset("ct_slices").unwrap().read_raw::<u16>().unwrap();
    let firsts: Vec<u16> = values.chunks(256).take(5).map(|p| p[0]).collect();
    assert_eq!(firsts, [1000, 1001, 1002, 1010, 1011], "slices in numeric order");
    let data = lnmc::data::reader::read(&d.join("t16.h5")).unwrap();
    assert_eq!(data.len(), 20);

    // A TIFF tree with layout label/_/slice: every file its own nodule and patient.
    for (label, k) in [("b", 0), ("b", 1), ("m", 0), ("m", 1)] {
        let path = d.join(format!("tif/{label}/scan/{k}.tif"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::GrayImage::from_pixel(8, 8, image::Luma([7])).save(&path).unwrap();
    }
    let said = ok(d, &["import", "tif", "--layout", "label/_/slice", "--labels", "b=0,m=1", "--out", "tif.h5"]);
    assert!(said.contains("4 patches of 8×8 (8-bit pixels), 2 malignant, 4 nodules of 4 patients"), "{said}");

    // Refusals: one line naming a file, exit 2, nothing written.
    let nothing_left = |out: &str| {
        assert!(!d.join(out).exists(), "{out} written");
        let strays: Vec<_> = std::fs::read_dir(d).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains("importing")).collect();
        assert!(strays.is_empty(), "temporary files left: {strays:?}");
    };
    png(&d.join("mixed/b/p/n/0.png"), 16, 1);
    png(&d.join("mixed/b/p/n/1.png"), 16, 1);
    png(&d.join("mixed/m/q/n/0.png"), 32, 1);
    let err = input_error(d, &["import", "mixed", "--labels", "b=0,m=1", "--out", "mixed.h5"]);
    assert!(err.contains("m/q/n/0.png") && err.contains("is 32×32 where the first image is 16×16"), "{err}");
    nothing_left("mixed.h5");

    png(&d.join("unknown/b/p/n/0.png"), 16, 1);
    png(&d.join("unknown/x/p/n/0.png"), 16, 1);
    let err = input_error(d, &["import", "unknown", "--labels", "b=0,m=1", "--out", "unknown.h5"]);
    assert!(err.contains("x/p/n/0.png") && err.contains("label folder \"x\""), "{err}");
    nothing_left("unknown.h5");

    let err = input_error(d, &["import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5"]);
    assert!(err.contains("t16.h5: exists already") && err.contains("--force"), "{err}");
    ok(d, &["import", "t16", "--labels", "b=0,m=1", "--out", "t16.h5", "--force"]);

    let err = input_error(d, &["import", "t16", "--layout", "label/patient/slice", "--labels", "b=0,m=1", "--out", "x.h5"]);
    assert!(err.contains("--layout"), "{err}");
    nothing_left("x.h5");
    let err = input_error(d, &["import", "t16", "--layout", "label/slice/nodule", "--labels", "b=0,m=1", "--out", "x.h5"]);
    assert!(err.contains("slice must be the last level"), "{err}");
    let err = input_error(d, &["import", "t16", "--labels", "b=2", "--out", "x.h5"]);
    assert!(err.contains("a class is 0 (benign) or 1 (malignant)"), "{err}");
    std::fs::create_dir_all(d.join("colour/b/p/n")).unwrap();
    image::RgbImage::from_fn(8, 8, |x, _| image::Rgb([x as u8 * 30, 0, 0])).save(d.join("colour/b/p/n/0.png")).unwrap();
    let err = input_error(d, &["import", "colour", "--labels", "b=0", "--out", "x.h5"]);
    assert!(err.contains("colour/b/p/n/0.png") && err.contains("colour image"), "{err}");
    nothing_left("x.h5");
}
