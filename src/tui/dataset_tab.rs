//! Dataset tab: one patch drawn large with its facts, neighbouring thumbnails, and a summary
//! of the whole set (classes, splits, intensity histogram).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Wrap};
use ratatui::Frame;

use crossterm::event::KeyCode;

use super::browser::{Browser, ClassFilter, SplitFilter};
use super::image::PatchImages;
use super::keys::Key;
use super::widgets::{panel, ACCENT};
use crate::data::groups::group_sizes;
use crate::data::split::{Split, SLICE_LEVEL_WARNING};
use crate::data::{Dataset, MALIGNANT};
use crate::evaluation::Evaluation;
use crate::metrics::is_correct;

/// HU histogram bins: 200 HU wide from -1100.
const BIN_START: f64 = -1100.0;
const BIN_WIDTH: f64 = 200.0;
const BINS: usize = 11;

/// What the tab draws from besides its own state.
pub struct Context<'a> {
    pub data: &'a Dataset,
    pub split: &'a Split,
    /// The last evaluation, with the checkpoint it was made with.
    pub evaluation: Option<&'a (String, Evaluation)>,
}

pub struct DatasetTab {
    browser: Browser,
    images: PatchImages,
    /// Pixel counts per HU bin over the whole set.
    histogram: Vec<u64>,
}

impl DatasetTab {
    pub fn new(data: &Dataset, images: PatchImages) -> DatasetTab {
        DatasetTab {
            browser: Browser::new(data),
            images,
            histogram: histogram(data),
        }
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    /// The `/` prompt takes every key.
    pub fn captures_input(&self) -> bool {
        self.browser.prompting()
    }

    pub fn keys(&self) -> Vec<Key> {
        Browser::KEYS.to_vec()
    }

    pub fn on_key(&mut self, code: KeyCode, cx: &Context) {
        let evaluation = cx.evaluation.map(|e| &e.1);
        self.browser.on_key(code, cx.data, cx.split, evaluation);
    }

    /// The filters again, after the split or the evaluation changed.
    pub fn refilter(&mut self, cx: &Context) {
        let evaluation = cx.evaluation.map(|e| &e.1);
        self.browser.refilter(cx.data, cx.split, evaluation);
    }

    pub fn show_misclassified(&mut self, evaluation: &Evaluation) {
        self.browser.show_misclassified(evaluation);
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, cx: &Context) {
        let thumbs_height = if area.height >= 34 { 8 } else { 0 };
        let [top, thumbs] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(thumbs_height)]).areas(area);
        // Half blocks give two pixel rows per cell: a square image is twice as wide as tall.
        let side = top
            .height
            .saturating_sub(2)
            .min(top.width.saturating_sub(40) / 2);
        let [image, facts] =
            Layout::horizontal([Constraint::Length(side * 2 + 2), Constraint::Min(0)]).areas(top);
        let Some(index) = self.browser.current() else {
            frame.render_widget(
                Paragraph::new("no patch matches the filters (f, v change them)")
                    .block(panel("patch")),
                top,
            );
            return;
        };
        let block = panel(&format!("patch {index} · {}", self.images.protocol_name()));
        let inner = block.inner(image);
        frame.render_widget(block, image);
        self.images
            .render(frame, inner, cx.data, index, self.browser.window);
        let [info, summary, histogram] = Layout::vertical([
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Min(0),
        ])
        .areas(facts);
        draw_info(frame, info, &self.browser, cx, index);
        draw_summary(frame, summary, cx);
        draw_histogram(frame, histogram, &self.histogram);
        if thumbs_height > 0 {
            self.draw_thumbnails(frame, thumbs, cx.data);
        }
    }

    fn draw_thumbnails(&self, frame: &mut Frame, area: Rect, data: &Dataset) {
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
            let block = Block::bordered()
                .border_style(style)
                .title(format!("{index}"));
            let inner = block.inner(cell);
            frame.render_widget(block, cell);
            self.images.render(frame, inner, data, index, window);
        }
    }
}

