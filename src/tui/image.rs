//! Nodule images inside the dashboard, through ratatui-image: kitty, sixel or iTerm2 where the
//! terminal speaks one (detected once at start-up), coloured half blocks everywhere else.
//! Patches are upscaled nearest-neighbour so their pixels stay crisp.

use std::cell::RefCell;
use std::collections::HashMap;

use image::imageops::FilterType;
use ratatui::layout::Rect;
use ratatui::Frame;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{FontSize, Resize, StatefulImage};

use crate::data::Dataset;
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

/// Chooses the picker: a terminal query for `auto` (it must run before the event stream starts
/// reading stdin), else the protocol asked for.
pub fn picker(choice: ProtocolChoice) -> Picker {
    // Inside tmux or screen the graphics protocols rarely pass through, and a query that the
    // multiplexer leaves unanswered keeps ratatui-image's reader thread blocked on stdin,
    // where it would swallow the user's first key: go straight to half blocks.
    let multiplexed = ["TMUX", "STY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let mut picker = match choice {
        ProtocolChoice::Halfblocks => return halfblocks(),
        ProtocolChoice::Auto if multiplexed => return halfblocks(),
        _ => match Picker::from_query_stdio() {
            Ok(picker) if picker.protocol_type() != ProtocolType::Halfblocks => picker,
            _ => halfblocks(),
        },
    };
    let forced = match choice {
        ProtocolChoice::Sixel => Some(ProtocolType::Sixel),
        ProtocolChoice::Kitty => Some(ProtocolType::Kitty),
        ProtocolChoice::Iterm2 => Some(ProtocolType::Iterm2),
        _ => None,
    };
    if let Some(protocol) = forced {
        picker.set_protocol_type(protocol);
    }
    picker
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
type CacheKey = (usize, u64, u64, u16, u16, bool);

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
        match self.picker.protocol_type() {
            ProtocolType::Halfblocks => "halfblocks",
            ProtocolType::Sixel => "sixel",
            ProtocolType::Kitty => "kitty",
            ProtocolType::Iterm2 => "iterm2",
        }
    }

    pub fn render(
        &self,
        frame: &mut Frame,
        area: Rect,
        data: &Dataset,
        index: usize,
        window: Window,
        map: Option<&Explanation>,
    ) {
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
            map.is_some(),
        );
        let picker = &self.picker;
        let protocol = cache.entry(key).or_insert_with(|| {
            let grey = patch_image::image(data, index, window);
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
            picker.new_resize_protocol(image)
        });
        frame.render_stateful_widget(
            StatefulImage::default().resize(Resize::Scale(Some(FilterType::Nearest))),
            area,
            protocol,
        );
    }
}
