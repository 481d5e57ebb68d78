//! The dashboard drawn into ratatui's TestBackend: every tab at 80×24 and 160×48, the
//! too-small message, and a fake worker event stream driving the Train tab to "finished".

mod common;

use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use lnmc::data::synth;
use lnmc::evaluate::Evaluation;
use lnmc::train::{EpochRecord, Event};
use lnmc::tui::app::{Action, App, Status, Tab};
use lnmc::tui::image::{halfblocks, PatchImages};
use lnmc::tui::{event_loop, ui, Message, Signals};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn app() -> App {
    let options = synth::Options {
        n: 30,
        seed: 2,
        with_ids: false,
    };
    let data = synth::in_memory(&options, "dataset/synthetic.hdf5".as_ref());
    let split = App::default_split(&data);
    App::new(data, split, PatchImages::new(halfblocks()))
}

fn key(app: &mut App, code: KeyCode) -> Action {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    terminal
}

fn record(epoch: usize, loss: f64, acc: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        train_loss: loss + 0.02,
        train_acc: acc - 0.01,
        val_loss: loss,
        val_acc: acc,
        val_f1: acc - 0.05,
        val_auc: acc + 0.03,
        lr: 1e-3,
        seconds: 60.0,
        samples_per_s: 90.0,
    }
}

/// The events of a whole fake run, as the worker would send them.
fn run_events() -> Vec<Event> {
    vec![
        Event::Started {
            run: "demo".into(),
            device: "cpu".into(),
            synthetic: true,
            train: 24,
            val: 6,
            first_epoch: 1,
            epochs: 3,
            prepare_seconds: 0.5,
            batches: 4,
        },
        Event::Batch {
            epoch: 1,
            batch: 4,
            batches: 4,
            loss: 0.62,
            samples_per_second: 101.0,
        },
        Event::Epoch {
            record: record(1, 0.55, 0.75),
            best: true,
        },
        Event::Batch {
            epoch: 2,
            batch: 4,
            batches: 4,
            loss: 0.45,
            samples_per_second: 103.0,
        },
        Event::Epoch {
            record: record(2, 0.41, 0.83),
            best: true,
        },
        Event::Batch {
            epoch: 3,
            batch: 4,
            batches: 4,
            loss: 0.36,
            samples_per_second: 104.0,
        },
        Event::Epoch {
            record: record(3, 0.38, 0.81),
            best: false,
        },
        Event::Finished {
            best: Some(record(2, 0.41, 0.83)),
            seconds: 180.0,
        },
    ]
}

/// Drives the Train tab through a whole fake run.
fn feed_run(app: &mut App) {
    for event in run_events() {
        app.on_train_event(event);
    }
    // The ETA depends on the wall clock; snapshots must not.
    app.training.started = None;
}

fn fake_evaluation(app: &App) -> Evaluation {
    let indices: Vec<usize> = app.split.val.clone();
    let labels: Vec<u8> = indices.iter().map(|&i| app.data.labels[i]).collect();
    let scores: Vec<f64> = labels
        .iter()
        .enumerate()
        .map(|(k, &l)| {
            if k % 3 == 0 {
                1.0 - l as f64 * 0.8 - 0.1
            } else {
                0.2 + 0.6 * l as f64
            }
        })
        .collect();
    Evaluation {
        metrics: lnmc::eval::metrics(&labels, &scores),
        indices,
        labels,
        scores,
        data_path: app.data.path.clone(),
        source_kind: "synthetic",
        split_name: "val split of run demo".into(),
        origin: "run demo, epoch 2".into(),
        inference_seconds: 0.01,
    }
}

#[test]
fn fake_event_stream_drives_the_train_tab_to_finished() {
    let mut app = app();
    feed_run(&mut app);
    assert_eq!(app.training.status, Status::Finished);
    assert_eq!(app.training.best().unwrap().epoch, 2);
    let screen = format!("{}", render(&mut app, 160, 48).backend());
    assert!(screen.contains("finished"), "{screen}");
    assert!(screen.contains("83.00 % acc"), "{screen}");
    assert!(screen.contains("epoch 3/3"), "{screen}");
}

#[tokio::test]
async fn event_loop_takes_a_fake_worker_stream_to_finished() {
    let mut app = app();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (keys, key_stream) = futures::channel::mpsc::unbounded();
    for event in run_events() {
        tx.send(Message::Train(event)).unwrap();
    }
    // Quit well after the worker's events have been taken in and drawn.
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let _ = keys.unbounded_send(Ok(CtEvent::Key(KeyEvent::new(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
        ))));
    });
    event_loop(
        &mut terminal,
        &mut app,
        key_stream,
        Signals::new().unwrap(),
        tx,
        rx,
    )
    .await
    .unwrap();
    assert_eq!(app.training.status, Status::Finished);
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("status  finished"), "{screen}");
    assert!(screen.contains("finished in 180s"), "{screen}");
}

#[test]
fn train_tab() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        feed_run(&mut app);
        insta::assert_snapshot!(format!("train_{w}x{h}"), render(&mut app, w, h).backend());
    }
}

