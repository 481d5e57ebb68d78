//! The dashboard drawn into ratatui's TestBackend: every tab at 80×24 and 160×48, the
//! too-small message, and a fake worker event stream driving the Train tab to "finished".

mod common;

use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use lnmc::data::synth;
use lnmc::evaluation::Evaluation;
use lnmc::run::catalog::{runs, Followed, Run};
use lnmc::run::Status;
use lnmc::train::Event;
use lnmc::tui::app::{App, Overlay, Tab};
use lnmc::tui::image::{halfblocks, PatchImages};
use lnmc::tui::message::Reply;
use lnmc::tui::panel::Panel;
use lnmc::tui::{view, Effect, Message};
use lnmc::types::EpochRecord;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use common::app;

fn key(app: &mut App, code: KeyCode) -> Effect {
    app.update(Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
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
        val_bal_acc: f64::NAN,
        val_pr_auc: f64::NAN,
        val_nodule_acc: None,
        val_nodule_f1: None,
        val_nodule_auc: None,
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
            run_dir: "runs/demo".into(),
            device: "cpu".into(),
            precision: "fp32 (asked for)".into(),
            synthetic: true,
            units: lnmc::data::units::Units::Hu,
            split: common::demo_split(),
            first_epoch: 1,
            epochs: 3,
            prepare_seconds: 0.5,
            data_bytes: 1_638_400,
            data_pixels: 819_200,
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
            early_stop: None,
        },
    ]
}

/// Drives the Train tab through a whole fake run.
fn feed_run(app: &mut App) {
    for event in run_events() {
        let last = event.is_last();
        let effect = app.update(Message::Train(event));
        if last {
            let expected = Effect::All(vec![
                Effect::Rescan,
                Effect::Notify("lnmc: demo finished · best val acc 83.00 %".into()),
            ]);
            assert_eq!(effect, expected, "rescan and tell when the run ends");
        } else {
            assert_eq!(effect, Effect::None);
        }
    }
}

fn fake_evaluation(app: &App) -> Evaluation {
    let indices: Vec<usize> = app.split().val.clone();
    let labels: Vec<u8> = indices.iter().map(|&i| app.data().labels[i]).collect();
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
    common::evaluation(app.data().path.clone(), indices, labels, scores, 200)
}

/// Hands the app a fake evaluation, as the evaluation worker would.
fn evaluated(app: &mut App, checkpoint: &str) {
    let evaluation = fake_evaluation(app);
    let effect = app.update(Message::Evaluated {
        checkpoint: checkpoint.into(),
        result: Ok(evaluation),
    });
    assert_eq!(effect, Effect::None);
}

#[test]
fn fake_event_stream_drives_the_train_tab_to_finished() {
    let mut app = app();
    feed_run(&mut app);
    let progress = app.train().progress();
    assert_eq!(progress.status, Some(Status::Finished));
    assert_eq!(progress.best().unwrap().epoch, 2);
    assert_eq!(
        app.split(),
        &common::demo_split(),
        "the run's split is the one shown"
    );
    let screen = format!("{}", render(&app, 160, 48).backend());
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
    common::drive(&mut terminal, &mut app, key_stream, (tx, rx)).await;
    assert_eq!(app.train().progress().status, Some(Status::Finished));
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("status  finished"), "{screen}");
    assert!(screen.contains("finished in 180s"), "{screen}");
}

#[test]
fn train_tab() {
    snapshots("train", feed_run);
}

#[test]
fn dataset_tab_draws_the_patch_in_halfblocks() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        key(&mut app, KeyCode::Char('2'));
        key(&mut app, KeyCode::Right);
        key(&mut app, KeyCode::Right);
        assert_eq!(app.dataset().browser().current(), Some(2));
        let terminal = render(&app, w, h);
        let screen = format!("{}", terminal.backend());
        assert!(
            screen.contains('▀') || screen.contains('▄'),
            "no half blocks drawn"
        );
        insta::assert_snapshot!(format!("dataset_{w}x{h}"), terminal.backend());
    }
}

