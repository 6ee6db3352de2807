//! A segmentation folder: `images/` and `masks/` with matching file stems (ISBI 2012 is one).
//! Masks are read at their native bit depth (`mask.rs`): 0/1, 0/255 (0/65535) and label maps
//! (foreground = non-zero) are accepted; with `invert` the background becomes class 1 instead
//! (ISBI draws membranes black). Colour images become gray (luma), and the loader says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::image::SegImage;
use super::image_io::{GrayF32, PixelFormat, read_dynamic, read_gray_noted};
use super::mask::{MaskInfo, MaskKind, analyse};

pub const IMAGE_EXTS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

fn list_images(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let rd =
        std::fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
    let mut out = BTreeMap::new();
    for entry in rd {
        let path = entry
            .with_context(|| format!("cannot read folder {}", dir.display()))?
            .path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if !path.is_file() || !ext.is_some_and(|e| IMAGE_EXTS.contains(&e.as_str())) {
            continue;
        }
        let Some(stem) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if let Some(prev) = out.insert(stem.clone(), path.clone()) {
            bail!(
                "two images with the stem \"{stem}\": {} and {}",
                prev.display(),
                path.display()
            );
        }
    }
    Ok(out)
}

/// Orders stems numerically when they are numbers (ISBI: 0..29), else by name.
fn stem_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// Binary class map from a decoded mask: 1 on the foreground (non-zero; the background with
/// `invert`). Errors name `name` and the values found when the mask is neither binary nor a
/// label map.
pub fn binarise_mask(
    img: &image::DynamicImage,
    invert: bool,
    name: &str,
) -> anyhow::Result<Vec<u8>> {
    Ok(analyse(img, invert, name)?.0)
}

/// Pixels of all images of one dataset together (images and masks are decoded in full): ~1.6 GB
/// of f32 planes at most. ISBI's training stack is 7.9 Mpx.
const MAX_DATASET_PIXELS: u64 = 400_000_000;

/// Smallest image side the training crops can use.
pub const MIN_SIDE: usize = 8;

/// The files of a segmentation folder, paired by stem (in stem order).
pub struct Pairing {
    pub pairs: Vec<(String, PathBuf, PathBuf)>,
    pub unpaired_images: Vec<PathBuf>,
    pub unpaired_masks: Vec<PathBuf>,
}

/// Pairs `dir/images/*` with `dir/masks/*` by file stem. Errors only when the folders are missing
/// or unreadable, or two files share a stem.
pub fn pair_files(dir: &Path) -> anyhow::Result<Pairing> {
    let (img_dir, mask_dir) = (dir.join("images"), dir.join("masks"));
    for d in [&img_dir, &mask_dir] {
        if !d.is_dir() {
            bail!(
                "{} is missing: a segmentation folder holds images/ and masks/ with matching file names",
                d.display()
            );
        }
    }
    let images = list_images(&img_dir)?;
    let masks = list_images(&mask_dir)?;
    let mut stems: Vec<&String> = images.keys().filter(|s| masks.contains_key(*s)).collect();
    stems.sort_by(|a, b| stem_order(a, b));
    Ok(Pairing {
        pairs: stems
            .into_iter()
            .map(|s| (s.clone(), images[s].clone(), masks[s].clone()))
            .collect(),
        unpaired_images: images
            .iter()
            .filter(|(s, _)| !masks.contains_key(*s))
            .map(|(_, p)| p.clone())
            .collect(),
        unpaired_masks: masks
            .iter()
            .filter(|(s, _)| !images.contains_key(*s))
            .map(|(_, p)| p.clone())
            .collect(),
    })
}

/// An input image as the network sees it (gray, [0, 1]), checked for finite pixels and size.
pub fn read_image(path: &Path) -> anyhow::Result<(GrayF32, PixelFormat)> {
    let (image, format) = read_gray_noted(path)?;
    if image.width < MIN_SIDE || image.height < MIN_SIDE {
        bail!(
            "{} is {} x {}: images must be at least {MIN_SIDE} x {MIN_SIDE} pixels",
            path.display(),
            image.width,
            image.height
        );
    }
    Ok((image, format))
}

/// A mask file as classes (1 = foreground, or background with `invert`) and what it encodes.
pub fn read_mask(path: &Path, invert: bool) -> anyhow::Result<(Vec<u8>, MaskInfo)> {
    analyse(&read_dynamic(path)?, invert, &path.display().to_string())
}

