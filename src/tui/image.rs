//! Nodule images inside the dashboard, through ratatui-image: kitty, sixel or iTerm2 where the
//! terminal speaks one (detected once at start-up), coloured half blocks everywhere else.
//! Patches are upscaled nearest-neighbour so their pixels stay crisp.

use std::cell::RefCell;
use std::collections::HashMap;

use image::imageops::FilterType;
use ratatui::layout::Rect;
use ratatui::Frame;
use ratatui_image::picker::{Capability, Picker, ProtocolType};
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{FontSize, Resize, StatefulImage};

use super::patches::Shown;
use crate::explain::Explanation;
use crate::patch_image::{self, Window};

/// `--image-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolChoice {
    Auto,
    Halfblocks,
    Sixel,
    Kitty,
    Iterm2,
}

/// Chooses the picker and says why: a terminal query for `auto` (it must run in raw mode,
/// before the event stream starts reading stdin), else the protocol asked for.
pub fn picker(choice: ProtocolChoice) -> (Picker, String) {
    // Inside tmux or screen the graphics protocols rarely pass through, and a query that the
    // multiplexer leaves unanswered keeps ratatui-image's reader thread blocked on stdin,
    // where it would swallow the user's first key: go straight to half blocks.
    let multiplexed = ["TMUX", "STY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let forced = match choice {
        ProtocolChoice::Auto if multiplexed => {
            return (halfblocks(), "inside tmux/screen: half blocks".into())
        }
        ProtocolChoice::Auto => None,
        ProtocolChoice::Halfblocks => {
            return (halfblocks(), "half blocks (--image-protocol)".into())
        }
        ProtocolChoice::Sixel => Some(ProtocolType::Sixel),
        ProtocolChoice::Kitty => Some(ProtocolType::Kitty),
        ProtocolChoice::Iterm2 => Some(ProtocolType::Iterm2),
    };
    let version = if forced.is_none() {
        query_version()
    } else {
        None
    };
    let Ok(mut picker) = Picker::from_query_stdio() else {
        return (
            halfblocks(),
            "the terminal did not answer: half blocks".into(),
        );
    };
    if let Some(protocol) = forced {
        picker.set_protocol_type(protocol);
        return (picker, format!("{} (--image-protocol)", name(protocol)));
    }
    let sixel = picker.capabilities().contains(&Capability::Sixel);
    let (protocol, reason) = decide(picker.protocol_type(), sixel, version.as_deref());
    match protocol {
        ProtocolType::Halfblocks => (halfblocks(), reason),
        protocol => {
            picker.set_protocol_type(protocol);
            (picker, reason)
        }
    }
}

/// The oldest kitty whose graphics protocol has the Unicode placeholders (`U=1`) that
/// ratatui-image places its images with; older ones draw empty boxes instead.
const KITTY_PLACEHOLDERS: (u32, u32) = (0, 28);

/// What to draw with, given what the terminal's answers suggest (`detected`), whether it
/// reported sixel, and its XTVERSION answer (`kitty(0.26.5)`, `XTerm(379)`): never a protocol
/// it cannot draw, falling back to sixel, then half blocks.
pub fn decide(
    detected: ProtocolType,
    sixel: bool,
    version: Option<&str>,
) -> (ProtocolType, String) {
    let who = version.unwrap_or("the terminal");
    let kitty = version.and_then(kitty_version);
    match (detected, kitty) {
        (ProtocolType::Kitty, Some(v)) if v < KITTY_PLACEHOLDERS => {
            let (fallback, how) = match sixel {
                true => (ProtocolType::Sixel, "sixel"),
                false => (ProtocolType::Halfblocks, "half blocks"),
            };
            let reason = format!(
                "kitty {}.{}: no placeholders (need ≥ 0.{}), using {how}",
                v.0, v.1, KITTY_PLACEHOLDERS.1
            );
            (fallback, reason)
        }
        (ProtocolType::Halfblocks, _) => (
            ProtocolType::Halfblocks,
            format!("{who} reports no graphics protocol: half blocks"),
        ),
        (protocol, _) => (protocol, format!("{who} speaks {}", name(protocol))),
    }
}

/// (major, minor) from `kitty(0.26.5)`.
fn kitty_version(answer: &str) -> Option<(u32, u32)> {
    let inner = answer.strip_prefix("kitty(")?.strip_suffix(')')?;
    let mut parts = inner.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??))
}

fn name(protocol: ProtocolType) -> &'static str {
    match protocol {
        ProtocolType::Halfblocks => "half blocks",
        ProtocolType::Sixel => "sixel",
        ProtocolType::Kitty => "kitty",
        ProtocolType::Iterm2 => "iterm2",
    }
}

