//! Faults a long run over SSH meets, each made by the test itself: signals, kill -9 (also in
//! the middle of writing a checkpoint), a second writer, unwritable destinations, a checkpoint
//! of another architecture, and the dashboard killed under a pseudo-terminal.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{lnmc, metrics_rows, without_timing};

fn synth(dir: &Path, n: usize) {
    let out = lnmc()
        .current_dir(dir)
        .args(["synth", "--out", "d.h5", "--n", &n.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// `lnmc train --headless` on d.h5 on the CPU.
fn train_command(dir: &Path, run: &str, epochs: usize, batch_size: usize) -> Command {
    let mut command = lnmc();
    command
        .current_dir(dir)
        .args([
            "train",
            "--headless",
            "--data",
            "d.h5",
            "--device",
            "cpu",
            "--run",
            run,
        ])
        .args([
            "--epochs",
            &epochs.to_string(),
            "--batch-size",
            &batch_size.to_string(),
        ]);
    command
}

/// A headless run with many small batches, so that it is mid-epoch most of the time.
fn start_training(dir: &Path, run: &str, epochs: usize) -> Child {
    train_command(dir, run, epochs, 4)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for_rows(dir: &Path, run: &str, n: usize) {
    let start = Instant::now();
    while metrics_rows(dir, run).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no epoch finished in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: i32) {
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn resume(dir: &Path, run: &str, epochs: usize) -> Output {
    lnmc()
        .current_dir(dir)
        .args([
            "train",
            "--headless",
            "--device",
            "cpu",
            "--resume",
            &format!("runs/{run}"),
            "--epochs",
            &epochs.to_string(),
        ])
        .output()
        .unwrap()
}

/// Every checkpoint on disk loads completely; no temporary file is mistaken for one.
fn checkpoints_are_whole(dir: &Path, run: &str) {
    for entry in std::fs::read_dir(dir.join("checkpoint").join(run)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".safetensors") {
            lnmc::checkpoint::load(&path).unwrap_or_else(|e| panic!("{name} is torn: {e}"));
        }
    }
}

#[test]
fn sigint_and_sigterm_stop_after_the_batch_and_say_how_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 120);
    for (sig, code, run) in [(libc::SIGINT, 130, "int"), (libc::SIGTERM, 143, "term")] {
        let child = start_training(dir.path(), run, 100);
        wait_for_rows(dir.path(), run, 1);
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let done = metrics_rows(dir.path(), run).len();
        assert!(
            stderr.contains(&format!(
                "stopped at epoch {done}, resume with: lnmc train --headless --resume runs/{run}"
            )),
            "{stderr}"
        );
        checkpoints_are_whole(dir.path(), run);
        assert!(
            !dir.path().join("runs").join(run).join("lock").exists(),
            "lock left behind"
        );
    }
}

#[test]
fn kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 80);
    let straight = train_command(dir.path(), "straight", 3, 4)
        .output()
        .unwrap();
    assert!(straight.status.success());

    let mut child = start_training(dir.path(), "killed", 3);
    wait_for_rows(dir.path(), "killed", 1);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    checkpoints_are_whole(dir.path(), "killed");
    let out = resume(dir.path(), "killed", 3);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let resumed = without_timing(&metrics_rows(dir.path(), "killed"));
    let epochs: Vec<&str> = resumed
        .iter()
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(epochs, ["1", "2", "3"], "duplicated or missing rows");
    assert_eq!(
        resumed,
        without_timing(&metrics_rows(dir.path(), "straight"))
    );
}

#[test]
fn kill_9_while_saving_never_leaves_a_torn_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    // Tiny epochs: most of the wall time is spent validating and saving.
    synth(dir.path(), 12);
    let mut child = train_command(dir.path(), "saves", 100_000, 64)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_rows(dir.path(), "saves", 3);
    for k in 0..8 {
        std::thread::sleep(Duration::from_millis(37 * k + 11));
        checkpoints_are_whole(dir.path(), "saves");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    checkpoints_are_whole(dir.path(), "saves");
    let out = resume(
        dir.path(),
        "saves",
        metrics_rows(dir.path(), "saves").len() + 1,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join("checkpoint/saves"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left after resume: {leftovers:?}"
    );
}

#[test]
fn a_second_writer_is_refused_and_a_dead_writers_lock_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 40);
    let child = start_training(dir.path(), "busy", 1000);
    wait_for_rows(dir.path(), "busy", 1);
    let out = resume(dir.path(), "busy", 1000);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("run is being written by process {}", child.id())),
        "{stderr}"
    );
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
    // The lock still names the dead process: a resume takes it over.
    assert!(dir.path().join("runs/busy/lock").exists());
    let done = metrics_rows(dir.path(), "busy").len();
    let out = resume(dir.path(), "busy", done + 1);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(metrics_rows(dir.path(), "busy").len(), done + 1);
}

