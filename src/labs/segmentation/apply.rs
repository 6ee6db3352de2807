//! Applying a saved model to image files: the headless twin of the GUI's "Open image...". Any
//! size (tiled by `infer::predict`, as in the GUI), any format the loaders read (colour becomes
//! gray); one 0/255 mask PNG per input, of the input's width and height, written atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::checkpoint::{self, SegModel};
use super::infer;
use crate::core::files::{atomic_write_with, first_few};
use crate::data::seg::image_io::{Gray, header_dimensions, read_plane_noted};

/// Tint of class-1 pixels in the overlay, and its opacity.
pub const OVERLAY_COLOR: [u8; 3] = [255, 40, 90];
pub const OVERLAY_OPACITY: f32 = 0.45;

/// One segmented input.
#[derive(Clone, Debug, Serialize)]
pub struct Predicted {
    pub input: String,
    pub mask: String,
    pub overlay: Option<String>,
    pub width: usize,
    pub height: usize,
    /// How the input was stored, e.g. "8-bit RGB".
    pub format: String,
    /// Share of pixels predicted as class 1 (255 in the mask).
    pub foreground_fraction: f64,
    /// What was done to the input before the network saw it (colour converted to gray).
    pub notes: Vec<String>,
}

/// Loads a model folder (written by `gradlab seg --out` or the GUI's "Save model").
pub fn load_model(dir: &Path) -> anyhow::Result<SegModel> {
    if !dir.exists() {
        bail!(
            "{}: no such model folder; --model takes a folder written by `gradlab seg --out` or the GUI's \
             \"Save model\" (run ids come with the run store)",
            dir.display()
        );
    }
    if !dir.is_dir() {
        bail!(
            "{}: not a folder; --model takes the folder holding config.json and model.safetensors",
            dir.display()
        );
    }
    checkpoint::load(dir)
}

/// Output paths (mask, overlay) for each input: `<out>/<stem>_mask.png`, `<stem>_overlay.png`.
/// Two inputs with the same stem would overwrite each other: an error naming both.
pub fn output_paths(inputs: &[PathBuf], out: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut paths = Vec::with_capacity(inputs.len());
    for input in inputs {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .with_context(|| format!("{}: not a file name", input.display()))?;
        let mask = out.join(format!("{stem}_mask.png"));
        if let Some(prev) = seen.insert(mask.clone(), input) {
            bail!(
                "{} and {} would both be written to {}; segment them into different --out folders",
                prev.display(),
                input.display(),
                mask.display()
            );
        }
        paths.push((mask, out.join(format!("{stem}_overlay.png"))));
    }
    Ok(paths)
}

