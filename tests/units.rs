//! The same nodules in every convention users' files come in, end to end through the binary:
//! `synth` → `groups` → train one epoch → `eval`, with no flag saying which units they are.

mod common;

use common::lnmc;
use std::path::Path;

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = lnmc().current_dir(dir).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lnmc {args:?}: {text}{err}");
    text
}

#[test]
fn every_convention_gets_groups_a_sane_split_and_its_units_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (units, segmented, shown) in [
        ("hu", false, "HU"),
        ("hu", true, "HU"),
        ("greys", false, "0–255 greys"),
        ("greys", true, "0–255 greys"),
        ("unit", false, "values in [0, 1]"),
        ("unit", true, "values in [0, 1]"),
        ("zscore", false, "values of unknown units"),
        ("zscore", true, "values of unknown units"),
    ] {
        let name = format!("{units}{}.h5", if segmented { "-seg" } else { "" });
        let mut synth = vec!["synth", "--out", &name, "--n", "600", "--units", units];
        if segmented {
            synth.push("--segmented");
        }
        ok(d, &synth);
        let said = ok(d, &["groups", "--data", &name]);
        // The synthetic generator draws 1–4 slices a nodule: about 240 nodules in 600 rows.
        let groups: usize = said
            .lines()
            .find_map(|l| l.split(" nodules from ").next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {said}"));
        assert!(
            (150..=320).contains(&groups),
            "{name}: {groups} groups: {said}"
        );
        let run = name.replace(".h5", "");
        let out = ok(
            d,
            &[
                "train",
                "--headless",
                "--data",
                &name,
                "--epochs",
                "1",
                "--run",
                &run,
                "--device",
                "cpu",
            ],
        );
        assert!(out.contains(&format!("data in {shown}")), "{name}: {out}");
        // The default split holds out whole nodules, about 20 % of the patches.
        let val: usize = out
            .split(" val ")
            .next()
            .and_then(|l| l.rsplit(" / ").next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!((90..=150).contains(&val), "{name}: {val} val: {out}");
        assert!(
            !out.contains("slice-level"),
            "{name}: not a group split: {out}"
        );
        let eval = ok(d, &["eval", "--checkpoint", &run, "--device", "cpu"]);
        assert!(eval.contains(shown), "{name}: {eval}");
        let show = ok(
            d,
            &["show", "--data", &name, "--index", "0", "--out", "p.png"],
        );
        let short = if units == "hu" {
            "· HU "
        } else if units == "greys" {
            "· grey "
        } else {
            "· value "
        };
        assert!(show.contains(short), "{name}: {show}");
    }
}