/// In the running dashboard the patches of a file left on disk are read by a worker and drawn
/// once they are in: the same screen as the set held in memory gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_reads_a_files_patches_on_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    common::ok(dir.path(), &["synth", "--n", "30", "--seed", "2", "--out", "synthetic.hdf5"]);
    let path = dir.path().join("synthetic.hdf5");
    let options = synth::Options {
        n: 30,
        seed: 2,
        ..Default::default()
    };
    let mut memory = App::new(
        synth::in_memory(&options, &path),
        PatchImages::new(halfblocks()),
        Vec::new(),
    );
    key(&mut memory, KeyCode::Char('2'));
    key(&mut memory, KeyCode::Right);
    let expected = format!("{}", render(&memory, 160, 48).backend());

    let lazy = lnmc::data::reader::open(&path).unwrap();
    let mut app = App::new(lazy, PatchImages::new(halfblocks()), Vec::new());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let (keys, key_stream) = futures::channel::mpsc::unbounded();
    let press = |code| Ok(CtEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    keys.unbounded_send(press(KeyCode::Char('2'))).unwrap();
    keys.unbounded_send(press(KeyCode::Right)).unwrap();
    // Quit once the worker's patches have been taken in and drawn.
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let _ = keys.unbounded_send(press(KeyCode::Char('q')));
    });
    let channel = tokio::sync::mpsc::unbounded_channel();
    common::drive(&mut terminal, &mut app, key_stream, channel).await;
    let screen = format!("{}", terminal.backend());
    assert!(!screen.contains("reading…"), "{screen}");
    assert_eq!(screen, expected);
}

#[test]
fn a_lazily_opened_file_draws_as_the_same_set_in_memory() {
    // The dashboard reads patches from the file as it shows them: the screen must be the one
    // the set held in memory gives, patch, thumbnails, intensities and histogram alike.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.hdf5");
    let options = synth::Options {
        n: 30,
        seed: 2,
        ..Default::default()
    };
    // Written by the binary: a file written in this process while another test forks could
    // stay locked by the child (HDF5's descriptors are inherited and carry its lock).
    #[rustfmt::skip]
    common::ok(dir.path(), &["synth", "--n", "30", "--seed", "2", "--out", "synthetic.hdf5"]);
    let lazy = lnmc::data::reader::open(&path).unwrap();
    assert_eq!(lazy.pixels.bytes(), 0, "pixels read up front");
    let screens: Vec<String> = [lazy, synth::in_memory(&options, &path)]
        .into_iter()
        .map(|data| {
            let from_file = !data.in_memory();
            let mut app = App::new(data, PatchImages::new(halfblocks()), Vec::new());
            // The histogram of a file is counted on a worker when the dashboard starts.
            let start = app.start();
            assert_eq!(
                start != Effect::Rescan,
                from_file,
                "{start:?}: counted at once from a file, or asked for in memory"
            );
            let mut reads = vec![key(&mut app, KeyCode::Char('2'))];
            reads.push(key(&mut app, KeyCode::Right));
            let reads: Vec<Vec<usize>> = reads
                .into_iter()
                .filter_map(|e| match e {
                    Effect::LoadPatches(indices) => Some(indices),
                    _ => None,
                })
                .collect();
            // Drawing never reads the file: until the worker's answer the panel says so.
            let before = format!("{}", render(&app, 160, 48).backend());
            assert_eq!(before.contains("reading…"), from_file, "{before}");
            assert_eq!(before.contains("counting…"), from_file, "{before}");
            if from_file {
                let counts = lnmc::tui::dataset_tab::histogram(app.data());
                assert_eq!(app.update(Message::Histogram(counts)), Effect::None);
            }
            assert_eq!(reads.is_empty(), !from_file, "{reads:?}");
            for indices in reads {
                let patches = lnmc::tui::patches::load(app.data(), &indices);
                assert_eq!(app.update(Message::Patches(patches)), Effect::None);
            }
            format!("{}", render(&app, 160, 48).backend())
        })
        .collect();
    assert!(screens[0].contains("HU "), "{}", screens[0]);
    assert_eq!(screens[0], screens[1]);
}

/// The snapshot `name_WxH` of an app that `prepare` has set up, at 80×24 and 160×48.
fn snapshots(name: &str, prepare: impl Fn(&mut App)) {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = app();
        prepare(&mut app);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&app, w, h).backend());
    }
}

#[test]
fn evaluate_tab() {
    snapshots("evaluate", |app| {
        key(app, KeyCode::Char('3'));
        evaluated(app, "checkpoint/demo/best.safetensors");
    });
}