/// The same file on disk (symlinks and `..` resolved), or `None` when `p` does not exist.
fn identity(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// Refuses outputs that would replace a file: always an input, and any existing file unless
/// `overwrite`. Lists the first few such paths in one line.
pub fn check_outputs(inputs: &[PathBuf], outputs: &[&Path], overwrite: bool) -> anyhow::Result<()> {
    let ins: Vec<PathBuf> = inputs.iter().filter_map(|p| identity(p)).collect();
    let (mut clash_in, mut clash_out) = (Vec::new(), Vec::new());
    for o in outputs {
        match identity(o) {
            Some(id) if ins.contains(&id) => clash_in.push(o.display().to_string()),
            Some(_) if !overwrite => clash_out.push(o.display().to_string()),
            _ => {}
        }
    }
    if !clash_in.is_empty() {
        bail!(
            "refusing to write over an input image: {} (choose another --out folder; --overwrite never replaces an input)",
            first_few(&clash_in, 3)
        );
    }
    if !clash_out.is_empty() {
        bail!(
            "refusing to overwrite {} existing file(s): {} (choose another --out folder, or pass --overwrite to replace them)",
            clash_out.len(),
            first_few(&clash_out, 3)
        );
    }
    Ok(())
}

/// Progress of `predict_files`: `(image index, images, tiles done, tiles of this image)`;
/// an error stops the work.
pub type OnTile<'a> = dyn FnMut(usize, usize, usize, usize) -> anyhow::Result<()> + 'a;

/// Segments every input into `out` (created when missing). Every input's header is read and
/// every output checked first (none may be an input; none may exist unless `overwrite`), so a
/// bad call fails before any work or any write; on an error the outputs already written are
/// whole files.
pub fn predict_files(
    model: &SegModel,
    inputs: &[PathBuf],
    out: &Path,
    overlay: bool,
    overwrite: bool,
) -> anyhow::Result<Vec<Predicted>> {
    predict_files_with(model, inputs, out, overlay, overwrite, &mut |_, _, _, _| {
        Ok(())
    })
}

/// [`predict_files`] reporting every tile to `on_tile`.
pub fn predict_files_with(
    model: &SegModel,
    inputs: &[PathBuf],
    out: &Path,
    overlay: bool,
    overwrite: bool,
    on_tile: &mut OnTile<'_>,
) -> anyhow::Result<Vec<Predicted>> {
    let paths = output_paths(inputs, out)?;
    for input in inputs {
        header_dimensions(input)?;
    }
    let outputs: Vec<&Path> = paths
        .iter()
        .flat_map(|(m, o)| std::iter::once(&**m).chain(overlay.then_some(&**o)))
        .collect();
    check_outputs(inputs, &outputs, overwrite)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let n = inputs.len();
    inputs
        .iter()
        .zip(&paths)
        .enumerate()
        .map(|(i, (input, (mask, over)))| {
            predict_file(
                model,
                input,
                mask,
                overlay.then_some(&**over),
                &mut |d, t| on_tile(i, n, d, t),
            )
        })
        .collect()
}

/// Writes an 8-bit PNG of `w` x `h` pixels (`channels` 1 gray or 4 RGBA) row by row from
/// `row(y, buf)`, through a temporary file: no whole encoded or RGBA copy is ever in memory.
fn write_png_rows(
    path: &Path,
    w: usize,
    h: usize,
    channels: usize,
    mut row: impl FnMut(usize, &mut [u8]),
) -> anyhow::Result<()> {
    atomic_write_with(path, |tmp| {
        let err =
            |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot write {}: {e}", path.display());
        let file = std::fs::File::create(tmp).map_err(|e| err(&e))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
        enc.set_color(if channels == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgba
        });
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut writer = enc.write_header().map_err(|e| err(&e))?;
        let mut stream = writer.stream_writer().map_err(|e| err(&e))?;
        let mut buf = vec![0u8; w * channels];
        for y in 0..h {
            row(y, &mut buf);
            std::io::Write::write_all(&mut stream, &buf).map_err(|e| err(&e))?;
        }
        stream.finish().map_err(|e| err(&e))?;
        writer.finish().map_err(|e| err(&e))
    })
}

