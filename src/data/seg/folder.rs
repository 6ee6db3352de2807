//! A segmentation folder: `images/` and `masks/` with matching file stems (ISBI 2012 is one).
//! Masks are binarised as value > 127 => 1 (masks stored as 0/1 are read as 1 => 1); with
//! `invert` the dark pixels become class 1 instead (ISBI marks membranes black).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::SegImage;
use super::image_io::{read_dynamic, to_gray_f32};

const IMAGE_EXTS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// Share of mask pixels allowed to be mid-grey (JPEG masks have some at edges); above it the
/// "mask" is probably a photo and binarising it would silently train on garbage.
const MAX_GREY_FRACTION: f64 = 0.05;

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

/// Binary class map from a mask image: 1 where the mask is bright (or dark with `invert`).
pub fn binarise_mask(
    img: &image::DynamicImage,
    invert: bool,
    name: &str,
) -> anyhow::Result<Vec<u8>> {
    let g = img.to_luma8();
    let raw = g.as_raw();
    let max = raw.iter().copied().max().unwrap_or(0);
    // A label map (0, 1, 2, ...) would be thresholded at 127 into an empty mask: refuse it.
    if max > 1 && max < 32 {
        bail!(
            "{name}: mask looks like a label map with values 0..={max}; gradlab segments two classes, so masks must be \
             0/1 or black and white (binarised as value > 127 => 1)"
        );
    }
    let threshold = if max <= 1 { 0 } else { 127 };
    let grey = raw.iter().filter(|v| (32..=223).contains(*v)).count();
    let grey_frac = grey as f64 / raw.len().max(1) as f64;
    if grey_frac > MAX_GREY_FRACTION {
        bail!(
            "{name}: mask is not binary ({:.1}% of pixels are grey between 32 and 223); masks must be black and \
             white (they are binarised as value > 127 => 1)",
            grey_frac * 100.0
        );
    }
    Ok(raw
        .iter()
        .map(|&v| u8::from((v > threshold) != invert))
        .collect())
}

/// Pixels of all images of one dataset together (images and masks are decoded in full): ~1.6 GB
/// of f32 planes at most. ISBI's training stack is 7.9 Mpx.
const MAX_DATASET_PIXELS: u64 = 400_000_000;

/// Smallest image side the training crops can use.
const MIN_SIDE: usize = 8;

/// Loads every image/mask pair of `dir` (which must hold `images/` and `masks/`).
pub fn load_folder(dir: &Path, invert: bool) -> anyhow::Result<Vec<SegImage>> {
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
    if images.is_empty() {
        bail!(
            "{} holds no images (PNG, JPEG, BMP or TIFF)",
            img_dir.display()
        );
    }
    for (stem, path) in &images {
        if !masks.contains_key(stem) {
            bail!(
                "{} has no mask: expected masks/{stem}.<png|jpg|bmp|tif>",
                path.display()
            );
        }
    }
    for (stem, path) in &masks {
        if !images.contains_key(stem) {
            bail!(
                "{} has no image: expected images/{stem}.<png|jpg|bmp|tif>",
                path.display()
            );
        }
    }
    let mut stems: Vec<&String> = images.keys().collect();
    stems.sort_by(|a, b| stem_order(a, b));
    let mut out = Vec::with_capacity(stems.len());
    let mut pixels = 0u64;
    for stem in stems {
        let (ip, mp) = (&images[stem], &masks[stem]);
        // Checked from the header before decoding, so many huge images fail before they fill
        // memory. Unreadable headers and oversized single images get the decoder's own message.
        if let Ok((w, h)) = super::image_io::header_dimensions(ip) {
            let within = w <= super::image_io::MAX_SIDE && h <= super::image_io::MAX_SIDE;
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
        let image = to_gray_f32(&read_dynamic(ip)?);
        if let Some(bad) = image.data.iter().find(|v| !v.is_finite()) {
            bail!(
                "{}: the image has non-finite pixel values ({bad})",
                ip.display()
            );
        }
        if image.width < MIN_SIDE || image.height < MIN_SIDE {
            bail!(
                "{} is {} x {}: images must be at least {MIN_SIDE} x {MIN_SIDE} pixels",
                ip.display(),
                image.width,
                image.height
            );
        }
        let mimg = read_dynamic(mp)?;
        if (mimg.width() as usize, mimg.height() as usize) != (image.width, image.height) {
            bail!(
                "{} is {} x {} but its image {} is {} x {}",
                mp.display(),
                mimg.width(),
                mimg.height(),
                ip.display(),
                image.width,
                image.height
            );
        }
        let mask = binarise_mask(&mimg, invert, &mp.display().to_string())?;
        out.push(SegImage {
            name: stem.clone(),
            image,
            mask,
        });
    }
    Ok(out)
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
            e.contains("0.png") && e.contains("not binary") && e.contains("> 127"),
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
        let v = load_folder(&dir, true).unwrap();
        assert_eq!(v.len(), 30);
        assert_eq!(v[29].name, "29");
        let membrane: usize = v
            .iter()
            .map(|s| s.mask.iter().map(|&m| m as usize).sum::<usize>())
            .sum();
        let frac = membrane as f64 / (30.0 * 512.0 * 512.0);
        assert!((frac - 0.22).abs() < 0.01, "membrane fraction {frac}");
    }
}
