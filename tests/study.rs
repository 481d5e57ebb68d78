//! Evaluation as a study reports it, end to end on data the test makes: calibration and a
//! fitted temperature, operating points, subgroups, two checkpoints compared, and the report;
//! with the refusals of bad input.

mod common;

use std::path::Path;

use common::{input_error, ok, train};
use serde_json::Value;

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

/// Two runs on the same split of one file with nodule ids: `a` trained longer than `b`.
fn two_runs(dir: &Path) {
    ok(dir, &["synth", "--out", "d.h5", "--n", "900", "--with-ids"]);
    train(dir, "d.h5", "a", &["--epochs", "3"]);
    train(dir, "d.h5", "b", &["--epochs", "1", "--lr", "3e-4"]);
}

#[test]
fn a_study_of_two_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_runs(d);

    // Calibration, an operating point chosen for screening, subgroups, the paired tests.
    let e = json(
        d,
        &[
            "eval",
            "--checkpoint",
            "a",
            "--json",
            "--threshold",
            "sens:0.9",
            "--against",
            "b",
        ],
    );
    let c = &e["calibration"];
    assert_eq!(c["bins"].as_array().unwrap().len(), 15);
    let ece = c["ece"].as_f64().unwrap();
    let [lo, hi] = [0, 1].map(|k| c["ece_interval"][k].as_f64().unwrap());
    assert!(lo <= ece && ece <= hi && hi <= 1.0, "{c}");
    assert_eq!(c["unit"], "nodule");
    assert!(c["temperature"].is_null());
    let p = &e["operating_point"];
    assert_eq!(p["rule"], "sens:0.9");
    assert!(p["sensitivity"].as_f64().unwrap() >= 0.9, "{p}");
    assert_eq!(p["chosen_on_scored_data"], true);
    let groups = e["subgroups"]["groups"].as_array().unwrap();
    let cases = |by: &str| -> u64 {
        groups
            .iter()
            .filter(|g| g["by"] == by)
            .map(|g| g["cases"].as_u64().unwrap())
            .sum()
    };
    let nodules = e["nodule"]["n"].as_u64().unwrap();
    assert_eq!((cases("size"), cases("density")), (nodules, nodules));
    let comparison = &e["against"]["comparison"];
    let auc = |k: usize| comparison["delong"]["auc"][k].as_f64().unwrap();
    assert!((auc(0) - e["nodule"]["auc"].as_f64().unwrap()).abs() < 1e-9);
    assert!((comparison["delta_auc"].as_f64().unwrap() - (auc(0) - auc(1))).abs() < 1e-12);
    let p = comparison["delong"]["p"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    assert_eq!(comparison["unit"], "nodule");
    // A checkpoint against itself: no difference, nothing to test.
    let same = json(
        d,
        &["eval", "--checkpoint", "a", "--json", "--against", "a"],
    );
    let same = &same["against"]["comparison"];
    assert_eq!(same["delta_auc"], 0.0);
    assert_eq!(same["delong"]["p"], 1.0);
    assert_eq!(same["mcnemar"]["only_a_right"], 0);

    // A temperature: stored beside the checkpoint, the ranking (AUC) unchanged, the NLL no
    // worse on the data it was fitted on.
    let text = ok(d, &["calibrate", "--checkpoint", "a"]);
    assert!(text.starts_with("temperature "), "{text}");
    assert!(d
        .join("checkpoint/a/best.safetensors.calibration.json")
        .exists());
    let after = json(d, &["eval", "--checkpoint", "a", "--json"]);
    assert_eq!(after["auc"], e["auc"]);
    let c = &after["calibration"];
    assert!(c["scaled"]["nll"].as_f64().unwrap() <= c["nll"].as_f64().unwrap() + 1e-12);
    assert!(c["temperature"]["temperature"].as_f64().unwrap() > 0.0);

    // The report: one page, nothing fetched from anywhere.
    let out = ok(
        d,
        &[
            "report",
            "--checkpoint",
            "a",
            "--against",
            "b",
            "--out",
            "rep",
        ],
    );
    assert!(out.starts_with("wrote rep/report.html"), "{out}");
    let page = std::fs::read_to_string(d.join("rep/report.html")).unwrap();
    for section in [
        "Data and split",
        "Training configuration",
        "Metrics at 0.5",
        "ROC and calibration",
        "Operating points",
        "Subgroups",
        "Against checkpoint/b/best.safetensors",
        "Where they disagree",
        "Most confident errors",
        "with temperature",
    ] {
        assert!(page.contains(section), "no {section:?} in the report");
    }
    let sha = lnmc::data::sha256(&d.join("d.h5")).unwrap();
    assert!(page.contains(&sha), "the data's hash");
    let external = page
        .match_indices("http")
        .filter(|(at, _)| !page[*at..].starts_with("http://www.w3.org/2000/svg"))
        .count();
    assert_eq!(external, 0, "the page reaches out");
    assert!(
        page.matches("<svg").count() == 2 && page.matches("data:image/png;base64,").count() >= 8
    );
    // Written again over itself: a report folder is replaced.
    ok(d, &["report", "--checkpoint", "a", "--out", "rep"]);
    assert!(!std::fs::read_to_string(d.join("rep/report.html"))
        .unwrap()
        .contains("Where they disagree"));
}

