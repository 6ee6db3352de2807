//! `gradlab predict --model DIR IMAGE... --out DIR [--overlay] [--overwrite] [--json]`: segment image files
//! with a saved model (the work is in `experiments::seg::apply`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use crate::core::progress::Progress;
use crate::labs::lab::CliOutput as Output;
use crate::labs::segmentation::apply::{load_model, predict_files_with};

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A model folder written by `gradlab seg --out` or the GUI's "Save model".
    #[arg(long)]
    pub model: PathBuf,
    /// Images to segment (PNG, JPEG, BMP, TIFF; gray or colour, 8 or 16 bit; any size).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Folder for `<name>_mask.png` (0/255, the input's size) and `<name>_overlay.png`.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the mask over the image.
    #[arg(long)]
    pub overlay: bool,
    /// Replace outputs that already exist (an input image is never replaced).
    #[arg(long)]
    pub overwrite: bool,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PredictArgs) -> anyhow::Result<Output> {
    let t = Instant::now();
    let model = load_model(&args.model)?;
    // Tiles of the current image, with the time left, once the work takes more than ~2 s.
    let mut progress = Progress::new("predict");
    let mut current = usize::MAX;
    let done = predict_files_with(
        &model,
        &args.images,
        &args.out,
        args.overlay,
        args.overwrite,
        &mut |i, n, tiles, total| {
            if i != current {
                progress.finish();
                current = i;
                let name = args.images[i]
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                progress.set_label(&format!("predict {name} ({}/{n}), tiles", i + 1));
            }
            progress.update(tiles as u64, total as u64, "");
            Ok(())
        },
    )?;
    progress.finish();
    let seconds = t.elapsed().as_secs_f64();
    let mut human = String::new();
    for p in &done {
        let _ = writeln!(
            human,
            "{} ({} x {}, {}): {} ({:.2} % {})",
            p.input,
            p.width,
            p.height,
            p.format,
            p.mask,
            100.0 * p.foreground_fraction,
            model.meta.classes[1]
        );
        for n in &p.notes {
            let _ = writeln!(human, "  note: {n}");
        }
    }
    let _ = write!(human, "{} images in {seconds:.1} s", done.len());
    Ok(Output {
        json: json!({
            "model": args.model.display().to_string(),
            "classes": model.meta.classes,
            "out": args.out.display().to_string(),
            "images": done,
            "seconds": seconds,
        }),
        human,
    })
}
