//! Dataset tab: one patch drawn large with its facts, neighbouring thumbnails, and a summary
//! of the whole set (classes, splits, intensity histogram).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Wrap};
use ratatui::Frame;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input as LineEditor;

use super::browser::{Browser, ClassFilter, Sets, SplitFilter};
use super::image::PatchImages;
use super::keys::{Key, Keys, CANCEL, CONFIRM};
use super::message::{Effect, Reply};
use super::patches::{Loaded, PatchCache, Shown};
use super::widgets::{panel, ACCENT};
use crate::data::groups::{group_sizes, Source};
use crate::data::review::Flag;
use crate::data::units::{Scale, Units};
use crate::data::{Dataset, MALIGNANT};
use crate::evaluation::Evaluation;
use crate::explain::Explanation;
use crate::metrics::is_correct;

/// Bars of the intensity histogram.
const BINS: usize = 11;

pub use super::panel::Context;

pub struct DatasetTab {
    browser: Browser,
    images: PatchImages,
    /// The pixels of the shown patch and its neighbours, read ahead of drawing.
    patches: PatchCache,
    /// Pixel counts per HU bin over the sampled patches; None until a worker has counted
    /// them from a file left on disk.
    histogram: Option<Vec<u64>>,
    /// The set's facts that never change, counted once: (benign, malignant) and the line on
    /// its nodules (counting them each frame cost 10 ms on a 100k-patch file).
    classes: (usize, usize),
    nodules: String,
    /// Where each patch came from, for files written by `lnmc import`.
    sources: Option<Vec<String>>,
    /// `c`: the class-activation overlay on the patch and the thumbnails.
    overlay: bool,
    /// Maps of the patches explained so far, and the checkpoint they come from.
    explained: HashMap<usize, Explanation>,
    explained_by: Option<PathBuf>,
    /// Maps by the compared second checkpoint, drawn beside the first's where the two
    /// disagree.
    second: HashMap<usize, Explanation>,
    second_by: Option<PathBuf>,
    /// Review flags of the data file, by patch.
    flags: BTreeMap<usize, Flag>,
    /// The note being typed for a new flag.
    note: Option<LineEditor>,
    /// The last problem to show in the facts (a failed explanation or flag write).
    problem: Option<String>,
}

/// How many patches around the shown one (the thumbnails) are explained ahead.
const EXPLAIN_AHEAD: usize = 12;
/// How many are read ahead: more than the widest thumbnail strip shows.
const READ_AHEAD: usize = 32;

const CAM: Key = Key::new(&[KeyCode::Char('c')], "CAM overlay");
const FLAG: Key = Key::new(&[KeyCode::Char('x')], "flag label");
/// The longest note a flag keeps, in characters.
const NOTE_LENGTH: usize = 200;

