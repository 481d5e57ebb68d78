//! A patch as a picture: the CT display window and the grey image it gives, and the one-line
//! description of a patch. `lnmc show` prints them in a plain shell, the dashboard draws them.

use crate::data::{Dataset, MALIGNANT};

/// A CT display window: HU `level` ± `width` / 2 maps to black…white.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub level: f64,
    pub width: f64,
}

/// The usual lung window.
pub const LUNG: Window = Window {
    level: -600.0,
    width: 1500.0,
};

impl Window {
    pub fn grey(&self, hu: f32) -> u8 {
        let low = self.level - self.width / 2.0;
        ((hu as f64 - low) / self.width * 255.0)
            .clamp(0.0, 255.0)
            .round() as u8
    }
}

pub fn image(data: &Dataset, index: usize, window: Window) -> image::GrayImage {
    let pixels = data
        .patch(index)
        .iter()
        .map(|&hu| window.grey(hu))
        .collect();
    image::GrayImage::from_raw(data.width as u32, data.height as u32, pixels)
        .expect("patch has width × height pixels")
}

/// "patch 12 of 6691 · malignant (1) · synthetic · HU -903…212, mean -640"
pub fn describe(data: &Dataset, index: usize) -> String {
    let (min, max, mean) = data.patch_stats(index);
    let label = if data.labels[index] == MALIGNANT {
        "malignant (1)"
    } else {
        "benign (0)"
    };
    format!(
        "patch {index} of {} · {label} · {} data · HU {min:.0}…{max:.0}, mean {mean:.0}",
        data.len(),
        data.source_kind()
    )
}
