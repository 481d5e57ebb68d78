//! What the machine did for a run: system.csv written by a real headless run, a run made to
//! hang (`LNMC_INJECT_FAULT=hang`) noticed as stalled by `watch`'s views, and the machine's
//! values drawn beside the curves, in the live table and in an exported chart.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::lnmc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lnmc::run::catalog::{runs, Followed, Run, RunEntry};
use lnmc::run::system::{self, Sample, Samples};
use lnmc::run::Status;
use lnmc::tui::app::App;
use lnmc::tui::{view, Effect, Message};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use common::app;

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    format!("{}", terminal.backend())
}

fn key(app: &mut App, code: KeyCode) -> Effect {
    app.update(Message::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// A child process killed when the test ends, however it ends (a failed assertion must not
/// leave a hung run behind).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless run of 3 epochs in batches of 4 (16 a epoch: two read-backs of the losses) that
/// hangs in its second epoch after its first read-back.
fn hanging_run(dir: &Path) -> Reaped {
    common::ok(dir, &["synth", "--out", "d.h5", "--n", "80"]);
    lnmc()
        .current_dir(dir)
        .env("LNMC_INJECT_FAULT", "hang")
        .args(["train", "--headless", "--data", "d.h5", "--device", "cpu"])
        .args(["--run", "h", "--epochs", "3", "--batch-size", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Reaped)
        .unwrap()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not in {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_hung_run_is_noticed_as_stalled_with_what_it_was_doing() {
    if !common::fault_injection("the hung run") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = hanging_run(dir.path());
    let run = dir.path().join("runs/h");
    // Hung in the second epoch after 8 batches: its samples say so, while idle time grows.
    let hung = |s: &Sample| s.doing.starts_with("epoch 2: batch 8/") && s.idle_s > 3.0;
    wait_until("a sample of the hang", Duration::from_secs(180), || {
        system::read(&run).last().is_some_and(hung)
    });
    let entry = RunEntry::read(&run).unwrap();
    assert_eq!(entry.status, Status::Running);
    let rows = &entry.system().rows;
    assert!(rows.len() >= 2, "{rows:?}");
    for s in rows.iter() {
        assert!((0.0..=100.5).contains(&s.cpu_percent), "{s:?}");
        assert!(s.rss_mib > 10.0 && s.peak_rss_mib >= s.rss_mib, "{s:?}");
        assert!(s.threads >= 1 && s.cores >= 1, "{s:?}");
        assert_eq!(s.gpu_percent, None, "no GPU here");
    }
    assert!(
        rows.windows(2).all(|w| w[1].time > w[0].time),
        "one row a sample, in order"
    );
    // The first epoch's batches were timed: the default limit (at least a minute) is not
    // reached yet, a limit of 2 s is.
    assert!(entry.system().last().unwrap().step_s.is_some());
    assert_eq!(entry.stall(None), None);
    let stall = entry.stall(Some(Duration::from_secs(2))).expect("stalled");
    let doing = stall.doing.clone();
    assert!(doing.starts_with("epoch 2: batch 8/"), "{doing}");
    assert!(stall.idle > Duration::from_secs(3), "{stall:?}");

    // `lnmc watch runs/h`: the Train tab marks it, says what it was doing, and rings once.
    let mut app = app();
    app.set_stall_limit(Some(Duration::from_secs(2)));
    let effect = app.update(Message::Followed(Followed::read(&run)));
    let Effect::Notify(text) = effect else {
        panic!("the stall is not announced: {effect:?}");
    };
    assert!(
        text.starts_with("lnmc: h stalled: no batch for ")
            && text.ends_with(&format!("last {doing}")),
        "{text}"
    );
    assert_eq!(
        app.update(Message::Followed(Followed::read(&run))),
        Effect::None,
        "announced once"
    );
    let shown = screen(&app, 160, 48);
    assert!(shown.contains("status  stalled"), "{shown}");
    assert!(shown.contains(&format!("last    {doing}")), "{shown}");
    assert!(
        shown.contains("cpu ") && shown.contains("threads"),
        "{shown}"
    );

    // `lnmc watch runs/`: the live table marks it too, and rings once.
    let mut app = app_watching(&dir.path().join("runs"));
    let effect = app.update(Message::Catalog {
        runs: runs(&dir.path().join("runs")),
        checkpoints: Vec::new(),
    });
    assert!(
        matches!(&effect, Effect::All(e) if matches!(&e[..], [Effect::Notify(t)] if t.contains("stalled"))),
        "{effect:?}"
    );
    let table = screen(&app, 160, 48);
    let row = table.lines().find(|l| l.contains("stalled")).unwrap();
    assert!(row.contains(" h ") && row.contains("MiB"), "{row}");
    let again = app.update(Message::Catalog {
        runs: runs(&dir.path().join("runs")),
        checkpoints: Vec::new(),
    });
    assert_eq!(again, Effect::None, "announced once");

    // Stopped (SIGTERM), it is no longer stalled: its end is known.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    let entry = RunEntry::read(&run).unwrap();
    assert_eq!(entry.status, Status::Stopped);
    assert_eq!(entry.stall(Some(Duration::from_secs(2))), None);

    // The machine charted like any metric, over wall time.
    let svg = dir.path().join("cpu.svg");
    common::ok(
        dir.path(),
        &[
            "export",
            "runs/h",
            "--plot",
            svg.to_str().unwrap(),
            "--metric",
            "cpu_percent",
        ],
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("cpu_percent") && text.contains("minutes"),
        "{text}"
    );
}

fn app_watching(dir: &Path) -> App {
    let mut app = app();
    app.set_stall_limit(Some(Duration::from_secs(2)));
    app.update(Message::WatchAll(dir.to_path_buf()));
    app
}

/// A GPU run's samples as NVML would give them, `n` of them 2 s apart.
fn gpu_samples(n: usize) -> Samples {
    let rows = (0..n)
        .map(|k| Sample {
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
            doing: format!("epoch 3: batch {k}/84 done"),
            idle_s: 0.4,
            step_s: Some(0.05),
        })
        .collect();
    Samples {
        rows: std::sync::Arc::new(rows),
        age: Some(Duration::from_secs(1)),
    }
}

/// The Train tab's status panel with a GPU run's machine, and the live table's columns.
#[test]
fn the_machine_beside_the_curves() {
    let mut app = app();
    app.update(Message::Train(lnmc::train::Event::Started {
        run: "g".into(),
        run_dir: "runs/g".into(),
        device: "cuda:0".into(),
        precision: "bf16 (CUDA)".into(),
        synthetic: true,
        units: lnmc::data::units::Units::Hu,
        split: common::demo_split(),
        first_epoch: 1,
        epochs: 3,
        prepare_seconds: 0.5,
        data_bytes: 1_638_400,
        data_pixels: 819_200,
        batches: 84,
    }));
    // The run trained here: its system.csv is read every second.
    assert_eq!(
        app.update(Message::FollowTick),
        Effect::ReadSystem("runs/g".into())
    );
    // Samples of another run are not this one's.
    app.update(Message::System("runs/other".into(), gpu_samples(3)));
    assert!(!screen(&app, 160, 48).contains("gpu mem"));
    assert_eq!(
        app.update(Message::System("runs/g".into(), gpu_samples(200))),
        Effect::None,
        "busy, not stalled"
    );
    insta::assert_snapshot!("train_machine_160x48", screen(&app, 160, 48));
    let shown = screen(&app, 160, 48);
    assert!(shown.contains("2.1 GiB (peak 2.3 GiB)"), "{shown}");
    assert!(shown.contains("3.4 GiB / 140.4 GiB"), "{shown}");
    assert!(shown.contains("48 °C · 312 W"), "{shown}");
    // A stall of the run trained here rings too.
    let mut stalled = gpu_samples(10);
    std::sync::Arc::make_mut(&mut stalled.rows)
        .last_mut()
        .unwrap()
        .idle_s = 61.0;
    let Effect::Notify(text) = app.update(Message::System("runs/g".into(), stalled)) else {
        panic!("no notification");
    };
    assert!(
        text.contains("g stalled: no batch for 1 min 02 s"),
        "{text}"
    );
}

/// `v` opens the selected run's log over the chart, following its end; it scrolls back, is
/// read again every second while open, and closes.
#[test]
fn the_log_at_hand_in_the_runs_tab() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs/l");
    std::fs::create_dir_all(&run).unwrap();
    let mut app = app_watching(&dir.path().join("runs"));
    let config: lnmc::types::RunConfig =
        serde_json::from_str(include_str!("fixtures/config.json")).unwrap();
    let entry = RunEntry::of_run(
        run.clone(),
        Status::Running,
        Run {
            config,
            history: Default::default(),
            system: gpu_samples(5),
        },
    );
    app.update(Message::Catalog {
        runs: vec![entry],
        checkpoints: Vec::new(),
    });
    let table = screen(&app, 80, 24);
    let row = table.lines().find(|l| l.contains("running")).unwrap();
    assert!(
        row.contains("44%") && row.contains("84%") && row.contains("2.1 GiB"),
        "cpu, gpu and memory of a running run: {row}"
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('v')),
        Effect::ReadLog(run.clone())
    );
    let lines: Vec<String> = (1..=60).map(|k| format!("line {k}")).collect();
    std::fs::write(run.join("log.txt"), lines.join("\n") + "\n").unwrap();
    assert_eq!(lnmc::run::catalog::log_tail(&run), lines);
    app.update(Message::Log(run.clone(), lines.clone()));
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("log · l · following"), "{shown}");
    assert!(
        shown.contains("line 60") && !shown.contains("line 30 "),
        "{shown}"
    );
    assert!(
        shown.contains("esc  close"),
        "the footer says how out: {shown}"
    );
    let Effect::All(effects) = app.update(Message::FollowTick) else {
        panic!("the open log is not read again");
    };
    assert!(effects.contains(&Effect::ReadLog(run.clone())));
    // Scrolled back, new lines do not move what is in view.
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    let mut more = lines.clone();
    more.push("line 61".into());
    app.update(Message::Log(run.clone(), more));
    let shown = screen(&app, 80, 24);
    assert!(shown.contains("3 lines back"), "{shown}");
    assert!(
        shown.contains("line 58") && !shown.contains("line 59"),
        "{shown}"
    );
    key(&mut app, KeyCode::End);
    assert!(screen(&app, 80, 24).contains("line 61"));
    key(&mut app, KeyCode::Esc);
    let shown = screen(&app, 80, 24);
    assert!(!shown.contains("log · l"), "{shown}");
    assert_eq!(app.update(Message::FollowTick), Effect::Rescan);
}
