//! Nodule images inside the dashboard, through ratatui-image: kitty, sixel or iTerm2 where the
//! terminal speaks one (detected once at start-up), coloured half blocks everywhere else.
//! Patches are upscaled nearest-neighbour so their pixels stay crisp.

use std::collections::HashMap;

use image::imageops::FilterType;
use ratatui::layout::Rect;
use ratatui::Frame;
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{Resize, StatefulImage};

use crate::data::Dataset;
use crate::show::{self, Window};

/// `--image-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolChoice {
    Auto,
    Halfblocks,
    Sixel,
    Kitty,
    Iterm2,
}

/// Chooses the picker: a terminal query for `auto` (must run before the event stream starts
/// reading stdin), else the protocol asked for.
pub fn picker(choice: ProtocolChoice) -> Picker {
    let mut picker = match choice {
        ProtocolChoice::Halfblocks => return Picker::halfblocks(),
        _ => Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks()),
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

/// Encoded images of recently shown patches.
pub struct PatchImages {
    picker: Picker,
    cache: HashMap<(usize, u64, u64), StatefulProtocol>,
}

impl PatchImages {
    pub fn new(picker: Picker) -> PatchImages {
        PatchImages {
            picker,
            cache: HashMap::new(),
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
        &mut self,
        frame: &mut Frame,
        area: Rect,
        data: &Dataset,
        index: usize,
        window: Window,
    ) {
        if self.cache.len() > 64 {
            self.cache.clear();
        }
        let key = (index, window.level.to_bits(), window.width.to_bits());
        let picker = &self.picker;
        let protocol = self.cache.entry(key).or_insert_with(|| {
            let image = image::DynamicImage::ImageLuma8(show::image(data, index, window));
            picker.new_resize_protocol(image)
        });
        frame.render_stateful_widget(
            StatefulImage::default().resize(Resize::Scale(Some(FilterType::Nearest))),
            area,
            protocol,
        );
    }
}