impl DatasetTab {
    pub fn new(data: &Dataset, images: PatchImages, flags: Vec<Flag>) -> DatasetTab {
        DatasetTab {
            browser: Browser::new(data),
            images,
            patches: PatchCache::default(),
            // A set in memory is counted at once (no read); a file, by `Effect::CountHistogram`.
            histogram: data.in_memory().then(|| histogram(data)),
            classes: data.class_counts(),
            nodules: nodules_line(data),
            sources: crate::import::output::read_sources(&data.path),
            overlay: false,
            explained: HashMap::new(),
            explained_by: None,
            second: HashMap::new(),
            second_by: None,
            flags: flags.into_iter().map(|f| (f.index, f)).collect(),
            note: None,
            problem: None,
        }
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    pub fn overlay(&self) -> bool {
        self.overlay
    }

    pub fn flags(&self) -> impl Iterator<Item = &Flag> {
        self.flags.values()
    }

    const KEYS: Keys = &[CAM, FLAG];

    fn flag(&mut self, cx: &Context, index: usize, note: Option<String>) -> Reply {
        Reply::Effect(Effect::Flag {
            data: cx.data.path.clone(),
            rows: cx.data.len(),
            index,
            note,
        })
    }

    /// Takes in the flags as the file now holds them.
    pub fn set_flags(&mut self, flags: Vec<Flag>, cx: &Context) {
        self.flags = flags.into_iter().map(|f| (f.index, f)).collect();
        if self.browser.class == ClassFilter::Flagged {
            self.refilter(cx);
        }
    }

    pub fn set_problem(&mut self, problem: String) {
        self.problem = Some(problem);
    }

    /// The overlay's maps could not be computed (a checkpoint that does not load, a network
    /// of several slices on a file without nodule ids): the overlay goes off with the reason
    /// shown, so that paging on does not ask the worker again for what fails again.
    pub fn explain_failed(&mut self, problem: String) {
        self.overlay = false;
        self.problem = Some(problem);
    }

    /// The patches around the shown one not yet read: an effect for the worker (none for a
    /// set in memory, copied here).
    pub fn read_ahead(&mut self, cx: &Context) -> Effect {
        let b = &self.browser;
        let near = b
            .visible
            .iter()
            .skip(b.cursor.saturating_sub(READ_AHEAD / 2))
            .take(READ_AHEAD + 1)
            .copied();
        match self.patches.ask(cx.data, near) {
            wanted if wanted.is_empty() => Effect::None,
            wanted => Effect::LoadPatches(wanted),
        }
    }

    /// What the app asks for when it starts: the histogram of a file left on disk.
    pub fn start(&self) -> Effect {
        match self.histogram {
            Some(_) => Effect::None,
            None => Effect::CountHistogram,
        }
    }

    /// Takes in the histogram a worker counted.
    pub fn counted(&mut self, histogram: Vec<u64>) {
        self.histogram = Some(histogram);
    }

    /// Takes in patches the worker read.
    pub fn loaded(&mut self, patches: Vec<(usize, Loaded)>) {
        self.patches.take(patches);
    }

    /// Takes in maps computed for `checkpoint`.
    pub fn explained(&mut self, checkpoint: PathBuf, maps: Vec<(usize, Explanation)>) {
        if self.second_by.as_ref() == Some(&checkpoint) {
            self.second.extend(maps);
            return;
        }
        if self.explained_by.as_ref() != Some(&checkpoint) {
            self.explained.clear();
            self.explained_by = Some(checkpoint);
        }
        self.explained.extend(maps);
    }

    /// With the overlay on: the maps still missing for the shown patch and its neighbours, as
    /// an effect (computed off the event loop, they come back as a message).
    pub fn explain_missing(&mut self, cx: &Context) -> Reply {
        if !self.overlay {
            return Reply::Done;
        }
        let Some(checkpoint) = cx.checkpoint.as_deref() else {
            self.problem = Some("no checkpoint: evaluate one in the Evaluate tab".into());
            return Reply::Done;
        };
        if self.explained_by.as_deref() != Some(checkpoint) {
            self.explained.clear();
            self.explained_by = Some(checkpoint.to_path_buf());
        }
        let b = &self.browser;
        let from = b.cursor.saturating_sub(EXPLAIN_AHEAD / 2);
        let near: Vec<usize> = b
            .visible
            .iter()
            .skip(from)
            .take(EXPLAIN_AHEAD + 1)
            .copied()
            .collect();
        let mut wanted: Vec<usize> = near
            .iter()
            .copied()
            .filter(|i| !self.explained.contains_key(i))
            .collect();
        let mut checkpoint = checkpoint.to_path_buf();
        // Where two checkpoints disagree, the second's maps once the first's are in.
        if let (true, ClassFilter::Disagreements, Some(second)) =
            (wanted.is_empty(), b.class, cx.second())
        {
            if self.second_by.as_deref() != Some(second) {
                self.second.clear();
                self.second_by = Some(second.to_path_buf());
            }
            checkpoint = second.to_path_buf();
            wanted = near
                .into_iter()
                .filter(|i| !self.second.contains_key(i))
                .collect();
        }
        match wanted.is_empty() {
            true => Reply::Done,
            false => Reply::Effect(Effect::Explain {
                checkpoint,
                indices: wanted,
            }),
        }
    }

    /// The filters again, after the split or the evaluation changed.
    pub fn refilter(&mut self, cx: &Context) {
        let flagged: Vec<usize> = self.flags.keys().copied().collect();
        self.browser.refilter(&sets(cx, &flagged));
    }

    /// Where the two compared checkpoints disagree, overlay on: both maps side by side.
    pub fn show_disagreements(&mut self, evaluation: &Evaluation, cx: &Context) -> Reply {
        self.browser.show_disagreements(evaluation);
        self.overlay = true;
        self.explain_missing(cx)
    }

    /// The misclassified patches of `evaluation`, overlay on: what drove each error.
    pub fn show_misclassified(&mut self, evaluation: &Evaluation, cx: &Context) -> Reply {
        self.browser.show_misclassified(evaluation);
        self.overlay = true;
        self.explain_missing(cx)
    }

    /// The map drawn over `index`, when the overlay is on and it is known.
    fn map_of(&self, index: usize) -> Option<&Explanation> {
        self.overlay.then(|| self.explained.get(&index)).flatten()
    }

    fn draw_thumbnails(&self, frame: &mut Frame, area: Rect, data: &Dataset) {
        let size = |index| (index, data.height, data.width);
        let b = &self.browser;
        let count = (area.width / 14).max(1) as usize;
        let start = b
            .cursor
            .saturating_sub(count / 2)
            .min(b.visible.len().saturating_sub(count));
        let shown: Vec<usize> = b.visible.iter().skip(start).take(count).copied().collect();
        let cells = Layout::horizontal(vec![Constraint::Length(14); shown.len()]).split(area);
        let (current, window) = (b.current(), b.window);
        for (&index, &cell) in shown.iter().zip(cells.iter()) {
            let style = if Some(index) == current {
                Style::new().fg(ACCENT).bold()
            } else {
                Style::new().dark_gray()
            };
            let flag = if self.flags.contains_key(&index) {
                " ⚑"
            } else {
                ""
            };
            let block = Block::bordered()
                .border_style(style)
                .title(format!("{index}{flag}"));
            let inner = block.inner(cell);
            frame.render_widget(block, cell);
            let patch = self.patches.get(index);
            self.images
                .render(frame, inner, patch, size(index), window, self.map_of(index));
        }
    }

    /// The facts of patch `index`: label, split, intensities, window, filters, the model's
    /// verdict, its flag, the overlay's legend and whatever prompt is open.
    fn info_lines(&self, cx: &Context, index: usize) -> Vec<Line<'static>> {
        let mut lines = self.patch_lines(cx, index);
        if cx.context > 1 {
            lines.push(self.context_line(cx, index));
        }
        if let Some((name, e)) = cx.evaluation() {
            lines.extend(verdict_lines(name, e, index));
        }
        if let Some(flag) = self.flags.get(&index) {
            lines.push(Line::from(vec![
                "flagged ".fg(Color::Yellow),
                Span::raw(format!("{} · {}", flag.note, flag.time)),
            ]));
        }
        lines.extend(self.overlay_lines(index));
        lines.extend(self.prompt_lines());
        lines
    }

