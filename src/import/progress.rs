//! The import's progress bar, in the style users know from indicatif: drawn on standard
//! error when it is a terminal, hidden otherwise (logs and tests see no escape codes).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items called `what`, with rate and ETA.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!(
        "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} · {{per_sec}} · ETA {{eta}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
