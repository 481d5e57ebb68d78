//! Validation of HDF5 input: every bad case gives one line naming the file and the problem.

mod common;

use common::{valid_file, H5};
use lnmc::data::reader::{open, read};
use lnmc::data::Pixels;
use lnmc::error::ErrorKind;

fn error_of(path: &std::path::Path) -> String {
    let err = read(path).expect_err("bad input accepted");
    assert_eq!(err.kind, ErrorKind::Input, "{err}");
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(!msg.contains('\n'), "multi-line message: {msg}");
    assert!(
        msg.starts_with(&path.display().to_string()),
        "message does not name the file: {msg}"
    );
    msg
}

fn images(n: usize, side: usize) -> Vec<i16> {
    vec![-800; n * side * side]
}

#[test]
fn reads_the_upstream_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_file(dir.path(), "ok.h5", 6, 16);
    let data = read(&path).unwrap();
    assert_eq!((data.len(), data.height, data.width), (6, 16, 16));
    assert_eq!(data.labels, vec![1, 0, 1, 0, 1, 0]);
    assert_eq!(
        data.patch(1).unwrap()[0],
        ((256 * 37) % 1400) as f32 - 1000.0
    );
    // int16 stays int16: 2 bytes a pixel in memory, as on disk.
    assert!(matches!(data.pixels, Pixels::I16(_)));
    assert_eq!(data.pixels.bytes(), 6 * 16 * 16 * 2);
    assert!(!data.synthetic);
    assert!(data.groups.is_none());
}

#[test]
fn accepts_flat_labels_float_images_other_sizes_and_extra_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<f64> = (0..4 * 20 * 24).map(|i| i as f64 * 0.5).collect();
    let path = H5::create(dir.path(), "f.h5")
        .add("ct_slices", &[4, 20, 24], &pixels)
        .add("slice_class", &[4], &[0i64, 1, 1, 0])
        .add("nodule_id", &[4], &[7i32, 7, 8, 9])
        .add("notes", &[2], &[1u8, 2])
        .done();
    let data = read(&path).unwrap();
    assert_eq!((data.height, data.width), (20, 24));
    assert_eq!(data.patch(3).unwrap()[1], (3.0 * 480.0 + 1.0) * 0.5);
    // Halves cannot be held in int16 without changing them: they stay f32.
    assert!(matches!(data.pixels, Pixels::F32(_)));
    assert_eq!(data.labels, vec![0, 1, 1, 0]);
    assert_eq!(data.groups, Some(vec![7, 7, 8, 9]));
}

#[test]
fn whole_number_floats_are_held_in_two_bytes_unless_a_later_block_has_fractions() {
    let dir = tempfile::tempdir().unwrap();
    // More patches than one conversion block (4096), the fraction only in the last patch.
    let n = 4100;
    let mut pixels: Vec<f64> = (0..n * 256).map(|i| (i % 2000) as f64 - 1000.0).collect();
    let whole = H5::create(dir.path(), "whole.h5")
        .add("ct_slices", &[n, 16, 16], &pixels)
        .add("slice_class", &[n], &[0u8, 1].repeat(n / 2))
        .done();
    *pixels.last_mut().unwrap() = 0.25;
    let mixed = H5::create(dir.path(), "mixed.h5")
        .add("ct_slices", &[n, 16, 16], &pixels)
        .add("slice_class", &[n], &[0u8, 1].repeat(n / 2))
        .done();
    let whole = read(&whole).unwrap();
    assert!(matches!(whole.pixels, Pixels::I16(_)));
    let mixed = read(&mixed).unwrap();
    assert!(matches!(mixed.pixels, Pixels::F32(_)));
    for data in [&whole, &mixed] {
        let values = data.pixel_sample(usize::MAX).unwrap();
        assert_eq!(values.len(), pixels.len());
        let differ = values
            .iter()
            .zip(&pixels)
            .filter(|(a, b)| **a as f64 != **b)
            .count();
        assert_eq!(
            differ,
            usize::from(data.pixels.bytes() == n * 256 * 2),
            "values changed"
        );
    }
}

#[test]
fn a_lazily_opened_file_reads_the_same_patches_and_holds_no_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_file(dir.path(), "ok.h5", 40, 16);
    let read = read(&path).unwrap();
    let lazy = open(&path).unwrap();
    assert_eq!(lazy.pixels.bytes(), 0);
    assert_eq!(
        (lazy.len(), lazy.labels.clone()),
        (read.len(), read.labels.clone())
    );
    for i in [0, 17, 39] {
        assert_eq!(lazy.patch(i).unwrap(), read.patch(i).unwrap());
        assert_eq!(lazy.patch_stats(i).unwrap(), read.patch_stats(i).unwrap());
    }
    // The histogram's sample: every 3rd patch from the first, in one strided read.
    let sample = lazy.pixel_sample(14).unwrap();
    assert_eq!(sample, read.pixel_sample(14).unwrap());
    assert_eq!(sample.len(), 14 * 256);
    assert_eq!(sample[256..512], read.patch(3).unwrap()[..]);
}