pub fn check_same_size(mask: &Path, m: &MaskInfo, image: &Path, g: &GrayF32) -> anyhow::Result<()> {
    if (m.width, m.height) != (g.width, g.height) {
        bail!(
            "{} is {} x {} but its image {} is {} x {}",
            mask.display(),
            m.width,
            m.height,
            image.display(),
            g.width,
            g.height
        );
    }
    Ok(())
}

/// What a user should know about how their files were read: colour converted to gray, the mask
/// encodings found, what `invert` did.
pub fn notes(formats: &[PixelFormat], masks: &[MaskInfo], invert: bool) -> Vec<String> {
    let mut out = Vec::new();
    // Same note, one line: "3 of 10 images are 8-bit RGB: converted to gray ...".
    let mut by_note: BTreeMap<String, usize> = BTreeMap::new();
    for f in formats {
        for n in f.notes() {
            *by_note.entry(n).or_insert(0) += 1;
        }
    }
    for (note, count) in by_note {
        let verb = if note.starts_with("EXIF") || note.starts_with("multi-page") {
            "had"
        } else {
            "are"
        };
        out.push(format!("{count} of {} images {verb} {note}", formats.len()));
    }
    let mut by_encoding: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for m in masks {
        let e = by_encoding.entry(&m.encoding).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.max(m.labels);
    }
    if !by_encoding.is_empty() {
        let parts: Vec<String> = by_encoding
            .iter()
            .map(|(enc, (n, labels))| {
                if enc.starts_with("label map") {
                    format!("{enc} ({n} files, up to {labels} labels)")
                } else {
                    format!("{enc} ({n} files)")
                }
            })
            .collect();
        out.push(format!(
            "masks read at native bit depth: {}; foreground = non-zero{}",
            parts.join(", "),
            if masks.iter().any(|m| m.kind == MaskKind::BinaryGreyEdges) {
                " (grey edge pixels: above half the range)"
            } else {
                ""
            }
        ));
    }
    if invert {
        out.push("inverted: class 1 = mask background (value 0), class 0 = foreground".into());
    }
    out
}

/// Images of a folder with the notes on how they were read.
pub struct LoadedFolder {
    pub images: Vec<SegImage>,
    pub notes: Vec<String>,
}

/// Loads every image/mask pair of `dir` (which must hold `images/` and `masks/`).
pub fn load_folder(dir: &Path, invert: bool) -> anyhow::Result<Vec<SegImage>> {
    Ok(load_folder_noted(dir, invert)?.images)
}