#[test]
fn runs_tab() {
    snapshots("runs", |app| {
        key(app, KeyCode::Char('4'));
    });
}

#[test]
fn too_small_terminal_says_so() {
    let app = app();
    let screen = format!("{}", render(&app, 60, 20).backend());
    assert!(
        screen.contains("terminal too small: need 80×24, have 60×20"),
        "{screen}"
    );
    insta::assert_snapshot!("too_small", render(&app, 60, 20).backend());
}

#[test]
fn keys_switch_tabs_open_help_and_ask_before_quitting_a_run() {
    let mut app = app();
    assert_eq!(key(&mut app, KeyCode::Tab), Effect::None);
    assert_eq!(app.tab(), Tab::Dataset);
    assert_eq!(
        key(&mut app, KeyCode::Tab),
        Effect::Rescan,
        "Evaluate lists disk"
    );
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.overlay(), Overlay::Help);
    let screen = format!("{}", render(&app, 80, 24).backend());
    assert!(screen.contains("jump to index"), "{screen}");
    assert!(screen.contains("switch tab"), "{screen}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.overlay(), Overlay::None);
    // A line longer than the popup wraps instead of being cut.
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Char('?'));
    let screen = format!("{}", render(&app, 80, 24).backend());
    assert!(
        screen.contains("cross-validation's") && screen.contains("folds"),
        "{screen}"
    );
    assert!(
        screen.contains("(lnmc watch DIR:") && screen.contains("enter)"),
        "{screen}"
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('1'));
    let Effect::StartTraining(request) = key(&mut app, KeyCode::Char('s')) else {
        panic!("s does not start training");
    };
    assert_eq!(request.settings, lnmc::settings::Settings::default());
    assert_eq!(request.data, app.data().path);
    assert_eq!(app.train().progress().status, Some(Status::Running));
    app.update(Message::Train(Event::Started {
        run: "r".into(),
        run_dir: "runs/demo".into(),
        device: "cpu".into(),
        precision: "fp32 (asked for)".into(),
        synthetic: true,
        units: lnmc::data::units::Units::Hu,
        split: common::demo_split(),
        first_epoch: 1,
        epochs: 1,
        prepare_seconds: 0.5,
        data_bytes: 1_638_400,
        data_pixels: 819_200,
        batches: 1,
    }));
    assert_eq!(key(&mut app, KeyCode::Char('p')), Effect::SetPaused(true));
    assert!(format!("{}", render(&app, 80, 24).backend()).contains("status  paused"));
    assert_eq!(key(&mut app, KeyCode::Char('p')), Effect::SetPaused(false));
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::None);
    assert_eq!(app.overlay(), Overlay::ConfirmQuit);
    assert_eq!(key(&mut app, KeyCode::Char('n')), Effect::None);
    assert_eq!(app.overlay(), Overlay::None);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('s')), Effect::Quit);
}

/// Every key a footer or a help overlay names is one its tab handles, and the other way round
/// for the keys that change something a test can see.
#[test]
fn footers_and_help_come_from_the_key_lists() {
    let mut app = app();
    for (tab, hinted) in [
        ('1', vec!["s", "p", "x", "1-4", "?", "q"]),
        ('2', vec!["←→/hl/kj", "/", "f", "v", "c", "x", "?", "q"]),
        ('3', vec!["↑↓/kj", "enter", "a", "m", "?", "q"]),
        (
            '4',
            vec![
                "↑↓/kj",
                "enter",
                "space",
                "m",
                "s",
                "w",
                "/",
                "e",
                "v",
                "?",
                "q",
            ],
        ),
    ] {
        key(&mut app, KeyCode::Char(tab));
        let keys = app.keys();
        let shown: Vec<String> = keys.iter().filter(|k| k.hint).map(|k| k.label()).collect();
        assert_eq!(shown, hinted, "footer of tab {tab}");
        assert!(
            keys.iter().any(|k| k.label() == "1-4")
                && keys
                    .iter()
                    .any(|k| k.label() == "S-tabtab" || k.label() == "S-tab tab"),
            "help of tab {tab}"
        );
        let screen = format!("{}", render(&app, 160, 48).backend());
        let footer = screen.lines().nth(47).unwrap();
        for k in keys.iter().filter(|k| k.hint) {
            assert!(footer.contains(&format!(" {} ", k.label())), "{footer}");
        }
    }
}