fn draw_info(frame: &mut Frame, area: Rect, b: &Browser, cx: &Context, index: usize) {
    let data = cx.data;
    let (min, max, mean) = data.patch_stats(index);
    let label = if data.labels[index] == MALIGNANT {
        Span::styled("malignant (1)", Style::new().fg(Color::Red).bold())
    } else {
        Span::styled("benign (0)", Style::new().fg(Color::Green).bold())
    };
    let side = if cx.split.val.contains(&index) {
        "val"
    } else {
        "train"
    };
    let mut lines = vec![
        Line::from(vec!["label   ".dark_gray(), label]),
        Line::from(vec!["split   ".dark_gray(), Span::raw(side)]),
        Line::from(vec![
            "HU      ".dark_gray(),
            Span::raw(format!("{min:.0} … {max:.0}, mean {mean:.0}")),
        ]),
        Line::from(vec![
            "window  ".dark_gray(),
            Span::raw(format!(
                "level {:.0}, width {:.0}",
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
    ];
    if let Some((name, e)) = cx.evaluation {
        if let Some(k) = e.position(index) {
            let p = e.scores[k];
            let verdict = if is_correct(e.labels[k], p) {
                "correct".green()
            } else {
                "wrong".red().bold()
            };
            lines.push(Line::from(vec![
                "model   ".dark_gray(),
                Span::raw(format!("P(malignant) {p:.3} ")),
                verdict,
            ]));
            lines.push(Line::from(format!("        by {name}").dark_gray()));
        }
    }
    if let Some(text) = &b.jump {
        lines.push(Line::from(vec![
            "jump to ".fg(ACCENT),
            Span::raw(format!("{text}▏")),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(panel("patch facts")), area);
}

fn class_name(c: ClassFilter) -> &'static str {
    match c {
        ClassFilter::All => "all classes",
        ClassFilter::Benign => "benign",
        ClassFilter::Malignant => "malignant",
        ClassFilter::Misclassified => "misclassified",
    }
}

fn split_name(s: SplitFilter) -> &'static str {
    match s {
        SplitFilter::All => "all splits",
        SplitFilter::Train => "train",
        SplitFilter::Val => "val",
    }
}

fn draw_summary(frame: &mut Frame, area: Rect, cx: &Context) {
    let (benign, malignant) = cx.data.class_counts();
    let mut lines = vec![
        Line::from(format!(
            "benign {benign} · malignant {malignant} · {}×{} px",
            cx.data.height, cx.data.width
        )),
        Line::from(
            format!(
                "train {} · val {} ({:?} split)",
                cx.split.train.len(),
                cx.split.val.len(),
                cx.split.kind
            )
            .to_lowercase(),
        ),
    ];
    if cx.split.kind.is_slice_level() {
        lines.push(Line::from(SLICE_LEVEL_WARNING.yellow()));
    }
    lines.push(Line::from(match &cx.data.groups {
        Some(ids) if cx.data.groups_inferred => format!(
            "{} nodules inferred from {} patches",
            group_sizes(ids).len(),
            ids.len()
        ),
        Some(ids) => format!("{} nodules (ids in the file)", group_sizes(ids).len()),
        None => "no nodule ids: `lnmc groups` infers them".to_string(),
    }));
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

/// Histogram of every pixel's HU, counted once when the tab is made.
fn histogram(data: &crate::data::Dataset) -> Vec<u64> {
    let mut bins = vec![0u64; BINS];
    for &v in &data.images {
        let bin = ((v as f64 - BIN_START) / BIN_WIDTH)
            .floor()
            .clamp(0.0, (BINS - 1) as f64) as usize;
        bins[bin] += 1;
    }
    bins
}

fn draw_histogram(frame: &mut Frame, area: Rect, histogram: &[u64]) {
    let total: u64 = histogram.iter().sum::<u64>().max(1);
    let bars: Vec<Bar> = histogram
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let lo = BIN_START + i as f64 * BIN_WIDTH;
            // Square-root heights: the parenchyma peak would flatten every other bin.
            Bar::default()
                .value(((count as f64 / total as f64).sqrt() * 1000.0) as u64)
                .text_value(String::new())
                .label(Line::from(format!("{:.0}", lo / 100.0)))
        })
        .collect();
    let chart = BarChart::default()
        .block(panel("HU histogram (×100 HU, √ share of pixels)"))
        .data(BarGroup::default().bars(&bars))
        .bar_width(3)
        .bar_gap(1)
        .bar_style(Style::new().fg(ACCENT));
    frame.render_widget(chart, area);
}
