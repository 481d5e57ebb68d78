//! The real development slices (../shared/lidc-dev, LIDC-IDRI) as a user without their ids
//! would meet them: `lnmc groups` calls its inferred groups uncertain, and every place that
//! names the split says it is possibly optimistic; the user's own ids (`--from`) make it
//! honest; a malformed or foreign CSV is refused with one line and nothing written.

mod common;

use std::path::{Path, PathBuf};

use common::{input_error, ok, H5};

/// The development file, where the project keeps it beside the repository.
fn lidc_dev() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lidc-dev/lidc-dev.h5");
    if !path.exists() {
        eprintln!("{} is missing: nothing to measure", path.display());
        return None;
    }
    Some(path)
}

/// The file's slices and labels without ids, as `name` in `dir`; its true nodule ids.
fn without_ids(source: &Path, dir: &Path, name: &str) -> (Vec<i64>, Vec<u8>) {
    let file = hdf5::File::open(source).unwrap();
    let slices = file.dataset("ct_slices").unwrap().read_raw::<u8>().unwrap();
    let labels = file
        .dataset("slice_class")
        .unwrap()
        .read_raw::<u8>()
        .unwrap();
    let ids = common::i64_dataset(&file, "nodule_id");
    let n = labels.len();
    H5::create(dir, name)
        .add("ct_slices", &[n, 64, 64], &slices)
        .add("slice_class", &[n, 1], &labels)
        .done();
    (ids, labels)
}

fn eval_json(dir: &Path, run: &str) -> serde_json::Value {
    let checkpoint = format!("checkpoint/{run}/best.safetensors");
    serde_json::from_str(&ok(dir, &["eval", "--checkpoint", &checkpoint, "--json"])).unwrap()
}

#[test]
fn uncertain_groups_are_said_optimistic_and_the_users_ids_make_the_split_honest() {
    let Some(source) = lidc_dev() else { return };
    // It opens HDF5 files in-process and starts lnmc: one test at a time (common::one_at_a_time).
    let _one = common::one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (truth, labels) = without_ids(&source, d, "lidc.h5");
    let sidecar = d.join("lidc.h5.groups.csv");

    // Inferred: uncertain, with the file's evidence, and written all the same (whole groups
    // still leak less than single slices), marked in the sidecar.
    let said = ok(d, &["groups", "--data", "lidc.h5"]);
    assert!(said.contains("verdict: uncertain: "), "{said}");
    assert!(said.contains("lnmc groups --from"), "{said}");
    let written = std::fs::read_to_string(&sidecar).unwrap();
    assert!(
        written
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("# verdict uncertain: "),
        "{written}"
    );

    let text = train_one_epoch(d, "inferred");
    assert!(text.contains("possibly optimistic: whole groups on one side, but the groups were inferred and are uncertain"), "{text}");
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("runs/inferred/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["split_facts"]["optimistic"], true);
    assert_eq!(config["split_facts"]["groups"], "inferred");
    let m = eval_json(d, "inferred");
    assert_eq!(m["split"]["kind"], "group");
    assert_eq!(m["split"]["groups"], "inferred");
    assert_eq!(m["split"]["optimistic"], true);
    assert!(m["numeric_precision"].as_str().unwrap().starts_with("fp32"));
    let text = ok(
        d,
        &[
            "eval",
            "--checkpoint",
            "checkpoint/inferred/best.safetensors",
        ],
    );
    assert!(
        text.contains("warning    possibly optimistic: whole groups"),
        "{text}"
    );
    let report = d.join("report");
    ok(
        d,
        &[
            "report",
            "--checkpoint",
            "checkpoint/inferred/best.safetensors",
            "--out",
            report.to_str().unwrap(),
        ],
    );
    let page = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(page.contains("possibly optimistic: whole groups on one side, but the groups were inferred and are uncertain"));

    // The user's ids, as a CSV of index,nodule,patient in another order: honest.
    let mut csv = String::from("index,nodule,patient,label\n");
    for i in (0..truth.len()).rev() {
        csv.push_str(&format!(
            "{i},{},{},{}\n",
            truth[i],
            truth[i] / 2,
            labels[i]
        ));
    }
    std::fs::write(d.join("ids.csv"), &csv).unwrap();
    let said = ok(d, &["groups", "--data", "lidc.h5", "--from", "ids.csv"]);
    assert!(said.contains("423 nodules from 2331 patches"), "{said}");
    let side = std::fs::read_to_string(&sidecar).unwrap();
    assert_eq!(side.lines().nth(1), Some("# source user"));
    let ids: Vec<i64> = side
        .lines()
        .skip(4)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, truth);
    let text = train_one_epoch(d, "user");
    assert!(!text.contains("optimistic"), "{text}");
    let m = eval_json(d, "user");
    assert_eq!(m["split"]["groups"], "user");
    assert_eq!(m["split"]["optimistic"], false);
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/user/split.json")).unwrap())
            .unwrap();
    let nodules = |side: &str| -> std::collections::HashSet<i64> {
        split[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| truth[i.as_u64().unwrap() as usize])
            .collect()
    };
    assert!(
        nodules("train").is_disjoint(&nodules("val")),
        "a true nodule on both sides"
    );

    // Bad CSVs: one line, exit 2, the sidecar as it was.
    let bad = |name: &str, text: &str, expect: &str| {
        std::fs::write(d.join(name), text).unwrap();
        let err = input_error(d, &["groups", "--data", "lidc.h5", "--from", name]);
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
        assert_eq!(
            std::fs::read_to_string(&sidecar).unwrap(),
            side,
            "{name} changed the sidecar"
        );
    };
    let rows = |f: &dyn Fn(usize) -> String| (0..truth.len()).map(f).collect::<String>();
    bad(
        "missing.csv",
        &format!(
            "index,nodule\n{}",
            rows(&|i| if i == 7 {
                String::new()
            } else {
                format!("{i},{}\n", truth[i])
            })
        ),
        "no row for patch 7",
    );
    bad(
        "repeated.csv",
        &format!(
            "index,nodule\n0,0\n{}",
            rows(&|i| format!("{i},{}\n", truth[i]))
        ),
        "patch 0 appears twice",
    );
    bad(
        "text.csv",
        &format!(
            "index,nodule\n{}",
            rows(&|i| if i == 3 {
                "3,three\n".into()
            } else {
                format!("{i},{}\n", truth[i])
            })
        ),
        "nodule id \"three\" is not a whole number",
    );
    bad(
        "short.csv",
        "nodule\n0\n1\n",
        "has 2 rows but the data has 2331 patches",
    );
    bad(
        "other_labels.csv",
        &format!(
            "index,nodule,label\n{}",
            rows(&|i| format!("{i},{},{}\n", truth[i], 1 - labels[i]))
        ),
        "a CSV for another file?",
    );
    bad(
        "mixed.csv",
        &format!("index,nodule\n{}", rows(&|i| format!("{i},0\n"))),
        "has slices of both labels",
    );
    bad(
        "patients.csv",
        &format!(
            "index,nodule,patient\n{}",
            rows(&|i| format!("{i},{},{i}\n", truth[i]))
        ),
        "belongs to patients",
    );
    bad(
        "no_column.csv",
        "index,lesion\n0,1\n",
        "has no 'nodule' column",
    );
    std::fs::remove_file(&sidecar).unwrap();
    bad_nothing_written(d);
}

