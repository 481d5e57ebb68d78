//! Frame render time of the dashboard at 160×48 into ratatui's TestBackend: mean and p99 over
//! 1000 frames per tab, after a warm-up (the image cache filled as in real use).
//!
//! cargo bench --bench render

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lnmc::data::synth;
use lnmc::explain::Explanation;
use lnmc::train::Event;
use lnmc::tui::app::App;
use lnmc::tui::image::{halfblocks, PatchImages};
use lnmc::tui::{view, Message};
use lnmc::types::EpochRecord;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const FRAMES: usize = 1000;

/// An epoch's row with the given losses and fixed metrics.
fn record(epoch: usize, train_loss: f64, val_loss: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        train_loss,
        train_acc: 0.9,
        val_loss,
        val_acc: 0.85,
        val_f1: 0.8,
        val_auc: 0.9,
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

fn main() {
    let options = synth::Options {
        n: 200,
        seed: 0,
        with_ids: false,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "dataset/synthetic.hdf5".as_ref());
    let mut app = App::new(data, PatchImages::new(halfblocks()), Vec::new());
    let split = app.split().clone();
    app.update(Message::Train(Event::Started {
        run: "bench".into(),
        run_dir: "runs/demo".into(),
        device: "cpu".into(),
        precision: "fp32 (asked for)".into(),
        synthetic: true,
        units: lnmc::data::units::Units::Hu,
        split,
        first_epoch: 1,
        epochs: 150,
        prepare_seconds: 0.5,
        data_bytes: 1_638_400,
        data_pixels: 819_200,
        batches: 84,
    }));
    for epoch in 1..=150 {
        let loss = 0.7 / (1.0 + epoch as f64 / 20.0);
        for batch in 1..=84 {
            app.update(Message::Train(Event::Batch {
                epoch,
                batch,
                batches: 84,
                loss,
                samples_per_second: 110.0,
            }));
        }
        let record = record(epoch, loss, loss * 1.1);
        app.update(Message::Train(Event::Epoch {
            record,
            best: false,
        }));
    }
    // Two hours of a GPU run's machine beside the curves (a sample every 2 s).
    let rows: Vec<lnmc::run::system::Sample> = (0..3600)
        .map(|k| lnmc::run::system::Sample {
            time: 1.8e9 + 2.0 * k as f64,
            cpu_percent: 40.0 + (k % 20) as f64,
            cores: 16,
            rss_mib: 2100.0 + (k % 10) as f64,
            peak_rss_mib: 2400.0,
            threads: 21,
            gpu_percent: Some(80.0 + (k % 10) as f64),
            gpu_memory_mib: Some(3500.0),
            gpu_memory_total_mib: Some(143_771.0),
            gpu_temperature_c: Some(48.0),
            gpu_power_w: Some(312.4),
            doing: format!("epoch 150: batch {}/84 done", k % 84),
            idle_s: 0.4,
            step_s: Some(0.05),
        })
        .collect();
    app.update(Message::System(
        "runs/demo".into(),
        lnmc::run::system::Samples {
            rows: std::sync::Arc::new(rows),
            age: Some(std::time::Duration::from_secs(1)),
        },
    ));
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    println!("frame render at 160×48, {FRAMES} frames per tab (TestBackend, halfblocks images)");
    for (key, name) in [
        ('1', "train"),
        ('2', "dataset"),
        ('3', "evaluate"),
        ('4', "runs"),
    ] {
        app.update(Message::Key(KeyEvent::new(
            KeyCode::Char(key),
            KeyModifiers::NONE,
        )));
        let times = common::time_ms(20, FRAMES, |frame| {
            if name == "dataset" && frame % 50 == 0 {
                // Page on now and then, as a user would: a new patch must be encoded.
                app.update(Message::Key(KeyEvent::new(
                    KeyCode::Right,
                    KeyModifiers::NONE,
                )));
            }
            terminal.draw(|f| view::draw(f, &app)).expect("draw");
        });
        println!("{name:<9} {}", common::summary(times));
    }
    // The Evaluate tab on an upstream-sized validation split (1339 patches) compared with a
    // second checkpoint: metrics, operating point, ROC with two curves, reliability diagram.
    let n = 1339;
    let labels: Vec<u8> = (0..n).map(|i| (i % 8 < 3) as u8).collect();
    let noise = |i: usize, k: usize| ((i * k) % 997) as f64 / 997.0;
    let scores: Vec<f64> = (0..n)
        .map(|i| (0.25 * labels[i] as f64 + 0.75 * noise(i, 7919)).clamp(0.0, 1.0))
        .collect();
    let second: Vec<f64> = (0..n)
        .map(|i| (0.15 * labels[i] as f64 + 0.85 * noise(i, 104_729)).clamp(0.0, 1.0))
        .collect();
    let rule = lnmc::operating_point::Rule::Fixed(0.5);
    let evaluation = lnmc::evaluation::Evaluation {
        checkpoint: "checkpoint/bench/best.safetensors".into(),
        ci: lnmc::metrics::bootstrap(&labels, &scores, None, 200, 1),
        calibration: lnmc::calibration::assess(&labels, &scores, None, None, 200, 1),
        operating_point: lnmc::operating_point::at(&labels, &scores, 0.5, rule),
        against: Some(lnmc::evaluation::Against {
            checkpoint: "checkpoint/other/best.safetensors".into(),
            origin: "run other, epoch 9".into(),
            comparison: lnmc::paired::compare(&labels, &scores, &second, None, 200, 1),
            scores: second,
        }),
        features: Vec::new(),
        binning: lnmc::subgroups::Binning::new(&[6.0], &Default::default(), &[]),
        subgroups: Vec::new(),
        metrics: lnmc::metrics::metrics(&labels, &scores),
        indices: (0..n).collect(),
        labels,
        scores,
        data_path: "synthetic.hdf5".into(),
        source_kind: "synthetic",
        split: lnmc::data::split::Facts::recorded_as(lnmc::data::split::SplitKind::Stratified),
        units: lnmc::data::units::Units::Hu,
        split_name: "val split of run bench".into(),
        origin: "run bench, epoch 150".into(),
        inference_seconds: 1.0,
        model: lnmc::model::Spec::UPSTREAM,
        patients: None,
        baseline: Err("no baseline in this test".into()),
        precision: "fp32".into(),
        groups: None,
        nodule: None,
    };
    app.update(Message::Key(KeyEvent::new(
        KeyCode::Char('3'),
        KeyModifiers::NONE,
    )));
    app.update(Message::Evaluated {
        checkpoint: "checkpoint/bench/best.safetensors".into(),
        result: Ok(evaluation),
    });
    app.update(Message::Key(KeyEvent::new(
        KeyCode::Char('p'),
        KeyModifiers::NONE,
    )));
    app.update(Message::Key(KeyEvent::new(
        KeyCode::Char('p'),
        KeyModifiers::NONE,
    )));
    let times = common::time_ms(20, FRAMES, |_| {
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
    });
    println!(
        "evaluate, 1339 patches, compared, Youden point {}",
        common::summary(times)
    );
    // A key that moves the threshold: the operating point placed again, then a frame.
    let times = common::time_ms(5, 200, |k| {
        let code = if k % 2 == 0 {
            KeyCode::Char(']')
        } else {
            KeyCode::Char('[')
        };
        app.update(Message::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
    });
    println!(
        "evaluate, threshold key + frame       {}",
        common::summary(times)
    );
    // The Runs tab with 20 runs of 150 epochs marked and laid over each other, smoothed.
    let config: lnmc::types::RunConfig =
        serde_json::from_str(include_str!("../tests/fixtures/config.json")).expect("config");
    let runs = (0..20)
        .map(|k| {
            let mut config = config.clone();
            config.hyper.seed = k;
            lnmc::run::catalog::RunEntry::of_run(
                format!("runs/run-{k}"),
                lnmc::run::Status::Finished,
                lnmc::run::catalog::Run {
                    config,
                    history: (1..=150)
                        .map(|e| {
                            record(
                                e,
                                0.7 / (1.0 + e as f64 / (10.0 + k as f64)),
                                0.75 / (1.0 + e as f64 / (12.0 + k as f64)),
                            )
                        })
                        .collect::<Vec<_>>()
                        .into(),
                    system: Default::default(),
                },
            )
        })
        .collect();
    let key = |code| Message::Key(KeyEvent::new(code, KeyModifiers::NONE));
    app.update(key(KeyCode::Char('4')));
    app.update(Message::Catalog {
        runs,
        checkpoints: Vec::new(),
    });
    for _ in 0..20 {
        app.update(key(KeyCode::Char(' ')));
        app.update(key(KeyCode::Down));
    }
    app.update(key(KeyCode::Char('s')));
    let times = common::time_ms(20, FRAMES, |_| {
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
    });
    println!(
        "{:<9} {}",
        "runs, 20 overlaid (train+val loss, smoothed)",
        common::summary(times)
    );

    // The worst case of paging: a new patch (a new large image and thumbnail) every frame,
    // plain and with the class-activation overlay drawn over each.
    app.update(key(KeyCode::Char('2')));
    for overlay in [false, true] {
        if overlay {
            app.update(key(KeyCode::Char('c')));
            let maps = (0..200)
                .map(|i| {
                    let map = (0..256)
                        .map(|k| ((k * 37 + i) % 41) as f32 / 10.0 - 2.0)
                        .collect();
                    let e = Explanation {
                        map,
                        height: 16,
                        width: 16,
                        logits: [0.1, 0.4],
                        bias_difference: 0.0,
                    };
                    (i, e)
                })
                .collect();
            app.update(Message::Explained {
                checkpoint: "bench.safetensors".into(),
                result: Ok(maps),
            });
        }
        app.update(key(KeyCode::Char('g')));
        let times = common::time_ms(5, 190, |_| {
            app.update(key(KeyCode::Right));
            terminal.draw(|f| view::draw(f, &app)).expect("draw");
        });
        let name = if overlay {
            "overlay, new patch each frame"
        } else {
            "dataset, new patch each frame"
        };
        println!("{name:<9} {}", common::summary(times));
    }
    sweep_view(&mut terminal);
}

/// The Runs tab's view of a sweep of 2000 runs (lr × dropout × seed, 10 × 10 × 20), each with
/// 150 epochs: table, parallel coordinates, ranking.
fn sweep_view(terminal: &mut Terminal<TestBackend>) {
    use lnmc::sweep::{parse_axis, Sweep};
    let axes = [
        "lr=1e-4,2e-4,3e-4,5e-4,7e-4,1e-3,2e-3,3e-3,5e-3,7e-3",
        "dropout=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
        "seed=range(0,20)",
    ]
    .iter()
    .map(|a| parse_axis(a).expect("axis"))
    .collect();
    let sweep = Sweep::new("big", "d.h5".into(), Default::default(), axes, None).expect("sweep");
    let config: lnmc::types::RunConfig =
        serde_json::from_str(include_str!("../tests/fixtures/config.json")).expect("config");
    use lnmc::run::catalog::{Kind, Point, PointState, Run, RunEntry};
    let points: Vec<Point> = sweep
        .points()
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let run = RunEntry::of_run(
                format!("runs/big/{}", p.id()),
                lnmc::run::Status::Finished,
                Run {
                    config: config.clone(),
                    history: (1..=150)
                        .map(|e| record(e, 0.5, 0.4 + (k % 97) as f64 / 1000.0))
                        .collect::<Vec<_>>()
                        .into(),
                    system: Default::default(),
                },
            );
            Point {
                name: p.id(),
                path: run.path.clone(),
                state: PointState::Started {
                    run: Box::new(run),
                    queue: None,
                },
            }
        })
        .collect();
    let entry = RunEntry {
        name: "big".into(),
        path: "runs/big".into(),
        status: lnmc::run::Status::Finished,
        modified: std::time::SystemTime::UNIX_EPOCH,
        kind: Kind::Sweep {
            sweep: std::sync::Arc::new(sweep),
            points,
        },
    };
    let options = synth::Options {
        n: 30,
        seed: 0,
        with_ids: false,
        ..Default::default()
    };
    let data = synth::in_memory(&options, "dataset/synthetic.hdf5".as_ref());
    let mut app = App::new(data, PatchImages::new(halfblocks()), Vec::new());
    let key = |code| Message::Key(KeyEvent::new(code, KeyModifiers::NONE));
    app.update(key(KeyCode::Char('4')));
    app.update(Message::Catalog {
        runs: vec![entry],
        checkpoints: Vec::new(),
    });
    app.update(key(KeyCode::Char('p')));
    // Half the runs outside a narrowed lr axis: faint and bright lines both drawn.
    for _ in 0..5 {
        app.update(key(KeyCode::Char(']')));
    }
    let times = common::time_ms(5, 200, |_| {
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
    });
    println!("sweep view, 2000 runs {}", common::summary(times));
}
