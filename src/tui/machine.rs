//! What the machine is doing for a run, as its system.csv says: the lines of the Train tab's
//! status panel (current values and sparklines of the last minutes) and the cells of the live
//! runs table. Only draws; the samples and the stall rule are `run::system`'s.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use super::widgets::sparkline;
use crate::run::system::{minutes, Sample, Samples, Stall, INTERVAL};

/// The sparklines cover this much of the most recent time.
const RECENT_SECONDS: u64 = 300;

/// The samples of the last `RECENT_SECONDS`, `width` at most, each a mean of its share.
fn recent(rows: &[Sample], value: impl Fn(&Sample) -> Option<f64>, width: usize) -> Vec<f64> {
    let kept = (RECENT_SECONDS / INTERVAL.as_secs().max(1)) as usize;
    let values: Vec<f64> = rows[rows.len().saturating_sub(kept)..]
        .iter()
        .filter_map(&value)
        .collect();
    let per = values.len().div_ceil(width.max(1)).max(1);
    values
        .chunks(per)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

fn mib(v: f64) -> String {
    match v >= 1024.0 {
        true => format!("{:.1} GiB", v / 1024.0),
        false => format!("{v:.0} MiB"),
    }
}

/// The status panel's lines for the machine, `width` columns wide; none before a sample.
pub fn status_lines(samples: &Samples, width: usize) -> Vec<Line<'static>> {
    let rows = &samples.rows[..];
    let Some(last) = rows.last() else {
        return Vec::new();
    };
    let label = |text: &'static str| Span::styled(text, Style::new().dark_gray());
    // "cpu       87 % " leaves the rest of the row to the sparkline.
    const LEAD: usize = 15;
    let spark_width = width.saturating_sub(LEAD).max(4);
    let spark = |value: fn(&Sample) -> Option<f64>, range| {
        Span::styled(
            sparkline(
                recent(rows, value, spark_width).into_iter(),
                spark_width,
                range,
            ),
            Style::new().fg(Color::Cyan),
        )
    };
    let mut lines = vec![
        Line::from(vec![
            label("cpu     "),
            Span::raw(format!("{:>4.0} % ", last.cpu_percent)),
            spark(|s| Some(s.cpu_percent), Some([0.0, 100.0])),
        ]),
        Line::from(vec![
            label("        "),
            Span::raw(format!(
                "of {} cores · {} threads",
                last.cores, last.threads
            )),
        ]),
        Line::from(vec![
            label("memory  "),
            Span::raw(format!(
                "{} (peak {})",
                mib(last.rss_mib),
                mib(last.peak_rss_mib)
            )),
        ]),
        Line::from(vec![
            Span::raw(" ".repeat(LEAD)),
            spark(|s| Some(s.rss_mib), Some([0.0, last.peak_rss_mib])),
        ]),
    ];
    if let Some(gpu) = last.gpu_percent {
        lines.push(Line::from(vec![
            label("gpu     "),
            Span::raw(format!("{gpu:>4.0} % ")),
            spark(|s| s.gpu_percent, Some([0.0, 100.0])),
        ]));
    }
    if let (Some(used), Some(total)) = (last.gpu_memory_mib, last.gpu_memory_total_mib) {
        lines.push(Line::from(vec![
            label("gpu mem "),
            Span::raw(format!("{} / {}", mib(used), mib(total))),
        ]));
    }
    let heat: Vec<String> = [
        last.gpu_temperature_c.map(|t| format!("{t:.0} °C")),
        last.gpu_power_w.map(|w| format!("{w:.0} W")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !heat.is_empty() {
        lines.push(Line::from(vec![
            label("gpu     "),
            Span::raw(heat.join(" · ")),
        ]));
    }
    lines
}

/// The lines that say a run is stalled and what it was last doing.
pub fn stall_lines(stall: &Stall) -> Vec<Line<'static>> {
    let label = |text: &'static str| Span::styled(text, Style::new().dark_gray());
    vec![
        Line::from(vec![
            label("idle    "),
            Span::styled(
                format!("{} (limit {})", minutes(stall.idle), minutes(stall.limit)),
                Style::new().fg(Color::Red).bold(),
            ),
        ]),
        Line::from(vec![
            label("last    "),
            Span::styled(stall.doing.clone(), Style::new().fg(Color::Red)),
        ]),
    ]
}

/// The live table's cells for a running run: (cpu, gpu, memory); "-" where not known.
pub fn cells(samples: &Samples) -> [String; 3] {
    let Some(last) = samples.last() else {
        return ["-".into(), "-".into(), "-".into()];
    };
    [
        format!("{:.0}%", last.cpu_percent),
        last.gpu_percent.map_or("-".into(), |g| format!("{g:.0}%")),
        mib(last.rss_mib),
    ]
}
