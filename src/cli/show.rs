//! `lnmc show`: one patch in the terminal, optionally with a checkpoint's map over it.

use std::path::PathBuf;

use clap::Args;

use crate::data::{self, reader, review};
use crate::error::{Error, Result};
use crate::explain::Explainer;
use crate::patch_image;

#[derive(Args)]
pub struct ShowArgs {
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, required_unless_present = "flagged")]
    index: Option<usize>,
    /// Also the checkpoint's P(malignant) and logits for the patch (a file, or a run for its
    /// best checkpoint).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Overlay the checkpoint's class-activation map (red: towards malignant, blue: benign).
    #[arg(long, requires = "checkpoint")]
    cam: bool,
    /// Write the picture to this PNG file instead of printing it.
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
    /// List the patches flagged as doubtful labels (FILE.review.csv).
    #[arg(long, conflicts_with = "index")]
    flagged: bool,
}

/// `lnmc show`: one patch in a plain shell with viuer (kitty/iTerm2/sixel when the terminal has
/// them, coloured half blocks otherwise), or the list of flagged patches.
pub fn run(args: ShowArgs) -> Result<u8> {
    let path = data::resolve(args.data.as_deref())?;
    // One patch is read, not the file.
    let data = reader::open(&path)?;
    if args.flagged {
        let flags = review::read(&path, data.len())?;
        println!(
            "{} patches flagged in {}",
            flags.len(),
            review::path(&path).display()
        );
        for f in flags {
            println!(
                "{:>7}  label {}  {}  {}",
                f.index, data.labels[f.index], f.time, f.note
            );
        }
        return Ok(0);
    }
    let index = args.index.unwrap_or_default();
    if index >= data.len() {
        return Err(Error::file(
            &data.path,
            format!(
                "--index {index}: out of range, the file has patches 0…{}",
                data.len() - 1
            ),
        ));
    }
    println!("{}", patch_image::describe(&data, index)?);
    let grey = patch_image::image(&data, index, patch_image::Window::for_scale(data.scale))?;
    let mut picture = image::DynamicImage::ImageLuma8(grey.clone());
    if let Some(checkpoint) = args.checkpoint.as_deref().map(crate::run::checkpoint_of) {
        let explainer = Explainer::load(&checkpoint)?;
        let e = explainer.explain_at(&data, &[index])?.remove(0);
        println!(
            "{} · P(malignant) {:.3} · logits benign {:.3} malignant {:.3}",
            checkpoint.display(),
            e.probability(),
            e.logits[0],
            e.logits[1]
        );
        if args.cam {
            let scale = e.scale();
            println!(
                "class-activation map: red towards malignant, blue towards benign, full colour at ±{scale:.3} log-odds per cell; mean {:+.3} + bias {:+.3} = logit difference {:+.3}",
                e.map.iter().map(|&v| v as f64).sum::<f64>() / e.map.len() as f64,
                e.bias_difference,
                e.logits[1] - e.logits[0]
            );
            picture = image::DynamicImage::ImageRgb8(patch_image::overlay(
                &grey, &e.map, e.height, e.width, scale,
            ));
        }
    }
    if let Some(out) = &args.out {
        let mut png = Vec::new();
        picture
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| Error::runtime(format!("cannot encode the picture ({e})")))?;
        crate::files::check_output_dir(out)?;
        crate::files::write_atomic(out, &png)?;
        println!("wrote {}", out.display());
        return Ok(0);
    }
    // Piped or redirected, a picture would be terminal queries and colour codes in a file.
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("(no picture: the output is not a terminal; --out FILE.png writes it)");
        return Ok(0);
    }
    let config = viuer::Config {
        absolute_offset: false,
        width: Some(data.width as u32),
        ..Default::default()
    };
    viuer::print(&picture, &config)
        .map_err(|e| Error::runtime(format!("cannot draw the patch ({e})")))?;
    Ok(0)
}