#[test]
fn dataset_filters_and_misclassified_view() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('f'));
    let visible = |app: &App| app.dataset().browser().visible.clone();
    assert!(visible(&app).iter().all(|&i| app.data().labels[i] == 0));
    key(&mut app, KeyCode::Char('f'));
    assert!(visible(&app).iter().all(|&i| app.data().labels[i] == 1));
    key(&mut app, KeyCode::Char('v'));
    assert!(visible(&app)
        .iter()
        .all(|&i| app.split().train.contains(&i)));
    key(&mut app, KeyCode::Char('/'));
    for c in "17".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.dataset().browser().current(), Some(17));
    let evaluation = fake_evaluation(&app);
    let wrong = evaluation
        .indices
        .iter()
        .zip(&evaluation.labels)
        .zip(&evaluation.scores)
        .filter(|((_, &l), &s)| (s > 0.5) != (l == 1))
        .count();
    assert!(wrong > 0);
    evaluated(&mut app, "x");
    assert!(app.log_lines()[0].starts_with("evaluated x: accuracy"));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.tab(), Tab::Dataset);
    assert_eq!(visible(&app).len(), wrong);
}

#[test]
fn watch_shows_complete_rows_only_and_a_dead_writer_as_stopped() {
    let dir = tempfile::tempdir().unwrap();
    common::ok(dir.path(), &["synth", "--out", "d.h5", "--n", "40"]);
    common::ok(
        dir.path(),
        &[
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
        ],
    );
    let run = dir.path().join("runs/w");
    assert_eq!(runs(&dir.path().join("runs"))[0].status, Status::Finished);
    // As if the writer had been planned for 3 epochs and was killed while writing the second
    // row: no end record, a torn row, a lock held by a dead process.
    let config_path = run.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["hyper"]["epochs"] = 3.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    std::fs::remove_file(run.join("end.json")).unwrap();
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
    app.update(Message::Followed(Followed::read(&run)));
    let progress = app.train().progress();
    assert_eq!(progress.history.len(), 1, "torn row shown");
    assert_eq!(progress.status, Some(Status::Interrupted));
    assert_eq!(progress.followed.as_deref(), Some(run.as_path()));
    assert!(
        app.log_lines().iter().any(|l| l.contains("epoch   1")),
        "run log not shown: {:?}",
        app.log_lines()
    );
    let screen = format!("{}", render(&app, 80, 24).backend());
    assert!(
        screen.contains("status  stopped") && screen.contains("(no update for"),
        "{screen}"
    );
    assert!(
        screen.contains("epochs  3"),
        "form does not show the run's settings: {screen}"
    );
    assert_eq!(
        app.update(Message::FollowTick),
        Effect::Follow(run.clone()),
        "a followed run is read again"
    );
    assert_eq!(
        runs(&dir.path().join("runs"))[0].status,
        Status::Interrupted
    );

    // A writer alive (the lock names this test's process), then gone with its end record:
    // the watcher is told.
    std::fs::write(run.join("lock"), std::process::id().to_string()).unwrap();
    assert_eq!(
        app.update(Message::Followed(Followed::read(&run))),
        Effect::None
    );
    assert_eq!(app.train().progress().status, Some(Status::Running));
    std::fs::remove_file(run.join("lock")).unwrap();
    std::fs::write(
        run.join("end.json"),
        r#"{"ended":"finished","epoch":1,"time":"t"}"#,
    )
    .unwrap();
    let Effect::Notify(text) = app.update(Message::Followed(Followed::read(&run))) else {
        panic!("the end of a watched run is not announced");
    };
    assert!(text.starts_with("lnmc: w finished"), "{text}");
}