    /// Label, split, intensities, units, origin, window and what is being shown.
    fn patch_lines(&self, cx: &Context, index: usize) -> Vec<Line<'static>> {
        let b = &self.browser;
        let data = cx.data;
        let units = data.scale.units;
        let digits = units.decimals();
        let intensities = match self.patches.get(index) {
            Shown::Pixels(p) => format!(
                "{:.digits$} … {:.digits$}, mean {:.digits$}",
                p.min, p.max, p.mean
            ),
            Shown::Reading => "reading…".to_string(),
            Shown::Unreadable(why) => why.to_string(),
        };
        let label = if data.labels[index] == MALIGNANT {
            Span::styled("malignant (1)", Style::new().fg(Color::Red).bold())
        } else {
            Span::styled("benign (0)", Style::new().fg(Color::Green).bold())
        };
        let side = if cx.in_val.get(index).copied().unwrap_or(false) {
            "val"
        } else {
            "train"
        };
        let mut lines = vec![
            Line::from(vec!["label   ".dark_gray(), label]),
            Line::from(vec!["split   ".dark_gray(), Span::raw(side)]),
            Line::from(vec![
                format!("{:<8}", units.short()).dark_gray(),
                Span::raw(intensities),
            ]),
            Line::from(vec!["units   ".dark_gray(), Span::raw(units.name())]),
        ];
        if let Some(source) = self.sources.as_ref().and_then(|s| s.get(index)) {
            lines.push(Line::from(vec![
                "from    ".dark_gray(),
                Span::raw(source.clone()),
            ]));
        }
        lines.extend([
            Line::from(vec![
                "window  ".dark_gray(),
                Span::raw(format!(
                    "level {:.digits$}, width {:.digits$}",
                    b.window.level, b.window.width
                )),
            ]),
            Line::from(vec![
                "showing ".dark_gray(),
                Span::raw(format!(
                    "{} of {} · {} · {}",
                    b.cursor + 1,
                    b.visible.len(),
                    class_name(b.class),
                    split_name(b.split)
                )),
            ]),
        ]);
        lines
    }

    /// The rows patch `index` is trained with under the form's context.
    fn context_line(&self, cx: &Context, index: usize) -> Line<'static> {
        let text = match cx.nodules {
            Ok(nodules) => {
                let rows = nodules.rows_of(index, cx.context);
                let rows: Vec<String> = rows
                    .iter()
                    .enumerate()
                    .map(|(k, r)| match k == cx.context / 2 {
                        true => format!("[{r}]"),
                        false => r.to_string(),
                    })
                    .collect();
                format!(
                    "trained as rows {} (context {})",
                    rows.join(" "),
                    cx.context
                )
            }
            Err(why) => format!("context {}: the file {why}", cx.context),
        };
        Line::from(vec!["slices  ".dark_gray(), Span::raw(text)])
    }

    /// The class-activation map's numbers and legend, or why it is missing.
    fn overlay_lines(&self, index: usize) -> Vec<Line<'static>> {
        let Some(e) = self.map_of(index) else {
            if !self.overlay {
                return Vec::new();
            }
            let why = self.problem.clone().unwrap_or_else(|| "computing…".into());
            return vec![Line::from(vec!["CAM     ".dark_gray(), Span::raw(why)])];
        };
        let by = self
            .explained_by
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string());
        vec![
            Line::from(vec![
                "CAM     ".dark_gray(),
                Span::raw(format!(
                    "P(malignant) {:.3} · logits {:.2} / {:.2}",
                    e.probability(),
                    e.logits[0],
                    e.logits[1]
                )),
            ]),
            Line::from(vec![
                "        ".into(),
                "■ malignant".fg(Color::Rgb(255, 48, 32)),
                " ".into(),
                "■ benign".fg(Color::Rgb(32, 120, 255)),
                Span::raw(format!(" ±{:.2} log-odds", e.scale())),
            ]),
            Line::from(format!("        by {by}").dark_gray()),
        ]
    }

    /// The jump prompt, the flag note being typed, and the last problem.
    fn prompt_lines(&self) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        if let Some(text) = &self.browser.jump {
            lines.push(Line::from(vec![
                "jump to ".fg(ACCENT),
                Span::raw(format!("{text}▏")),
            ]));
        }
        if let Some(note) = self.note.as_ref().map(|n| n.value()) {
            lines.push(Line::from(vec![format!(
                "flag: note ({} saves, {} cancels) ",
                CONFIRM.label(),
                CANCEL.label()
            )
            .fg(Color::Yellow)]));
            lines.push(Line::from(format!("{note}▏")));
        }
        if let (Some(problem), false) = (&self.problem, self.overlay) {
            lines.push(Line::from(problem.clone().red()));
        }
        lines
    }
}

