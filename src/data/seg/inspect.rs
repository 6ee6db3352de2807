//! `gradlab data inspect DIR`: what a segmentation folder holds and what training would make of
//! it (pairs, sizes, bit depths, mask encodings, foreground share, problems), without training.
//! Uses the loader's own readers, so a problem found here is exactly what training would refuse.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::folder::{check_same_size, notes, pair_files, read_image, read_mask};
use super::image_io::PixelFormat;
use super::mask::{MaskInfo, MaskKind};

#[derive(Clone, Debug, Serialize)]
pub struct ImageEntry {
    pub path: String,
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
    pub channels: u8,
    /// "gray", "gray+alpha", "RGB" or "RGBA".
    pub layout: &'static str,
    /// The EXIF orientation applied (1 = stored upright); width and height are after it.
    pub orientation: u8,
    /// A multi-page TIFF: only its first page was read.
    pub more_pages: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct MaskEntry {
    pub path: String,
    pub width: usize,
    pub height: usize,
    pub bit_depth: u8,
    pub channels: u8,
    pub encoding: String,
    /// Distinct non-zero values.
    pub labels: usize,
    pub max_value: u32,
    pub foreground_fraction: f64,
}

/// One image/mask pair; `image` or `mask` is null when that file could not be read.
#[derive(Clone, Debug, Serialize)]
pub struct PairEntry {
    pub name: String,
    pub image: Option<ImageEntry>,
    pub mask: Option<MaskEntry>,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SizeCount {
    pub width: usize,
    pub height: usize,
    pub count: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    pub dir: String,
    /// No problems: training would load this folder.
    pub ok: bool,
    pub pairs: usize,
    /// Paths relative to `dir`.
    pub unpaired_images: Vec<String>,
    pub unpaired_masks: Vec<String>,
    pub files: Vec<PairEntry>,
    pub image_sizes: Vec<SizeCount>,
    /// "8-bit RGB" and the like -> number of images.
    pub image_formats: BTreeMap<String, usize>,
    /// The one encoding of every readable mask (empty masks aside), "mixed", or null.
    pub mask_encoding: Option<String>,
    pub mask_encodings: BTreeMap<String, usize>,
    /// Foreground (non-zero) pixels over all pixels of every readable mask of a pair; before
    /// `invert`.
    pub foreground_fraction: Option<f64>,
    /// Share of class-1 pixels training would see: the foreground, or the rest with `invert`.
    pub class1_fraction: Option<f64>,
    pub invert: bool,
    pub notes: Vec<String>,
    pub problems: Vec<String>,
}

fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}

/// Inspects `dir` (holding `images/` and `masks/`). Errors only when the folder cannot be
/// looked at; everything training would refuse is listed in `problems`.
#[cfg(test)]
pub fn inspect_folder(dir: &Path, invert: bool) -> anyhow::Result<Inspection> {
    inspect_folder_with(dir, invert, &mut |_, _| {})
}

/// [`inspect_folder`] calling `on_pair(done, total)` after every image/mask pair.
pub fn inspect_folder_with(
    dir: &Path,
    invert: bool,
    on_pair: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Inspection> {
    let pairing = pair_files(dir)?;
    let total_pairs = pairing.pairs.len();
    let mut problems = Vec::new();
    for p in &pairing.unpaired_images {
        problems.push(format!("{} has no mask", p.display()));
    }
    for p in &pairing.unpaired_masks {
        problems.push(format!("{} has no image", p.display()));
    }
    let mut files = Vec::new();
    let (mut formats, mut masks): (Vec<PixelFormat>, Vec<MaskInfo>) = (Vec::new(), Vec::new());
    let mut sizes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (k, (stem, ip, mp)) in pairing.pairs.iter().enumerate() {
        on_pair(k, total_pairs);
        let mut entry = PairEntry {
            name: stem.clone(),
            image: None,
            mask: None,
            problems: Vec::new(),
        };
        // One file at a time: only the statistics are kept, never the planes.
        let image = match read_image(ip) {
            Ok((g, f)) => {
                entry.image = Some(ImageEntry {
                    path: rel(dir, ip),
                    width: g.width,
                    height: g.height,
                    bit_depth: f.bit_depth,
                    channels: f.channels,
                    layout: f.layout(),
                    orientation: f.orientation,
                    more_pages: f.more_pages,
                });
                *sizes.entry((g.width, g.height)).or_insert(0) += 1;
                formats.push(f);
                Some(g)
            }
            Err(e) => {
                entry.problems.push(format!("{e:#}"));
                None
            }
        };
        match read_mask(mp, invert) {
            Ok((_, m)) => {
                if let Some(g) = &image
                    && let Err(e) = check_same_size(mp, &m, ip, g)
                {
                    entry.problems.push(format!("{e:#}"));
                }
                entry.mask = Some(MaskEntry {
                    path: rel(dir, mp),
                    width: m.width,
                    height: m.height,
                    bit_depth: m.bit_depth,
                    channels: m.channels,
                    encoding: m.encoding.clone(),
                    labels: m.labels,
                    max_value: m.max_value,
                    foreground_fraction: m.foreground_fraction(),
                });
                masks.push(m);
            }
            Err(e) => entry.problems.push(format!("{e:#}")),
        }
        problems.extend(entry.problems.iter().cloned());
        files.push(entry);
    }
    on_pair(total_pairs, total_pairs);
    if pairing.pairs.is_empty() && pairing.unpaired_images.is_empty() {
        problems.push(format!(
            "{} holds no images (PNG, JPEG, BMP or TIFF)",
            dir.join("images").display()
        ));
    } else if pairing.pairs.len() < 2 {
        problems.push(format!(
            "{} pair(s): training needs at least 2 (one to train, one to validate)",
            pairing.pairs.len()
        ));
    }
    let mut mask_encodings: BTreeMap<String, usize> = BTreeMap::new();
    for m in &masks {
        *mask_encodings.entry(m.encoding.clone()).or_insert(0) += 1;
    }
    let non_empty: Vec<&String> = masks
        .iter()
        .filter(|m| m.kind != MaskKind::Empty)
        .map(|m| &m.encoding)
        .collect();
    let mask_encoding = match (non_empty.first(), masks.first()) {
        (Some(first), _) if non_empty.iter().all(|e| e == first) => Some((*first).clone()),
        (Some(_), _) => Some("mixed".into()),
        (None, Some(m)) => Some(m.encoding.clone()),
        (None, None) => None,
    };
    let total: u64 = masks.iter().map(MaskInfo::pixels).sum();
    let fg: u64 = masks.iter().map(|m| m.foreground).sum();
    let mut image_formats = BTreeMap::new();
    for f in &formats {
        *image_formats.entry(f.describe()).or_insert(0) += 1;
    }
    Ok(Inspection {
        dir: dir.display().to_string(),
        ok: problems.is_empty(),
        pairs: pairing.pairs.len(),
        unpaired_images: pairing
            .unpaired_images
            .iter()
            .map(|p| rel(dir, p))
            .collect(),
        unpaired_masks: pairing.unpaired_masks.iter().map(|p| rel(dir, p)).collect(),
        files,
        image_sizes: sizes
            .into_iter()
            .map(|((width, height), count)| SizeCount {
                width,
                height,
                count,
            })
            .collect(),
        image_formats,
        mask_encoding,
        mask_encodings,
        foreground_fraction: (total > 0).then(|| fg as f64 / total as f64),
        class1_fraction: (total > 0).then(|| {
            let f = fg as f64 / total as f64;
            if invert { 1.0 - f } else { f }
        }),
        invert,
        notes: notes(&formats, &masks, invert),
        problems,
    })
}

impl Inspection {
    /// The report for people.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} pairs, {} images without a mask, {} masks without an image",
            self.dir,
            self.pairs,
            self.unpaired_images.len(),
            self.unpaired_masks.len()
        );
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, n)| format!("{k} ({n})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sizes: Vec<String> = self
            .image_sizes
            .iter()
            .take(6)
            .map(|c| format!("{} x {} ({})", c.width, c.height, c.count))
            .collect();
        let more = self.image_sizes.len().saturating_sub(6);
        let _ = writeln!(
            s,
            "images: {}; sizes {}{}",
            list(&self.image_formats),
            sizes.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "masks: {} -> {}; foreground {}",
            list(&self.mask_encodings),
            self.mask_encoding.as_deref().unwrap_or("none readable"),
            self.foreground_fraction
                .map(|f| format!("{:.2} % of pixels", 100.0 * f))
                .unwrap_or_else(|| "-".into())
        );
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        if self.problems.is_empty() {
            let _ = writeln!(s, "no problems: training can use this folder");
        } else {
            let _ = writeln!(s, "{} problems:", self.problems.len());
            for p in self.problems.iter().take(20) {
                let _ = writeln!(s, "  {p}");
            }
            if self.problems.len() > 20 {
                let _ = writeln!(
                    s,
                    "  ... and {} more (see --json)",
                    self.problems.len() - 20
                );
            }
        }
        s.trim_end().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, GrayImage, Luma};