#[test]
fn unwritable_destinations_fail_before_any_training() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 40);
    for blocked in ["runs", "checkpoint"] {
        let _ = std::fs::remove_dir_all(dir.path().join("runs"));
        let _ = std::fs::remove_dir_all(dir.path().join("checkpoint"));
        std::fs::write(
            dir.path().join(blocked),
            "a file where a directory should be",
        )
        .unwrap();
        let started = Instant::now();
        let out = train_command(dir.path(), "x", 5, 64).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(blocked), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "failed only after training"
        );
        std::fs::remove_file(dir.path().join(blocked)).unwrap();
    }
}

#[test]
fn eval_names_the_tensor_that_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 20);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _net = lnmc::model::Net::new(&vs.root(), lnmc::model::Spec::UPSTREAM, 0.3);
    let mut tensors: Vec<(String, tch::Tensor)> = vs.variables().into_iter().collect();
    for (name, t) in tensors.iter_mut() {
        if name == "fc.weight" {
            *t = tch::Tensor::zeros([3, 64], tch::kind::FLOAT_CPU);
        }
    }
    // A PyTorch-style file would do as well; lnmc's own format is the quickest to write here.
    let path = dir.path().join("other.pth");
    let bytes = {
        let views: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(n, t)| {
                let v = Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
                (
                    n.clone(),
                    t.size().iter().map(|&d| d as usize).collect(),
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            })
            .collect();
        let refs = views.iter().map(|(n, s, b)| {
            (
                n.as_str(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .unwrap(),
            )
        });
        safetensors::tensor::serialize(refs, None).unwrap()
    };
    std::fs::write(&path, bytes).unwrap();
    let out = lnmc()
        .current_dir(dir.path())
        .args(["eval", "--checkpoint", "other.pth", "--data", "d.h5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("other.pth: does not fit the convnet: tensor 'fc.weight' has shape [3, 64], the model needs [2, 64]"), "{stderr}");
}

/// Runs the dashboard in a pseudo-terminal (util-linux `script`, essential in Debian) with an
/// injected fault, sends it `sig` if given, and returns what the terminal received followed by
/// the exit code and `stty -a`.
fn dashboard_under_pty(dir: &Path, sig: Option<i32>, fault: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_lnmc");
    let inner = format!(
        "LNMC_INJECT_FAULT={fault} {bin} --data d.h5 --image-protocol halfblocks; echo EXIT=$?; stty -a"
    );
    // SHELL pinned: `script -c` runs it, and whether it forks or execs decides how deep lnmc sits.
    let mut child = Command::new("script")
        .current_dir(dir)
        .env("SHELL", "/bin/sh")
        .args(["-qfec", &format!("sh -c '{inner}'"), "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    if let Some(sig) = sig {
        let Some(pid) = descendant_named(child.id(), "lnmc") else {
            let _ = child.kill();
            panic!("no lnmc process appeared under script within 30 s");
        };
        // Give the dashboard time to draw before the signal arrives.
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process named `name` anywhere below `root` in the process tree, from /proc, waiting up to
/// 30 s for it to appear.
fn descendant_named(root: u32, name: &str) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        // pid → (ppid, comm); "pid (comm) state ppid …", comm may hold spaces and parentheses.
        let mut procs = std::collections::HashMap::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let pid: u32 = stat[..open].trim().parse().unwrap_or(0);
            let ppid: u32 = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            procs.insert(pid, (ppid, stat[open + 1..close].to_string()));
        }
        let below_root = |mut pid: u32| {
            while let Some(&(ppid, _)) = procs.get(&pid) {
                if ppid == root {
                    return true;
                }
                pid = ppid;
            }
            false
        };
        if let Some((&pid, _)) = procs
            .iter()
            .find(|(&pid, (_, comm))| comm == name && below_root(pid))
        {
            return Some(pid as i32);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn dashboard_restores_the_terminal_on_sigterm_sighup_panic_and_error() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 20);
    let cases = [
        (Some(libc::SIGTERM), "none", "EXIT=0"),
        (Some(libc::SIGHUP), "none", "EXIT=0"),
        (None, "panic", "EXIT=101"),
        (None, "error", "EXIT=1"),
    ];
    for (sig, fault, exit) in cases {
        if fault != "none" && !common::fault_injection(fault) {
            continue;
        }
        let screen = dashboard_under_pty(dir.path(), sig, fault);
        let entered = screen
            .find("\x1b[?1049h")
            .expect("never entered the alternate screen");
        let left = screen
            .rfind("\x1b[?1049l")
            .expect("alternate screen not left");
        assert!(left > entered, "{fault}: left before entering");
        assert!(
            screen[entered..].contains("\x1b[?25h"),
            "{fault}: cursor left hidden"
        );
        let after = &screen[screen
            .find(exit)
            .unwrap_or_else(|| panic!("{fault}: no {exit} in {screen:?}"))..];
        assert!(
            after.contains(" icanon") && after.contains(" echo "),
            "{fault}: raw mode left on: {after}"
        );
    }
}

#[test]
fn bad_data_files_are_refused_with_one_line_and_nothing_written() {
    use common::H5;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = |n: usize| vec![-800i16; n * 256];
    std::fs::write(d.join("text.h5"), "not hdf5").unwrap();
    let whole = std::fs::read(common::valid_file(d, "whole.h5", 40, 32)).unwrap();
    std::fs::write(d.join("truncated.h5"), &whole[..whole.len() / 2]).unwrap();
    H5::create(d, "missing.h5")
        .add("images", &[2, 16, 16], &img(2))
        .done();
    H5::create(d, "rank.h5")
        .add("ct_slices", &[2, 256], &img(2))
        .add("slice_class", &[2], &[0u8, 1])
        .done();
    H5::create(d, "count.h5")
        .add("ct_slices", &[2, 16, 16], &img(2))
        .add("slice_class", &[3], &[0u8, 1, 1])
        .done();
    H5::create(d, "empty.h5")
        .add("ct_slices", &[0, 16, 16], &img(0))
        .add("slice_class", &[0], &[0u8; 0])
        .done();
    let mut nan = vec![0.0f32; 2 * 256];
    nan[300] = f32::NAN;
    H5::create(d, "nan.h5")
        .add("ct_slices", &[2, 16, 16], &nan)
        .add("slice_class", &[2], &[0u8, 1])
        .done();
    H5::create(d, "label2.h5")
        .add("ct_slices", &[2, 16, 16], &img(2))
        .add("slice_class", &[2], &[0u8, 2])
        .done();
    H5::create(d, "negative.h5")
        .add("ct_slices", &[2, 16, 16], &img(2))
        .add("slice_class", &[2], &[-1i8, 1])
        .done();
    H5::create(d, "oneclass.h5")
        .add("ct_slices", &[2, 16, 16], &img(2))
        .add("slice_class", &[2], &[1u8, 1])
        .done();
    std::os::unix::fs::symlink(d.join("gone.h5"), d.join("dangling.h5")).unwrap();
    std::fs::create_dir(d.join("folder.h5")).unwrap();
    let cases = [
        ("text.h5", "not an HDF5 file"),
        ("truncated.h5", "truncated"),
        ("missing.h5", "'ct_slices' missing (found: images)"),
        ("rank.h5", "expected rank 3"),
        ("count.h5", "has 3 entries but 'ct_slices' has 2 patches"),
        ("empty.h5", "is empty"),
        ("nan.h5", "non-finite pixel (NaN) in patch 1"),
        ("label2.h5", "label 2 at index 1"),
        ("negative.h5", "label -1 at index 0"),
        ("oneclass.h5", "only one class"),
        ("dangling.h5", "dangling symbolic link"),
        ("folder.h5", "is a directory"),
    ];
    for (file, problem) in cases {
        let out = lnmc()
            .current_dir(d)
            .args(["train", "--headless", "--data", file, "--epochs", "1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{file}: {stderr}");
        assert!(
            stderr.contains(file) && stderr.contains(problem),
            "{file}: {stderr}"
        );
        assert!(
            !d.join("runs").exists() && !d.join("checkpoint").exists(),
            "{file}: something was written"
        );
    }
}

/// How a run ended is what its writer recorded, read back the same way by every reader: a
/// stop before the first batch, then a save that fails (its checkpoint directory is gone).
#[test]
fn the_end_record_says_how_a_run_ended() {
    use lnmc::run::catalog::RunEntry;
    use lnmc::run::Status;
    use lnmc::train::{self, Control, Event, Request, Start};
    let dir = tempfile::tempdir().unwrap();
    // Written by the binary, as in the other tests here: an HDF5 file written in this process
    // while a neighbouring test forks could stay locked by the child (HDF5's descriptors are
    // inherited and carry its lock).
    synth(dir.path(), 40);
    let data = dir.path().join("d.h5");
    let request = |name: &str| {
        Start::New(Request {
            data: data.clone(),
            settings: lnmc::settings::Settings {
                hyper: lnmc::types::Hyper {
                    epochs: 2,
                    ..Default::default()
                },
                device: lnmc::types::DeviceChoice::Cpu,
                precision: lnmc::types::Precision::Fp32,
                split: Some(lnmc::data::split::SplitKind::Stratified),
                name: Some(name.into()),
                ..Default::default()
            },
            fold: None,
            runs_root: dir.path().join("runs"),
            checkpoint_root: dir.path().join("checkpoint"),
        })
    };
    let mut events = Vec::new();

    let session = train::prepare(request("stopped")).unwrap();
    let control = Control::default();
    control
        .stop
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let ending = train::train(session, &control, &mut |e| events.push(e)).unwrap();
    assert_eq!(ending, lnmc::run::Ending::Stopped);
    assert!(matches!(
        events.last(),
        Some(Event::Stopped { epoch: 0, .. })
    ));
    let entry = RunEntry::read(&dir.path().join("runs/stopped")).unwrap();
    assert_eq!(entry.status, Status::Stopped);

    let session = train::prepare(request("broken")).unwrap();
    std::fs::remove_dir_all(dir.path().join("checkpoint/broken")).unwrap();
    let error = train::train(session, &Control::default(), &mut |_| {}).unwrap_err();
    let entry = RunEntry::read(&dir.path().join("runs/broken")).unwrap();
    assert_eq!(entry.status, Status::Failed(error.to_string()));
    assert!(error.to_string().contains("checkpoint/broken"), "{error}");
    let log = std::fs::read_to_string(dir.path().join("runs/broken/log.txt")).unwrap();
    assert!(log.trim_end().ends_with(&error.to_string()), "{log}");
}

#[test]
fn a_missing_checkpoint_is_called_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = lnmc()
        .current_dir(dir.path())
        .args(["eval", "--checkpoint", "missing.safetensors"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("missing.safetensors: no such file"),
        "{stderr}"
    );
    assert!(stderr.contains("checkpoint"), "{stderr}");
    assert!(!stderr.contains("all_patches"), "{stderr}");
}

/// A loss that stops being a number ends the run with one line and never reaches a checkpoint
/// (it used to save NaN weights as best and exit 0).
#[test]
fn a_nan_loss_stops_the_run_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path(), 60);
    let out = train_command(dir.path(), "nan", 3, 16)
        .args(["--lr", "1e6"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("loss became NaN at epoch 1 batch"),
        "{stderr}"
    );
    assert!(stderr.contains("last good checkpoint: none"), "{stderr}");
    assert!(!dir.path().join("checkpoint/nan/best.safetensors").exists());
    assert!(metrics_rows(dir.path(), "nan").is_empty());
    let entry = lnmc::run::catalog::RunEntry::read(&dir.path().join("runs/nan")).unwrap();
    assert!(matches!(entry.status, lnmc::run::Status::Failed(ref m) if m.contains("NaN")));
}
