//! The dashboard on a big file: time from nothing to the first patch drawn (open the file
//! lazily, build the app, count the histogram and read the shown patches as the workers do,
//! draw the Dataset tab), time per frame while paging (each frame a patch not seen before: the
//! key, the read the worker does, the encoding and drawing), the screen thread's part of it (the
//! key and the frame), and this process's peak memory.
//! Training and evaluation at scale are measured with the binary itself: bench/scale.
//!
//! cargo bench --bench scale -- FILE.h5 [FILE.h5 …]

mod common;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lnmc::data::{memory, reader, review};
use lnmc::tui::app::App;
use lnmc::tui::image::{halfblocks, PatchImages};
use lnmc::tui::message::Effect;
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
        // What the dashboard's workers do first: the histogram, then the patches shown.
        let counts = lnmc::tui::dataset_tab::histogram(app.data());
        app.update(Message::Histogram(counts));
        let effect = app.update(key(KeyCode::Char('2')));
        read(&mut app, effect);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
        terminal.draw(|f| view::draw(f, &app)).expect("draw");
        let first = started.elapsed().as_secs_f64();
        let mut screen = Vec::new();
        let times = common::time_ms(5, FRAMES, |_| {
            let at = Instant::now();
            let effect = app.update(key(KeyCode::Right));
            let keyed = at.elapsed();
            read(&mut app, effect);
            let at = Instant::now();
            terminal.draw(|f| view::draw(f, &app)).expect("draw");
            screen.push((keyed + at.elapsed()).as_secs_f64() * 1e3);
        });
        screen.drain(..screen.len() - FRAMES);
        println!(
            "{file}: {n} patches · first patch drawn {first:.2} s · paging {} · of which the \
             screen's thread {} · peak RSS {}",
            common::summary(times),
            common::summary(screen),
            memory::size(memory::peak_rss().unwrap_or(0))
        );
    }
}

/// Does here what the dashboard's worker does with the patches `effect` asks for.
fn read(app: &mut App, effect: Effect) {
    let asked = match effect {
        Effect::LoadPatches(indices) => indices,
        Effect::All(effects) => effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::LoadPatches(indices) => Some(indices),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => return,
    };
    let patches = lnmc::tui::patches::load(app.data(), &asked);
    app.update(Message::Patches(patches));
}