/// Segments one image file into a mask PNG (and an overlay PNG when asked). Memory: the gray
/// picture at the file's precision, a 1-byte mask and one tile of the network; both PNGs are
/// written row by row. `on_tile(done, total)` after every tile; an error from it stops.
pub fn predict_file(
    model: &SegModel,
    input: &Path,
    mask_out: &Path,
    overlay_out: Option<&Path>,
    on_tile: &mut dyn FnMut(usize, usize) -> anyhow::Result<()>,
) -> anyhow::Result<Predicted> {
    let (image, format) = read_plane_noted(input)?;
    let m = &model.meta;
    let (w, h) = (image.width, image.height);
    let plan = infer::Plan::new(w, h, infer::TILE, infer::MARGIN, model.net.cfg.multiple())?;
    let mut mask = vec![0u8; w * h];
    infer::predict_stream(
        &model.net,
        &image,
        m.mean,
        m.std,
        &plan,
        on_tile,
        &mut |x, y, p| {
            let i = y * w + x;
            for (o, &v) in mask[i..i + p.len()].iter_mut().zip(p) {
                *o = if v > 0.5 { 255 } else { 0 };
            }
        },
    )
    .with_context(|| format!("{}: prediction failed", input.display()))?;
    write_png_rows(mask_out, w, h, 1, |y, buf| {
        buf.copy_from_slice(&mask[y * w..(y + 1) * w])
    })?;
    if let Some(p) = overlay_out {
        // The same pixels as `render::overlay` (gray under a tint where the mask is set).
        let a = OVERLAY_OPACITY.clamp(0.0, 1.0);
        write_png_rows(p, w, h, 4, |y, buf| {
            for (x, px) in buf.chunks_exact_mut(4).enumerate() {
                let i = y * w + x;
                let g = image.at(i).clamp(0.0, 1.0) * 255.0;
                let t = if mask[i] == 255 { a } else { 0.0 };
                let mix = |c: u8| (g * (1.0 - t) + c as f32 * t).round() as u8;
                px.copy_from_slice(&[
                    mix(OVERLAY_COLOR[0]),
                    mix(OVERLAY_COLOR[1]),
                    mix(OVERLAY_COLOR[2]),
                    255,
                ]);
            }
        })?;
    }
    let fg = mask.iter().filter(|&&v| v == 255).count();
    Ok(Predicted {
        input: input.display().to_string(),
        mask: mask_out.display().to_string(),
        overlay: overlay_out.map(|p| p.display().to_string()),
        width: w,
        height: h,
        format: format.describe(),
        foreground_fraction: fg as f64 / (w * h).max(1) as f64,
        notes: format.notes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::segmentation::{ModelMeta, UNetConfig};
    use image::{DynamicImage, ImageBuffer, Luma, Rgb};

    #[test]
    fn masks_have_the_input_sizes_and_bad_files_are_named() {
        let model = SegModel::new(
            ModelMeta {
                unet: UNetConfig {
                    depth: 2,
                    base: 4,
                    skips: true,
                },
                mean: 0.5,
                std: 0.25,
                classes: ["background".into(), "foreground".into()],
                dataset: "test".into(),
            },
            1,
        )
        .unwrap();
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a.png");
        DynamicImage::ImageLuma8(ImageBuffer::from_fn(37, 21, |x, y| Luma([(x * y) as u8])))
            .save(&a)
            .unwrap();
        let b = t.path().join("b.jpg");
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(19, 30, |x, _| {
            Rgb([(x * 9) as u8, 40, 200])
        }))
        .save(&b)
        .unwrap();
        let out = t.path().join("out/sub");
        let r = predict_files(&model, &[a.clone(), b.clone()], &out, true, false).unwrap();
        for (p, (w, h)) in r.iter().zip([(37, 21), (19, 30)]) {
            let m = image::open(&p.mask).unwrap();
            assert_eq!((m.width(), m.height()), (w, h));
            assert!(m.to_luma8().iter().all(|&v| v == 0 || v == 255));
            let o = image::open(p.overlay.as_ref().unwrap()).unwrap();
            assert_eq!((o.width(), o.height()), (w, h));
        }
        assert!(
            r[1].notes[0].contains("converted to gray"),
            "{:?}",
            r[1].notes
        );
        let e = predict_files(
            &model,
            &[a.clone(), t.path().join("x/a.tif")],
            &out,
            false,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("a.png") && e.contains("a.tif"), "{e}");
        std::fs::write(t.path().join("junk.png"), b"nope").unwrap();
        let e = format!(
            "{:#}",
            predict_files(&model, &[t.path().join("junk.png")], &out, false, false).unwrap_err()
        );
        assert!(e.contains("junk.png"), "{e}");
        let e = format!("{:#}", load_model(&t.path().join("nope")).err().unwrap());
        assert!(
            e.contains("nope") && e.contains("no such model folder"),
            "{e}"
        );
    }
}
