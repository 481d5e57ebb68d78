//! The dashboard answers keys while a scheduler is slow (issue 31): watching a sweep queued on
//! Slurm, it asks `squeue` every second; a stand-in `squeue` on PATH answers after 8 s, and
//! every key must still be drawn within 100 ms. Its own test binary: it sets PATH for the
//! whole process.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use lnmc::settings::Settings;
use lnmc::sweep::{Axis, Job, Sweep};
use lnmc::tui::Message;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;

/// A TestBackend that notes when each frame was flushed and what it showed.
struct Recording {
    inner: TestBackend,
    frames: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Backend for Recording {
    type Error = <TestBackend as Backend>::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        let screen = format!("{}", self.inner);
        self.frames.lock().unwrap().push((Instant::now(), screen));
        self.inner.flush()
    }
}

const SLOW: Duration = Duration::from_secs(8);
const ANSWER: Duration = Duration::from_millis(100);

#[test]
fn keys_are_answered_within_100_ms_while_squeue_takes_8_s() {
    let dir = tempfile::tempdir().unwrap();
    // The stand-in squeue: says when it was asked, then answers after 8 s.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let asked = dir.path().join("squeue.asked");
    let script = format!(
        "#!/bin/sh\ntouch '{}'\nsleep {}\necho '4242_0 PENDING'\n",
        asked.display(),
        SLOW.as_secs()
    );
    std::fs::write(bin.join("squeue"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("squeue"), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Set before any thread of this test binary starts.
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    std::env::set_var("PATH", path);

    // A sweep of two points submitted to Slurm, neither started.
    let runs = dir.path().join("runs");
    let axes = vec![Axis {
        key: "lr".into(),
        values: vec!["0.001".into(), "0.01".into()],
    }];
    let data = dir.path().join("d.h5");
    let mut sweep = Sweep::new("s", data, Settings::default(), axes, None).unwrap();
    sweep.jobs.push(Job {
        scheduler: lnmc::sweep::Scheduler::Slurm,
        id: "4242".into(),
        script: runs.join("s/sweep.sbatch"),
        submitted: "now".into(),
    });
    std::fs::create_dir_all(runs.join("s")).unwrap();
    sweep.write(&runs.join("s")).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let backend = Recording {
        inner: TestBackend::new(100, 30),
        frames: Arc::clone(&frames),
    };
    let mut terminal = Terminal::new(backend).unwrap();
    let mut app = common::app();
    app.update(Message::WatchAll(runs.join("s")));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (keys, key_stream) = futures::channel::mpsc::unbounded();
    // The time is taken before the key is sent: the frame answering it may be drawn before
    // the send returns.
    let press = move |code: KeyCode| {
        let at = Instant::now();
        keys.unbounded_send(Ok(CtEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .unwrap();
        at
    };
    // Each key and what the screen shows once it is answered: the Train tab's form, then the
    // Runs tab's table (whose opening asks for the runs to be read again).
    let script = [
        (KeyCode::Char('1'), "settings 1/"),
        (KeyCode::Char('4'), "┌ runs "),
        (KeyCode::Char('1'), "settings 1/"),
        (KeyCode::Char('4'), "┌ runs "),
        (KeyCode::Char('1'), "settings 1/"),
    ];
    let answered = std::thread::spawn(move || {
        // Keys are pressed while squeue is being asked (and asked again on opening Runs).
        let start = Instant::now();
        while !asked.exists() {
            assert!(start.elapsed() < SLOW, "squeue was never asked");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut waits = Vec::new();
        for (code, shows) in script {
            let pressed = press(code);
            let answer = loop {
                let seen = frames.lock().unwrap().iter().find_map(|(at, screen)| {
                    (*at >= pressed && screen.contains(shows)).then_some(*at)
                });
                if let Some(at) = seen {
                    break at - pressed;
                }
                assert!(pressed.elapsed() < 2 * SLOW, "{code:?} never drawn");
                std::thread::sleep(Duration::from_millis(2));
            };
            waits.push(answer);
            std::thread::sleep(Duration::from_millis(150));
        }
        press(KeyCode::Char('q'));
        (waits, start.elapsed())
    });
    runtime.block_on(common::drive(&mut terminal, &mut app, key_stream, (tx, rx)));
    let (waits, took) = answered.join().unwrap();
    assert!(took < SLOW, "the keys took {took:?}, as long as squeue");
    for wait in &waits {
        assert!(*wait < ANSWER, "a key took {wait:?}: {waits:?}");
    }
    // The detached squeue reads are not waited for: the runtime is dropped here.
    runtime.shutdown_background();
}