#[test]
fn rejects_a_file_that_is_not_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.hdf5");
    std::fs::write(&path, "just text").unwrap();
    assert!(error_of(&path).contains("not an HDF5 file"));
}

#[test]
fn rejects_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_file(dir.path(), "t.h5", 50, 32);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let msg = error_of(&path);
    assert!(
        msg.contains("truncated") || msg.contains("unreadable"),
        "{msg}"
    );
}

#[test]
fn rejects_missing_paths_directories_and_dangling_links() {
    let dir = tempfile::tempdir().unwrap();
    assert!(error_of(&dir.path().join("absent.h5")).contains("no such file"));
    assert!(error_of(dir.path()).contains("is a directory"));
    let link = dir.path().join("link.h5");
    std::os::unix::fs::symlink(dir.path().join("gone.h5"), &link).unwrap();
    assert!(error_of(&link).contains("dangling"));
}

#[test]
fn names_the_missing_dataset_and_lists_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = H5::create(dir.path(), "m.h5")
        .add("images", &[2, 16, 16], &images(2, 16))
        .done();
    let msg = error_of(&path);
    assert!(
        msg.contains("'ct_slices' missing") && msg.contains("found: images"),
        "{msg}"
    );
    let path = H5::create(dir.path(), "m2.h5")
        .add("ct_slices", &[2, 16, 16], &images(2, 16))
        .done();
    assert!(error_of(&path).contains("'slice_class' missing"));
}

#[test]
fn rejects_wrong_ranks_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let path = H5::create(dir.path(), "r.h5")
        .add("ct_slices", &[2, 256], &images(2, 16))
        .add("slice_class", &[2], &[0u8, 1])
        .done();
    assert!(error_of(&path).contains("expected rank 3"));
    let path = H5::create(dir.path(), "s.h5")
        .add("ct_slices", &[2, 8, 8], &images(2, 8))
        .add("slice_class", &[2], &[0u8, 1])
        .done();
    assert!(error_of(&path).contains("at least 16x16"));
    let path = H5::create(dir.path(), "l.h5")
        .add("ct_slices", &[2, 16, 16], &images(2, 16))
        .add("slice_class", &[1, 2], &[0u8, 1])
        .done();
    assert!(error_of(&path).contains("expected (N,) or (N, 1)"));
}

#[test]
fn rejects_count_mismatch_and_empty_sets() {
    let dir = tempfile::tempdir().unwrap();
    let path = H5::create(dir.path(), "c.h5")
        .add("ct_slices", &[3, 16, 16], &images(3, 16))
        .add("slice_class", &[2, 1], &[0u8, 1])
        .done();
    assert!(error_of(&path).contains("has 2 entries but 'ct_slices' has 3 patches"));
    let path = H5::create(dir.path(), "e.h5")
        .add("ct_slices", &[0, 16, 16], &images(0, 16))
        .add("slice_class", &[0, 1], &[0u8; 0])
        .done();
    assert!(error_of(&path).contains("is empty"));
}

#[test]
fn rejects_non_finite_pixels_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut pixels = vec![0.0f32; 3 * 16 * 16];
    pixels[2 * 256 + 5 * 16 + 7] = f32::NAN;
    let path = H5::create(dir.path(), "n.h5")
        .add("ct_slices", &[3, 16, 16], &pixels)
        .add("slice_class", &[3], &[0u8, 1, 1])
        .done();
    let msg = error_of(&path);
    assert!(
        msg.contains("non-finite pixel (NaN) in patch 2 at (5, 7)"),
        "{msg}"
    );
    pixels[2 * 256 + 5 * 16 + 7] = 0.0;
    pixels[16] = f32::INFINITY;
    let path = H5::create(dir.path(), "i.h5")
        .add("ct_slices", &[3, 16, 16], &pixels)
        .add("slice_class", &[3], &[0u8, 1, 1])
        .done();
    assert!(error_of(&path).contains("(inf) in patch 0 at (1, 0)"));
}

#[test]
fn rejects_labels_outside_zero_one_and_non_integer_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = H5::create(dir.path(), "l.h5")
        .add("ct_slices", &[3, 16, 16], &images(3, 16))
        .add("slice_class", &[3, 1], &[0i32, 2, 1])
        .done();
    assert!(error_of(&path).contains("label 2 at index 1"));
    let path = H5::create(dir.path(), "neg.h5")
        .add("ct_slices", &[3, 16, 16], &images(3, 16))
        .add("slice_class", &[3], &[0i8, 1, -1])
        .done();
    assert!(error_of(&path).contains("label -1 at index 2"));
    let path = H5::create(dir.path(), "f.h5")
        .add("ct_slices", &[2, 16, 16], &images(2, 16))
        .add("slice_class", &[2], &[0.0f32, 1.0])
        .done();
    assert!(error_of(&path).contains("expected integers"));
}

#[test]
fn rejects_a_single_class() {
    let dir = tempfile::tempdir().unwrap();
    let path = H5::create(dir.path(), "one.h5")
        .add("ct_slices", &[3, 16, 16], &images(3, 16))
        .add("slice_class", &[3], &[1u8, 1, 1])
        .done();
    assert!(error_of(&path).contains("only one class: all 3 patches are malignant"));
}