#[test]
fn bad_study_inputs_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_runs(d);
    // Another seed: another split of the same file.
    train(d, "d.h5", "s", &["--epochs", "1", "--seed", "5"]);
    let e = input_error(d, &["eval", "--checkpoint", "a", "--against", "s"]);
    assert!(e.contains("is scored on other patches than"), "{e}");
    std::fs::create_dir(d.join("mine")).unwrap();
    std::fs::write(d.join("mine/notes.txt"), "keep").unwrap();
    let e = input_error(d, &["report", "--checkpoint", "a", "--out", "mine"]);
    assert!(e.contains("mine: exists and is not an lnmc report"), "{e}");
    assert_eq!(
        std::fs::read_to_string(d.join("mine/notes.txt")).unwrap(),
        "keep"
    );
    // A temperature fitted for another file is refused, not applied.
    ok(d, &["calibrate", "--checkpoint", "b"]);
    std::fs::copy(
        d.join("checkpoint/b/best.safetensors.calibration.json"),
        d.join("checkpoint/a/best.safetensors.calibration.json"),
    )
    .unwrap();
    let e = input_error(d, &["eval", "--checkpoint", "a"]);
    assert!(
        e.contains("was fitted for another version of the checkpoint"),
        "{e}"
    );
    // Too few nodules of a class to fit a temperature on.
    ok(d, &["synth", "--out", "tiny.h5", "--n", "40", "--with-ids"]);
    train(d, "tiny.h5", "t", &["--epochs", "1"]);
    let e = input_error(d, &["calibrate", "--checkpoint", "t"]);
    assert!(e.contains("too few to fit a temperature on"), "{e}");
    // A threshold outside (0, 1), a target no threshold reaches.
    for bad in ["0", "1", "sens:1.5", "ppv:0.9"] {
        let out = common::lnmc()
            .current_dir(d)
            .args(["eval", "--checkpoint", "a", "--threshold", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--threshold {bad}");
    }
}

mod dashboard {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lnmc::evaluation::{Against, Evaluation};
    use lnmc::tui::app::{App, Tab};
    use lnmc::tui::{view, Effect, Message};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::common::app;

    fn key(app: &mut App, code: KeyCode) -> Effect {
        app.update(Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn screen(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        terminal.draw(|f| view::draw(f, app)).unwrap();
        format!("{}", terminal.backend())
    }

    /// An evaluation of 40 validation-like patches by two checkpoints that disagree on some.
    fn compared(app: &App) -> Evaluation {
        let indices: Vec<usize> = (0..30).collect();
        let labels: Vec<u8> = indices.iter().map(|&i| app.data().labels[i]).collect();
        let scores: Vec<f64> = labels
            .iter()
            .enumerate()
            .map(|(k, &l)| 0.15 + 0.6 * l as f64 + 0.02 * (k % 7) as f64)
            .collect();
        let second: Vec<f64> = scores
            .iter()
            .enumerate()
            .map(|(k, &s)| if k % 4 == 0 { 1.0 - s } else { s })
            .collect();
        let comparison = lnmc::paired::compare(&labels, &scores, &second, None, 100, 1);
        Evaluation {
            checkpoint: "checkpoint/a/best.safetensors".into(),
            against: Some(Against {
                checkpoint: "checkpoint/b/best.safetensors".into(),
                origin: "run b, epoch 1".into(),
                scores: second,
                comparison,
            }),
            split_name: "val split of run a".into(),
            origin: "run a, epoch 3".into(),
            split: lnmc::data::split::Facts {
                optimistic: false,
                ..lnmc::data::split::Facts::recorded_as(lnmc::data::split::SplitKind::Group)
            },
            ..super::common::evaluation(app.data().path.clone(), indices, labels, scores, 100)
        }
    }

    #[test]
    fn the_operating_point_moves_with_keys_and_two_checkpoints_are_browsed_side_by_side() {
        let mut app = app();
        key(&mut app, KeyCode::Char('3'));
        let e = compared(&app);
        let second_auc = lnmc::metrics::roc_auc(&e.labels, &e.against.as_ref().unwrap().scores);
        app.update(Message::Evaluated {
            checkpoint: "checkpoint/a/best.safetensors".into(),
            result: Ok(e),
        });
        let shown = screen(&app);
        assert!(shown.contains("at 0.5 (rows: truth)"), "{shown}");
        assert!(shown.contains("reliability · 15 bins · ECE"), "{shown}");
        assert!(
            shown.contains("ROC · vs run b, epoch 1 · per patch ΔAUC"),
            "{shown}"
        );
        assert!(shown.contains(&format!("vs {second_auc:.3}")), "{shown}");
        // ] moves the threshold up by 0.01; the matrix and rates follow.
        key(&mut app, KeyCode::Char(']'));
        let shown = screen(&app);
        assert!(shown.contains("at 0.510 (0.51)"), "{shown}");
        assert!(
            !shown.contains("optimistic"),
            "a fixed threshold is not chosen on the data"
        );
        // p steps through the presets: 0.5, then Youden, chosen on these patches.
        key(&mut app, KeyCode::Char('p'));
        assert!(screen(&app).contains("at 0.5 (rows: truth)"));
        key(&mut app, KeyCode::Char('p'));
        let shown = screen(&app);
        assert!(
            shown.contains("(youden)") && shown.contains("chosen on these patches: optimistic"),
            "{shown}"
        );
        // w writes the report of what is shown, the comparison included, under runs/.
        let Effect::Report { request, out } = key(&mut app, KeyCode::Char('w')) else {
            panic!("no report");
        };
        assert_eq!(
            request.against.as_deref(),
            Some(std::path::Path::new("checkpoint/b/best.safetensors"))
        );
        assert_eq!(request.threshold, lnmc::operating_point::Rule::Youden);
        assert!(out.starts_with("runs") && out.to_string_lossy().contains("report-"));
        app.update(Message::Reported(
            "wrote runs/report-1/report.html (300 KB)".into(),
        ));
        assert!(screen(&app).contains("wrote runs/report-1/report.html"));

        // d: where they disagree, largest difference first, in the Dataset tab with the
        // overlay; the first checkpoint's maps are asked for, then the second's.
        let Effect::Explain {
            checkpoint,
            indices,
        } = key(&mut app, KeyCode::Char('d'))
        else {
            panic!("no maps asked for");
        };
        assert_eq!(app.tab(), Tab::Dataset);
        assert_eq!(
            checkpoint,
            std::path::PathBuf::from("checkpoint/a/best.safetensors")
        );
        let shown = screen(&app);
        assert!(shown.contains("disagreements"), "{shown}");
        assert!(
            shown.contains("by checkpoint/b/best.safetensors"),
            "{shown}"
        );
        let map = |p: f32| lnmc::explain::Explanation {
            map: vec![p; 4],
            height: 2,
            width: 2,
            logits: [0.0, p],
            bias_difference: 0.0,
        };
        let maps = |p: f32| indices.iter().map(|i| (*i, map(p))).collect::<Vec<_>>();
        let Effect::Explain {
            checkpoint: next, ..
        } = app.update(Message::Explained {
            checkpoint: checkpoint.clone(),
            result: Ok(maps(1.0)),
        })
        else {
            panic!("the second checkpoint's maps are not asked for");
        };
        assert_eq!(
            next,
            std::path::PathBuf::from("checkpoint/b/best.safetensors")
        );
        app.update(Message::Explained {
            checkpoint: next,
            result: Ok(maps(-1.0)),
        });
        let shown = screen(&app);
        assert!(
            shown.contains("left: evaluated, right: compared"),
            "{shown}"
        );
    }
}
