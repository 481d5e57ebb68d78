//! The dashboard on a big file: time from nothing to the first patch drawn (open the file
//! lazily, build the app, draw the Dataset tab), time per frame while paging (each frame a patch
//! not seen before: read from the file, encoded, drawn), and this process's peak memory.
//! Training and evaluation at scale are measured with the binary itself: bench/scale.
//!
//! cargo bench --bench scale -- FILE.h5 [FILE.h5 …]

mod common;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lnmc::data::{memory, reader, review};
use lnmc::tui::app::App;
use lnmc::tui::image::{halfblocks, PatchImages};
use lnmc::tui::{view, Message};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const FRAMES: usize = 300;

fn main() {
    let files: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if files.is_empty() {
        eprintln!("usage: cargo bench --bench scale -- FILE.h5 [FILE.h5 …]");
        return;
    }
    let key = |code| Message::Key(KeyEvent::new(code, KeyModifiers::NONE));
    for file in files {
        let started = Instant::now();
        let data = reader::open(file.as_ref()).expect("a readable data file");
        let flags = review::read(file.as_ref(), data.len()).expect("review flags");
        let n = data.len();
        let mut app = App::new(data, PatchImages::new(halfblocks()), flags);
        app.update(key(KeyCode::Char('2')));
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
        let first = started.elapsed().as_secs_f64();
        let times = common::time_ms(5, FRAMES, |_| {
            app.update(key(KeyCode::Right));
            terminal.draw(|f| view::draw(f, &app)).expect("draw");
        });
        println!(
            "{file}: {n} patches · first patch drawn {first:.2} s · paging {} · peak RSS {}",
            common::summary(times),
            memory::size(memory::peak_rss().unwrap_or(0))
        );
    }
}