/// `x` flags the shown patch with a note (written through an effect), `f` reaches the flagged
/// filter, the facts show the note, and `x` again takes the flag away.
#[test]
fn review_flags_from_the_dataset_tab() {
    let dir = tempfile::tempdir().unwrap();
    let data_file = dir.path().join("d.h5");
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Right);
    assert_eq!(
        key(&mut app, KeyCode::Char('x')),
        Effect::None,
        "a note prompt opens"
    );
    assert!(format!("{}", render(&app, 160, 48).backend()).contains("flag: note"));
    for c in "halo, re-check".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let Effect::Flag {
        index, note, rows, ..
    } = key(&mut app, KeyCode::Enter)
    else {
        panic!("enter does not save the flag");
    };
    assert_eq!(
        (index, note.as_deref(), rows),
        (1, Some("halo, re-check"), 30)
    );
    // The event loop writes the file and hands back what it holds.
    let flags = lnmc::data::review::set(&data_file, rows, index, note.as_deref());
    app.update(Message::Flags(flags));
    let screen = format!("{}", render(&app, 160, 48).backend());
    assert!(screen.contains("flagged halo, re-check"), "{screen}");
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('f'));
    }
    assert_eq!(app.dataset().browser().visible, vec![1], "flagged filter");
    let Effect::Flag { note: None, .. } = key(&mut app, KeyCode::Char('x')) else {
        panic!("x on a flagged patch does not unflag it");
    };
}

/// `c` with nothing evaluated says why there is no overlay; after an evaluation it asks for the
/// maps of the patch and its neighbours, and draws them in colour: red where the map pushes
/// towards malignant.
#[test]
fn the_overlay_explains_with_the_evaluated_checkpoint() {
    let mut app = app();
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(key(&mut app, KeyCode::Char('c')), Effect::None);
    let screen = format!("{}", render(&app, 160, 48).backend());
    assert!(screen.contains("no checkpoint: evaluate one"), "{screen}");
    evaluated(&mut app, "checkpoint/demo/best.safetensors");
    let Effect::Explain {
        checkpoint,
        indices,
    } = key(&mut app, KeyCode::Right)
    else {
        panic!("no maps asked for");
    };
    assert_eq!(
        checkpoint,
        std::path::PathBuf::from("checkpoint/demo/best.safetensors")
    );
    // The shown patch and the thumbnails around it (the worker finds each one's neighbours).
    assert!(indices.contains(&1) && indices.contains(&0), "{indices:?}");
    let maps = indices
        .iter()
        .map(|i| {
            (
                *i,
                lnmc::explain::Explanation {
                    map: vec![1.5; 16 * 16],
                    height: 16,
                    width: 16,
                    logits: [-0.5, 1.0],
                    bias_difference: 0.0,
                },
            )
        })
        .collect();
    app.update(Message::Explained {
        checkpoint,
        result: Ok(maps),
    });
    let terminal = render(&app, 160, 48);
    let screen = format!("{}", terminal.backend());
    assert!(screen.contains("P(malignant) 0.818"), "{screen}");
    assert!(screen.contains("±1.50 log-odds"), "{screen}");
    let reddish = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| matches!(c.fg, ratatui::style::Color::Rgb(r, _, b) if r as u16 > b as u16 + 40))
        .count();
    assert!(
        reddish > 500,
        "the patch is not tinted towards malignant: {reddish} cells"
    );

    // Maps that cannot be computed turn the overlay off with the reason, so that paging on
    // does not ask the worker again for what fails again; `c` tries again.
    let Effect::Explain { checkpoint, .. } = key(&mut app, KeyCode::End) else {
        panic!("no maps asked for at the last patch");
    };
    app.update(Message::Explained {
        checkpoint,
        result: Err(lnmc::error::Error::file(
            std::path::Path::new("synthetic.hdf5"),
            "a network of 3 slices: the file has no nodule ids",
        )),
    });
    let screen = format!("{}", render(&app, 160, 48).backend());
    assert!(screen.contains("network of 3 slices"), "{screen}");
    assert!(!screen.contains("CAM     "), "{screen}");
    assert_eq!(key(&mut app, KeyCode::Left), Effect::None);
    assert!(matches!(
        key(&mut app, KeyCode::Char('c')),
        Effect::Explain { .. }
    ));
}

#[test]
fn notifications_ring_and_reach_the_terminal_through_tmux() {
    let plain = lnmc::tui::notification("lnmc: r failed: disk; full\n", false);
    assert_eq!(
        plain,
        "\x07\x1b]9;lnmc: r failed: disk full\x07\x1b]777;notify;lnmc;lnmc: r failed: disk full\x07"
    );
    let wrapped = lnmc::tui::notification("done", true);
    assert!(
        wrapped.starts_with("\x1bPtmux;\x07\x1b\\\x1bPtmux;\x1b\x1b]9;done\x07\x1b\\"),
        "{wrapped:?}"
    );
}