    #[test]
    fn counts_pairs_problems_and_foreground() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for sub in ["images", "masks"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        for i in 0..3 {
            GrayImage::from_fn(20, 10, |x, _| Luma([(x * 10) as u8]))
                .save(d.join(format!("images/{i}.png")))
                .unwrap();
            GrayImage::from_fn(20, 10, |x, _| Luma([u8::from(x < 5) * 255]))
                .save(d.join(format!("masks/{i}.png")))
                .unwrap();
        }
        GrayImage::new(20, 10)
            .save(d.join("images/lonely.png"))
            .unwrap();
        DynamicImage::ImageLuma8(GrayImage::from_fn(20, 10, |x, y| Luma([(x * 9 + y) as u8])))
            .save(d.join("masks/2.png"))
            .unwrap();
        let r = inspect_folder(d, false).unwrap();
        assert_eq!(r.pairs, 3);
        assert_eq!(r.unpaired_images, vec!["images/lonely.png".to_string()]);
        assert!(!r.ok);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.files[2].mask.is_none() && r.files[2].image.is_some());
        assert_eq!(r.mask_encoding.as_deref(), Some("binary 0/255"));
        assert!((r.foreground_fraction.unwrap() - 0.25).abs() < 1e-12);
        let h = r.human();
        assert!(h.contains("masks/2.png") && h.contains("2 problems"), "{h}");
    }
}
