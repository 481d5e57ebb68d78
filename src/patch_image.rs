//! A patch as a picture: the display window and the grey image it gives, and the one-line
//! description of a patch. `lnmc show` prints them in a plain shell, the dashboard draws them.

use crate::data::units::{Scale, Units};
use crate::data::{Dataset, MALIGNANT};
use crate::error::Result;

/// A display window: `level` ± `width` / 2 (HU for CT, else the data's own units) maps to
/// black…white.
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
    /// The window a file opens in: the lung window for HU, else the range most of its values
    /// fall in (a grey file is not drawn as a faint smudge in a window meant for CT).
    pub fn for_scale(scale: Scale) -> Window {
        match scale.units {
            Units::Hu => LUNG,
            _ => Window {
                level: (scale.low as f64 + scale.high as f64) / 2.0,
                width: ((scale.high - scale.low) as f64).max(f64::MIN_POSITIVE),
            },
        }
    }

    /// How far one press of the level keys moves it, and the width keys change it: a 30th and
    /// a 15th of the window the file opens in (50 and 100 HU in the lung window).
    pub fn steps(scale: Scale) -> (f64, f64) {
        let width = Window::for_scale(scale).width;
        (width / 30.0, width / 15.0)
    }

    pub fn grey(&self, value: f32) -> u8 {
        let low = self.level - self.width / 2.0;
        ((value as f64 - low) / self.width * 255.0)
            .clamp(0.0, 255.0)
            .round() as u8
    }
}

pub fn image(data: &Dataset, index: usize, window: Window) -> Result<image::GrayImage> {
    Ok(grey(&data.patch(index)?, data.height, data.width, window))
}

/// Raw pixels (height × width) as greys through `window`.
pub fn grey(raw: &[f32], height: usize, width: usize, window: Window) -> image::GrayImage {
    let pixels = raw.iter().map(|&hu| window.grey(hu)).collect();
    image::GrayImage::from_raw(width as u32, height as u32, pixels)
        .expect("patch has width × height pixels")
}

/// "patch 12 of 6691 · malignant (1) · synthetic data · HU -903…212, mean -640"; other units
/// are named for what they are ("0–255 greys · grey 0…231, mean 40").
pub fn describe(data: &Dataset, index: usize) -> Result<String> {
    let (min, max, mean) = data.patch_stats(index)?;
    let label = if data.labels[index] == MALIGNANT {
        "malignant (1)"
    } else {
        "benign (0)"
    };
    let units = data.scale.units;
    let digits = units.decimals();
    let named = match units {
        Units::Hu => String::new(),
        other => format!("{} · ", other.name()),
    };
    Ok(format!(
        "patch {index} of {} · {label} · {} data · {named}{} {min:.digits$}…{max:.digits$}, mean {mean:.digits$}",
        data.len(),
        data.source_kind(),
        units.short()
    ))
}

/// Colours of the overlay: towards malignant (M > 0) and towards benign (M < 0).
pub const TOWARDS_MALIGNANT: [u8; 3] = [255, 48, 32];
pub const TOWARDS_BENIGN: [u8; 3] = [32, 120, 255];
/// Opacity of the colour where |M| reaches the scale's end.
const MAX_ALPHA: f32 = 0.65;

/// The class-activation map over the patch: `map` (`height` × `width` cells, row-major)
/// upsampled bilinearly to the picture, coloured by sign, blended over the grey CT window with
/// an opacity that grows with |M| / `scale` (zero is transparent).
pub fn overlay(
    grey: &image::GrayImage,
    map: &[f32],
    height: usize,
    width: usize,
    scale: f32,
) -> image::RgbImage {
    let (w, h) = grey.dimensions();
    let cell = |y: isize, x: isize| {
        let y = y.clamp(0, height as isize - 1) as usize;
        let x = x.clamp(0, width as isize - 1) as usize;
        map[y * width + x]
    };
    image::RgbImage::from_fn(w, h, |px, py| {
        // Pixel centres onto cell centres (align_corners = false, as PyTorch's default).
        let fy = (py as f32 + 0.5) * height as f32 / h as f32 - 0.5;
        let fx = (px as f32 + 0.5) * width as f32 / w as f32 - 0.5;
        let (y0, x0) = (fy.floor(), fx.floor());
        let (ty, tx) = (fy - y0, fx - x0);
        let (y0, x0) = (y0 as isize, x0 as isize);
        let v = (1.0 - ty) * ((1.0 - tx) * cell(y0, x0) + tx * cell(y0, x0 + 1))
            + ty * ((1.0 - tx) * cell(y0 + 1, x0) + tx * cell(y0 + 1, x0 + 1));
        let strength = if scale > 0.0 {
            (v / scale).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let colour = if strength >= 0.0 {
            TOWARDS_MALIGNANT
        } else {
            TOWARDS_BENIGN
        };
        let alpha = strength.abs() * MAX_ALPHA;
        let g = grey.get_pixel(px, py)[0] as f32;
        image::Rgb(colour.map(|c| (g * (1.0 - alpha) + c as f32 * alpha).round() as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_colours_follow_the_sign_and_zero_is_transparent() {
        let grey = image::GrayImage::from_pixel(8, 8, image::Luma([100]));
        // Left half of the map towards benign, right half towards malignant, a zero row.
        let map = [-2.0, 2.0, -2.0, 2.0, 0.0, 0.0];
        let rgb = overlay(&grey, &map, 3, 2, 2.0);
        let [r, _, b] = rgb.get_pixel(0, 0).0;
        assert!(
            b > 150 && r < 100,
            "benign side is blue: {:?}",
            rgb.get_pixel(0, 0)
        );
        let [r, _, b] = rgb.get_pixel(7, 0).0;
        assert!(
            r > 150 && b < 100,
            "malignant side is red: {:?}",
            rgb.get_pixel(7, 0)
        );
        assert_eq!(
            rgb.get_pixel(0, 7).0,
            [100, 100, 100],
            "zero leaves the CT grey"
        );
        let flat = overlay(&grey, &[0.0; 4], 2, 2, 0.0);
        assert!(flat.pixels().all(|p| p.0 == [100, 100, 100]));
    }
}