/// Like `load_folder`, with notes for the user (colour converted, mask encodings found).
pub fn load_folder_noted(dir: &Path, invert: bool) -> anyhow::Result<LoadedFolder> {
    let pairing = pair_files(dir)?;
    if pairing.pairs.is_empty() && pairing.unpaired_images.is_empty() {
        bail!(
            "{} holds no images (PNG, JPEG, BMP or TIFF)",
            dir.join("images").display()
        );
    }
    if let Some(path) = pairing.unpaired_images.first() {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        bail!(
            "{} has no mask: expected masks/{stem}.<png|jpg|bmp|tif>",
            path.display()
        );
    }
    if let Some(path) = pairing.unpaired_masks.first() {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        bail!(
            "{} has no image: expected images/{stem}.<png|jpg|bmp|tif>",
            path.display()
        );
    }
    let mut out = Vec::with_capacity(pairing.pairs.len());
    let (mut formats, mut infos) = (Vec::new(), Vec::new());
    let mut pixels = 0u64;
    for (stem, ip, mp) in &pairing.pairs {
        // Checked from the header before decoding, so many huge images fail before they fill
        // memory. Unreadable headers and oversized single images get the decoder's own message.
        if let Ok((w, h)) = super::image_io::header_dimensions(ip) {
            let within = u64::from(w) * u64::from(h) <= super::image_io::MAX_PIXEL_BYTES;
            pixels += if within {
                u64::from(w) * u64::from(h)
            } else {
                0
            };
            if pixels > MAX_DATASET_PIXELS {
                bail!(
                    "{}: the folder's images hold more than {} million pixels together (this one is {w} x {h}); \
                     use fewer or smaller images",
                    ip.display(),
                    MAX_DATASET_PIXELS / 1_000_000
                );
            }
        }
        let (image, format) = read_image(ip)?;
        let (mask, info) = read_mask(mp, invert)?;
        check_same_size(mp, &info, ip, &image)?;
        formats.push(format);
        infos.push(info);
        out.push(SegImage {
            name: stem.clone(),
            image,
            mask,
        });
    }
    Ok(LoadedFolder {
        images: out,
        notes: notes(&formats, &infos, invert),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, GrayImage, Luma};

    fn put(dir: &Path, sub: &str, name: &str, img: GrayImage) {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        DynamicImage::ImageLuma8(img)
            .save(dir.join(sub).join(name))
            .unwrap();
    }

    fn good(dir: &Path) {
        for i in 0..3 {
            put(
                dir,
                "images",
                &format!("{i}.png"),
                GrayImage::from_fn(20, 16, |x, _| Luma([(x * 10) as u8])),
            );
            put(
                dir,
                "masks",
                &format!("{i}.png"),
                GrayImage::from_fn(20, 16, |x, _| Luma([if x < 5 { 0 } else { 255 }])),
            );
        }
    }

    fn err(dir: &Path) -> String {
        format!("{:#}", load_folder(dir, false).unwrap_err())
    }

    #[test]
    fn good_folder_loads_and_inverts() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        let v = load_folder(t.path(), false).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].image.width, v[0].image.height), (20, 16));
        assert_eq!(v[0].mask[0], 0);
        assert_eq!(v[0].mask[10], 1);
        let inv = load_folder(t.path(), true).unwrap();
        assert_eq!(inv[0].mask[0], 1);
        assert_eq!(inv[0].mask[10], 0);
    }

    #[test]
    fn zero_one_masks_are_read_as_classes() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        put(
            t.path(),
            "masks",
            "1.png",
            GrayImage::from_fn(20, 16, |x, _| Luma([u8::from(x >= 5)])),
        );
        let v = load_folder(t.path(), false).unwrap();
        assert_eq!(v[1].mask[0], 0);
        assert_eq!(v[1].mask[10], 1);
    }

    #[test]
    fn missing_partner_is_named() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        std::fs::remove_file(t.path().join("masks/1.png")).unwrap();
        let e = err(t.path());
        assert!(e.contains("1.png") && e.contains("no mask"), "{e}");
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        put(t.path(), "masks", "extra.png", GrayImage::new(20, 16));
        let e = err(t.path());
        assert!(e.contains("extra.png") && e.contains("no image"), "{e}");
    }

    #[test]
    fn size_mismatch_is_named() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        put(t.path(), "masks", "2.png", GrayImage::new(21, 16));
        let e = err(t.path());
        assert!(e.contains("2.png") && e.contains("21 x 16"), "{e}");
    }

    #[test]
    fn non_binary_mask_is_named() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        put(
            t.path(),
            "masks",
            "0.png",
            GrayImage::from_fn(20, 16, |x, y| Luma([((x + y) * 7) as u8])),
        );
        let e = err(t.path());
        assert!(
            e.contains("0.png")
                && e.contains("neither a binary mask nor a label map")
                && e.contains("values 0, 7, 14"),
            "{e}"
        );
    }

    #[test]
    fn unreadable_and_empty_are_named() {
        let t = tempfile::tempdir().unwrap();
        good(t.path());
        std::fs::write(t.path().join("images/1.png"), b"garbage").unwrap();
        let e = err(t.path());
        assert!(e.contains("images/1.png"), "{e}");
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("images")).unwrap();
        std::fs::create_dir_all(t.path().join("masks")).unwrap();
        let e = err(t.path());
        assert!(e.contains("no images"), "{e}");
        let e = err(&t.path().join("nope"));
        assert!(e.contains("images") && e.contains("missing"), "{e}");
    }

    #[test]
    fn isbi_loads_when_present() {
        let Some(dir) = crate::core::test_util::data_dir_or_skip("isbi2012_em") else {
            return;
        };
        let loaded = load_folder_noted(&dir, true).unwrap();
        let v = loaded.images;
        assert_eq!(v.len(), 30);
        // Exactly the classes of the 8-bit rule used before native-depth masks: membrane = dark.
        for s in &v {
            let old = image::open(dir.join(format!("masks/{}.png", s.name)))
                .unwrap()
                .to_luma8();
            let want: Vec<u8> = old.as_raw().iter().map(|&p| u8::from(p <= 127)).collect();
            assert!(
                s.mask == want,
                "mask {} differs from the 8-bit rule",
                s.name
            );
        }
        assert!(
            loaded.notes.iter().any(|n| n.contains("binary 0/255")),
            "{:?}",
            loaded.notes
        );
        assert_eq!(v[29].name, "29");
        let membrane: usize = v
            .iter()
            .map(|s| s.mask.iter().map(|&m| m as usize).sum::<usize>())
            .sum();
        let frac = membrane as f64 / (30.0 * 512.0 * 512.0);
        assert!((frac - 0.22).abs() < 0.01, "membrane fraction {frac}");
    }
}