/// The terminal's XTVERSION answer (CSI > 0 q → DCS > | text ST), e.g. `kitty(0.26.5)`. A
/// device-attributes query follows it, which every terminal answers, so a terminal that ignores
/// XTVERSION costs no wait beyond its round trip; none at all after 500 ms.
fn query_version() -> Option<String> {
    use std::io::{Read, Write};
    let mut out = std::io::stdout();
    out.write_all(b"\x1b[>0q\x1b[c").ok()?;
    out.flush().ok()?;
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    let mut stdin = std::io::stdin();
    while std::time::Instant::now() < deadline {
        let mut fd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a bounded timeout.
        if unsafe { libc::poll(&mut fd, 1, 50) } <= 0 {
            continue;
        }
        let mut byte = [0u8; 64];
        let n = stdin.read(&mut byte).ok()?;
        got.extend_from_slice(&byte[..n]);
        // The device attributes answer (CSI ? … c) comes last.
        if let Some(start) = find(&got, b"\x1b[?") {
            if got[start..].contains(&b'c') {
                break;
            }
        }
    }
    let start = find(&got, b"\x1bP>|")? + 4;
    let end = start + find(&got[start..], b"\x1b\\")?;
    Some(String::from_utf8_lossy(&got[start..end]).into_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A half-block picker whose "font" is one pixel wide and two high, i.e. one cell per half-block
/// pair: patches are scaled nearest-neighbour straight to the cells' resolution, which keeps
/// their pixels crisp and encodes a new patch in well under a millisecond (the library's
/// default 10×20 font would upscale to hundreds of pixels and blur them back down).
pub fn halfblocks() -> Picker {
    #[allow(deprecated)] // the one constructor that takes a font size without a terminal query
    let mut picker = Picker::from_fontsize(FontSize::new(1, 2));
    picker.set_protocol_type(ProtocolType::Halfblocks);
    picker
}

/// Patch, window level and width, drawing area, and whether a map is drawn over it.
type CacheKey = (usize, u64, u64, u16, u16, Option<(u32, u32)>);

/// Encoded images of recently shown patches.
pub struct PatchImages {
    picker: Picker,
    /// Keyed by patch, window and drawing area: the big view and a thumbnail of the same patch
    /// each keep their own encoding instead of re-encoding one another's every frame. A cache
    /// filled while drawing, not state a reader of the screen depends on: hence the RefCell,
    /// which lets drawing take `&self`.
    cache: RefCell<HashMap<CacheKey, StatefulProtocol>>,
}

impl PatchImages {
    pub fn new(picker: Picker) -> PatchImages {
        PatchImages {
            picker,
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn protocol_name(&self) -> &'static str {
        name(self.picker.protocol_type())
    }

    /// Draws `patch` (patch `index` of a set of `height` × `width` pixels) into `area`; a
    /// patch still being read, or unreadable, as a line saying so.
    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        patch: Shown,
        (index, height, width): (usize, usize, usize),
        window: Window,
        map: Option<&Explanation>,
    ) {
        let pixels = match patch {
            Shown::Pixels(p) => &p.pixels,
            Shown::Reading => return say(frame, area, "reading…"),
            Shown::Unreadable(why) => return say(frame, area, why),
        };
        let mut cache = self.cache.borrow_mut();
        if cache.len() > 64 {
            cache.clear();
        }
        let key = (
            index,
            window.level.to_bits(),
            window.width.to_bits(),
            area.width,
            area.height,
            // Which map: two checkpoints' maps of one patch differ in their logits.
            map.map(|e| (e.logits[0].to_bits(), e.logits[1].to_bits())),
        );
        let protocol = cache.entry(key).or_insert_with(|| {
            let grey = patch_image::grey(pixels, height, width, window);
            let image = match map {
                Some(e) => image::DynamicImage::ImageRgb8(patch_image::overlay(
                    &grey,
                    &e.map,
                    e.height,
                    e.width,
                    e.scale(),
                )),
                None => image::DynamicImage::ImageLuma8(grey),
            };
            self.picker.new_resize_protocol(image)
        });
        frame.render_stateful_widget(
            StatefulImage::default().resize(Resize::Scale(Some(FilterType::Nearest))),
            area,
            protocol,
        );
    }
}

fn say(frame: &mut Frame, area: Rect, text: &str) {
    let text = ratatui::widgets::Paragraph::new(text.to_string())
        .wrap(ratatui::widgets::Wrap { trim: true });
    frame.render_widget(text, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitty_without_placeholders_falls_back_and_says_why() {
        let (p, why) = decide(ProtocolType::Kitty, false, Some("kitty(0.26.5)"));
        assert_eq!(p, ProtocolType::Halfblocks);
        assert_eq!(
            why,
            "kitty 0.26: no placeholders (need ≥ 0.28), using half blocks"
        );
        assert_eq!(
            decide(ProtocolType::Kitty, true, Some("kitty(0.27.1)")).0,
            ProtocolType::Sixel
        );
        assert_eq!(
            decide(ProtocolType::Kitty, false, Some("kitty(0.28.0)")).0,
            ProtocolType::Kitty
        );
        assert_eq!(
            decide(ProtocolType::Kitty, false, Some("kitty(0.35.2)")).1,
            "kitty(0.35.2) speaks kitty"
        );
        assert_eq!(
            decide(ProtocolType::Sixel, true, Some("XTerm(379)")).1,
            "XTerm(379) speaks sixel"
        );
        assert_eq!(
            decide(ProtocolType::Kitty, false, None).0,
            ProtocolType::Kitty,
            "WezTerm, Ghostty…"
        );
        assert_eq!(
            decide(ProtocolType::Halfblocks, false, None).0,
            ProtocolType::Halfblocks
        );
        assert_eq!(kitty_version("kitty(0.26.5)"), Some((0, 26)));
        assert_eq!(kitty_version("XTerm(379)"), None);
    }
}