/// The evaluated network's verdict on patch `index` (and the compared one's), if it was scored.
fn verdict_lines(name: &str, e: &Evaluation, index: usize) -> Vec<Line<'static>> {
    let Some(k) = e.position(index) else {
        return Vec::new();
    };
    let verdict = |label: &'static str, p: f64, by: String| {
        let verdict = match is_correct(e.labels[k], p) {
            true => "correct".green(),
            false => "wrong".red().bold(),
        };
        [
            Line::from(vec![
                label.dark_gray(),
                Span::raw(format!("P(malignant) {p:.3} ")),
                verdict,
            ]),
            Line::from(format!("        by {by}").dark_gray()),
        ]
    };
    let mut lines = verdict("model   ", e.scores[k], name.to_string()).to_vec();
    if let Some(a) = &e.against {
        let by = a.checkpoint.display().to_string();
        lines.extend(verdict("vs      ", a.scores[k], by));
    }
    lines
}

fn class_name(c: ClassFilter) -> &'static str {
    match c {
        ClassFilter::All => "all classes",
        ClassFilter::Benign => "benign",
        ClassFilter::Malignant => "malignant",
        ClassFilter::Misclassified => "misclassified",
        ClassFilter::Disagreements => "disagreements",
        ClassFilter::Flagged => "flagged",
    }
}

fn split_name(s: SplitFilter) -> &'static str {
    match s {
        SplitFilter::All => "all splits",
        SplitFilter::Train => "train",
        SplitFilter::Val => "val",
    }
}