#[test]
fn dataset_tab_draws_the_patch_in_halfblocks() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        key(&mut app, KeyCode::Char('2'));
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.browser.current(), Some(2));
        let terminal = render(&mut app, w, h);
        let screen = format!("{}", terminal.backend());
        assert!(
            screen.contains('▀') || screen.contains('▄'),
            "no half blocks drawn"
        );
        insta::assert_snapshot!(format!("dataset_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn evaluate_tab() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        key(&mut app, KeyCode::Char('3'));
        let evaluation = fake_evaluation(&app);
        app.evaluation = Some(("checkpoint/demo/best.safetensors".into(), evaluation));
        insta::assert_snapshot!(
            format!("evaluate_{w}x{h}"),
            render(&mut app, w, h).backend()
        );
    }
}

#[test]
fn runs_tab() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        key(&mut app, KeyCode::Char('4'));
        insta::assert_snapshot!(format!("runs_{w}x{h}"), render(&mut app, w, h).backend());
    }
}

#[test]
fn too_small_terminal_says_so() {
    let mut app = app();
    let screen = format!("{}", render(&mut app, 60, 20).backend());
    assert!(
        screen.contains("terminal too small: need 80×24, have 60×20"),
        "{screen}"
    );
    insta::assert_snapshot!("too_small", render(&mut app, 60, 20).backend());
}

#[test]
fn keys_switch_tabs_open_help_and_ask_before_quitting_a_run() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Tab), Action::None);
    assert_eq!(app.tab, Tab::Dataset);
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    let screen = format!("{}", render(&mut app, 80, 24).backend());
    assert!(screen.contains("jump to index"), "{screen}");
    key(&mut app, KeyCode::Esc);
    assert!(!app.help);
    key(&mut app, KeyCode::Char('1'));
    assert!(matches!(
        key(&mut app, KeyCode::Char('s')),
        Action::StartTraining(_)
    ));
    app.on_train_event(Event::Started {
        run: "r".into(),
        device: "cpu".into(),
        synthetic: true,
        train: 1,
        val: 1,
        first_epoch: 1,
        epochs: 1,
        prepare_seconds: 0.5,
        batches: 1,
    });
    assert_eq!(key(&mut app, KeyCode::Char('q')), Action::None);
    assert!(app.confirm_quit);
    assert_eq!(key(&mut app, KeyCode::Char('n')), Action::None);
    assert!(!app.confirm_quit);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('s')), Action::Quit);
}

#[test]
fn dataset_filters_and_misclassified_view() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('f'));
    assert!(app.browser.visible.iter().all(|&i| app.data.labels[i] == 0));
    key(&mut app, KeyCode::Char('f'));
    assert!(app.browser.visible.iter().all(|&i| app.data.labels[i] == 1));
    key(&mut app, KeyCode::Char('v'));
    assert!(app
        .browser
        .visible
        .iter()
        .all(|&i| app.split.train.contains(&i)));
    key(&mut app, KeyCode::Char('/'));
    for c in "17".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.browser.current(), Some(17));
    let evaluation = fake_evaluation(&app);
    let wrong = evaluation
        .indices
        .iter()
        .zip(&evaluation.labels)
        .zip(&evaluation.scores)
        .filter(|((_, &l), &s)| (s > 0.5) != (l == 1))
        .count();
    app.evaluation = Some(("x".into(), evaluation));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.tab, Tab::Dataset);
    assert_eq!(app.browser.visible.len(), wrong);
}

#[test]
fn watch_shows_complete_rows_only_and_a_dead_writer_as_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let run_in = |args: &[&str]| {
        let out = common::lnmc()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run_in(&["synth", "--out", "d.h5", "--n", "40"]);
    run_in(&[
        "train",
        "--headless",
        "--data",
        "d.h5",
        "--epochs",
        "1",
        "--run",
        "w",
        "--device",
        "cpu",
    ]);
    let run = dir.path().join("runs/w");
    // As if the writer had been planned for 3 epochs and died while writing the second row.
    let config_path = run.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["hyper"]["epochs"] = 3.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut metrics = std::fs::OpenOptions::new()
        .append(true)
        .open(run.join("metrics.csv"))
        .unwrap();
    std::io::Write::write_all(&mut metrics, b"2,0.41,0.8").unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(run.join("lock"), dead_pid.to_string()).unwrap();

    let mut app = app();
    app.follow(&run);
    assert_eq!(app.training.history.len(), 1, "torn row shown");
    assert_eq!(app.training.status, Status::Watching);
    assert!(
        app.training.stale_seconds.is_some(),
        "dead writer not noticed"
    );
    assert!(
        app.log.iter().any(|l| l.contains("epoch   1")),
        "run log not shown: {:?}",
        app.log
    );
    let screen = format!("{}", render(&mut app, 80, 24).backend());
    assert!(
        screen.contains("status  stopped") && screen.contains("(no update for"),
        "{screen}"
    );
    assert!(
        screen.contains("epochs  3"),
        "form does not show the run's settings: {screen}"
    );

    use lnmc::tui::catalog::{runs, RunStatus};
    assert_eq!(runs(&dir.path().join("runs"))[0].status, RunStatus::Stopped);
    lnmc::run::append_log(
        &run.join("log.txt"),
        "failed: runs/w: cannot write (No space left on device)",
    );
    assert_eq!(runs(&dir.path().join("runs"))[0].status, RunStatus::Failed);
}
