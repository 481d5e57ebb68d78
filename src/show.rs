//! Turning a patch into pixels: the CT window used for display, and `lnmc show`, which prints
//! one nodule in a plain shell with viuer (kitty/iTerm2/sixel when the terminal has them,
//! coloured half blocks otherwise).

use crate::data::{Dataset, MALIGNANT};
use crate::error::{Error, Result};

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

pub fn print(data: &Dataset, index: usize, window: Window) -> Result<()> {
    if index >= data.len() {
        return Err(Error::file(
            &data.path,
            format!(
                "--index {index}: out of range, the file has patches 0…{}",
                data.len() - 1
            ),
        ));
    }
    println!("{}", describe(data, index));
    let config = viuer::Config {
        absolute_offset: false,
        width: Some(data.width as u32),
        ..Default::default()
    };
    viuer::print(
        &image::DynamicImage::ImageLuma8(image(data, index, window)),
        &config,
    )
    .map_err(|e| Error::runtime(format!("cannot draw the patch ({e})")))?;
    Ok(())
}