fn draw_summary(
    frame: &mut Frame,
    area: Rect,
    cx: &Context,
    (benign, malignant): (usize, usize),
    nodules: &str,
) {
    let mut lines = vec![
        Line::from(format!(
            "benign {benign} · malignant {malignant} · {}×{} px",
            cx.data.height, cx.data.width
        )),
        Line::from(format!(
            "train {} · val {} ({} split)",
            cx.split.train.len(),
            cx.split.val.len(),
            crate::choice::name(cx.split.kind)
        )),
    ];
    if let Some(warning) = cx.split.facts().warning() {
        lines.push(Line::from(warning.yellow()));
    }
    lines.push(Line::from(nodules.to_string()));
    lines.push(Line::from(format!(
        "{} data: {}",
        cx.data.source_kind(),
        cx.data.path.display()
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(panel("dataset")),
        area,
    );
}

/// "1823 nodules inferred from 6691 patches", or how to get groups.
fn nodules_line(data: &Dataset) -> String {
    match &data.groups {
        Some(ids) if data.group_source == Source::Inferred => format!(
            "{} nodules inferred from {} patches ({})",
            group_sizes(ids).len(),
            ids.len(),
            match data.group_doubt {
                Some(_) => "uncertain: see `lnmc groups`",
                None => "judged reliable",
            }
        ),
        Some(ids) if data.group_source == Source::User => {
            format!(
                "{} nodules (ids from the user's CSV)",
                group_sizes(ids).len()
            )
        }
        Some(ids) => format!("{} nodules (ids in the file)", group_sizes(ids).len()),
        None => "no nodule ids: `lnmc groups` infers them".to_string(),
    }
}

/// Patches the histogram is counted from: all of an upstream-sized set, an even sample of a
/// bigger one (read in one strided pass: a 750k-patch file opens in well under a second).
pub const HISTOGRAM_PATCHES: usize = 8192;

/// The histogram's bins: where the first starts and how wide each is. For HU, 200 HU from
/// −1100 (air to bone); for other units, the range most values fall in.
fn bins(scale: Scale) -> (f64, f64) {
    match scale.units {
        Units::Hu => (-1100.0, 200.0),
        _ => {
            let (lo, hi) = (scale.low as f64, scale.high as f64);
            (lo, ((hi - lo) / BINS as f64).max(f64::MIN_POSITIVE))
        }
    }
}

/// Histogram of every pixel of the sampled patches, counted once when the tab is made (empty
/// when the file cannot be read: the patch panel then says why).
pub fn histogram(data: &crate::data::Dataset) -> Vec<u64> {
    let (start, width) = bins(data.scale);
    let mut bins = vec![0u64; BINS];
    for v in data.pixel_sample(HISTOGRAM_PATCHES).unwrap_or_default() {
        let bin = ((v as f64 - start) / width)
            .floor()
            .clamp(0.0, (BINS - 1) as f64) as usize;
        bins[bin] += 1;
    }
    bins
}

fn draw_histogram(frame: &mut Frame, area: Rect, histogram: &[u64], scale: Scale) {
    let (start, width) = bins(scale);
    // Labels of at most three characters: bin starts in units of a power of ten.
    let power = ((width * BINS as f64).log10().floor() - 1.0) as i32;
    let unit = 10f64.powi(power);
    let total: u64 = histogram.iter().sum::<u64>().max(1);
    let bars: Vec<Bar> = histogram
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let lo = start + i as f64 * width;
            // Square-root heights: the parenchyma peak would flatten every other bin.
            Bar::default()
                .value(((count as f64 / total as f64).sqrt() * 1000.0) as u64)
                .text_value(String::new())
                .label(Line::from(format!("{:.0}", lo / unit)))
        })
        .collect();
    let title = format!(
        "{} histogram (×{} {}, √ share of pixels)",
        scale.units.short(),
        if power >= 0 {
            format!("{:.0}", unit)
        } else {
            format!("{unit}")
        },
        scale.units.short()
    );
    let chart = BarChart::default()
        .block(panel(&title))
        .data(BarGroup::default().bars(&bars))
        .bar_width(3)
        .bar_gap(1)
        .bar_style(Style::new().fg(ACCENT));
    frame.render_widget(chart, area);
}

