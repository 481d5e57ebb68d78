//! `lnmc sweep` without a scheduler: the grid run here N at a time with exact numbers, run
//! again without repeating a finished run, a task stopped mid-run resumed exactly, the Slurm
//! path against stand-ins for sbatch and scancel, and the refusals. (A real one-node Slurm is
//! scripts/slurm-check's, which CI runs.)

mod common;

use lnmc::run::catalog::Kind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{input_error, lnmc, metrics_rows, ok, without_timing};

const GRID: [&str; 2] = ["lr=1e-3,5e-4", "seed=range(0,2)"];

fn sweep_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sweep", name, GRID[0], GRID[1]];
    args.extend([
        "--data",
        "d.h5",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--batch-size",
        "16",
    ]);
    args.extend(extra);
    args
}

#[test]
fn a_sweep_runs_here_exactly_and_continues_without_repeating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "200"]);
    let out = ok(d, &sweep_args("s", &["-j", "2"]));
    assert!(out.contains("4 runs, 2 at a time"), "{out}");
    assert!(out.contains("every run finished"), "{out}");
    let ids = [
        "lr-1e-3_seed-0",
        "lr-1e-3_seed-1",
        "lr-5e-4_seed-0",
        "lr-5e-4_seed-1",
    ];
    for id in ids {
        assert_eq!(metrics_rows(d, &format!("s/{id}")).len(), 2, "{id}");
    }
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/s/sweep.json")).unwrap())
            .unwrap();
    assert_eq!(sweep["axes"][1]["values"], serde_json::json!(["0", "1"]));
    // The same numbers as the run trained on its own with the same settings and threads.
    let reference = lnmc()
        .current_dir(d)
        .env("LNMC_THREADS", "1")
        .args([
            "train",
            "--headless",
            "--data",
            "d.h5",
            "--device",
            "cpu",
            "--epochs",
            "2",
        ])
        .args([
            "--batch-size",
            "16",
            "--lr",
            "5e-4",
            "--seed",
            "1",
            "--run",
            "ref",
        ])
        .output()
        .unwrap();
    assert!(reference.status.success());
    assert_eq!(
        without_timing(&metrics_rows(d, "s/lr-5e-4_seed-1")),
        without_timing(&metrics_rows(d, "ref"))
    );
    // Again: nothing is trained twice.
    let metrics = d.join("runs/s/lr-1e-3_seed-0/metrics.csv");
    let before = std::fs::metadata(&metrics).unwrap().modified().unwrap();
    let again = ok(d, &sweep_args("s", &["-j", "2"]));
    assert!(again.contains("every run finished"), "{again}");
    assert_eq!(
        std::fs::metadata(&metrics).unwrap().modified().unwrap(),
        before
    );
    let task = std::fs::read_to_string(d.join("runs/s/task-0.out")).unwrap();
    assert!(task.contains("finished already"), "{task}");
}