/// Runs laid over each other: any number marked, the metric, smoothing and log scale chosen by
/// key, the legend naming the setting the runs differ in, a name filter, and `e` exporting.
#[test]
fn runs_tab_compares_any_number_of_runs() {
    use lnmc::run::catalog::RunEntry;
    use lnmc::tui::runs_tab::RunsTab;
    let config = |lr: f64| {
        let mut c: lnmc::types::RunConfig =
            serde_json::from_str(include_str!("fixtures/config.json")).unwrap();
        c.hyper.lr = lr;
        c
    };
    let entry = |name: &str, lr: f64| {
        RunEntry::of_run(
            format!("runs/{name}"),
            Status::Finished,
            Run {
                config: config(lr),
                history: (1..=150)
                    .map(|e| record(e, 0.7 / (1.0 + e as f64 / (20.0 * lr * 1e3)), 0.8))
                    .collect::<Vec<_>>()
                    .into(),
                system: Default::default(),
            },
        )
    };
    // The context a panel is given: the app's data, split and notices.
    let app = app();
    let cx = app.context();
    let mut tab = RunsTab::default();
    tab.set_runs(vec![
        entry("fast", 0.002),
        entry("slow", 0.001),
        entry("other", 0.001),
    ]);
    for _ in 0..2 {
        tab.on_key(KeyCode::Char(' ').into(), &cx);
        tab.on_key(KeyCode::Down.into(), &cx);
    }
    tab.on_key(KeyCode::Char(' ').into(), &cx);
    assert_eq!(tab.marked().len(), 3);
    tab.on_key(KeyCode::Char('s').into(), &cx);
    tab.on_key(KeyCode::Char('l').into(), &cx);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| tab.draw(f, f.area(), &cx)).unwrap();
    let screen = format!("{}", terminal.backend());
    assert!(
        screen.contains("loss · EMA 0.60 · log y · 3 runs"),
        "{screen}"
    );
    assert!(screen.contains("fast train (lr 0.002)"), "{screen}");
    // The exported chart is the same chart: one pipeline, two renderers.
    let marked = tab.marked();
    let options = lnmc::compare::ChartOptions {
        metric: lnmc::compare::Metric::Loss,
        smoothing: Some(0.6),
        log_y: true,
        x: lnmc::compare::XAxis::Epoch,
    };
    let svg = lnmc::compare::svg(&marked, &options);
    assert!(svg.contains("loss · EMA 0.60 · log y · 3 runs"), "{svg}");
    assert!(svg.contains("fast train (lr 0.002)"), "the same legend");
    tab.on_key(KeyCode::Char('m').into(), &cx);
    let Reply::Effect(Effect::Export { runs, chart }) = tab.on_key(KeyCode::Char('e').into(), &cx)
    else {
        panic!("e does not export");
    };
    assert_eq!(runs.len(), 3);
    assert_eq!(chart.metric, lnmc::compare::Metric::ValAcc);
    tab.on_key(KeyCode::Char('/').into(), &cx);
    for c in "sl".chars() {
        tab.on_key(KeyCode::Char(c).into(), &cx);
    }
    tab.on_key(KeyCode::Enter.into(), &cx);
    assert_eq!(tab.rows().len(), 1, "filtered by name");
}