/// With no sidecar yet, a refused CSV leaves none behind.
fn bad_nothing_written(d: &Path) {
    let err = input_error(d, &["groups", "--data", "lidc.h5", "--from", "short.csv"]);
    assert!(err.contains("short.csv"), "{err}");
    assert!(!d.join("lidc.h5.groups.csv").exists());
}

/// Neighbouring slices (`--context`) on the real slices: every patch's neighbours are its own
/// nodule's adjacent rows (lidc-dev keeps a nodule's slices in order and together), the patch
/// in the middle, a nodule's ends repeated.
#[test]
fn context_neighbours_on_real_slices_stay_in_their_nodule() {
    let Some(path) = lidc_dev() else {
        return;
    };
    let _one = common::one_at_a_time();
    let data = lnmc::data::reader::open(&path).unwrap();
    let ids = lnmc::data::context::nodule_ids(&data).unwrap();
    let table = lnmc::data::context::neighbours(ids, 5);
    let mut repeated = 0;
    for (row, rows) in table.chunks(5).enumerate() {
        assert_eq!(rows[2], row);
        for (offset, &r) in rows.iter().enumerate() {
            assert_eq!(
                ids[r], ids[row],
                "row {row}: neighbour {r} of another nodule"
            );
            let distance = (r as i64 - row as i64).abs();
            assert!(distance <= (offset as i64 - 2).abs(), "row {row}: {rows:?}");
        }
        repeated += rows.windows(2).filter(|w| w[0] == w[1]).count();
    }
    assert!(
        repeated > 0,
        "nodules of fewer than 5 slices repeat their ends"
    );
}

/// One epoch on lidc.h5 in `d` as run `name`; what it printed.
fn train_one_epoch(d: &std::path::Path, name: &str) -> String {
    let args = [
        "train",
        "--headless",
        "--device",
        "cpu",
        "--data",
        "lidc.h5",
    ];
    ok(d, &[&args[..], &["--epochs", "1", "--run", name]].concat())
}