fn sets<'a>(cx: &'a Context, flagged: &'a [usize]) -> Sets<'a> {
    Sets {
        data: cx.data,
        split: cx.split,
        evaluation: cx.evaluation().map(|e| &e.1),
        flagged,
    }
}

impl super::panel::Panel for DatasetTab {
    fn keys(&self) -> Vec<Key> {
        [Browser::KEYS, Self::KEYS].concat()
    }

    /// The `/` prompt and the flag note take every key.
    fn captures_input(&self) -> bool {
        self.browser.prompting() || self.note.is_some()
    }

    fn on_key(&mut self, key: KeyEvent, cx: &Context) -> Reply {
        let code = key.code;
        if let Some(note) = &mut self.note {
            if CONFIRM.matches(code) {
                let note = self.note.take().map(|n| n.value().to_string());
                return match self.browser.current() {
                    Some(index) => self.flag(cx, index, note),
                    None => Reply::Done,
                };
            } else if CANCEL.matches(code) {
                self.note = None;
            } else if note.value().chars().count() < NOTE_LENGTH
                || !matches!(code, KeyCode::Char(_))
            {
                note.handle_event(&TermEvent::Key(key));
            }
            return Reply::Done;
        }
        if CAM.matches(code) {
            self.overlay = !self.overlay;
            self.problem = None;
        } else if FLAG.matches(code) {
            match self.browser.current() {
                Some(index) if self.flags.contains_key(&index) => {
                    return self.flag(cx, index, None);
                }
                Some(_) => self.note = Some(LineEditor::default()),
                None => {}
            }
        } else {
            let flagged: Vec<usize> = self.flags.keys().copied().collect();
            self.browser.on_key(code, &sets(cx, &flagged));
        }
        self.explain_missing(cx)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context) {
        let thumbs_height = if area.height >= 34 { 8 } else { 0 };
        let [top, thumbs] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(thumbs_height)]).areas(area);
        // Half blocks give two pixel rows per cell: a square image is twice as wide as tall.
        // Where two checkpoints disagree, the second's map beside the first's.
        let second = self
            .browser
            .current()
            .filter(|_| self.overlay && self.browser.class == ClassFilter::Disagreements)
            .and_then(|i| self.second.get(&i));
        let pictures = if second.is_some() { 2 } else { 1 };
        let side = top
            .height
            .saturating_sub(2)
            .min(top.width.saturating_sub(40) / (2 * pictures));
        let [image, facts] = Layout::horizontal([
            Constraint::Length(side * 2 * pictures + 2),
            Constraint::Min(0),
        ])
        .areas(top);
        let Some(index) = self.browser.current() else {
            frame.render_widget(
                Paragraph::new("no patch matches the filters (f, v change them)")
                    .block(panel("patch")),
                top,
            );
            return;
        };
        let title = match second {
            Some(_) => format!(
                "patch {index} · left: evaluated, right: compared · {}",
                self.images.protocol_name()
            ),
            None => format!("patch {index} · {}", self.images.protocol_name()),
        };
        let block = panel(&title);
        let inner = block.inner(image);
        frame.render_widget(block, image);
        let halves = Layout::horizontal(vec![
            Constraint::Ratio(1, pictures as u32);
            pictures as usize
        ])
        .split(inner);
        let window = self.browser.window;
        let size = (index, cx.data.height, cx.data.width);
        let patch = || self.patches.get(index);
        self.images
            .render(frame, halves[0], patch(), size, window, self.map_of(index));
        if let Some(map) = second {
            self.images
                .render(frame, halves[1], patch(), size, window, Some(map));
        }
        let info_lines = self.info_lines(cx, index);
        let info_height = (info_lines.len() as u16 + 2).max(9);
        let [info, summary, histogram] = Layout::vertical([
            Constraint::Length(info_height),
            Constraint::Length(7),
            Constraint::Min(0),
        ])
        .areas(facts);
        frame.render_widget(Paragraph::new(info_lines).block(panel("patch facts")), info);
        draw_summary(frame, summary, cx, self.classes, &self.nodules);
        match &self.histogram {
            Some(counts) => draw_histogram(frame, histogram, counts, cx.data.scale),
            None => frame.render_widget(
                Paragraph::new("counting…").block(panel("histogram")),
                histogram,
            ),
        }
        if thumbs_height > 0 {
            self.draw_thumbnails(frame, thumbs, cx.data);
        }
    }
}