/// `lnmc watch DIR`: every run in DIR as a live table (recent val loss, progress), read again
/// every second; Enter follows one in the Train tab.
#[test]
fn watching_a_directory_shows_a_live_table() {
    use lnmc::run::catalog::RunEntry;
    let mut app = app();
    assert_eq!(
        app.update(Message::WatchAll("sweep".into())),
        Effect::Rescan
    );
    assert_eq!(app.tab(), Tab::Runs);
    assert_eq!(app.runs_root(), std::path::Path::new("sweep"));
    let config: lnmc::types::RunConfig =
        serde_json::from_str(include_str!("fixtures/config.json")).unwrap();
    let entry = |name: &str, epochs: usize| {
        RunEntry::of_run(
            format!("sweep/{name}"),
            Status::Running,
            Run {
                config: config.clone(),
                history: (1..=epochs)
                    .map(|e| record(e, 0.9 - 0.1 * e as f64, 0.8))
                    .collect::<Vec<_>>()
                    .into(),
                system: Default::default(),
            },
        )
    };
    app.update(Message::Catalog {
        runs: vec![entry("job-1", 2), entry("job-2", 1)],
        checkpoints: Vec::new(),
    });
    let screen = format!("{}", render(&app, 160, 48).backend());
    assert!(
        screen.contains("recent val loss") && screen.contains("█▁"),
        "{screen}"
    );
    assert!(screen.contains("2/2"), "{screen}");
    assert_eq!(
        app.update(Message::FollowTick),
        Effect::Rescan,
        "read again every second"
    );
    app.update(Message::Exported(
        "exported 2 runs to sweep/export-1/".into(),
    ));
    let screen = format!("{}", render(&app, 160, 48).backend());
    assert!(
        screen.contains("runs · exported 2 runs to sweep/export-1/"),
        "{screen}"
    );
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        Effect::Follow("sweep/job-1".into())
    );
    assert_eq!(app.tab(), Tab::Train);
}

/// Two runs that differ only in settings the hand-kept legend once missed (balance, skipping
/// flagged patches) are told apart in the legend and in the export's columns.
#[test]
fn every_setting_tells_runs_apart_in_the_legend_and_the_export() {
    use lnmc::run::catalog::RunEntry;
    let plain: lnmc::types::RunConfig =
        serde_json::from_str(include_str!("fixtures/config.json")).unwrap();
    let mut other = plain.clone();
    other.hyper.balance = lnmc::types::Balance::Weighted;
    other.excluded_flagged = Some(3);
    let legend = lnmc::compare::differences(&[Some(&plain), Some(&other)]);
    assert_eq!(legend[1], "balance weighted, excluded_flagged yes");
    let entry = |name: &str, config: &lnmc::types::RunConfig| {
        RunEntry::of_run(
            format!("runs/{name}"),
            Status::Finished,
            Run {
                config: config.clone(),
                history: vec![record(1, 0.5, 0.8)].into(),
                system: Default::default(),
            },
        )
    };
    let (a, b) = (entry("a", &plain), entry("b", &other));
    let table = String::from_utf8(lnmc::compare::long_table(&[&a, &b])).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    for setting in lnmc::settings::TABLE.iter().filter(|s| s.compared) {
        assert!(
            header.contains(&setting.key),
            "no column {}: {header:?}",
            setting.key
        );
    }
    let balance = header.iter().position(|h| *h == "balance").unwrap();
    let last = table.lines().last().unwrap().split(',').nth(balance);
    assert_eq!(last, Some("weighted"));
}

#[test]
fn the_dataset_tab_shows_the_slices_a_patch_is_trained_with() {
    let options = lnmc::data::synth::Options {
        n: 30,
        seed: 2,
        with_ids: true,
        ..Default::default()
    };
    let data = lnmc::data::synth::in_memory(&options, "dataset/synthetic.hdf5".as_ref());
    let ids = data.groups.clone().unwrap();
    let images = lnmc::tui::image::PatchImages::new(lnmc::tui::image::halfblocks());
    let mut app = App::new(data, images, Vec::new());
    let shown = |app: &mut App| {
        key(app, KeyCode::Char('2'));
        format!("{}", render(app, 160, 48).backend())
    };
    assert!(
        !shown(&mut app).contains("trained as rows"),
        "context 1 says nothing"
    );
    // Context 3 in the Train form.
    key(&mut app, KeyCode::Char('1'));
    let at = lnmc::settings::TABLE
        .iter()
        .position(|s| s.key == "context")
        .unwrap();
    for _ in 0..at {
        key(&mut app, KeyCode::Down);
    }
    for code in [
        KeyCode::Enter,
        KeyCode::Backspace,
        KeyCode::Char('3'),
        KeyCode::Enter,
    ] {
        key(&mut app, code);
    }
    let screen = shown(&mut app);
    let index = app.dataset().browser().current().unwrap();
    let rows = lnmc::data::context::Nodules::of(&ids).rows_of(index, 3);
    let line = format!(
        "trained as rows {} [{}] {} (context 3)",
        rows[0], rows[1], rows[2]
    );
    assert!(screen.contains(&line), "{line} not in {screen}");
    assert_eq!(rows[1], index);
}