#[test]
fn a_task_stopped_mid_run_resumes_with_the_numbers_it_would_have_had() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "200"]);
    let grid = |name: &'static str| {
        vec![
            "sweep",
            name,
            "seed=3",
            "--data",
            "d.h5",
            "--device",
            "cpu",
            "--epochs",
            "3",
            "--batch-size",
            "4",
        ]
    };
    ok(d, &grid("r"));
    let full = without_timing(&metrics_rows(d, "r/seed-3"));
    assert_eq!(full.len(), 3);
    // The same grid submitted to a Slurm that only accepts it; its task run as Slurm would,
    // stopped by SIGTERM in its second epoch (preemption), then run again (the requeue).
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    stand_in(&bin, "sbatch", "7", "", 0);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let submitted = lnmc()
        .current_dir(d)
        .env("PATH", &path)
        .args([&grid("q")[..], &["--on", "slurm"]].concat())
        .output()
        .unwrap();
    assert!(submitted.status.success());
    let mut task = lnmc()
        .current_dir(d)
        .args(["sweep", "q", "--task", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while metrics_rows(d, "q/seed-3").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no epoch in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(unsafe { libc::kill(task.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(task.wait().unwrap().code(), Some(128 + libc::SIGTERM));
    assert!(
        metrics_rows(d, "q/seed-3").len() < 3,
        "stopped before the end"
    );
    ok(d, &["sweep", "q", "--task", "0"]);
    assert_eq!(without_timing(&metrics_rows(d, "q/seed-3")), full);
}

/// A stand-in for a Slurm command: records its arguments in FILE.args, prints `stdout`, and
/// exits with `code` after printing `stderr`.
fn stand_in(dir: &Path, name: &str, stdout: &str, stderr: &str, code: i32) {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$@\" > \"{}\"\necho '{stdout}'\necho '{stderr}' >&2\nexit {code}\n",
            dir.join(format!("{name}.args")).display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn on_slurm_it_writes_one_array_script_submits_it_and_cancels_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "100"]);
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let slurm = |args: &[&str]| {
        lnmc()
            .current_dir(d)
            .env("PATH", &path)
            .args(args)
            .output()
            .unwrap()
    };
    // sbatch refuses: its message is passed on, nothing is left.
    stand_in(
        &bin,
        "sbatch",
        "",
        "sbatch: error: invalid partition specified: gpux",
        1,
    );
    let out = slurm(&sweep_args(
        "s",
        &["--on", "slurm", "--sbatch", "--partition=gpux"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr
            .contains("sbatch refused the sweep: sbatch: error: invalid partition specified: gpux"),
        "{stderr}"
    );
    assert!(!d.join("runs/s").exists());
    // sbatch accepts: the script is the array of the grid, throttled; the job id is kept.
    stand_in(&bin, "sbatch", "4242;cluster", "", 0);
    let out = slurm(&sweep_args(
        "s",
        &[
            "--on",
            "slurm",
            "-j",
            "3",
            "--sbatch",
            "--partition=gpu --time=1:00:00",
        ],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Slurm job array 4242 (4 tasks, 3 at a time)"),
        "{said}"
    );
    let args = std::fs::read_to_string(bin.join("sbatch.args")).unwrap();
    assert!(
        args.starts_with("--parsable --partition=gpu --time=1:00:00 runs/s/sweep.sbatch"),
        "{args}"
    );
    let script = std::fs::read_to_string(d.join("runs/s/sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3%3",
        "#SBATCH --requeue",
        "sweep s --task \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(script.contains(line), "{line}: {script}");
    }
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/s/sweep.json")).unwrap())
            .unwrap();
    assert_eq!(sweep["jobs"][0]["id"], "4242");
    // Submitted, nothing started: every point a row saying so.
    let sweep = &lnmc::run::catalog::runs(&d.join("runs/s"))[0];
    let states: Vec<Option<&str>> = points(sweep).iter().map(|p| p.queue()).collect();
    assert_eq!(states, [Some("not started"); 4]);
    // A task as Slurm runs it: point 2 of the grid.
    ok(d, &["sweep", "s", "--task", "2"]);
    let sweep = &lnmc::run::catalog::runs(&d.join("runs/s"))[0];
    let point = &points(sweep)[2];
    assert_eq!(point.run().unwrap().status, lnmc::run::Status::Finished);
    assert_eq!(point.queue(), None);
    assert_eq!(
        sweep.status,
        lnmc::run::Status::Stopped,
        "3 of 4 still to run"
    );
    assert_eq!(metrics_rows(d, "s/lr-5e-4_seed-0").len(), 2);
    let e = input_error(d, &["sweep", "s", "--task", "9"]);
    assert!(e.contains("--task 9: the sweep has points 0…3"), "{e}");
    // --cancel hands the recorded job to scancel.
    stand_in(&bin, "scancel", "", "", 0);
    let out = slurm(&["sweep", "s", "--cancel"]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(bin.join("scancel.args"))
            .unwrap()
            .trim(),
        "4242"
    );
}

#[test]
fn bad_sweeps_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "100"]);
    for (args, why) in [
        (
            vec!["sweep", "b", "learning_rate=1e-3", "--data", "d.h5"],
            "no such setting",
        ),
        (vec!["sweep", "b", "lr=", "--data", "d.h5"], "no values"),
        (
            vec!["sweep", "b", "dropout=0.2,1.5", "--data", "d.h5"],
            "dropout",
        ),
        (
            vec!["sweep", "b", "lr=1e-3", "--data", "d.h5", "--run", "x"],
            "--run is not for a sweep",
        ),
        (
            vec!["sweep", "b", "lr=1e-3", "--data", "nope.h5"],
            "nope.h5",
        ),
        (vec!["sweep", "b", "--cancel"], "sweep.json"),
    ] {
        let e = input_error(d, &args);
        assert!(e.contains(why), "{args:?}: {e}");
        assert!(!d.join("runs/b").exists(), "{args:?} left a sweep behind");
    }
    ok(
        d,
        &[
            "sweep", "b", "lr=1e-3", "--data", "d.h5", "--epochs", "1", "--device", "cpu",
        ],
    );
    let e = input_error(
        d,
        &[
            "sweep", "b", "lr=5e-4", "--data", "d.h5", "--epochs", "1", "--device", "cpu",
        ],
    );
    assert!(e.contains("is another grid"), "{e}");
}

/// A sweep in `lnmc watch runs/` and the Runs tab: one row that opens into its runs, and its
/// view: the table by setting and metric, parallel coordinates, the settings ranked; `lnmc
/// export runs/NAME` exports its runs.
#[test]
fn a_sweep_is_one_row_with_its_own_view_and_exports_as_its_runs() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use lnmc::tui::{view, Message};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "200"]);
    ok(d, &sweep_args("s", &["-j", "2"]));
    let runs = lnmc::run::catalog::runs(&d.join("runs"));
    assert_eq!(runs.len(), 1, "the sweep is one entry");
    assert_eq!(points(&runs[0]).len(), 4);
    assert_eq!(runs[0].members().len(), 4);
    assert_eq!(runs[0].status, lnmc::run::Status::Finished);

    let mut app = common::app();
    app.update(Message::WatchAll(d.join("runs")));
    app.update(Message::Catalog {
        runs,
        checkpoints: Vec::new(),
    });
    let key = |app: &mut lnmc::tui::app::App, code| {
        app.update(Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    };
    let screen = |app: &lnmc::tui::app::App| {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
        t.draw(|f| view::draw(f, app)).unwrap();
        format!("{}", t.backend())
    };
    // Watched alone, the sweep opens at once; Enter closes and opens it.
    let shown = screen(&app);
    // Live, its row has no curve of its own: no date under "recent val loss".
    let row = shown
        .lines()
        .find(|l| l.contains("▾ s · sweep, 4/4 runs"))
        .unwrap();
    assert!(!row.contains(&lnmc::run::timestamp()[..4]), "{row}");
    assert!(
        shown.contains("▾ s · sweep, 4/4 runs") && shown.contains("lr-5e-4_seed-1"),
        "{shown}"
    );
    key(&mut app, KeyCode::Enter);
    let shown = screen(&app);
    assert!(
        shown.contains("▸ s · sweep, 4/4 runs") && !shown.contains("lr-5e-4_seed-1"),
        "{shown}"
    );
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('p'));
    let shown = screen(&app);
    if std::env::var("PEEK").is_ok() {
        println!("{shown}");
    }
    for part in [
        "sweep s · 4 runs, 4 inside the ranges",
        "parallel coordinates · colour: val_acc",
        "rank correlation with val_acc: ",
        "val_acc▼",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    // Narrow the metric's axis from the top: the best runs leave the ranges.
    key(&mut app, KeyCode::Left);
    for _ in 0..10 {
        key(&mut app, KeyCode::Char('['));
    }
    let shown = screen(&app);
    assert!(!shown.contains("4 inside the ranges"), "{shown}");
    key(&mut app, KeyCode::Char('0'));
    assert!(screen(&app).contains("4 inside the ranges"));
    key(&mut app, KeyCode::Esc);
    assert!(!screen(&app).contains("parallel coordinates"));

    let csv = d.join("sweep.csv");
    ok(d, &["export", "runs/s", "--csv", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(&csv).unwrap();
    for id in [
        "lr-1e-3_seed-0",
        "lr-1e-3_seed-1",
        "lr-5e-4_seed-0",
        "lr-5e-4_seed-1",
    ] {
        assert!(text.contains(&format!("\n{id},")), "{id} not exported");
    }
}

/// `--folds K` crosses the grid with folds: each point a cross-validation under the sweep.
#[test]
fn a_sweep_with_folds_makes_each_point_a_cross_validation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["synth", "--out", "d.h5", "--n", "300", "--with-ids"]);
    let args = [
        "sweep",
        "f",
        "lr=1e-3,5e-4",
        "--folds",
        "2",
        "--data",
        "d.h5",
    ];
    ok(
        d,
        &[&args[..], &["--device", "cpu", "--epochs", "1"]].concat(),
    );
    for id in ["lr-1e-3", "lr-5e-4"] {
        for k in 1..=2 {
            assert_eq!(
                metrics_rows(d, &format!("f/{id}/fold-{k}")).len(),
                1,
                "{id} fold {k}"
            );
        }
        assert!(
            d.join(format!("runs/f/{id}/cv.json")).exists(),
            "{id}: no summary"
        );
    }
    let sweep = &lnmc::run::catalog::runs(&d.join("runs"))[0];
    assert_eq!(sweep.members().len(), 2);
    assert!(sweep.members().iter().all(|m| matches!(
        &m.kind,
        Kind::CrossValidation { folds } if folds.len() == 2
    )));
    assert_eq!(sweep.status, lnmc::run::Status::Finished);
}

/// A sweep entry's points (panics on anything else).
fn points(entry: &lnmc::run::catalog::RunEntry) -> &[lnmc::run::catalog::Point] {
    match &entry.kind {
        Kind::Sweep { points, .. } => points,
        other => panic!("not a sweep: {other:?}"),
    }
}
